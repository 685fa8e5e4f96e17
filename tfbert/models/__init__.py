"""BERT task models: pre-training, classification, span labeling, token classification."""

from tfbert.models.classifier import BertClassifier
from tfbert.models.pretrainer import BertPretrainer
from tfbert.models.span_labeler import BertSpanLabeler
from tfbert.models.token_classifier import BertTokenClassifier

__all__ = ["BertClassifier", "BertPretrainer", "BertSpanLabeler", "BertTokenClassifier"]
