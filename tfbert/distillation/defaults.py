"""The distillation loss's default weights, in a module without TensorFlow: the flags of
`tfbert_distill` show them before TensorFlow starts."""

DEFAULT_ALPHA = 0.5  # weight of the soft (teacher) loss; the hard labels get 1 - alpha
DEFAULT_TEMPERATURE = 2.0
