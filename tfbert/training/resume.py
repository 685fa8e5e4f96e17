"""Resuming a run where its checkpoint left it: dropout seeds and the data position.

A run killed at any moment restarts from its latest checkpoint (the model, the
optimizer and the step). Two more things decide what the steps after it
compute, and a resumed run that restored only those three would go on
differently from a run that was never stopped:

- **The dropout masks.** Each `Dropout` layer draws them from a Keras
  `SeedGenerator`, whose state advances by one per call. Keras keeps that state
  out of the object graph that `tf.train.Checkpoint` saves, so `run_checkpoint`
  adds it (`dropout_seeds`). A checkpoint written before it did still resumes
  (`restore_checkpoint` warns that the masks restart).
- **The position in the training data.** Every start builds a new input
  pipeline. A task whose data order is a function of the seed alone and cheap to
  replay (`Task.resumes_data_position`: fine-tuning, whose features are in
  memory) skips the batches the restored steps have read (`skip_consumed`), so
  the resumed run sees exactly the batches the uninterrupted one would.
  Pre-training starts its data afresh, as the original `run_pretraining.py` and
  Model Garden do: skipping would read and parse again every record of the
  restored steps (hours at step 500,000), so a resumed run ends with other
  weights than one never stopped. docs/reliability.md ("SIGKILL loops")
  measures both.
"""

import tensorflow as tf
from absl import logging

from tfbert.checkpoints.restore import training_checkpoint

SEEDS = "dropout_seeds"


def seed_states(model) -> list:
    """The model's variables that are not weights: the dropout layers' seed states."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def run_checkpoint(model, optimizer, global_step: tf.Variable) -> tf.train.Checkpoint:
    """The checkpoint of a training run: `training_checkpoint(model, optimizer)`, the
    step, and the dropout seed states.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dropout(0.5, seed=1)])
    >>> checkpoint = run_checkpoint(model, None, tf.Variable(0, dtype=tf.int64))
    >>> len(checkpoint.dropout_seeds)
    1
    """
    checkpoint = training_checkpoint(model, optimizer)
    checkpoint.global_step = global_step
    setattr(checkpoint, SEEDS, seed_states(model))
    return checkpoint


def restore_checkpoint(checkpoint: tf.train.Checkpoint, path: str) -> None:
    """Restores `run_checkpoint`'s objects from `path`; every one must be there, except
    the seed states in a checkpoint written before they were saved (a warning)."""
    if not getattr(checkpoint, SEEDS) or any(
            name.startswith(f"{SEEDS}/") for name, _ in tf.train.list_variables(path)):
        checkpoint.restore(path).assert_existing_objects_matched()
        return
    others = {name: getattr(checkpoint, name) for name in
              ("model", "encoder", "optimizer", "global_step") if hasattr(checkpoint, name)}
    tf.train.Checkpoint(**others).restore(path).assert_existing_objects_matched()
    logging.warning("%s has no dropout seed states (written by an older tfbert): the "
                    "resumed run's dropout masks start afresh", path)


def skip_consumed(dataset: tf.data.Dataset, step: int, replicas: int,
                  input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
    """`dataset` (one input pipeline's per-replica batches) without the batches that
    `step` training steps read from it: each step reads one batch per replica, and the
    replicas share the pipelines evenly."""
    pipelines = input_context.num_input_pipelines if input_context else 1
    return dataset.skip(step * replicas // pipelines)
