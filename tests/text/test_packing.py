"""`BertPackInputs`: truncation as the original `_truncate_seq_pair`, exact layout."""

import numpy as np
import pytest
import tensorflow as tf

from tfbert.text import BertPackInputs, truncation_lengths

CLS, SEP, PAD = 101, 102, 0


def original_truncate_seq_pair(tokens_a, tokens_b, max_length):
    """The original run_classifier.py loop, verbatim in behaviour."""
    while True:
        total_length = len(tokens_a) + len(tokens_b)
        if total_length <= max_length:
            break
        if len(tokens_a) > len(tokens_b):
            tokens_a.pop()
        else:
            tokens_b.pop()


def original_pack(a, b, seq_length):
    """What run_classifier.convert_single_example builds from two token lists."""
    a, b = list(a), list(b)
    if b is not None and len(b):
        original_truncate_seq_pair(a, b, seq_length - 3)
    ids = [CLS] + a + [SEP] + (b + [SEP] if b else [])
    types = [0] * (len(a) + 2) + ([1] * (len(b) + 1) if b else [])
    mask = [1] * len(ids)
    pad = seq_length - len(ids)
    return ids + [PAD] * pad, mask + [0] * pad, types + [0] * pad


def _random_segment(rng, batch, max_len):
    lengths = rng.integers(0, max_len, size=batch)
    return [list(rng.integers(1000, 2000, size=n)) for n in lengths]


def test_truncation_lengths_equal_original_loop():
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, 300, size=(3000, 2))
    for budget in (0, 1, 2, 7, 61, 125, 253, 509):
        got = truncation_lengths(tf.constant(pairs, tf.int32), budget).numpy()
        for (la, lb), (ka, kb) in zip(pairs, got, strict=True):
            a, b = list(range(la)), list(range(lb))
            original_truncate_seq_pair(a, b, budget)
            assert (ka, kb) == (len(a), len(b)), (la, lb, budget)


@pytest.mark.parametrize("seq_length", [8, 32, 128])
def test_pairs_equal_original_packing(seq_length):
    rng = np.random.default_rng(seq_length)
    a = _random_segment(rng, 200, 2 * seq_length)
    b = _random_segment(rng, 200, 2 * seq_length)
    b = [x if x else [1500] for x in b]  # the original's pair path needs a non-empty b
    pack = BertPackInputs(seq_length, start_of_sequence_id=CLS, end_of_segment_id=SEP,
                          padding_id=PAD)
    out = pack([tf.ragged.constant(a, tf.int32), tf.ragged.constant(b, tf.int32)])
    for key in out:
        assert out[key].dtype == tf.int32 and out[key].shape == (200, seq_length)
    for i in range(200):
        ids, mask, types = original_pack(a[i], b[i], seq_length)
        assert out["input_word_ids"][i].numpy().tolist() == ids
        assert out["input_mask"][i].numpy().tolist() == mask
        assert out["input_type_ids"][i].numpy().tolist() == types


def test_single_segment_truncates_its_end():
    pack = BertPackInputs(6, special_tokens_dict={
        "start_of_sequence_id": CLS, "end_of_segment_id": SEP, "padding_id": PAD})
    out = pack(tf.ragged.constant([[1, 2, 3, 4, 5, 6, 7], [], [9]]))
    assert out["input_word_ids"].numpy().tolist() == [
        [CLS, 1, 2, 3, 4, SEP], [CLS, SEP, PAD, PAD, PAD, PAD], [CLS, 9, SEP, PAD, PAD, PAD]]
    assert out["input_mask"].numpy().tolist() == [
        [1] * 6, [1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0]]
    assert not out["input_type_ids"].numpy().any()


def test_three_segments_longest_loses_first():
    pack = BertPackInputs(10, start_of_sequence_id=CLS, end_of_segment_id=SEP, padding_id=PAD)
    segments = [tf.ragged.constant([[1] * 9]), tf.ragged.constant([[2] * 2]),
                tf.ragged.constant([[3] * 9])]
    out = pack(segments)
    # budget 6: levels 2, 2, 2 -> [CLS] 1 1 [SEP] 2 2 [SEP] 3 3 [SEP]
    assert out["input_word_ids"].numpy().tolist() == [[CLS, 1, 1, SEP, 2, 2, SEP, 3, 3, SEP]]
    assert out["input_type_ids"].numpy().tolist() == [[0, 0, 0, 0, 1, 1, 1, 2, 2, 2]]
    lengths = truncation_lengths(tf.constant([[9, 2, 9], [5, 5, 5]]), 7).numpy().tolist()
    assert lengths == [[3, 2, 2], [3, 2, 2]]  # ties: the later segment loses first


def test_word_level_segments_and_dynamic_seq_length():
    pack = BertPackInputs(16, start_of_sequence_id=CLS, end_of_segment_id=SEP, padding_id=PAD)
    words = tf.ragged.constant([[[1, 2], [3]], [[4]]], ragged_rank=2)
    out = pack.call([words], seq_length=tf.constant(5))
    assert out["input_word_ids"].numpy().tolist() == [[CLS, 1, 2, 3, SEP], [CLS, 4, SEP, PAD, PAD]]


def test_empty_batch_and_unknown_batch_in_tf_function():
    pack = BertPackInputs(4, start_of_sequence_id=CLS, end_of_segment_id=SEP, padding_id=PAD)

    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.int32)] * 2)
    def packed(a, b):
        return pack([a, b])

    out = packed(tf.ragged.constant([], tf.int32, ragged_rank=1),
                 tf.ragged.constant([], tf.int32, ragged_rank=1))
    assert out["input_word_ids"].shape == (0, 4)
    out = packed(tf.ragged.constant([[7, 8, 9]]), tf.ragged.constant([[5]]))
    # budget 1: a loses 9 and 8, then the tie goes against b: [CLS] 7 [SEP] [SEP]
    assert out["input_word_ids"].numpy().tolist() == [[CLS, 7, SEP, SEP]]
    assert out["input_type_ids"].numpy().tolist() == [[0, 0, 0, 1]]


def test_config_round_trip_and_errors():
    pack = BertPackInputs(12, start_of_sequence_id=CLS, end_of_segment_id=SEP, padding_id=PAD)
    clone = BertPackInputs.from_config(pack.get_config())
    a = tf.ragged.constant([[1, 2, 3]])
    for key, value in pack(a).items():
        np.testing.assert_array_equal(value, clone(a)[key])
    with pytest.raises(ValueError, match="end_of_segment_id"):
        BertPackInputs(8, start_of_sequence_id=CLS, padding_id=PAD)
    with pytest.raises(ValueError, match="at least 3"):
        pack([a, a], seq_length=2)
