"""Google's original TF1 BERT checkpoints: read into tfbert models, write back out.

The released format (`bert_model.ckpt.{index,data-*}` beside `bert_config.json`)
names every weight as the original `modeling.py` did, e.g.
`bert/encoder/layer_0/attention/self/query/kernel`; see `variable_table`.
Optimizer slots (`*/adam_m`, `*/adam_v`) and `global_step` are skipped.
"""

import glob
import os

import numpy as np
import tensorflow as tf

from tfbert.checkpoints.variable_table import model_entries, relayout

SKIPPED_SUFFIXES = ("/adam_m", "/adam_v")
SKIPPED_NAMES = ("global_step",)


def checkpoint_prefix(path):
    """The checkpoint prefix for a prefix, an `.index` file or a directory."""
    path = os.fspath(path)
    if path.endswith(".index"):
        return path[: -len(".index")]
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest:
            return latest
        indexes = sorted(glob.glob(os.path.join(path, "*.index")))
        if len(indexes) != 1:
            raise FileNotFoundError(
                f"{path}: expected one checkpoint (*.index), found {len(indexes)}")
        return indexes[0][: -len(".index")]
    if not os.path.exists(path + ".index"):
        raise FileNotFoundError(f"no checkpoint at {path} ({path}.index does not exist)")
    return path


def read_tf1_checkpoint(path):
    """All weights of a TF1 checkpoint as `{name: np.ndarray}`, without optimizer slots."""
    reader = tf.train.load_checkpoint(checkpoint_prefix(path))
    return {name: reader.get_tensor(name)
            for name in reader.get_variable_to_shape_map()
            if not name.endswith(SKIPPED_SUFFIXES) and name not in SKIPPED_NAMES}


def load_tf1_checkpoint(model, path):
    """Loads a Google TF1 BERT checkpoint into a tfbert model.

    Works for `BertEncoder` and every task model; a task model's head is
    loaded too, so the checkpoint must hold it (a pre-training checkpoint has
    `cls/predictions/*` and `cls/seq_relationship/*`; load a fine-tuning
    model's encoder with `load_tf1_checkpoint(model.encoder, path)`).

    Args:
        model: a built tfbert model.
        path: checkpoint prefix (`.../bert_model.ckpt`), `.index` file or directory.

    Returns:
        The checkpoint names that were not used (e.g. heads of another task).

    Raises:
        ValueError: a weight is missing from the checkpoint, or has another
            shape; the message names it.
    """
    values = read_tf1_checkpoint(path)
    entries = model_entries(model)
    missing = [e.tf1_name for e in entries if e.tf1_name not in values]
    if missing:
        raise ValueError(
            f"checkpoint {path} lacks {len(missing)} variable(s) the "
            f"{type(model).__name__} needs: {', '.join(missing[:10])}"
            + (" ..." if len(missing) > 10 else ""))
    for entry in entries:
        value = relayout(values[entry.tf1_name], entry.tf1_layout)
        if tuple(value.shape) != tuple(entry.variable.shape):
            raise ValueError(
                f"checkpoint variable {entry.tf1_name} has shape "
                f"{list(values[entry.tf1_name].shape)}, but the model needs "
                f"{list(relayout(np.zeros(entry.variable.shape), entry.tf1_layout).shape)} "
                f"(check bert_config.json against the checkpoint)")
    for entry in entries:
        entry.variable.assign(relayout(values[entry.tf1_name], entry.tf1_layout))
    used = {e.tf1_name for e in entries}
    return sorted(set(values) - used)


def save_tf1_checkpoint(model, prefix, config_file=True):
    """Writes a model as a Google TF1 checkpoint, readable by the original code.

    Args:
        model: a tfbert model.
        prefix: checkpoint prefix, e.g. `out/bert_model.ckpt`.
        config_file: bool. Also write `bert_config.json` beside it.

    Returns:
        The prefix written.
    """
    prefix = os.fspath(prefix)
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    arrays = {e.tf1_name: relayout(np.asarray(e.variable.numpy()), e.tf1_layout)
              for e in model_entries(model)}
    # Values are fed through placeholders, not baked into the graph as
    # constants, so that BERT-Large stays under the 2 GB GraphDef limit.
    graph = tf.Graph()
    with graph.as_default():
        variables, assigns, feeds = [], [], {}
        for name, value in arrays.items():
            variable = tf.compat.v1.get_variable(
                name, shape=value.shape, dtype=tf.as_dtype(value.dtype),
                initializer=tf.compat.v1.zeros_initializer())
            placeholder = tf.compat.v1.placeholder(variable.dtype, value.shape)
            variables.append(variable)
            assigns.append(variable.assign(placeholder))
            feeds[placeholder] = value
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(assigns, feed_dict=feeds)
            saver.save(session, prefix, write_meta_graph=False, write_state=True)
    if config_file:
        encoder = getattr(model, "encoder", model)
        encoder.config.to_json_file(os.path.join(os.path.dirname(prefix), "bert_config.json"))
    return prefix
