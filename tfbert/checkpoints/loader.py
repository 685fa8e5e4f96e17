"""One loader for every kind of outside weights: `load_model(source, head=...)`.

A source is one of:

- a `.keras` file (the whole model, saved with `model.save`);
- a HuggingFace BERT directory (`config.json`, `model.safetensors` or
  `pytorch_model.bin`, `vocab.txt`);
- a Google TF1 checkpoint (`bert/...` names; `bert_config.json` and
  `vocab.txt` beside it, as Google ships them);
- a tfbert checkpoint: a prefix (`run/ckpt-2000`), its `.index` file, or a
  training directory (its latest checkpoint).

Which one is found from the files, in this one place, so that every command
and the Python API read weights the same way.
"""

import os

import tensorflow as tf

from tfbert.checkpoints.google_tf1 import checkpoint_prefix
from tfbert.checkpoints.huggingface import load_huggingface_weights, read_huggingface_weights
from tfbert.checkpoints.restore import is_tf1_checkpoint, restore_encoder, restore_model
from tfbert.configs.bert_config import BertConfig
from tfbert.configs.huggingface import config_from_huggingface, is_huggingface_dir
from tfbert.configs.official import model_config
from tfbert.networks.bert_encoder import BertEncoder

SOURCE_KINDS = ("keras", "huggingface", "tf1", "tfbert")


def latest_weights(model_dir=None, checkpoint=None) -> str:
    """The weights to read: `checkpoint`, or the latest checkpoint in `model_dir`.

    Raises:
        ValueError: both or neither given.
        FileNotFoundError: `model_dir` has no checkpoint.
    """
    if (model_dir is None) == (checkpoint is None):
        raise ValueError("give exactly one of --model_dir and --checkpoint")
    if checkpoint:
        return checkpoint
    if not os.path.isdir(model_dir):
        raise FileNotFoundError(f"--model_dir={model_dir}: no such directory")
    latest = tf.train.latest_checkpoint(model_dir)
    if latest is None:
        raise FileNotFoundError(f"--model_dir={model_dir} has no checkpoint")
    return latest


def source_kind(source) -> str:
    """Which of `SOURCE_KINDS` the weights at `source` are (see the module doc).

    Raises:
        FileNotFoundError: nothing readable at `source`.
    """
    source = os.fspath(source)
    if source.endswith(".keras"):
        if not os.path.isfile(source):
            raise FileNotFoundError(f"no Keras model file at {source}")
        return "keras"
    if is_huggingface_dir(source):
        return "huggingface"
    return "tf1" if is_tf1_checkpoint(checkpoint_prefix(source)) else "tfbert"


def _beside(source, name):
    """`name` in the directory of the weights at `source`, or None."""
    source = os.fspath(source)
    directory = source if os.path.isdir(source) else os.path.dirname(source)
    path = os.path.join(directory, name)
    return path if os.path.isfile(path) else None


def source_vocab(source) -> str | None:
    """The WordPiece vocab shipped with the weights (HuggingFace and Google
    directories hold a `vocab.txt`), or None."""
    return _beside(source, "vocab.txt")


def source_config(source, config=None) -> BertConfig:
    """The `BertConfig` of the weights at `source`.

    Args:
        source: see the module doc.
        config: a `BertConfig`, an official name or a config file; None: the
            source's own (HuggingFace `config.json`, or the `bert_config.json`
            beside a Google checkpoint).

    Raises:
        ValueError: no config given and none found with the weights.
    """
    if isinstance(config, BertConfig):
        return config
    if config:
        return model_config(config)
    if is_huggingface_dir(source):
        return config_from_huggingface(os.path.join(source, "config.json"))
    beside = _beside(source, "bert_config.json")
    if beside and source_kind(source) == "tf1":
        return BertConfig.from_json_file(beside)
    raise ValueError(f"{source} carries no model config: give --model (an official name or "
                     "a bert_config file)")


def restore_weights(model, source) -> str:
    """Reads the weights at `source` into a built `model` (an encoder or a task model).

    Returns:
        "model" when the whole model was restored, "encoder" when the source
        only had the encoder (the head keeps its initial weights).
    """
    kind = source_kind(source)
    if kind == "keras":
        raise ValueError(f"{source} is a whole saved model: load it with load_model")
    if kind == "huggingface":
        weights = read_huggingface_weights(source)
        encoder = getattr(model, "encoder", None)
        try:
            load_huggingface_weights(model, weights)
            return "model"
        except ValueError:
            if encoder is None:
                raise
        load_huggingface_weights(encoder, weights)
        return "encoder"
    if getattr(model, "encoder", None) is None:
        restore_encoder(model, source)
        return "model"
    return restore_model(model, source)


def load_model(source, head=None, config=None, require_head=True):
    """A model holding the weights at `source`.

    Args:
        source: a `.keras` file, a HuggingFace directory, a Google TF1 or a
            tfbert checkpoint (see the module doc).
        head: a callable `encoder -> task model` (e.g. `BertPretrainer`, or a
            task's `build_head`); None: the `BertEncoder` alone.
        config: the model's `BertConfig`, official name or config file (default:
            the source's own, see `source_config`).
        require_head: with a `head`, a source that holds the encoder only is an
            error (for exports and predictions); False keeps the head's
            initial weights (to start fine-tuning).

    Returns:
        The Keras model (for a `.keras` file, the saved model itself).

    Raises:
        FileNotFoundError: no weights at `source`.
        ValueError: no config, weights that do not fit, or no head where one is required.

    Example:

    >>> from tfbert.checkpoints import installed_minilm_dir
    >>> load_model(installed_minilm_dir()).config.num_hidden_layers
    6
    """
    if source_kind(source) == "keras":
        import keras

        # safe_mode: a Lambda layer's Python bytecode in the file is refused, not run,
        # even where `keras.config.enable_unsafe_deserialization()` was called.
        return keras.saving.load_model(source, safe_mode=True)
    model = BertEncoder(source_config(source, config))
    if head is not None:
        model = head(model)
    if restore_weights(model, source) != "model" and require_head:
        raise ValueError(f"{source} has no {type(model).__name__} head, only an encoder: "
                         "give a checkpoint fine-tuned for this task")
    return model
