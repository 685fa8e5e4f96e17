"""A save killed midway leaves `ckpt-N_temp/` (TensorFlow writes there, then renames);
the chief's next `checkpoint_manager` removes it and keeps every complete checkpoint.

Removing the `remove_interrupted_saves(directory)` call in `checkpoint_manager` makes the
first test fail (the folder stays, as the 20-kill loops left 5 and 6 of them)."""

import os

import tensorflow as tf

from tfbert.training.checkpointing import checkpoint_manager, save_checkpoint


def _leftover_and_complete(directory):
    step = tf.Variable(3)
    manager = checkpoint_manager(tf.train.Checkpoint(step=step), str(directory), 5)
    save_checkpoint(manager, step)  # a complete ckpt-3
    temp = directory / "ckpt-4_temp"
    temp.mkdir()
    (temp / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"half a checkpoint")
    return temp


def test_the_chief_removes_interrupted_saves_and_keeps_checkpoints(tmp_path):
    temp = _leftover_and_complete(tmp_path)
    step = tf.Variable(0)
    manager = checkpoint_manager(tf.train.Checkpoint(step=step), str(tmp_path), 5)
    assert not temp.exists()
    assert os.path.basename(manager.latest_checkpoint) == "ckpt-3"
    tf.train.Checkpoint(step=step).restore(manager.latest_checkpoint).assert_consumed()
    assert int(step.numpy()) == 3


def test_a_non_chief_worker_leaves_the_chiefs_directory_alone(tmp_path):
    temp = _leftover_and_complete(tmp_path)
    checkpoint_manager(tf.train.Checkpoint(step=tf.Variable(0)), str(tmp_path), 5,
                       is_chief=False)
    assert temp.exists()
