"""A plain-Python statement of the original BERT `FullTokenizer`, for tests.

This is the behaviour of google-research/bert `tokenization.py` as described
in `../shared/reference/google_bert_facts.md` §1.4, written out step by step.
The tests use it as the oracle for texts outside the golden file (offsets,
cased mode, random strings); the golden file itself checks this oracle.
"""

import unicodedata

_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)


def is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(ch):
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def clean_text(text):
    out = []
    for ch in text:
        if ord(ch) in (0, 0xFFFD) or is_control(ch):
            continue
        out.append(" " if is_whitespace(ch) else ch)
    return "".join(out)


def normalize_word(token, lower_case):
    """lower() then NFD then removal of Mn (uncased); nothing (cased)."""
    if not lower_case:
        return token
    token = unicodedata.normalize("NFD", token.lower())
    return "".join(ch for ch in token if unicodedata.category(ch) != "Mn")


def split_on_punctuation(token):
    pieces, current = [], []
    for ch in token:
        if is_punctuation(ch):
            if current:
                pieces.append("".join(current))
                current = []
            pieces.append(ch)
        else:
            current.append(ch)
    if current:
        pieces.append("".join(current))
    return pieces


def basic_tokenize(text, lower_case=True):
    text = clean_text(text)
    text = "".join(f" {ch} " if is_cjk(ch) else ch for ch in text)
    pieces = []
    for token in text.split():
        pieces.extend(split_on_punctuation(normalize_word(token, lower_case)))
    return " ".join(pieces).split()


def wordpiece(word, vocab, unk="[UNK]", max_chars=200):
    if len(word) > max_chars:
        return [unk]
    out, start = [], 0
    while start < len(word):
        end, found = len(word), None
        while start < end:
            piece = word[start:end]
            if start > 0:
                piece = "##" + piece
            if piece in vocab:
                found = piece
                break
            end -= 1
        if found is None:
            return [unk]
        out.append(found)
        start = end
    return out


class ReferenceTokenizer:
    """`FullTokenizer(vocab, do_lower_case)` of the original, in plain Python."""

    def __init__(self, vocab_tokens, lower_case=True):
        self.lower_case = lower_case
        # Like the original's OrderedDict: a repeated token keeps its last index.
        self.vocab = {tok: i for i, tok in enumerate(vocab_tokens)}

    def words(self, text):
        return basic_tokenize(text, self.lower_case)

    def tokenize(self, text):
        return [p for w in self.words(text) for p in wordpiece(w, self.vocab)]

    def tokenize_words(self, text):
        return [wordpiece(w, self.vocab) for w in self.words(text)]

    def ids(self, text):
        return [self.vocab[p] for p in self.tokenize(text)]
