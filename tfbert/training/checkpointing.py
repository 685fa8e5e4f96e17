"""Where a run's checkpoints go (what they hold: `tfbert.checkpoints.training_checkpoint`).

`tf.train.CheckpointManager` writes the data under a temporary name and
renames it, then rewrites the `checkpoint` state file atomically (temp file +
rename), so the latest checkpoint it names is always complete, even if the
process is killed while saving.
"""

import os

import tensorflow as tf


def checkpoint_manager(checkpoint, directory, max_to_keep, is_chief=True, step_counter=None):
    """A `tf.train.CheckpointManager`; a non-chief worker writes to a scratch directory.

    Under `MultiWorkerMirroredStrategy` every worker must take part in a save;
    only the chief's copy lands in `directory`.
    """
    if not is_chief:
        directory = os.path.join(directory, f".worker_scratch_{os.getpid()}")
    return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=max_to_keep,
                                      step_counter=step_counter)
