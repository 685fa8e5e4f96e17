"""Property-based tests of `tfbert.text.BertTokenizer` against the original's rules.

For any batch of strings or bytes (arbitrary Unicode, invalid UTF-8, words
at the 200-character limit, the characters where Python, ICU and TF Text
disagree): the in-graph tokenizer, eager and inside a `tf.function`, gives the
ids of the plain-Python statement of the original `FullTokenizer`
(`tests/text/reference_tokenization.py`, applied to the bytes decoded with
`errors="ignore"`, as the original decodes them); every id is in the vocab;
and no text is lost: every character the original keeps lies inside the byte
span of a word piece.
"""

import unicodedata

import tensorflow as tf
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.strategies import raw_texts
from tests.text import reference_tokenization as ref
from tests.text.test_offsets import check_offsets
from tests.text.util import ragged_to_list

batches = st.lists(raw_texts(), min_size=1, max_size=6)
_graph_tokenize = {}


def _graph(tokenizer):
    """The tokenizer inside one traced `tf.function` (the graph a SavedModel holds)."""
    if id(tokenizer) not in _graph_tokenize:
        _graph_tokenize[id(tokenizer)] = tf.function(
            tokenizer.tokenize, input_signature=[tf.TensorSpec([None], tf.string)])
    return _graph_tokenize[id(tokenizer)]


def _check_ids(tokenizer, reference, batch):
    want = [reference.ids(data.decode("utf-8", errors="ignore")) for data in batch]
    eager = tokenizer.tokenize(tf.constant(batch, tf.string)).to_list()
    graph = _graph(tokenizer)(tf.constant(batch, tf.string)).to_list()
    for data, got_eager, got_graph, ids in zip(batch, eager, graph, want, strict=True):
        assert got_eager == ids, f"eager ids differ from the original for {data!r}"
        assert got_graph == ids, f"graph ids differ from the original for {data!r}"
        assert all(0 <= i < tokenizer.vocab_size for i in got_eager)


@given(batches)
@example([b"", b" \t\n", b"\xff\xfe", "Σ§\u0301中".encode(),
          ("a" * 200 + " " + "a" * 201).encode()])
def test_uncased_ids_are_the_originals(uncased_tokenizer, uncased_reference, batch):
    _check_ids(uncased_tokenizer, uncased_reference, batch)


@given(batches)
def test_cased_ids_are_the_originals(cased_tokenizer, cased_reference, batch):
    _check_ids(cased_tokenizer, cased_reference, batch)


def _kept(ch, lower_case):
    """Whether the original keeps any of `ch` in a word (not whitespace, control,
    U+0000/U+FFFD, nor - uncased - an accent alone)."""
    if ref.clean_text(ch).strip() == "":
        return False
    return not lower_case or ref.normalize_word(ch, True) != ""


@given(batches)
def test_no_text_is_lost(uncased_tokenizer, uncased_reference, batch):
    # Spans are valid and normalise to their pieces (the offset tests' checker) ...
    _, _, failures = check_offsets(uncased_tokenizer, uncased_reference, batch)
    assert not failures, failures
    # ... and together cover every byte of every character the original keeps.
    _, begin, end = uncased_tokenizer.tokenize_with_offsets(tf.constant(batch, tf.string))
    for data, starts, ends in zip(batch, ragged_to_list(begin), ragged_to_list(end),
                                  strict=True):
        text = data.decode("utf-8", errors="ignore")
        if len(text.encode("utf-8")) != len(data):
            continue  # invalid bytes moved the offsets; the checker above covered these
        spans = sorted(zip(starts, ends, strict=True))
        position = 0
        for ch in text:
            size = len(ch.encode("utf-8"))
            if _kept(ch, True):
                covered = any(b <= position and position + size <= e for b, e in spans)
                assert covered, (f"{ch!r} (U+{ord(ch):04X}, {unicodedata.category(ch)}) at byte "
                                 f"{position} of {data!r} is in no piece: spans {spans}")
            position += size


@given(st.lists(st.lists(st.integers(0, 30521), max_size=12), max_size=4))
def test_detokenize_joins_any_ids(uncased_tokenizer, rows):
    vocab = uncased_tokenizer.vocabulary
    got = uncased_tokenizer.detokenize(tf.ragged.constant(rows, tf.int32, ragged_rank=1))
    want = [" ".join(vocab[i] for i in row).replace(" ##", "").encode() for row in rows]
    assert got.numpy().tolist() == want
