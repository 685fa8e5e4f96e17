"""A resumed fine-tuning run goes on exactly as if it had never stopped
(`tfbert.training.resume`): same dropout masks, same batches, same final weights."""

import numpy as np
import pytest
import tensorflow as tf

from tfbert.checkpoints import training_checkpoint
from tfbert.tasks.registry import build_task
from tfbert.training.resume import restore_checkpoint, run_checkpoint, skip_consumed
from tfbert.training.trainer import Trainer


def _trainer(config, model_dir):
    task = build_task(config.task)
    config = task.prepare(config, "train")
    task.config = config.task
    return Trainer(task, config, str(model_dir))


def _tensors(path):
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")}


@pytest.mark.slow
def test_a_resumed_finetuning_run_ends_with_the_uninterrupted_weights(tiny_sst2, tmp_path):
    """Stopped at ckpt-6 of 12, a new `Trainer` resumes and ends bit-identical to a run that
    never stopped: every weight, Adam moment, step and dropout seed state of ckpt-12.

    Removing either protection fails it (tried once each, on a copy of the tree): without
    the `dropout_seeds` entry (`setattr(checkpoint, SEEDS, ...)` in `run_checkpoint`) the
    first tensor compared, an Adam moment, differs by up to 1e-6 (other dropout masks);
    without the skip (`self.task.resumes_data_position * self.step` in
    `Trainer.train_loop` set to 0) by up to 2e-4 (the first 6 batches trained on again).
    """
    config = tiny_sst2(steps=12, extra=",task.dropout=0.1")
    straight = _trainer(config, tmp_path / "straight")
    straight.train()

    first = _trainer(config, tmp_path / "resumed")
    first.train(callback=lambda step, logs: first.request_stop() if step == 6 else None)
    assert tf.train.latest_checkpoint(str(tmp_path / "resumed")).endswith("ckpt-6")
    second = _trainer(config, tmp_path / "resumed")
    assert [step for step, _ in second.train()] == [12]

    expected = _tensors(str(tmp_path / "straight" / "ckpt-12"))
    resumed = _tensors(str(tmp_path / "resumed" / "ckpt-12"))
    for name in set(expected) & set(resumed):
        np.testing.assert_array_equal(resumed[name], expected[name], err_msg=name)
    assert sorted(resumed) == sorted(expected)
    assert any(name.startswith("dropout_seeds/") for name in expected)


def test_a_checkpoint_without_seed_states_still_resumes(tmp_path, caplog):
    """Checkpoints written before the seeds were saved restore everything else, with a
    warning; a checkpoint missing anything else is still an error."""
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2),
                              keras.layers.Dropout(0.5, seed=1)])
    step = tf.Variable(5, dtype=tf.int64)
    old = training_checkpoint(model)
    old.global_step = step
    path = old.save(str(tmp_path / "ckpt"))  # as CheckpointManager saves
    step.assign(0)
    restore_checkpoint(run_checkpoint(model, None, step), path)
    assert int(step.numpy()) == 5
    assert "no dropout seed states" in caplog.text
    bare = tf.train.Checkpoint(model=model).save(str(tmp_path / "bare"))
    with pytest.raises(AssertionError):
        restore_checkpoint(run_checkpoint(model, None, step), bare)


@pytest.mark.parametrize("replicas,pipelines,skipped", [(1, 1, 7), (2, 1, 14), (2, 2, 7)])
def test_skip_consumed_counts_one_batch_per_replica_and_step(replicas, pipelines, skipped):
    context = tf.distribute.InputContext(num_input_pipelines=pipelines, input_pipeline_id=0,
                                         num_replicas_in_sync=replicas)
    dataset = skip_consumed(tf.data.Dataset.range(100), 7, replicas, context)
    assert next(iter(dataset)).numpy() == skipped
