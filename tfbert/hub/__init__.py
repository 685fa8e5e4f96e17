"""The TF Hub-style pair inside Keras 3 (issue #23).

tfbert's preprocessing and encoder exports (`tfbert.serving.hub`, `tfbert_export
--task=hub`) load into a Keras 3 model as `keras.layers.TFSMLayer`s for
inference (docs/serving.md, "Inside Keras 3"); for fine-tuning,
`load_encoder(path, trainable=True)` gives back a real, trainable
`tfbert.BertEncoder` with the export's config and weights (docs/finetuning.md,
"From a hub encoder export").
"""

from tfbert.hub.encoder import export_config, load_encoder

__all__ = ["export_config", "load_encoder"]
