"""Character tables of the original BERT tokenizer, derived from Python.

The original `tokenization.py` decides everything per character with Python's
`unicodedata` and `str` methods. The in-graph tokenizer needs the same
decisions as constant tables, so this module derives them once per process
(about a second, cached) from the running interpreter:

* `char_normalization(lower_case)`: what each code point becomes after
  `_clean_text` (deleted, or a space) and, when lower-casing, after
  `str.lower()`, NFD and removal of `Mn`; only code points that change.
* `deleted_ranges()`: what `_clean_text` deletes (U+0000, U+FFFD, Cc and Cf
  other than tab, LF, CR).
* `punctuation_ranges()`: `_is_punctuation` (ASCII symbols or category `P*`).
* `case_ranges()`: the "cased" and "case-ignorable" properties that
  `str.lower()` consults for the final-sigma rule, probed from `str.lower()`
  itself so that they are the interpreter's own.
* `unstable_punctuation_ranges()`: code points whose punctuation status
  differs between this interpreter's Unicode data and Unicode 3.2 (shipped as
  `unicodedata.ucd_3_2_0`); ICU builds of other ages may disagree on them.
* `unassigned_ranges()`, and `nonzero_combining_non_mn()`: characters whose
  NFD could be reordered, so that a per-character mapping is not exact.

Everything is expressed as sorted inclusive `(lo, hi)` code point ranges or
dicts so that it can become `tf.constant`s or RE2 character classes.
"""

import functools
import unicodedata

import numpy as np

MAX_CODE_POINT = 0x10FFFF

# `_is_chinese_char` of the original: the CJK Unified Ideographs blocks.
CJK_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0x2F800, 0x2FA1F),
)

# ASCII characters that the original counts as punctuation although their
# category is S* (`$`, `+`, `<`, `=`, `>`, `^`, `` ` ``, `|`, `~`).
_ASCII_PUNCTUATION = ((33, 47), (58, 64), (91, 96), (123, 126))

UNICODE_VERSION = unicodedata.unidata_version


@functools.cache
def _categories():
    """General category of every code point (surrogates are `Cs`)."""
    return [unicodedata.category(chr(cp)) for cp in range(MAX_CODE_POINT + 1)]


@functools.cache
def _category_array():
    """`_categories()` as a numpy array of 2-character strings."""
    return np.asarray(_categories(), dtype="<U2")


def _ranges_mask(ranges):
    mask = np.zeros(MAX_CODE_POINT + 1, bool)
    for lo, hi in ranges:
        mask[lo:hi + 1] = True
    return mask


def ranges_from_mask(mask):
    """Sorted inclusive `(lo, hi)` runs of the `True` entries of a bool array."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    change = np.flatnonzero(padded[1:] != padded[:-1])
    pairs = zip(change[::2], change[1::2], strict=True)
    return tuple((int(lo), int(hi) - 1) for lo, hi in pairs)


def ranges_from_set(code_points):
    mask = np.zeros(MAX_CODE_POINT + 1, bool)
    mask[sorted(code_points)] = True
    return ranges_from_mask(mask)


def ranges_to_edges(ranges):
    """`[lo0, hi0 + 1, lo1, hi1 + 1, ...]`: a code point is inside the set
    when `searchsorted(edges, cp, side="right")` is odd."""
    return np.asarray([v for lo, hi in ranges for v in (lo, hi + 1)], np.int32)


def ranges_to_regex_class(ranges, negate=False):
    """An RE2 character class with explicit code points (no Unicode tables)."""
    parts = []
    for lo, hi in ranges:
        parts.append(f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}")
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _punctuation_mask(categories):
    mask = np.char.startswith(categories, "P")
    return mask | _ranges_mask(_ASCII_PUNCTUATION)


@functools.cache
def punctuation_ranges():
    """`_is_punctuation` of the original: ASCII symbols or category P*."""
    return ranges_from_mask(_punctuation_mask(_category_array()))


@functools.cache
def deleted_ranges():
    """What `_clean_text` deletes."""
    cats = _category_array()
    mask = (cats == "Cc") | (cats == "Cf")
    mask[[9, 10, 13]] = False
    mask[[0, 0xFFFD]] = True
    return ranges_from_mask(mask)


@functools.cache
def unassigned_ranges():
    """Code points that this interpreter's Unicode data leaves unassigned."""
    return ranges_from_mask(_category_array() == "Cn")


@functools.cache
def unstable_punctuation_ranges():
    """Punctuation status differs from Unicode 3.2 (ASCII symbols excluded)."""
    cats = _category_array()
    old = np.asarray(
        [unicodedata.ucd_3_2_0.category(chr(cp)) if c != "Cn" else "Cn"
         for cp, c in enumerate(_categories())], dtype="<U2")
    mask = np.char.startswith(cats, "P") != np.char.startswith(old, "P")
    mask &= ~_ranges_mask(_ASCII_PUNCTUATION)
    return ranges_from_mask(mask)


def _normalize_char(cp, lower_case):
    ch = chr(cp)
    if not lower_case:
        return ch
    decomposed = unicodedata.normalize("NFD", ch.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


@functools.cache
def char_normalization(lower_case):
    """`{code point: replacement}` for every code point that does not map to
    itself: "" when deleted, " " when it separates words, else its
    lower-cased, NFD-decomposed form without `Mn` (uncased mode).

    U+03A3 maps to σ here; the final-sigma rule is applied in the graph.
    """
    cats = _categories()
    deleted = _ranges_mask(deleted_ranges())
    table = {}
    for cp in np.flatnonzero(_category_array() != "Cn").tolist():
        if deleted[cp]:
            table[cp] = ""
        elif chr(cp).isspace():
            # Zs, tab, LF, CR become " " in `_clean_text`; U+2028 and U+2029
            # survive it but `str.split()` splits on them.
            if cp != 32:
                table[cp] = " "
        elif lower_case and cats[cp] != "Cs":
            normalized = _normalize_char(cp, lower_case)
            if normalized != chr(cp):
                table[cp] = normalized
    return table


@functools.cache
def case_ranges():
    """`(cased, case_ignorable)` ranges as `str.lower()` sees them.

    `str.lower()` turns Σ into ς when a cased character precedes it (skipping
    case-ignorable ones) and none follows. Probing `str.lower()` with a
    cased letter or a space before the character reads both properties
    straight from the interpreter.
    """
    cats = _category_array()
    cased, ignorable = set(), set()
    for cp in np.flatnonzero((cats != "Cn") & (cats != "Cs") & (cats != "Co")).tolist():
        ch = chr(cp)
        after_letter = ("A" + ch + "\u03a3").lower()[-1] == "\u03c2"
        after_space = (" " + ch + "\u03a3").lower()[-1] == "\u03c2"
        if after_letter and not after_space:
            ignorable.add(cp)
        elif after_space:
            cased.add(cp)
    return ranges_from_set(cased), ranges_from_set(ignorable)


@functools.cache
def nonzero_combining_non_mn():
    """Characters with a non-zero combining class that lower-cased NFD output
    can contain without being `Mn`: NFD may reorder them against each other,
    so per-character normalisation is not exact for them."""
    found = set()
    for cp, normalized in char_normalization(True).items():
        if any(unicodedata.combining(c) and unicodedata.category(c) != "Mn"
               for c in normalized):
            found.add(cp)
    cats = _category_array()
    for cp in np.flatnonzero((cats != "Cn") & (cats != "Mn")).tolist():
        if unicodedata.combining(chr(cp)):
            found.add(cp)
    return ranges_from_set(found)
