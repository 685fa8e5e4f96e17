"""A full disk while a command writes a checkpoint, an export or TFRecords (issue #25).

Each test mounts a small tmpfs (which needs root: elsewhere the tests skip and say
so), lets the command fill it and checks that the error says what happened, that no
half-written file is left looking complete and that what was there before is intact.
"""

import os
import re
import subprocess
import sys

import pytest
import tensorflow as tf

import tfbert
from tests.cli.test_pretrain_faults import _pretrain
from tests.helpers import randomize, tiny_config
from tests.serving.conftest import VOCAB, text_array
from tests.training.records import nan_weight_records, write_with_tfbert
from tfbert.checkpoints import training_checkpoint
from tfbert.data.record_files import RecordFilesWriter
from tfbert.serving import NativeSavedModel


@pytest.fixture
def small_disk(tmp_path):
    """`mount(size)`: a tmpfs of `size` at `tmp_path/disk` (again with `remount=True`:
    resized, files kept), unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    path = tmp_path / "disk"
    path.mkdir()
    mounted = []

    def mount(size, remount=False):
        options = f"remount,size={size}" if remount else f"size={size}"
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                                capture_output=True, text=True)
        if result.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    if mounted:
        subprocess.run(["umount", str(path)], check=False)


@pytest.mark.slow
def test_a_full_disk_while_saving_a_checkpoint_keeps_the_previous_one(small_disk, tmp_path):
    """A bert_tiny_uncased checkpoint with Adam's moments is about 50 MB: 70 MB hold
    ckpt-1, not ckpt-2 beside it. With space again, the same command resumes.

    Remove the `except` clause of `save_checkpoint` (tfbert/training/checkpointing.py):
    the command dies with TensorFlow's traceback and leaves `ckpt-2_temp` on the
    disk; the message and file-list checks fail.
    """
    files = [write_with_tfbert(tmp_path / "data.tfrecord", nan_weight_records(48, 0))]
    run = small_disk("70m") / "run"
    result = _pretrain(run, files)
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"tfbert_pretrain: error: writing checkpoint {run / 'ckpt-2'} failed (" in result.stderr
    assert "No space left on device" in result.stderr and "Traceback" not in result.stderr
    assert f"the latest complete checkpoint, {run / 'ckpt-1'}, is intact" in result.stderr
    assert sorted(p for p in os.listdir(run) if p.startswith("ckpt")) == [
        "ckpt-1.data-00000-of-00001", "ckpt-1.index"]
    latest = tf.train.latest_checkpoint(str(run))
    assert latest.endswith("ckpt-1")
    reader = tf.train.load_checkpoint(latest)  # every tensor of it reads back
    assert all(reader.get_tensor(name) is not None
               for name in reader.get_variable_to_shape_map())

    small_disk("400m", remount=True)
    again = _pretrain(run, files)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resumed from {run / 'ckpt-1'} at step 1" in again.stderr
    assert tf.train.latest_checkpoint(str(run)).endswith("ckpt-4")


@pytest.mark.slow
def test_a_full_disk_while_exporting_keeps_the_served_versions(small_disk, tmp_path, vocab_file):
    """Version 1 is written, then the disk is shrunk to what it holds plus half an
    export (a tiny classifier export is 2.9 MB): version 2 runs out of space.

    Remove the `except` clause of `versioned_export` (tfbert/serving/versions.py):
    the command says only "[Errno 28] No space left on device"; the message check fails.
    """
    config = tiny_config(vocab_size=len(VOCAB))
    config.to_json_file(tmp_path / "bert_config.json")
    model = randomize(tfbert.BertClassifier(tfbert.BertEncoder(config), 2), seed=3)
    prefix = training_checkpoint(model).write(str(tmp_path / "run" / "ckpt-1"))
    base = small_disk("10m") / "sst2"

    def export(version):
        return subprocess.run(
            [sys.executable, "-m", "tfbert.cli.export", f"--checkpoint={prefix}",
             f"--model={tmp_path / 'bert_config.json'}", f"--vocab_file={vocab_file}",
             "--task=classification", "--seq_length=16", "--label_names=negative,positive",
             f"--export_dir={base}", f"--version={version}"],
            capture_output=True, text=True, timeout=300,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})

    first = export(1)
    assert first.returncode == 0, first.stderr[-3000:]
    size = sum(f.stat().st_size for f in (base / "1").rglob("*") if f.is_file())
    disk = os.statvfs(base)
    used = disk.f_frsize * (disk.f_blocks - disk.f_bfree)
    small_disk(f"{(used + size // 2) // 1024}k", remount=True)
    second = export(2)
    assert second.returncode == 1, second.stderr[-3000:]
    # The message may name the file being written: "(<path>; No space left on device)".
    assert re.search(rf"tfbert_export: error: writing the export {re.escape(str(base / '2'))} "
                     r"failed \(([^;()]+; )?No space left on device\); its partial directory "
                     rf"was removed and the versions already in {re.escape(str(base))} are "
                     "untouched", second.stderr), second.stderr[-3000:]
    assert os.listdir(base) == ["1"]  # TF Serving sees version 1 only, and it still serves
    out = NativeSavedModel(str(base / "1")).run("serving_default",
                                                {"text": text_array("a fine film")})
    assert set(out["label"]) <= {b"negative", b"positive"}


@pytest.mark.slow
def test_a_full_disk_while_writing_tfrecords_keeps_the_previous_file(small_disk, shared_data,
                                                                      uncased_vocab):
    """Two spawned workers fill a 1 MB disk; the earlier output file stays as it was.

    Remove the `except` clause of `RecordFilesWriter.write`
    (tfbert/data/record_files.py): the command ends with TensorFlow's
    traceback; the message check fails.
    """
    disk = small_disk("1m")
    output = disk / "out.tfrecord"
    with RecordFilesWriter([str(output)]) as writer:  # an earlier run's (small) output
        for record in (b"a", b"b", b"c"):
            writer.write(record)
    before = output.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "tfbert.cli.create_pretraining_data",
         f"--input_file={shared_data / 'text' / 'wikitext2_valid_pretrain_format.txt'}",
         f"--output_file={output}", f"--vocab_file={uncased_vocab}", "--do_lower_case=true",
         "--dupe_factor=20", "--num_workers=2"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"tfbert_create_pretraining_data: error: writing {output} failed (" in result.stderr
    assert "No space left on device); no output file was written" in result.stderr
    assert os.listdir(disk) == ["out.tfrecord"] and output.read_bytes() == before
