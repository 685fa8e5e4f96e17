"""Hostile text for the property-based tests: what users, scrapers and attackers send.

`texts()` mixes arbitrary Unicode with the characters where tokenizers
disagree (final sigma, punctuation that changed category, combining marks,
controls, Unicode spaces, CJK, noncharacters), real words, and words at the
200-character / 100-byte limits. `raw_texts()` adds arbitrary and invalid
UTF-8 bytes.
"""

from hypothesis import strategies as st

# Characters the original handles specially, or where Python's and ICU's tables differ.
TRICKY = ("Σ", "ς", "\u03c3", "§", "¶", "\u0301", "\u0345", "\u05bf", "\u0f39", "\u00a0", "\u3000",
          "\u2028", "\u2029", "\u200b", "\u200d", "\ufeff", "\ufffd", "\x00", "\x07", "\x1c",
          "\x85", "\t", "\n", "\r", "中", "文", "\u3400", "\U00020000", "가", "Ⅻ", "ﬁ", "İ", "ß",
          "ǅ", "Å", "é", "\uff21\uff22\uff23", "\uffff", "\U0010ffff", "\U000e0001", "\ud7ff",
          "$", "^", "`",
          "~", "…", "—", "«", "\u0378", "\U0001f600", "\U0001f1fa\U0001f1f8")
WORDS = ("the", "film", "was", "a", "delight", "Denver", "won", "café", "naïve", "ΣΟΦΙΑ",
         "running", "un", "##able", "[CLS]", "[SEP]", "[UNK]", "[MASK]", "hello", "world",
         "Paris", "John", "don't", "U.S.A.", "e-mail", "1,000.5", "東京")

_chars = st.characters(codec="utf-8")  # every code point UTF-8 can carry (no surrogates)
_pieces = st.one_of(
    st.text(_chars, max_size=12),
    st.sampled_from(TRICKY),
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(str.upper),
    # Words at the original's 200-character limit, and over 100 bytes in fewer.
    st.integers(195, 205).map(lambda n: "a" * n),
    st.integers(95, 105).map(lambda n: "é" * n),
    st.sampled_from((" ", "  ", "\t", "\n")),
)


def texts(max_pieces=20):
    """Unicode strings built of hostile pieces."""
    return st.lists(_pieces, max_size=max_pieces).map("".join)


def raw_texts(max_pieces=20):
    """UTF-8 bytes of `texts()`, arbitrary bytes, and texts cut by invalid bytes."""
    invalid = st.sampled_from((b"\xff", b"\xfe", b"\xc3", b"\x80", b"\xed\xa0\x80", b"\xc0\xaf",
                               b"\xf0\x9f\x98", b"\xf4\x90\x80\x80"))
    mixed = st.lists(st.one_of(texts(4).map(lambda t: t.encode("utf-8")), invalid),
                     max_size=max_pieces).map(b"".join)
    return st.one_of(texts(max_pieces).map(lambda t: t.encode("utf-8")), st.binary(), mixed)
