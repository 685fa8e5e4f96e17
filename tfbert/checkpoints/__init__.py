"""Weights from the outside world and back: one loader (`load_model`) for Google TF1
checkpoints, HuggingFace directories, tfbert checkpoints and `.keras` files; and
`extend_vocab`, which adds domain words to a vocab and to any of those checkpoints.

The names below load on first use (as `tfbert`'s and `tfbert.data`'s), so that a
command can define its flags from `tfbert.checkpoints.formats` before TensorFlow
starts."""

from tfbert import lazy

_EXPORTS = {
    "load_bert": "tfbert.checkpoints.convert", "save_bert": "tfbert.checkpoints.convert",
    "ExtendedCheckpoint": "tfbert.checkpoints.extend_vocab",
    "extend_vocab": "tfbert.checkpoints.extend_vocab",
    "read_words_file": "tfbert.checkpoints.extend_vocab",
    "load_tf1_checkpoint": "tfbert.checkpoints.google_tf1",
    "read_tf1_checkpoint": "tfbert.checkpoints.google_tf1",
    "save_tf1_checkpoint": "tfbert.checkpoints.google_tf1",
    "bert_encoder_from_huggingface": "tfbert.checkpoints.huggingface",
    "installed_minilm_dir": "tfbert.checkpoints.huggingface",
    "load_huggingface_weights": "tfbert.checkpoints.huggingface",
    "read_huggingface_weights": "tfbert.checkpoints.huggingface",
    "latest_weights": "tfbert.checkpoints.loader", "load_model": "tfbert.checkpoints.loader",
    "restore_weights": "tfbert.checkpoints.loader",
    "source_config": "tfbert.checkpoints.loader", "source_kind": "tfbert.checkpoints.loader",
    "source_vocab": "tfbert.checkpoints.loader",
    "restore_encoder": "tfbert.checkpoints.restore",
    "restore_model": "tfbert.checkpoints.restore",
    "training_checkpoint": "tfbert.checkpoints.restore",
    "VocabExtension": "tfbert.checkpoints.vocab_words",
    "plan_vocab_extension": "tfbert.checkpoints.vocab_words",
    "config_from_huggingface": "tfbert.configs.huggingface",
    "is_huggingface_dir": "tfbert.configs.huggingface",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS)
