"""The SIGKILL loop of `benchmarks/kill_loop.py`, shortened for CI: the real
`tfbert_finetune` and `tfbert_pretrain` killed twice each at seeded random moments and
restarted to the end (the 20-kill runs: docs/reliability.md, "SIGKILL loops").

Seed 3 draws a kill mid-write of the first checkpoint, then one 0-1.5 s after the second
life's first new checkpoint: the third life resumes on any machine speed (200 steps are
more than the fastest machine trains in those 1.5 s)."""

import pytest

from benchmarks.kill_loop import INTERVAL, kill_loop


@pytest.mark.slow
def test_finetuning_killed_twice_ends_with_the_uninterrupted_weights(shared_data, tmp_path):
    """Every kill leaves a complete latest checkpoint, the next start resumes from it at its
    step, at most one interval is lost, and the final weights, Adam moments and dropout
    seeds equal an uninterrupted run's bit for bit.

    Removing the restore on start (`restore_checkpoint(self.checkpoint, latest)` in
    `Trainer.restore_or_initialize`) makes it fail (tried once, on a copy of the tree):
    the restarted life logs `resumed from .../ckpt-N at step 0`.
    """
    report = kill_loop("finetune", 2, 3, str(tmp_path), str(shared_data), train_steps=200)
    assert report["kills"] == 2 and report["resumes"] >= 1
    assert report["max_steps_lost"] <= INTERVAL and report["tensors_missing"] == []
    assert report["tensors_differing"] == 0, report["differing_examples"]


@pytest.mark.slow
def test_pretraining_killed_twice_resumes_from_complete_checkpoints(shared_data, tmp_path):
    """The same checks on pre-training, except the final weights: its data restarts on
    resume (`tfbert.training.resume`), so they differ from an uninterrupted run's and none
    is made. The same removal as above makes it fail."""
    report = kill_loop("pretrain", 2, 3, str(tmp_path), str(shared_data), reference_runs=0,
                       train_steps=200)
    assert report["kills"] == 2 and report["resumes"] >= 1
    assert report["max_steps_lost"] <= INTERVAL
