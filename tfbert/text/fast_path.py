"""The fast path: TF Text's single-pass BERT ops with the original's mapping.

Two TF Text ops do the whole job in one pass each:

* `FastBertNormalize`, with a model built by `normalizer_model` from the
  original tokenizer's own per-character mapping (deletion of controls and
  U+FFFD, whitespace to " ", and for uncased vocabularies `str.lower()`, NFD
  and removal of `Mn`) instead of TF Text's ICU NFKC_Casefold table;
* `FastWordpieceTokenizeWithOffsets` in end-to-end mode, which splits on
  whitespace, punctuation (ICU `u_ispunct` plus ASCII symbols) and CJK
  ideographs as the original does, then runs greedy WordPiece.

That is the original tokenizer except on a few characters, and a text goes
to the exact path (`exact_path.py`) when an RE2 full match
(`StaticRegexFullMatch` with an explicit code point class, so independent of
RE2's Unicode tables) finds any of them:

* code points unassigned in this interpreter's Unicode data, and those whose
  punctuation status changed since Unicode 3.2: the model server's ICU
  (which decides punctuation at run time) may be of another age;
* uncased only: U+03A3 (Σ; `str.lower()` looks at its neighbours),
  characters with a non-zero combining class that are not `Mn` (NFD might
  reorder them), and characters whose replacement contains an unstable one;
* surrogates and invalid UTF-8, which never match the class.

One difference cannot be seen per character: the original's word limit is
200 characters, the op's is in bytes. The op runs with a 200-byte limit,
exact for ASCII words; a text in which some word was turned into [UNK] for
exceeding 200 bytes is redone by the exact path.
"""

import functools

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from tfbert.text import normalizer_model, unicode_tables

MAX_WORD_CHARS = 200


def _union(*range_lists):
    mask = np.zeros(unicode_tables.MAX_CODE_POINT + 1, bool)
    for ranges in range_lists:
        for lo, hi in ranges:
            mask[lo:hi + 1] = True
    return mask


@functools.cache
def excluded_ranges(lower_case):
    """Code points that send a text to the exact path (see module doc)."""
    unstable = _union(unicode_tables.unassigned_ranges(),
                      unicode_tables.unstable_punctuation_ranges())
    mask = unstable.copy()
    if lower_case:
        mask |= _union(unicode_tables.nonzero_combining_non_mn(), ((0x03A3, 0x03A3),))
        for cp, normalized in unicode_tables.char_normalization(True).items():
            if any(unstable[ord(c)] for c in normalized):
                mask[cp] = True
    mask[0xD800:0xE000] = True
    return unicode_tables.ranges_from_mask(mask)


@functools.cache
def fast_path_pattern(lower_case):
    """RE2 pattern that fully matches exactly the texts the fast path takes."""
    return unicode_tables.ranges_to_regex_class(excluded_ranges(lower_case), negate=True) + "*"


class FastPath:
    """`FastBertNormalize` (original mapping) + end-to-end `FastWordpieceTokenizeWithOffsets`."""

    def __init__(self, vocab, lower_case, unk_token="[UNK]"):
        self.lower_case = bool(lower_case)
        self.pattern = fast_path_pattern(self.lower_case)
        self.unk_id = vocab.index(unk_token)
        self.wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=vocab, suffix_indicator="##", max_bytes_per_word=MAX_WORD_CHARS,
            token_out_type=tf.int32, unknown_token=unk_token, no_pretokenization=False,
            support_detokenization=False)
        self.normalizer = tf_text.FastBertNormalizer(
            model_buffer=normalizer_model.original_bert_model(self.lower_case))

    def accepts(self, texts):
        """bool [N]: whether the fast path is exact for each text."""
        return tf.strings.regex_full_match(texts, self.pattern)

    def tokenize(self, texts, with_offsets):
        """Word pieces of texts the fast path accepts.

        Returns:
          `(ids, begin, end, redo)`: ids int32 ragged `[N, (pieces)]`; begin
          and end int64 ragged like ids (input byte offsets) or None; redo
          bool [N], texts with a word over 200 bytes made [UNK], which the
          exact path must redo.
        """
        if with_offsets:
            normalized, offsets_map = self.normalizer.normalize_with_offsets(texts)
        else:
            normalized = self.normalizer.normalize(texts)
        ids, starts, ends = self.wordpiece.tokenize_with_offsets(normalized)
        # Flat values: ragged elementwise ops would add split-equality checks.
        long_unk = (tf.equal(ids.values, self.unk_id)
                    & (ends.values - starts.values > MAX_WORD_CHARS))
        redo = tf.math.unsorted_segment_sum(
            tf.cast(long_unk, tf.int32), ids.value_rowids(), ids.nrows()) > 0
        if not with_offsets:
            return ids, None, None, redo
        # offsets_map[i] has one entry per normalised byte plus one for the end.
        base = tf.gather(offsets_map.row_starts(), ids.value_rowids())
        begin = tf.gather(offsets_map.values, base + starts.values)
        end = tf.gather(offsets_map.values, base + ends.values)
        return ids, ids.with_flat_values(begin), ids.with_flat_values(end), redo
