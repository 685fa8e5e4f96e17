"""Building a task model with trained weights, for the CLIs that read checkpoints.

Weights: a tfbert checkpoint (prefix, or a training directory: its latest),
a Google TF1 checkpoint, a `.keras` file, or a HuggingFace BERT directory.
"""

import os

import keras
import tensorflow as tf

from tfbert.checkpoints.huggingface import config_from_huggingface, load_huggingface_weights
from tfbert.configs.official import model_config
from tfbert.models import BertClassifier, BertSpanLabeler, BertTokenClassifier
from tfbert.networks import BertEncoder


def is_huggingface(path):
    """Whether `path` is a HuggingFace model directory."""
    return bool(path) and os.path.isfile(os.path.join(path, "config.json"))


def weights_path(model_dir, checkpoint):
    """The checkpoint to read: `checkpoint`, or the latest one in `model_dir`."""
    if (model_dir is None) == (checkpoint is None):
        raise ValueError("give exactly one of --model_dir and --checkpoint")
    if checkpoint:
        return checkpoint
    latest = tf.train.latest_checkpoint(model_dir)
    if latest is None:
        raise FileNotFoundError(f"--model_dir={model_dir} has no checkpoint")
    return latest


def _head(task, encoder, num_classes):
    if task in ("classification", "regression"):
        return BertClassifier(encoder, num_classes=1 if task == "regression" else num_classes)
    if task in ("squad", "squad_v2"):
        return BertSpanLabeler(encoder)
    if task == "tagging":
        return BertTokenClassifier(encoder, num_classes=num_classes)
    return encoder


def load_model(task, weights, model=None, num_classes=None):
    """The model of `task` with the trained weights at `weights` (see the module doc)."""
    if weights.endswith(".keras"):
        return keras.saving.load_model(weights)
    huggingface = is_huggingface(weights)
    if model is None and not huggingface:
        raise ValueError("--model (official name or bert_config file) is required unless "
                         "--checkpoint is a HuggingFace directory")
    config = (model_config(model) if model else
              config_from_huggingface(os.path.join(weights, "config.json")))
    if task in ("classification", "tagging") and not num_classes:
        raise ValueError(f"--task={task} needs --label_names or --num_classes")
    result = _head(task, BertEncoder(config), num_classes)
    if huggingface:
        if result is not getattr(result, "encoder", result):
            raise ValueError(f"{weights} holds an encoder only; --task={task} needs a "
                             "fine-tuned checkpoint with its head")
        load_huggingface_weights(result, weights)
        return result
    from tfbert.training.checkpointing import restore_encoder, restore_model
    if isinstance(result, BertEncoder):
        restore_encoder(result, weights)
    elif restore_model(result, weights) != "model":
        raise ValueError(f"{weights} has no {type(result).__name__} head, only an encoder: "
                         f"export a fine-tuned checkpoint for --task={task}")
    return result
