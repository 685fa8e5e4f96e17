"""Where a run's checkpoints go (what they hold: `tfbert.checkpoints.training_checkpoint`).

`tf.train.CheckpointManager` writes the data under a temporary name and
renames it, then rewrites the `checkpoint` state file atomically (temp file +
rename), so the latest checkpoint it names is always complete, even if the
process is killed while saving. A save that fails (a full disk) therefore
leaves the previous checkpoint the latest; `save_checkpoint` removes the failed
one's files and says so.
"""

import os
import re

import tensorflow as tf


def checkpoint_manager(checkpoint, directory, max_to_keep, is_chief=True, step_counter=None):
    """A `tf.train.CheckpointManager`; a non-chief worker writes to a scratch directory.

    Under `MultiWorkerMirroredStrategy` every worker must take part in a save;
    only the chief's copy lands in `directory`.
    """
    if not is_chief:
        directory = os.path.join(directory, f".worker_scratch_{os.getpid()}")
    else:
        remove_interrupted_saves(directory)
    return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=max_to_keep,
                                      step_counter=step_counter)


def remove_interrupted_saves(directory):
    """Removes the `ckpt-N_temp*` folders that a save killed midway leaves: TensorFlow
    writes a checkpoint's data there and renames it when complete, so they never hold a
    checkpoint, and nothing else removes them. Called before this run saves anything."""
    for path in tf.io.gfile.glob(os.path.join(directory, "ckpt-*_temp*")):
        if tf.io.gfile.isdir(path):
            tf.io.gfile.rmtree(path)


def save_checkpoint(manager, checkpoint_number):
    """`manager.save(checkpoint_number)`, or an `OSError` that says what failed and
    which checkpoint is still the latest.

    When a write fails (a full disk, a lost mount), the `checkpoint` state file
    still names the previous checkpoint, whole; the failed checkpoint's files are
    removed, so that they neither keep the disk full nor are mistaken for a
    checkpoint. A resumed run starts from the latest one.

    Example:

    >>> import tempfile
    >>> step = tf.Variable(3)
    >>> manager = checkpoint_manager(tf.train.Checkpoint(step=step), tempfile.mkdtemp(), 1)
    >>> os.path.basename(save_checkpoint(manager, step))
    'ckpt-3'
    """
    try:
        return manager.save(checkpoint_number=checkpoint_number)
    except (tf.errors.OpError, OSError) as error:
        prefix = os.path.join(manager.directory, f"ckpt-{int(checkpoint_number)}")
        # A complete checkpoint of the same number (saved before a resume) is kept.
        done = prefix in manager.checkpoints
        for path in ([] if done else tf.io.gfile.glob(prefix + ".*")) + \
                tf.io.gfile.glob(prefix + "_temp*"):
            if tf.io.gfile.isdir(path):
                tf.io.gfile.rmtree(path)
            else:
                tf.io.gfile.remove(path)
        detail = _tf_message(error)
        latest = manager.latest_checkpoint
        kept = (f"the latest complete checkpoint, {latest}, is intact: free space and rerun "
                "the same command to resume from it" if latest else
                "there is no earlier checkpoint")
        raise OSError(f"writing checkpoint {prefix} failed ({detail}); its files were "
                      f"removed and {kept}") from None


def _tf_message(error):
    """An error's message without TensorFlow's `{{function_node ...}}` and `[Op:...]`."""
    text = getattr(error, "message", None) or str(error)
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
    return re.sub(r"\s*\[Op:\w+\]", "", text).strip()
