"""`tfbert.data.pretraining_dataset`: real TFRecords in, static int32 batches out, clear errors."""

import gzip

import numpy as np
import pytest
import tensorflow as tf

from tests.training.records import make_example, write_records
from tfbert.data import pretraining_dataset

SEQ, PRED = 16, 4
NAMES = ["input_word_ids", "input_mask", "input_type_ids", "masked_lm_positions",
         "masked_lm_ids", "masked_lm_weights", "next_sentence_labels"]


def _batches(dataset, count):
    return [{k: v.numpy() for k, v in batch.items()} for batch in dataset.take(count)]


def test_batches_have_static_shapes_and_int32(tmp_path):
    path = write_records(tmp_path / "a.tfrecord", 20, SEQ, PRED)
    dataset = pretraining_dataset(path, SEQ, PRED, global_batch_size=8)
    spec = dataset.element_spec
    assert sorted(spec) == sorted(NAMES)
    assert spec["input_word_ids"].shape == (8, SEQ) and spec["input_word_ids"].dtype == tf.int32
    assert spec["masked_lm_positions"].shape == (8, PRED)
    assert spec["masked_lm_weights"].dtype == tf.float32
    assert spec["next_sentence_labels"].shape == (8,)
    assert all(spec[k].dtype == tf.int32 for k in NAMES if k != "masked_lm_weights")
    # Training repeats: more batches than records / batch.
    assert len(_batches(dataset, 5)) == 5


def test_v1_and_v2_names_give_the_same_batches(tmp_path):
    v1 = write_records(tmp_path / "v1.tfrecord", 16, SEQ, PRED, seed=3)
    v2 = write_records(tmp_path / "v2.tfrecord", 16, SEQ, PRED, seed=3, use_v2=True)
    first = _batches(pretraining_dataset(v1, SEQ, PRED, 8, is_training=False), 2)
    second = _batches(pretraining_dataset(v2, SEQ, PRED, 8, is_training=False), 2)
    for a, b in zip(first, second, strict=True):
        for name in NAMES:
            np.testing.assert_array_equal(a[name], b[name])


def test_eval_reads_in_order_and_values_match_the_records(tmp_path):
    path = write_records(tmp_path / "a.tfrecord", 6, SEQ, PRED, seed=1)
    batch = _batches(pretraining_dataset(path, SEQ, PRED, 6, is_training=False), 1)[0]
    for i, record in enumerate(tf.data.TFRecordDataset(path)):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        np.testing.assert_array_equal(batch["input_word_ids"][i], feature["input_ids"].int64_list
                                      .value)
        assert batch["next_sentence_labels"][i] == feature["next_sentence_labels"].int64_list \
            .value[0]


def test_comma_lists_globs_and_gzip(tmp_path):
    write_records(tmp_path / "a-1.tfrecord", 4, SEQ, PRED, seed=1)
    write_records(tmp_path / "a-2.tfrecord", 4, SEQ, PRED, seed=2)
    plain = write_records(tmp_path / "b.tfrecord", 4, SEQ, PRED, seed=3)
    dataset = pretraining_dataset(f"{tmp_path}/a-*.tfrecord,{plain}", SEQ, PRED, 12,
                                  is_training=False)
    assert _batches(dataset, 1)[0]["input_word_ids"].shape == (12, SEQ)
    zipped = tmp_path / "c.tfrecord.gz"
    with open(plain, "rb") as src, gzip.open(zipped, "wb") as dst:
        dst.write(src.read())
    ours = _batches(pretraining_dataset(str(zipped), SEQ, PRED, 4, is_training=False), 1)[0]
    reference = _batches(pretraining_dataset(plain, SEQ, PRED, 4, is_training=False), 1)[0]
    np.testing.assert_array_equal(ours["input_word_ids"], reference["input_word_ids"])


