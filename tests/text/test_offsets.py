"""Byte offsets of word pieces, checked against the text they point into.

For every word piece of every golden text: the byte span cut from the UTF-8
input, normalised as the original normalises (clean, lower-case, NFD,
drop Mn), is that word piece without "##"; an [UNK] spans its whole word.
The one exception is a piece that starts inside a single input character
(a Hangul syllable splits into jamo pieces): the character's last piece
carries its bytes and the earlier ones have empty spans at its start, so the
pieces of that character, joined, equal its normalised span. Spans never
overlap and stay inside the input.
"""

import numpy as np
import tensorflow as tf

from tests.text.reference_tokenization import clean_text, normalize_word
from tests.text.util import ragged_to_list


def _normalized(span_bytes, lower_case=True):
    return normalize_word(clean_text(span_bytes.decode("utf-8", errors="ignore")), lower_case)


def check_offsets(tokenizer, reference, texts, lower_case=True):
    """Returns (number of pieces checked, number in split-character groups, failures)."""
    ids, begin, end = tokenizer.tokenize_with_offsets(texts, words=True)
    vocab = tokenizer.vocabulary
    checked = grouped = 0
    failures = []
    rows = zip(texts, ragged_to_list(ids), ragged_to_list(begin), ragged_to_list(end),
               strict=True)
    for text, words, word_begins, word_ends in rows:
        data = text.encode("utf-8") if isinstance(text, str) else text
        ref_words = reference.words(data.decode("utf-8", errors="ignore"))
        if len(ref_words) != len(words):
            failures.append(f"{text[:80]!r}: {len(words)} words, want {len(ref_words)}")
            continue
        last_end = 0
        for word, pieces, starts, ends in zip(ref_words, words, word_begins, word_ends,
                                              strict=True):
            pending = ""  # pieces waiting for the character that carries their bytes
            for piece_id, b, e in zip(pieces, starts, ends, strict=True):
                checked += 1
                if not (last_end <= b <= e <= len(data)):
                    failures.append(f"{text[:80]!r}: span [{b}, {e}) after {last_end}")
                last_end = e
                piece = word if vocab[piece_id] == "[UNK]" else vocab[piece_id]
                piece = piece[2:] if piece.startswith("##") else piece
                got = _normalized(data[b:e], lower_case)
                if b == e:
                    grouped += 1
                    pending += piece
                    continue
                if got != pending + piece and "\u03a3" in data[b:e].decode("utf-8", "ignore"):
                    # Σ alone lower-cases to σ; in its word it may be final (ς).
                    got, piece = got.replace("\u03c2", "\u03c3"), piece.replace("\u03c2", "\u03c3")
                if got != pending + piece:
                    failures.append(f"{text[:80]!r}: span {data[b:e]!r} -> {got!r}, "
                                    f"piece {pending + piece!r}")
                pending = ""
            if pending:
                failures.append(f"{text[:80]!r}: pieces {pending!r} without a span")
    return checked, grouped, failures


def test_golden_offsets(golden_rows, uncased_tokenizer, uncased_reference):
    texts = [row["text"] for row in golden_rows]
    checked = grouped = 0
    failures = []
    for start in range(0, len(texts), 1024):
        c, g, f = check_offsets(uncased_tokenizer, uncased_reference, texts[start:start + 1024])
        checked, grouped, failures = checked + c, grouped + g, failures + f
    assert not failures, f"{len(failures)} offset failures:\n" + "\n".join(failures[:30])
    assert checked == sum(len(row["ids"]) for row in golden_rows)
    # Hangul syllables in the stress mix split into jamo pieces: the only
    # pieces with empty spans.
    assert grouped > 0


def test_cased_offsets(golden_rows, cased_tokenizer, cased_reference):
    texts = [row["text"] for row in golden_rows[:1500]]
    _, _, failures = check_offsets(cased_tokenizer, cased_reference, texts, lower_case=False)
    assert not failures, "\n".join(failures[:30])


def test_fast_and_exact_paths_give_the_same_offsets(golden_rows, uncased_tokenizer):
    texts = [row["text"] for row in golden_rows[:3000]]
    accepted = uncased_tokenizer._fast.accepts(texts).numpy()
    fast_texts = tf.constant([t for t, ok in zip(texts, accepted, strict=True) if ok])
    ids, begin, end, _ = uncased_tokenizer._fast.tokenize(fast_texts, with_offsets=True)
    e_ids, e_begin, e_end = uncased_tokenizer._exact_tokenize(fast_texts, with_offsets=True)
    assert ids.to_list() == e_ids.to_list()
    assert begin.to_list() == e_begin.to_list()
    assert end.to_list() == e_end.to_list()


def test_offsets_examples(uncased_tokenizer):
    cases = {
        # text: [(piece, begin, end), ...]
        "Hello, world!": [("hello", 0, 5), (",", 5, 6), ("world", 7, 12), ("!", 12, 13)],
        "café": [("cafe", 0, 5)],
        "ctrl\x07bell": [("ct", 0, 2), ("##rl", 2, 5), ("##bell", 5, 9)],
        "e\u0301x y": [("ex", 0, 4), ("y", 5, 6)],
        "한": [("ᄒ", 0, 0), ("##ᅡ", 0, 0), ("##ᆫ", 0, 3)],
        "x" * 201 + " ok": [("[UNK]", 0, 201), ("ok", 202, 204)],
        "é" * 150 + " ok": None,  # checked below
    }
    ids, begin, end = uncased_tokenizer.tokenize_with_offsets(list(cases))
    for (text, want), i, b, e in zip(cases.items(), ids.to_list(), begin.to_list(),
                                     end.to_list(), strict=True):
        got = [(uncased_tokenizer.id_to_token(t), s, f)
               for t, s, f in zip(i, b, e, strict=True)]
        if text.startswith("é"):
            # 150 characters, 300 bytes: within the original's 200-character limit.
            assert "[UNK]" not in [g[0] for g in got], got
            assert got[-1] == ("ok", 301, 303)
            continue
        assert got == want, text


def test_offsets_scalar_and_dtypes(uncased_tokenizer):
    ids, begin, end = uncased_tokenizer.tokenize_with_offsets("Hi there")
    assert ids.dtype == tf.int32 and begin.dtype == tf.int64 and end.dtype == tf.int64
    np.testing.assert_array_equal(begin.numpy(), [0, 3])
    np.testing.assert_array_equal(end.numpy(), [2, 8])
