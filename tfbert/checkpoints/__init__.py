"""Weights from the outside world and back: one loader (`load_model`) for Google TF1
checkpoints, HuggingFace directories, tfbert checkpoints and `.keras` files; and
`extend_vocab`, which adds domain words to a vocab and to any of those checkpoints."""

from tfbert.checkpoints.convert import load_bert, save_bert
from tfbert.checkpoints.extend_vocab import ExtendedCheckpoint, extend_vocab, read_words_file
from tfbert.checkpoints.google_tf1 import (
    load_tf1_checkpoint,
    read_tf1_checkpoint,
    save_tf1_checkpoint,
)
from tfbert.checkpoints.huggingface import (
    bert_encoder_from_huggingface,
    installed_minilm_dir,
    load_huggingface_weights,
    read_huggingface_weights,
)
from tfbert.checkpoints.loader import (
    latest_weights,
    load_model,
    restore_weights,
    source_config,
    source_kind,
    source_vocab,
)
from tfbert.checkpoints.restore import restore_encoder, restore_model, training_checkpoint
from tfbert.checkpoints.vocab_words import VocabExtension, plan_vocab_extension
from tfbert.configs.huggingface import config_from_huggingface, is_huggingface_dir

__all__ = [
    "ExtendedCheckpoint", "VocabExtension", "bert_encoder_from_huggingface",
    "config_from_huggingface", "extend_vocab", "installed_minilm_dir", "is_huggingface_dir",
    "latest_weights", "load_bert", "load_huggingface_weights", "load_model",
    "load_tf1_checkpoint", "plan_vocab_extension", "read_huggingface_weights",
    "read_tf1_checkpoint", "read_words_file", "restore_encoder", "restore_model",
    "restore_weights", "save_bert", "save_tf1_checkpoint", "source_config", "source_kind",
    "source_vocab", "training_checkpoint",
]
