"""Byte-identical output against the original program, and against the plain-Python oracle."""

import random

import numpy as np
import pytest
import tensorflow as tf

from tests.data import reference_pretraining
from tests.text.reference_tokenization import ReferenceTokenizer
from tfbert.data import create_pretraining_data as cpd
from tfbert.data import pretraining_corpus
from tfbert.data.pretraining_instances import PretrainingDataOptions
from tfbert.text.tokenizer import BertTokenizer
from tfbert.text.vocab import load_vocab

# The original writes the map entries of each record in a hash-map order that
# changed between its two runs; each golden file holds one order throughout.
GOLDEN = {
    False: ("sample_text_seq128_seed12345.tfrecord",
            ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
             "masked_lm_weights", "next_sentence_labels", "masked_lm_ids")),
    True: ("sample_text_seq128_wwm_seed12345.tfrecord",
           ("segment_ids", "input_ids", "input_mask", "masked_lm_ids",
            "masked_lm_positions", "masked_lm_weights", "next_sentence_labels")),
}


@pytest.fixture(scope="module")
def tokenize(uncased_vocab):
    return pretraining_corpus.batch_tokenizer(BertTokenizer(uncased_vocab))


def _records(path):
    return [r.numpy() for r in tf.data.TFRecordDataset(str(path))]


def _first_difference(ours, golden):
    """None, or a description of the first record that differs."""
    if len(ours) != len(golden):
        return f"{len(ours)} records, the original has {len(golden)}"
    for i, (a, b) in enumerate(zip(ours, golden, strict=True)):
        if a != b:
            ea, eb = tf.train.Example.FromString(a), tf.train.Example.FromString(b)
            names = [k for k in eb.features.feature
                     if ea.features.feature[k] != eb.features.feature[k]]
            return f"record {i} differs in {names or 'feature order only'}"
    return None


@pytest.mark.parametrize("whole_word", [False, True], ids=["wordpiece", "whole_word"])
def test_byte_identical_to_original(shared_data, uncased_vocab, tokenize, tmp_path, whole_word):
    golden_name, order = GOLDEN[whole_word]
    options = PretrainingDataOptions(
        max_seq_length=128, max_predictions_per_seq=20, masked_lm_prob=0.15,
        short_seq_prob=0.1, random_seed=12345, dupe_factor=5, do_whole_word_mask=whole_word,
        num_workers=1, feature_order=order)
    out = tmp_path / golden_name
    stats = cpd.create_pretraining_data(
        [str(shared_data / "text" / "bert_sample_text.txt")], [str(out)],
        load_vocab(uncased_vocab), tokenize, options)
    golden = shared_data / "pretraining_golden" / golden_name
    assert _first_difference(_records(out), _records(golden)) is None
    assert out.read_bytes() == golden.read_bytes()
    assert stats.instances == len(_records(golden))
    if not whole_word:
        assert stats.instances == 60


@pytest.mark.parametrize("whole_word", [False, True], ids=["wordpiece", "whole_word"])
def test_matches_plain_python_original(shared_data, uncased_vocab, tokenize, tmp_path, whole_word):
    """Other flags, and a document that continues from one file into the next."""
    lines = (shared_data / "text" / "wikitext2_valid_pretrain_format.txt").read_text(
        encoding="utf-8").split("\n")[:400]
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("\n".join(lines[:150]), encoding="utf-8")  # no final newline
    second.write_text("\n".join(lines[150:]) + "\n", encoding="utf-8")
    flags = dict(max_seq_length=40, max_predictions_per_seq=6, masked_lm_prob=0.2,
                 short_seq_prob=0.3, dupe_factor=2, do_whole_word_mask=whole_word,
                 random_seed=7)
    vocab = load_vocab(uncased_vocab)
    out = tmp_path / "out.tfrecord"
    cpd.create_pretraining_data([str(first), str(second)], [str(out)], vocab, tokenize,
                                PretrainingDataOptions(num_workers=1, **flags))
    expected = reference_pretraining.create_examples(
        [first, second], ReferenceTokenizer(vocab), vocab, **flags)
    ours = [tf.train.Example.FromString(r) for r in _records(out)]
    assert len(ours) == len(expected) > 100
    for i, (a, b) in enumerate(zip(ours, expected, strict=True)):
        assert a == b, f"record {i}"


def test_round_robin_over_output_files(shared_data, uncased_vocab, tokenize, tmp_path):
    options = PretrainingDataOptions(dupe_factor=5, num_workers=1)
    single, parts = tmp_path / "all.tfrecord", [tmp_path / f"part{i}" for i in range(3)]
    corpus = [str(shared_data / "text" / "bert_sample_text.txt")]
    vocab = load_vocab(uncased_vocab)
    cpd.create_pretraining_data(corpus, [str(single)], vocab, tokenize, options)
    cpd.create_pretraining_data(corpus, [str(p) for p in parts], vocab, tokenize, options)
    records = _records(single)
    for i, part in enumerate(parts):
        assert _records(part) == records[i::3]
    assert not list(tmp_path.glob("*.tmp-*"))


def test_serializer_equals_protobuf():
    """Hand-written bytes parse to the same proto as tf.train.Example builds (v2 names, big ids)."""
    from tfbert.data.features import V1_TO_V2
    from tfbert.data.pretraining_records import RECORD_ORDER, ExampleSerializer

    rng = random.Random(3)
    serializer = ExampleSerializer(512, 76, 250_000, use_v2_feature_names=True)
    for _ in range(20):
        n = rng.randint(5, 512)
        ids = [rng.randrange(250_000) for _ in range(n)]
        positions = sorted(rng.sample(range(1, n), min(76, n - 1)))
        labels = [rng.randrange(250_000) for _ in positions]
        record = serializer.serialize(ids, 2, positions, labels, rng.random() < 0.5)
        parsed = tf.io.parse_single_example(
            record, {k: tf.io.VarLenFeature(tf.float32 if k == "masked_lm_weights" else tf.int64)
                     for k in ("input_word_ids", "input_type_ids", "masked_lm_positions",
                               "masked_lm_ids", "masked_lm_weights")})
        dense = {k: tf.sparse.to_dense(v).numpy() for k, v in parsed.items()}
        np.testing.assert_array_equal(dense["input_word_ids"], ids + [0] * (512 - n))
        np.testing.assert_array_equal(dense["input_type_ids"][:n], [0] * 4 + [1] * (n - 4))
        np.testing.assert_array_equal(dense["masked_lm_positions"][:len(positions)], positions)
        np.testing.assert_array_equal(dense["masked_lm_ids"][:len(labels)], labels)
        assert dense["masked_lm_weights"].sum() == len(positions)
        example = tf.train.Example.FromString(record)
        assert sorted(example.features.feature) == sorted(
            V1_TO_V2[name] for name in RECORD_ORDER)
