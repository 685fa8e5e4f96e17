"""Property-based tests of sequence packing, truncation and windowing.

For any segments (0 to 60 ids each, 1 to 3 segments, batches of 1 to 4) and
any `seq_length` that holds the special tokens, the in-graph packer
(`tfbert.text.BertPackInputs`, static and Tensor `seq_length`) gives what the
original's rules give, written here one token at a time: drop the last token
of the longest segment (the later one on a tie) until `[CLS] a [SEP] b [SEP]`
fits; type ids are the segment's number (its [SEP] included, [CLS] 0); the
mask covers exactly the real tokens; the host packer of the fine-tuning
features (`finetuning.truncate_pair` + `pack_segments`) agrees. Windows over
long texts (`tfbert.data.windows`) cover every piece, hold at most
`max_pieces`, score each piece in exactly one window that holds it, and the
numpy and graph forms agree.
"""

import itertools

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from tfbert.data import finetuning, windows
from tfbert.text import BertPackInputs

CLS, SEP, PAD = 101, 102, 0
_ids = st.integers(103, 30000)
segment_batches = st.integers(1, 3).flatmap(lambda n: st.lists(
    st.lists(st.lists(_ids, max_size=60), min_size=n, max_size=n), min_size=1, max_size=4))


def original_pack(segments, seq_length):
    """`(word_ids, type_ids)` of one row, truncating one token at a time as the original."""
    kept = [list(s) for s in segments]
    while sum(map(len, kept)) > seq_length - len(kept) - 1:
        longest = max(range(len(kept)), key=lambda i: (len(kept[i]), i))
        kept[longest].pop()
    words, types = [CLS], [0]
    for i, segment in enumerate(kept):
        words += segment + [SEP]
        types += [i] * (len(segment) + 1)
    return words, types


def _pack(rows, seq_length, as_tensor):
    segments = [tf.ragged.constant([row[i] for row in rows], tf.int32, ragged_rank=1)
                for i in range(len(rows[0]))]
    layer = BertPackInputs(8, start_of_sequence_id=CLS, end_of_segment_id=SEP, padding_id=PAD)
    length = tf.constant(seq_length, tf.int32) if as_tensor else seq_length
    return {k: v.numpy() for k, v in layer(segments, seq_length=length).items()}


@given(segment_batches, st.integers(0, 70), st.booleans())
def test_packing_is_the_originals(rows, extra, as_tensor):
    seq_length = len(rows[0]) + 1 + extra
    out = _pack(rows, seq_length, as_tensor)
    for name in ("input_word_ids", "input_mask", "input_type_ids"):
        assert out[name].shape == (len(rows), seq_length) and out[name].dtype == np.int32
    for r, row in enumerate(rows):
        words, types = original_pack(row, seq_length)
        pad = seq_length - len(words)
        assert out["input_word_ids"][r].tolist() == words + [PAD] * pad
        assert out["input_type_ids"][r].tolist() == types + [0] * pad
        assert out["input_mask"][r].tolist() == [1] * len(words) + [0] * pad
        # The host packer of the fine-tuning features makes the same rows.
        if len(row) == 1:
            segments = [row[0][:seq_length - 2]]
        elif len(row) == 2:
            len_a, len_b = finetuning.truncate_pair(row[0], row[1], seq_length - 3)
            segments = [row[0][:len_a], row[1][:len_b]]
        else:
            continue
        host_words, host_types = finetuning.pack_segments(segments, CLS, SEP)
        assert (host_words.tolist(), host_types.tolist()) == (words, types)


@given(segment_batches, st.integers(-3, 0))
def test_too_short_seq_length_is_a_clear_error(rows, short):
    with pytest.raises(ValueError, match="leaves no room for"):
        _pack(rows, len(rows[0]) + short, as_tensor=False)


@given(st.lists(st.integers(0, 300), min_size=1, max_size=4), st.integers(1, 64),
       st.integers(1, 80))
def test_windows_cover_every_piece_once(num_pieces, max_pieces, doc_stride):
    starts, lengths = windows.sliding_windows(
        tf.constant(num_pieces, tf.int64), tf.fill([len(num_pieces)], tf.constant(
            max_pieces, tf.int64)), doc_stride)
    graph_spans = [list(zip(s, n, strict=True))
                   for s, n in zip(starts.to_list(), lengths.to_list(), strict=True)]
    offsets = np.cumsum([0, *num_pieces])
    pieces = windows.window_pieces(tf.constant(offsets[:-1], tf.int64), starts, lengths)
    scored = windows.max_context(pieces, int(offsets[-1]) + 1)
    scored_rows = iter(zip(pieces.to_list(), scored.to_list(), strict=True))
    for text, count in enumerate(num_pieces):
        spans = windows.window_spans(count, max_pieces, doc_stride)
        assert graph_spans[text] == spans
        assert spans[0][0] == 0 and spans[-1][0] + spans[-1][1] == count
        assert all(0 <= length <= max_pieces for _, length in spans)
        for (start, length), (next_start, _) in itertools.pairwise(spans):
            assert start < next_start <= start + length  # no gap, always forward
        best = windows.max_context_windows(spans, count)
        graph_best = np.full(count, -1)
        for index in range(len(spans)):
            for piece, is_best in zip(*next(scored_rows), strict=True):
                if is_best:
                    assert graph_best[piece - offsets[text]] == -1, "scored twice"
                    graph_best[piece - offsets[text]] = index
        assert graph_best.tolist() == best.tolist()
        for piece, index in enumerate(best):
            start, length = spans[index]
            assert start <= piece < start + length
