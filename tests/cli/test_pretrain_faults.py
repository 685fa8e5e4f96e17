"""`tfbert_pretrain` on faults, as users run it: a corrupt TFRecord in the middle of the
input list, `--skip_corrupt_records`, and an absurd learning rate with `--max_nonfinite_steps`."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

from tests.training.records import flip_byte, nan_weight_records, record_offsets, write_with_tfbert
from tfbert.training.summaries import read_scalars


def _pretrain(model_dir, files, *flags):
    args = ["--bert_config_file=bert_tiny_uncased", f"--input_file={','.join(files)}",
            f"--output_dir={model_dir}", "--do_train", "--max_seq_length=16",
            "--max_predictions_per_seq=4", "--train_batch_size=8", "--num_train_steps=4",
            "--iterations_per_loop=1", "--save_checkpoints_steps=1", "--num_warmup_steps=0",
            "--params_override=task.train_data.shuffle=false,runtime.seed=1", *flags]
    return subprocess.run([sys.executable, "-m", "tfbert.cli.pretrain", *args],
                          capture_output=True, text=True, env=dict(os.environ), timeout=300)


@pytest.fixture
def damaged(tmp_path):
    """Three files of 12 records made by tfbert's writer; record 4 of the middle one
    has a flipped byte. Returns `(files, byte offset of the damaged record)`."""
    files = [write_with_tfbert(tmp_path / f"part-{k}.tfrecord", nan_weight_records(12, 0, seed=k))
             for k in range(3)]
    offset = record_offsets(files[1])[4]
    flip_byte(files[1], offset + 25)
    return files, offset


@pytest.mark.slow
def test_a_corrupt_file_in_the_middle_is_an_error_naming_it(damaged, tmp_path):
    """Steps 1-2 read part-0 and part-1's first 4 records; step 3 reaches its damaged one.

    Remove the `except tf.errors.DataLossError` clause of `Trainer.train_loop`:
    the command dies with TensorFlow's traceback ("corrupted record at <n>",
    no file), and the message check fails.
    """
    files, offset = damaged
    result = _pretrain(tmp_path / "run", files)
    assert result.returncode == 1, result.stderr[-3000:]
    assert (f"tfbert_pretrain: error: corrupt TFRecord {files[1]} at byte offset {offset}: "
            "a corrupted record (its checksum does not match its bytes)") in result.stderr
    assert "Traceback" not in result.stderr
    assert tf.train.latest_checkpoint(str(tmp_path / "run")).endswith("ckpt-2")


@pytest.mark.slow
def test_skip_corrupt_records_trains_and_counts_them(damaged, tmp_path):
    """Remove `.take(limit)` in `pretraining_dataset` and the run fails as above."""
    files, offset = damaged
    result = _pretrain(tmp_path / "run", files, "--skip_corrupt_records")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"skipping corrupt TFRecord {files[1]} at byte offset {offset}" in result.stderr
    assert "(4 records read, 8 skipped)" in result.stderr
    summaries = read_scalars(tmp_path / "run" / "train")
    assert summaries["data/corrupt_files"] == [(0, 1.0)]
    assert summaries["data/skipped_records"] == [(0, 8.0)]
    assert tf.train.latest_checkpoint(str(tmp_path / "run")).endswith("ckpt-4")


@pytest.mark.slow
def test_an_absurd_learning_rate_stops_after_max_nonfinite_steps(tmp_path):
    """--learning_rate=1e30: step 1 makes the weights huge (finite), every later loss is
    NaN; with --max_nonfinite_steps=2 the run stops at step 3 and ckpt-1 stays the latest.

    Remove the `check_nonfinite_run(...)` call of `Trainer.train`: the run ends
    with status 0 at step 4.
    """
    files = [write_with_tfbert(tmp_path / "data.tfrecord", nan_weight_records(48, 0))]
    result = _pretrain(tmp_path / "run", files, "--learning_rate=1e30", "--num_train_steps=8",
                       "--max_nonfinite_steps=2")
    assert result.returncode == 1, result.stderr[-3000:]
    assert ("tfbert_pretrain: error: stopped at step 3: the last 2 steps had a NaN or Inf loss "
            "or gradient norm") in result.stderr
    assert "ckpt-1, is intact" in result.stderr
    assert tf.train.latest_checkpoint(str(tmp_path / "run")).endswith("ckpt-1")
    assert [step for step, _ in read_scalars(tmp_path / "run" / "train")["nonfinite_steps"]] \
        == [2, 3]
