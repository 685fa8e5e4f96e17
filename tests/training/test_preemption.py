"""Preemption: `tfbert_pretrain` stopped by SIGTERM, then killed by SIGKILL mid-run, resumes
from its last checkpoint each time, the step counter continues, and nothing is corrupt."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from tests.conftest import REPO_ROOT
from tests.helpers import tiny_config
from tests.training.records import write_records

TRAIN_STEPS = 60


def _command(records, config_file, output_dir):
    return [sys.executable, "-m", "tfbert.cli.pretrain", f"--input_file={records}",
            f"--bert_config_file={config_file}", f"--output_dir={output_dir}", "--do_train",
            f"--num_train_steps={TRAIN_STEPS}", "--save_checkpoints_steps=5",
            "--iterations_per_loop=5", "--num_warmup_steps=2", "--learning_rate=1e-3",
            "--train_batch_size=8", "--max_seq_length=16", "--max_predictions_per_seq=4"]


def _start(command, log):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def _latest_step(model_dir):
    latest = tf.train.latest_checkpoint(str(model_dir))
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def _wait_for_checkpoint(process, model_dir, step, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if _latest_step(model_dir) >= step:
            return
        assert process.poll() is None, "training ended before the checkpoint"
        time.sleep(0.05)
    raise AssertionError(f"no checkpoint {step} within {timeout} s")


def _stop(process, timeout=120):
    try:
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _assert_complete(model_dir):
    """Every checkpoint the state file lists has its index and data, and reads back."""
    state = tf.train.get_checkpoint_state(str(model_dir))
    for path in state.all_model_checkpoint_paths:
        assert os.path.exists(path + ".index"), path
        assert os.path.exists(path + ".data-00000-of-00001"), path
        reader = tf.train.load_checkpoint(path)
        step = int(path.rsplit("-", 1)[1])
        assert reader.get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE") == step


@pytest.mark.slow
def test_sigterm_then_sigkill_then_resume(tmp_path):
    records = write_records(tmp_path / "train.tfrecord", 64)
    config_file = tmp_path / "bert_config.json"
    tiny_config(hidden_dropout_prob=0.0).to_json_file(config_file)
    model_dir = tmp_path / "out"
    command = _command(records, config_file, model_dir)
    logs = [tmp_path / f"run{i}.log" for i in range(3)]

    # 1. SIGTERM (a preemption notice): save the current step, exit cleanly.
    with open(logs[0], "w") as log:
        process = _start(command, log)
        try:
            _wait_for_checkpoint(process, model_dir, 5)
            process.send_signal(signal.SIGTERM)
        finally:
            _stop(process)
    first = logs[0].read_text()
    assert process.returncode == 0, first[-3000:]
    assert "restart the same command to resume" in first
    stopped_at = _latest_step(model_dir)
    assert 5 <= stopped_at < TRAIN_STEPS
    _assert_complete(model_dir)

    # 2. SIGKILL mid-run (no chance to save): the last checkpoint survives.
    with open(logs[1], "w") as log:
        process = _start(command, log)
        try:
            _wait_for_checkpoint(process, model_dir, stopped_at + 10)
            process.send_signal(signal.SIGKILL)
        finally:
            _stop(process)
    second = logs[1].read_text()
    assert process.returncode == -signal.SIGKILL
    assert f"resumed from {model_dir}/ckpt-{stopped_at} at step {stopped_at}" in second
    killed_at = _latest_step(model_dir)
    assert stopped_at + 10 <= killed_at < TRAIN_STEPS, "killed too late to test a resume"
    _assert_complete(model_dir)

    # 3. Restart: resumes at the last checkpoint, and the step counter continues to the end.
    with open(logs[2], "w") as log:
        process = _start(command, log)
        _stop(process, timeout=240)
    third = logs[2].read_text()
    assert process.returncode == 0, third[-3000:]
    assert f"resumed from {model_dir}/ckpt-{killed_at} at step {killed_at}" in third
    steps = [int(s) for s in re.findall(r"train step (\d+)/", third)]
    assert steps[0] == min(killed_at + 5, TRAIN_STEPS) and steps[-1] == TRAIN_STEPS
    assert _latest_step(model_dir) == TRAIN_STEPS
    _assert_complete(model_dir)
