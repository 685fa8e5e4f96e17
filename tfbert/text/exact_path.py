"""The exact, table-driven path: the original basic tokenizer, per character.

Every text can take this path; `BertTokenizer` sends only the texts that its
fast path cannot handle exactly (see `fast_path.py`). It works on Unicode
code points in core TF ops, with tables from `unicode_tables` baked into the
graph as constants, so it depends on no Unicode data of TF, RE2 or ICU:

1. `UnicodeDecodeWithOffsets` (invalid UTF-8 becomes U+FFFD, which
   `_clean_text` deletes, as the original deletes undecodable bytes).
2. Each code point is replaced by its table entry (`_clean_text`, and for
   uncased vocabularies `str.lower()`, NFD and removal of `Mn`): nothing,
   a space, or one to three code points. Σ becomes ς where `str.lower()`
   would apply the final-sigma rule.
3. Words are the runs between spaces; CJK ideographs (by their source code
   point) and punctuation (by their normalised code point) are words of
   their own.
4. `UnicodeEncode` gives each word as a string, with enough bookkeeping to
   map byte positions in a normalised word back to the input.

Offsets follow `tensorflow_text.FastBertTokenizer`: a position in the
normalised text maps to the start of the input character it came from, and
the end of a word maps to the start of whatever input character comes next
that is not deleted (or the end of the input). So a span may include deleted
characters (accents, controls) that follow it, and when one input character
becomes several word pieces (a Hangul syllable split into jamo) the last
piece carries the character's bytes and the others get an empty span at its
start.
"""

import collections

import numpy as np
import tensorflow as tf

from tfbert.text import unicode_tables

SIGMA = 0x03A3
FINAL_SIGMA = 0x03C2
SPACE = 0x20

# What `split_words` returns, flat over the whole batch. `W` is the number of
# words, `C` the number of characters in all words (after normalisation).
ExactWords = collections.namedtuple("ExactWords", [
    "words",            # string [W]: the normalised words, in order
    "word_rows",        # int64 [W]: the input row of each word
    "num_chars",        # int64 [W]: characters in each normalised word
    "word_byte_base",   # int64 [W]: byte offset of the word in the concatenated words
    "word_begin",       # int64 [W]: input byte offset where the word begins
    "word_end",         # int64 [W]: input byte offset where the word ends
    "char_byte_base",   # int64 [C]: byte offset of each character in the concatenated words
    "char_begin",       # int64 [C]: input byte offset of each character's source
])


def _contains(edges, values):
    """Membership of int32 `values` in a set given by `ranges_to_edges`."""
    if edges.shape[0] == 0:
        return tf.zeros_like(values, tf.bool)
    index = tf.searchsorted(edges, values, side="right")
    return tf.math.floormod(index, 2) == 1


def _utf8_length(code_points):
    return (1 + tf.cast(code_points >= 0x80, tf.int64) + tf.cast(code_points >= 0x800, tf.int64)
            + tf.cast(code_points >= 0x10000, tf.int64))


class CharTables:
    """The per-character tables of one mode, as numpy arrays."""

    def __init__(self, lower_case):
        self.lower_case = bool(lower_case)
        table = unicode_tables.char_normalization(self.lower_case)
        keys = sorted(table)
        lengths = [len(table[k]) for k in keys]
        self.norm_keys = np.asarray(keys, np.int32)
        self.norm_splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        # One dummy value keeps gathers valid when every entry is a deletion.
        self.norm_values = np.asarray(
            [ord(c) for k in keys for c in table[k]] + [0], np.int32)
        self.punct_edges = unicode_tables.ranges_to_edges(unicode_tables.punctuation_ranges())
        self.cjk_edges = unicode_tables.ranges_to_edges(unicode_tables.CJK_RANGES)
        cased, ignorable = unicode_tables.case_ranges()
        transparent = set()
        for ranges in (ignorable, unicode_tables.deleted_ranges()):
            for lo, hi in ranges:
                transparent.update(range(lo, hi + 1))
        self.cased_edges = unicode_tables.ranges_to_edges(cased)
        self.transparent_edges = unicode_tables.ranges_to_edges(
            unicode_tables.ranges_from_set(transparent))


def _final_sigma(cp, rows, tables):
    """bool [T]: which Σ would `str.lower()` turn into ς.

    Σ is final when the nearest preceding character that is not
    case-ignorable (nor deleted by `_clean_text`) is cased, and the nearest
    following such character is not cased or does not exist. Spaces and CJK
    ideographs are neither, so the context never leaves the word.
    """
    total = tf.size(cp, out_type=tf.int64)
    stop = ~_contains(tf.constant(tables.transparent_edges), cp)
    cased = _contains(tf.constant(tables.cased_edges), cp)
    stop_positions = tf.where(stop)[:, 0]                          # [S]
    stops_before = tf.cumsum(tf.cast(stop, tf.int64), exclusive=True)
    prev = tf.gather(tf.concat([[-1], stop_positions], 0), stops_before)
    prev_safe = tf.maximum(prev, 0)
    prev_cased = ((prev >= 0) & (tf.gather(rows, prev_safe) == rows)
                  & tf.gather(cased, prev_safe))
    nxt = tf.gather(tf.concat([stop_positions, [total]], 0), stops_before + tf.cast(stop, tf.int64))
    next_safe = tf.minimum(nxt, tf.maximum(total - 1, 0))
    next_cased = ((nxt < total) & (tf.gather(rows, next_safe) == rows)
                  & tf.gather(cased, next_safe))
    return tf.equal(cp, SIGMA) & prev_cased & ~next_cased


