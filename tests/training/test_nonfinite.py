"""Steps with a NaN loss: not applied, counted, bit-exact otherwise, and a stop after too many."""

import numpy as np
import pytest
import tensorflow as tf

from tests.training.records import (
    nan_weight_records,
    tiny_pretraining_values,
    write_with_tfbert,
)
from tfbert.configs import experiment
from tfbert.tasks.pretraining import PretrainingTask
from tfbert.training import trainer as trainer_lib
from tfbert.training.nonfinite import NonFiniteLossError
from tfbert.training.summaries import read_scalars
from tfbert.training.trainer import Trainer


def _trainer(path, model_dir, **changes):
    values = tiny_pretraining_values(path, **{
        "trainer.train_steps": 20, "trainer.steps_per_loop": 1,
        "trainer.checkpoint_interval": 1, **changes})
    config = experiment.set_values(experiment.ExperimentConfig(), values, "test").validate()
    return Trainer(PretrainingTask(config.task), config, str(model_dir))


def _state(trainer):
    return [v.numpy().copy() for v in trainer.model.variables + trainer.optimizer.variables]


@pytest.mark.parametrize("jit_compile", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_a_nan_step_changes_neither_weights_nor_optimizer_state(tmp_path, jit_compile):
    """Batch 2 of 3 holds a record with a NaN masked-LM weight, so its loss is NaN.

    Replace `apply_if_finite(self.optimizer, gradients, ...)` in
    `Trainer._replica_train_step` by the plain
    `self.optimizer.apply(gradients, self.model.trainable_variables)` and the
    NaN step writes NaN into the weights and the Adam moments: the equality
    checks below fail.
    """
    path = write_with_tfbert(tmp_path / "data.tfrecord", nan_weight_records(8, 0)
                             + nan_weight_records(0, 1, seed=1) + nan_weight_records(15, 0, seed=2))
    trainer = _trainer(path, tmp_path / "run", **{"runtime.jit_compile": jit_compile})
    trainer.restore_or_initialize()
    first = trainer.train_loop(1)
    assert np.isfinite(first["loss"]) and "nonfinite_steps" not in first
    before = _state(trainer)
    logs = trainer.train_loop(1)
    assert logs["nonfinite_steps"] == 1 and np.isnan(logs["loss"])
    for a, b in zip(before, _state(trainer), strict=True):
        np.testing.assert_array_equal(a, b)  # weights, moments, iterations: untouched
    assert int(trainer.optimizer.iterations.numpy()) == 1
    assert int(trainer.nonfinite_steps.numpy()) == 1 and trainer.step == 2
    third = trainer.train_loop(1)
    assert np.isfinite(third["loss"]) and int(trainer.optimizer.iterations.numpy()) == 2
    assert all(np.isfinite(v).all() for v in _state(trainer))
    assert int(trainer._nonfinite_run.numpy()) == 0  # the run of NaN steps ended


@pytest.mark.slow
@pytest.mark.parametrize("jit_compile", [False, True])
def test_finite_steps_are_the_unguarded_steps_bit_for_bit(tmp_path, monkeypatch, jit_compile):
    """Three finite steps with the guard equal the same steps with a plain
    `optimizer.apply` in its place, bit for bit (weights, moments, iterations).
    (Against the trainer before the guard, outside the suite: equal too, 6 steps,
    graph and XLA; docs/reliability.md.)"""
    path = write_with_tfbert(tmp_path / "data.tfrecord", nan_weight_records(32, 0))
    states = []
    for name, guard in (("guarded", trainer_lib.apply_if_finite),
                        ("plain", lambda optimizer, grads, variables, finite:
                         optimizer.apply(grads, variables))):
        monkeypatch.setattr(trainer_lib, "apply_if_finite", guard)
        trainer = _trainer(path, tmp_path / name, **{"runtime.jit_compile": jit_compile})
        trainer.restore_or_initialize()
        trainer.train_loop(3)
        states.append(_state(trainer))
    for a, b in zip(*states, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_max_nonfinite_steps_stops_with_the_last_good_checkpoint(tmp_path):
    """Steps 1-2 are finite, every later batch has a NaN loss; with
    `max_nonfinite_steps=3` training stops at step 5, and ckpt-2 stays the latest.

    Delete the `check_nonfinite_run(...)` call in `Trainer.train` and the run
    goes on to step 20, saving checkpoints of the skipped steps: no error is raised.
    """
    path = write_with_tfbert(tmp_path / "data.tfrecord", nan_weight_records(16, 64))
    trainer = _trainer(path, tmp_path / "run", **{"trainer.max_nonfinite_steps": 3})
    with pytest.raises(NonFiniteLossError, match=r"stopped at step 5: the last 3 steps had a "
                       r"NaN or Inf loss .* the last checkpoint, .*ckpt-2, is intact"):
        trainer.train()
    assert tf.train.latest_checkpoint(str(tmp_path / "run")).endswith("ckpt-2")
    weights = _state(trainer)[:len(trainer.model.variables)]
    resumed = _trainer(path, tmp_path / "run")
    assert resumed.restore_or_initialize().endswith("ckpt-2")
    for a, b in zip(weights, _state(resumed)[:len(weights)], strict=True):
        np.testing.assert_array_equal(a, b)  # the skipped steps changed nothing
    assert all(np.isfinite(v).all() for v in weights)
    summaries = read_scalars(tmp_path / "run" / "train")
    assert summaries["nonfinite_steps"] == [(3, 1.0), (4, 1.0), (5, 1.0)]
