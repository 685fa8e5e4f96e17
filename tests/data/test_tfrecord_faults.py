"""Damaged TFRecord files: found, named with the byte offset, or read up to the damage."""

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from tests.training.records import (
    flip_byte,
    nan_weight_records,
    record_offsets,
    write_with_tfbert,
)
from tfbert.data.pretraining_dataset import (
    explain_data_loss,
    pretraining_dataset,
    skipped_record_counts,
)
from tfbert.data.tfrecord_faults import CorruptTFRecordError, masked_crc32c, scan_file


def _files(tmp_path, count=3, records=12):
    return [write_with_tfbert(tmp_path / f"part-{k}.tfrecord",
                              nan_weight_records(records, 0, seed=k)) for k in range(count)]


def _ids(path, count=-1):
    records = list(tf.data.TFRecordDataset(path).take(count).as_numpy_iterator())
    spec = {"input_ids": tf.io.FixedLenFeature([16], tf.int64)}
    return tf.io.parse_example(records, spec)["input_ids"].numpy()


def test_masked_crc32c_is_tensorflows(tmp_path):
    path = pathlib.Path(write_with_tfbert(tmp_path / "one.tfrecord", nan_weight_records(1, 0)))
    data = path.read_bytes()
    assert masked_crc32c(data[:8]) == int.from_bytes(data[8:12], "little")
    assert masked_crc32c(data[12:-4]) == int.from_bytes(data[-4:], "little")


def test_scan_finds_the_damaged_record_and_counts_what_is_lost(tmp_path):
    sound, flipped, cut = _files(tmp_path)
    offsets = record_offsets(flipped)
    flip_byte(flipped, offsets[5] + 30)  # inside record 5's data: its checksum fails
    size = pathlib.Path(cut).stat().st_size
    pathlib.Path(cut).write_bytes(pathlib.Path(cut).read_bytes()[:size - 40])
    assert not scan_file(sound).corrupt and scan_file(sound).good_records == 12
    scan = scan_file(flipped)
    assert (scan.offset, scan.good_records, scan.skipped_records) == (offsets[5], 5, 7)
    assert "checksum" in scan.what
    scan = scan_file(cut)
    assert (scan.offset, scan.good_records, scan.skipped_records) == (
        record_offsets(sound)[11], 11, 1)
    assert "truncated" in scan.what


def test_reading_a_damaged_file_is_an_error_naming_file_and_offset(tmp_path):
    """The pipeline's DataLossError, explained: which of the interleaved files, where.

    Remove the `except tf.errors.DataLossError` clause of `Trainer.train_loop`
    and the run ends in TensorFlow's "corrupted record at <n>" without the file
    (tests/cli/test_pretrain_faults.py fails); here, `explain_data_loss` is
    what that clause calls.
    """
    files = _files(tmp_path)
    offset = record_offsets(files[1])[4]
    flip_byte(files[1], offset + 20)
    dataset = pretraining_dataset(files, 16, 4, 8)
    with pytest.raises(tf.errors.DataLossError) as raised:
        for _ in dataset.take(20):
            pass
    error = explain_data_loss(",".join(files), raised.value)
    assert isinstance(error, CorruptTFRecordError)
    assert str(error).startswith(f"corrupt TFRecord {files[1]} at byte offset {offset}: "
                                 "a corrupted record (its checksum does not match")


def test_skip_corrupt_records_reads_up_to_the_damage(tmp_path):
    """Remove `.take(limit)` in `pretraining_dataset` (read each file whole) and the
    damaged file raises DataLossError here."""
    files = _files(tmp_path)
    flip_byte(files[1], record_offsets(files[1])[4] + 20)
    dataset = pretraining_dataset(files, 16, 4, 4, is_training=False,
                                                      skip_corrupt_records=True)
    ids = np.concatenate([b["input_word_ids"].numpy() for b in dataset.take(7)])
    expected = np.concatenate([_ids(files[0]), _ids(files[1], 4), _ids(files[2])])
    np.testing.assert_array_equal(ids, expected)  # 12 + 4 + 12 records, in file order
    assert skipped_record_counts(",".join(files)) == {
        "data/corrupt_files": 1, "data/skipped_records": 8}
