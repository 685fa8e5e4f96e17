"""tfbert: BERT for TensorFlow 2.21 / Keras 3, faithful to the original Google model.

Example:

>>> import tfbert
>>> config = tfbert.model_config("bert_tiny_uncased")
>>> encoder = tfbert.BertEncoder(config)
>>> encoder(encoder.dummy_inputs(1, 8))["pooled_output"].shape
TensorShape([1, 128])
"""

from tfbert.configs import BertConfig, list_model_configs, model_config
from tfbert.models import BertClassifier, BertPretrainer, BertSpanLabeler, BertTokenClassifier
from tfbert.networks import BertEncoder

__version__ = "0.1.0"

__all__ = [
    "BertClassifier", "BertConfig", "BertEncoder", "BertPretrainer", "BertSpanLabeler",
    "BertTokenClassifier", "list_model_configs", "model_config",
]
