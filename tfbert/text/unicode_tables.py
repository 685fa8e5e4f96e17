"""Character tables of the original BERT tokenizer, derived from Python.

The original `tokenization.py` decides everything per character with Python's
`unicodedata` and `str` methods. The in-graph tokenizer needs the same
decisions as constant tables, so this module derives them once per process
(about a second, cached) from the running interpreter:

* `char_normalization(lower_case)`: what each code point becomes after
  `_clean_text` (deleted, or a space) and, when lower-casing, after
  `str.lower()`, NFD and removal of `Mn`; only code points that change.
* `punctuation_ranges()`: `_is_punctuation` (ASCII symbols or category `P*`).
* `case_ranges()`: the "cased" and "case-ignorable" properties that
  `str.lower()` consults for the final-sigma rule, probed from `str.lower()`
  itself so that they are the interpreter's own.
* `unstable_punctuation_ranges()`: code points whose punctuation status
  differs between this interpreter's Unicode data and Unicode 3.2 (shipped as
  `unicodedata.ucd_3_2_0`); ICU builds of other ages may disagree on them.

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


@functools.lru_cache(maxsize=None)
def _categories():
    """General category of every code point (surrogates are `Cs`)."""
    return [unicodedata.category(chr(cp)) for cp in range(MAX_CODE_POINT + 1)]


def _in_ranges(cp, ranges):
    return any(lo <= cp <= hi for lo, hi in ranges)


def is_cjk(cp):
    return _in_ranges(cp, CJK_RANGES)


def is_deleted_by_clean_text(cp):
    """`_clean_text` drops U+0000, U+FFFD and Cc/Cf other than tab, LF, CR."""
    if cp in (0, 0xFFFD):
        return True
    if cp in (9, 10, 13):
        return False
    return _categories()[cp] in ("Cc", "Cf")


def is_clean_whitespace(cp):
    """`_is_whitespace` of the original (space, tab, LF, CR or Zs)."""
    return cp in (32, 9, 10, 13) or _categories()[cp] == "Zs"


def is_punctuation(cp):
    return _in_ranges(cp, _ASCII_PUNCTUATION) or _categories()[cp].startswith("P")


def ranges_from_predicate(predicate, code_points=None):
    """Sorted inclusive `(lo, hi)` runs of the code points where it holds."""
    ranges = []
    start = prev = None
    for cp in code_points if code_points is not None else range(MAX_CODE_POINT + 1):
        if predicate(cp):
            if start is not None and cp == prev + 1:
                prev = cp
                continue
            if start is not None:
                ranges.append((start, prev))
            start = prev = cp
    if start is not None:
        ranges.append((start, prev))
    return tuple(ranges)


def ranges_from_set(code_points):
    return ranges_from_predicate(lambda cp: True, sorted(code_points))


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


@functools.lru_cache(maxsize=None)
def punctuation_ranges():
    return ranges_from_predicate(is_punctuation)


@functools.lru_cache(maxsize=None)
def unassigned_ranges():
    """Code points that this interpreter's Unicode data leaves unassigned."""
    cats = _categories()
    return ranges_from_predicate(lambda cp: cats[cp] == "Cn")


@functools.lru_cache(maxsize=None)
def unstable_punctuation_ranges():
    old = unicodedata.ucd_3_2_0
    cats = _categories()

    def unstable(cp):
        if cats[cp] in ("Cn", "Cs") or _in_ranges(cp, _ASCII_PUNCTUATION):
            return False
        return cats[cp].startswith("P") != old.category(chr(cp)).startswith("P")

    return ranges_from_predicate(unstable)


def _normalize_char(cp, lower_case):
    ch = chr(cp)
    if not lower_case:
        return ch
    decomposed = unicodedata.normalize("NFD", ch.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


@functools.lru_cache(maxsize=None)
def char_normalization(lower_case):
    """`{code point: replacement}` for every code point that does not map to
    itself: "" when deleted, " " when it separates words, else its
    lower-cased, NFD-decomposed form without `Mn` (uncased mode).

    U+03A3 maps to σ here; the final-sigma rule is applied in the graph.
    """
    cats = _categories()
    table = {}
    for cp in range(MAX_CODE_POINT + 1):
        cat = cats[cp]
        if cat in ("Cn", "Cs"):
            continue
        if is_deleted_by_clean_text(cp):
            table[cp] = ""
        elif chr(cp).isspace():
            # Zs, tab, LF, CR become " " in `_clean_text`; U+2028 and U+2029
            # survive it but `str.split()` splits on them.
            if cp != 32:
                table[cp] = " "
        elif lower_case:
            normalized = _normalize_char(cp, lower_case)
            if normalized != chr(cp):
                table[cp] = normalized
    return table


@functools.lru_cache(maxsize=None)
def case_ranges():
    """`(cased, case_ignorable)` ranges as `str.lower()` sees them.

    `str.lower()` turns Σ into ς when a cased character precedes it (skipping
    case-ignorable ones) and none follows. Probing `str.lower()` with a
    cased letter or a space before the character reads both properties
    straight from the interpreter.
    """
    cats = _categories()
    cased, ignorable = set(), set()
    for cp in range(MAX_CODE_POINT + 1):
        if cats[cp] in ("Cn", "Cs", "Co"):
            continue
        ch = chr(cp)
        after_letter = ("A" + ch + "\u03a3").lower()[-1] == "\u03c2"
        after_space = (" " + ch + "\u03a3").lower()[-1] == "\u03c2"
        if after_letter and not after_space:
            ignorable.add(cp)
        elif after_space:
            cased.add(cp)
    return ranges_from_set(cased), ranges_from_set(ignorable)


@functools.lru_cache(maxsize=None)
def nonzero_combining_non_mn():
    """Characters with a non-zero combining class that lower-cased NFD output
    can contain without being `Mn`: NFD may reorder them against each other,
    so per-character normalisation is not exact for them."""
    found = set()
    for cp, normalized in char_normalization(True).items():
        if any(unicodedata.combining(c) and unicodedata.category(c) != "Mn"
               for c in normalized):
            found.add(cp)
    for cp in range(MAX_CODE_POINT + 1):
        ch = chr(cp)
        if unicodedata.combining(ch) and unicodedata.category(ch) != "Mn":
            found.add(cp)
    return ranges_from_set(found)
