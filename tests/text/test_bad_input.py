"""Inputs that must not crash: empty, blank, huge, invalid UTF-8, empty batch."""

import numpy as np
import pytest
import tensorflow as tf

from tests.text.test_offsets import check_offsets


def test_empty_and_whitespace_strings(uncased_tokenizer):
    texts = ["", " ", "\t\n\r \u3000\u00a0\u2028", "\x00\x07\u200b\ufeff", "\u0301\u0302"]
    ids, begin, end = uncased_tokenizer.tokenize_with_offsets(texts)
    assert ids.to_list() == [[]] * len(texts)
    assert begin.to_list() == [[]] * len(texts) and end.to_list() == [[]] * len(texts)


def test_zero_strings(uncased_tokenizer):
    empty = tf.constant([], tf.string)
    ids = uncased_tokenizer.tokenize(empty)
    assert isinstance(ids, tf.RaggedTensor) and ids.shape[0] == 0 and ids.dtype == tf.int32
    ids, begin, _ = uncased_tokenizer.tokenize_with_offsets(empty)
    assert ids.shape[0] == 0 and begin.shape[0] == 0
    assert uncased_tokenizer.tokenize_words(empty).shape[0] == 0
    no_ids = tf.ragged.constant([], tf.int32, ragged_rank=1)
    assert uncased_tokenizer.detokenize(no_ids).shape == (0,)


def test_megabyte_strings(uncased_tokenizer, uncased_reference):
    words = "The quick brown fox, naïve café — Ωmega ΣΟΦΙΑ 中文 "
    big = (words * (1_000_000 // len(words.encode("utf-8")) + 1))
    long_word = "a" * 1_000_000
    long_utf8_word = "é" * 500_000
    texts = [big, long_word, long_utf8_word]
    ids, begin, end = uncased_tokenizer.tokenize_with_offsets(texts)
    ids = ids.to_list()
    assert ids[0] == uncased_reference.ids(big)
    assert ids[1] == ids[2] == [uncased_tokenizer.unk_id]  # one word over 200 characters
    assert begin.to_list()[1:] == [[0], [0]]
    assert end.to_list()[1:] == [[1_000_000], [1_000_000]]


def test_invalid_utf8_is_dropped_like_the_original(uncased_tokenizer, uncased_reference):
    # The original decodes bytes with errors="ignore" and drops U+FFFD.
    texts = [b"caf\xc3 ok", b"\xff\xfeabc\x80", b"a\xed\xa0\x80b", b"x\xc0\xafy \xe4\xb8",
             b"\xf0\x9f\x98", "ok \ufffd done".encode("utf-8"), b"\xff" * 1000]
    got = uncased_tokenizer.tokenize(tf.constant(texts)).to_list()
    for data, ids in zip(texts, got, strict=True):
        assert ids == uncased_reference.ids(data.decode("utf-8", errors="ignore")), data
    # Offsets stay inside the input and normalise to their pieces.
    checked, _, failures = check_offsets(uncased_tokenizer, uncased_reference, texts)
    assert checked > 0 and not failures, failures


def test_rank_errors_are_clear(uncased_tokenizer):
    with pytest.raises(ValueError, match=r"shape \[batch\]"):
        uncased_tokenizer.tokenize(tf.constant([["a", "b"]]))


def test_scalar_input(uncased_tokenizer):
    ids = uncased_tokenizer.tokenize("Hello world")
    np.testing.assert_array_equal(ids.numpy(), [7592, 2088])
    assert uncased_tokenizer.detokenize(ids).numpy() == b"hello world"
