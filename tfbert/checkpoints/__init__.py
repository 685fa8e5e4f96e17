"""Weights from the outside world: Google TF1 checkpoints and HuggingFace BERT weights."""

from tfbert.checkpoints.convert import load_bert, save_bert
from tfbert.checkpoints.google_tf1 import (
    load_tf1_checkpoint,
    read_tf1_checkpoint,
    save_tf1_checkpoint,
)
from tfbert.checkpoints.huggingface import (
    bert_encoder_from_huggingface,
    config_from_huggingface,
    installed_minilm_dir,
    load_huggingface_weights,
    read_huggingface_weights,
)

__all__ = [
    "bert_encoder_from_huggingface", "config_from_huggingface", "installed_minilm_dir", "load_bert",
    "load_huggingface_weights", "load_tf1_checkpoint", "read_huggingface_weights",
    "read_tf1_checkpoint", "save_bert", "save_tf1_checkpoint",
]
