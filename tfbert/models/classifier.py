"""`BertClassifier`: sentence (pair) classification or regression on the pooled output."""

import keras

from tfbert.models.base import DenseHeadModel


@keras.saving.register_keras_serializable(package="tfbert")
class BertClassifier(DenseHeadModel):
    """A `BertEncoder` with dropout and a Dense layer on the pooled output,
    as the original `run_classifier.py` (`num_classes=1` for regression).

    Output: `logits`, float32 `[batch, num_classes]`.

    Args: `encoder`, `num_classes` (1 for regression) and `dropout` (on the pooled
    output), as `tfbert.models.base.DenseHeadModel`.

    Example:

    >>> config = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2,
    ...                     num_attention_heads=2, intermediate_size=128)
    >>> classifier = BertClassifier(BertEncoder(config), num_classes=3)
    >>> classifier(classifier.encoder.dummy_inputs(2, 8))["logits"].shape
    TensorShape([2, 3])
    """

    _head_name = "classifier"
    _encoder_output = "pooled_output"