@pytest.mark.parametrize("num_files", [1, 4], ids=["records", "files"])
def test_input_context_shards_between_pipelines(tmp_path, num_files):
    paths = [write_records(tmp_path / f"p{i}.tfrecord", 8, SEQ, PRED, seed=10 + i)
             for i in range(num_files)]
    everything = _batches(pretraining_dataset(paths, SEQ, PRED, 8 * num_files,
                                              is_training=False), 1)[0]["input_word_ids"]
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        dataset = pretraining_dataset(paths, SEQ, PRED, 8, is_training=False,
                                      input_context=context)
        batches = _batches(dataset, num_files)
        assert all(b["input_word_ids"].shape == (4, SEQ) for b in batches)
        seen.extend(row.tobytes() for b in batches for row in b["input_word_ids"])
    # The two pipelines read disjoint halves that together make up all records.
    assert sorted(seen) == sorted(row.tobytes() for row in everything)


def test_empty_glob_names_the_pattern(tmp_path):
    with pytest.raises(ValueError, match=r"--input_file: no files match .*nothing-\*"):
        pretraining_dataset(f"{tmp_path}/nothing-*", SEQ, PRED, 8, source="--input_file")
    with pytest.raises(ValueError, match=r"no input files given"):
        pretraining_dataset(" , ", SEQ, PRED, 8)


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.tfrecord"
    with tf.io.TFRecordWriter(str(path)):
        pass
    with pytest.raises(ValueError, match=r"empty.tfrecord: the file contains no records"):
        pretraining_dataset(str(path), SEQ, PRED, 8)


def _write(path, examples):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for example in examples:
            writer.write(example)
    return str(path)


def test_missing_feature_is_named(tmp_path):
    rng = np.random.default_rng(0)
    path = _write(tmp_path / "x.tfrecord",
                  [make_example(rng, SEQ, PRED, 100, drop=("masked_lm_weights",))])
    with pytest.raises(ValueError, match=r"x.tfrecord: records lack the pre-training feature"
                                         r"\(s\) masked_lm_weights"):
        pretraining_dataset(path, SEQ, PRED, 8)


def test_wrong_feature_length_names_feature_and_flag(tmp_path):
    path = write_records(tmp_path / "seq16.tfrecord", 4, SEQ, PRED)
    with pytest.raises(ValueError, match=r"feature input_ids has 16 values, expected 128; the data "
                                         "was made with max_seq_length=16, but max_seq_length "
                                         "is 128"):
        pretraining_dataset(path, 128, PRED, 8)
    with pytest.raises(ValueError, match=r"feature masked_lm_positions has 4 values, expected 20"):
        pretraining_dataset(path, SEQ, 20, 8)
    rng = np.random.default_rng(0)
    odd = _write(tmp_path / "odd.tfrecord",
                 [make_example(rng, SEQ, PRED, 100, lengths={"next_sentence_labels": 2})])
    with pytest.raises(ValueError, match=r"feature next_sentence_labels has 2 values, expected 1"):
        pretraining_dataset(odd, SEQ, PRED, 8)


def test_wrong_feature_type_and_garbage(tmp_path):
    example = tf.train.Example.FromString(make_example(np.random.default_rng(0), SEQ, PRED, 100))
    weights = example.features.feature["masked_lm_weights"]
    values = list(weights.float_list.value)
    weights.Clear()
    weights.int64_list.value.extend(int(v) for v in values)
    path = _write(tmp_path / "t.tfrecord", [example.SerializeToString()])
    with pytest.raises(ValueError, match=r"feature masked_lm_weights holds int64 values, "
                                         "expected float"):
        pretraining_dataset(path, SEQ, PRED, 8)
    garbage = tmp_path / "g.tfrecord"
    garbage.write_bytes(b"this is not a tfrecord file at all")
    with pytest.raises(ValueError, match=r"g.tfrecord: not a readable TFRecord file"):
        pretraining_dataset(str(garbage), SEQ, PRED, 8)