def split_words(texts, tables):
    """Normalises `texts` (string [N]) and splits them into words.

    Returns:
      An `ExactWords` tuple (see its field comments).
    """
    decoded, begins = tf.strings.unicode_decode_with_offsets(
        texts, "UTF-8", errors="replace", replacement_char=0xFFFD)
    cp = decoded.flat_values                                        # int32 [T]
    begin = begins.flat_values                                      # int64 [T]
    rows = decoded.value_rowids()                                   # int64 [T]
    text_bytes = tf.cast(tf.strings.length(texts), tf.int64)        # [N]

    # Table lookup: `hit` when the code point does not map to itself.
    keys = tf.constant(tables.norm_keys)
    splits = tf.constant(tables.norm_splits)
    pos = tf.minimum(tf.searchsorted(keys, cp, side="left"), tf.size(keys) - 1)
    hit = tf.equal(tf.gather(keys, pos), cp)
    norm_begin = tf.gather(splits, pos)
    out_len = tf.where(hit, tf.gather(splits, pos + 1) - norm_begin, 1)   # [T]

    # Expand: output character k comes from input character src[k].
    src = tf.repeat(tf.range(tf.size(cp)), out_len)                 # int32 [T']
    first_out = tf.cumsum(out_len, exclusive=True)
    rank_in_src = tf.range(tf.size(src)) - tf.gather(first_out, src)
    from_table = tf.gather(tf.constant(tables.norm_values),
                           tf.gather(norm_begin, src) + rank_in_src)
    out_cp = tf.reshape(tf.where(tf.gather(hit, src), from_table, tf.gather(cp, src)), [-1])
    if tables.lower_case:
        final = _final_sigma(cp, rows, tables)
        out_cp = tf.where(tf.gather(final, src), FINAL_SIGMA, out_cp)
    out_rows = tf.gather(rows, src)                                  # int64 [T']

    # Word structure over the output characters.
    is_space = tf.equal(out_cp, SPACE)
    is_split = (tf.gather(_contains(tf.constant(tables.cjk_edges), cp), src)
                | _contains(tf.constant(tables.punct_edges), out_cp))
    breaks_after = is_space | is_split
    prev_breaks = tf.concat([[True], breaks_after[:-1]], 0)
    new_row = tf.not_equal(out_rows, tf.concat([[-1], out_rows[:-1]], 0))
    starts_word = ~is_space & (is_split | prev_breaks | new_row)

    in_word = tf.where(~is_space)[:, 0]                              # int64 [C]
    char_word = tf.gather(tf.cumsum(tf.cast(starts_word, tf.int64)) - 1, in_word)
    num_words = tf.reduce_sum(tf.cast(starts_word, tf.int64))
    char_cp = tf.reshape(tf.gather(out_cp, in_word), [-1])
    words_cp = tf.RaggedTensor.from_value_rowids(char_cp, char_word, nrows=num_words,
                                                 validate=False)
    words = tf.strings.unicode_encode(words_cp, "UTF-8")            # [W]

    first_char = words_cp.row_starts()
    last_char = words_cp.row_limits() - 1
    word_rows = tf.gather(out_rows, tf.gather(in_word, first_char))

    char_src = tf.gather(src, in_word)
    char_begin = tf.gather(begin, char_src)
    char_bytes = _utf8_length(char_cp)
    char_byte_base = tf.cumsum(char_bytes, exclusive=True)

    # A word ends where the next output character (a space, punctuation or
    # another word) begins in the input, or at the end of its text.
    after = tf.gather(in_word, last_char) + 1                        # in output positions
    num_out = tf.size(out_cp, out_type=tf.int64)
    after_safe = tf.minimum(after, tf.maximum(num_out - 1, 0))
    after_in_row = (after < num_out) & tf.equal(tf.gather(out_rows, after_safe), word_rows)
    word_end = tf.where(after_in_row,
                        tf.gather(begin, tf.gather(src, after_safe)),
                        tf.gather(text_bytes, word_rows))

    return ExactWords(
        words=words,
        word_rows=word_rows,
        num_chars=words_cp.row_lengths(),
        word_byte_base=tf.gather(char_byte_base, first_char),
        word_begin=tf.gather(char_begin, first_char),
        word_end=word_end,
        char_byte_base=char_byte_base,
        char_begin=char_begin,
    )


def map_piece_offsets(exact, piece_words, starts, ends):
    """Input byte offsets of word pieces.

    Args:
      exact: `ExactWords` from `split_words`.
      piece_words: int64 [P], the word of each piece.
      starts, ends: int64 [P], byte offsets of each piece in its normalised word.

    Returns:
      `(begin, end)` int64 [P] in the input texts.
    """
    base = tf.gather(exact.word_byte_base, piece_words)
    num_chars = tf.size(exact.char_begin)
    last = tf.maximum(num_chars - 1, 0)
    first_char = tf.minimum(tf.searchsorted(exact.char_byte_base, base + starts), last)
    begin = tf.gather(exact.char_begin, first_char)
    word_bytes = tf.strings.length(tf.gather(exact.words, piece_words))
    at_word_end = tf.equal(ends, tf.cast(word_bytes, tf.int64))
    end_char = tf.minimum(tf.searchsorted(exact.char_byte_base, base + ends), last)
    end = tf.where(at_word_end, tf.gather(exact.word_end, piece_words),
                   tf.gather(exact.char_begin, end_char))
    return begin, end
