"""tfbert: BERT for TensorFlow 2.21 / Keras 3, faithful to the original Google model.

The names below load on first use, so that `import tfbert.cli.<command>`
reaches the command before TensorFlow starts (and can quiet its start-up lines).

Example:

>>> import tfbert
>>> config = tfbert.model_config("bert_tiny_uncased")
>>> encoder = tfbert.BertEncoder(config)
>>> encoder(encoder.dummy_inputs(1, 8))["pooled_output"].shape
TensorShape([1, 128])
"""

from tfbert import lazy

__version__ = "0.1.0"

_EXPORTS = {
    "BertConfig": "tfbert.configs", "list_model_configs": "tfbert.configs",
    "model_config": "tfbert.configs", "BertEncoder": "tfbert.networks",
    "BertClassifier": "tfbert.models", "BertPretrainer": "tfbert.models",
    "BertSpanLabeler": "tfbert.models", "BertTokenClassifier": "tfbert.models",
}
_SUBPACKAGES = ("checkpoints", "cli", "configs", "data", "layers", "metrics", "models",
                "networks", "serving", "tasks", "text", "training", "hub")

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS, _SUBPACKAGES)
