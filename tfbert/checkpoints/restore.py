"""tfbert checkpoints: what a run saves, and restoring a model from any BERT checkpoint.

A training checkpoint is a `tf.train.Checkpoint(model=..., encoder=...,
optimizer=...)`: `model` and `optimizer` (with its step counter,
`optimizer.iterations`) resume a run, and `encoder` alone is enough to
start fine-tuning (`restore_encoder`). A Google TF1 checkpoint (`bert/...`
names) is read through its variable table instead.
"""

import tensorflow as tf

from tfbert.checkpoints.google_tf1 import checkpoint_prefix, load_tf1_checkpoint


def training_checkpoint(model, optimizer=None):
    """The `tf.train.Checkpoint` of a run: model, its encoder (if any) and optimizer."""
    items = {"model": model}
    if getattr(model, "encoder", None) is not None:
        items["encoder"] = model.encoder
    if optimizer is not None:
        items["optimizer"] = optimizer
    return tf.train.Checkpoint(**items)


def is_tf1_checkpoint(path):
    """Whether the checkpoint at `path` has the Google TF1 names (`bert/...`)."""
    names = [name for name, _ in tf.train.list_variables(checkpoint_prefix(path))]
    return any(name.startswith("bert/") for name in names)


def _read(checkpoint, prefix, what):
    status = checkpoint.read(prefix)
    try:
        status.assert_existing_objects_matched()
    except AssertionError as error:
        raise ValueError(f"checkpoint {prefix} does not hold a matching {what}: "
                         f"{str(error)[:500]}") from None
    status.expect_partial()


def restore_encoder(encoder, path):
    """Initialises a `BertEncoder` from a tfbert checkpoint or a Google TF1 checkpoint.

    Args:
        encoder: a built `tfbert.BertEncoder`.
        path: checkpoint prefix, `.index` file, or a directory (its latest checkpoint).

    Returns:
        The prefix that was read.

    Raises:
        FileNotFoundError: nothing at `path`.
        ValueError: the checkpoint has no weights of that shape for the encoder.

    Example (with Google's BERT-Base checkpoint unpacked here):

        encoder = tfbert.BertEncoder(tfbert.model_config("bert_base_uncased"))
        encoder(encoder.dummy_inputs())
        restore_encoder(encoder, "uncased_L-12_H-768_A-12/bert_model.ckpt")
    """
    prefix = checkpoint_prefix(path)
    if is_tf1_checkpoint(prefix):
        load_tf1_checkpoint(encoder, prefix)
    else:
        _read(tf.train.Checkpoint(encoder=encoder), prefix, "encoder")
    return prefix


def restore_model(model, path):
    """Initialises a whole task model (e.g. `BertPretrainer` with its heads) from a
    checkpoint; falls back to the encoder alone when the checkpoint has no such model.

    Returns:
        "model" or "encoder": what was restored.
    """
    prefix = checkpoint_prefix(path)
    if is_tf1_checkpoint(prefix):
        names = {name for name, _ in tf.train.list_variables(prefix)}
        if any(name.startswith("cls/") for name in names):
            try:
                load_tf1_checkpoint(model, prefix)
                return "model"
            except ValueError:
                pass
        load_tf1_checkpoint(model.encoder, prefix)
        return "encoder"
    try:
        _read(tf.train.Checkpoint(model=model), prefix, type(model).__name__)
        return "model"
    except ValueError:
        restore_encoder(model.encoder, prefix)
        return "encoder"
