"""Which ids new whole words get in a WordPiece vocab, and how their rows start.

`plan_vocab_extension` checks each word, normalises it as the original basic
tokenizer normalises text, gives it an id (the `[unusedN]` slots first, in
vocab order, then new ids at the end) and records the pieces the original
vocab splits it into today. `VocabExtension.grow` then turns any table with
one row per token (the word embeddings, the MLM output bias) into the table
of the extended vocab: a new word's row is the mean of its current pieces'
rows, so the model starts from what it already computed for that word.

Why a whole word in the vocab becomes one piece, and why nothing else
changes: WordPiece matches the longest vocab entry at the start of a word,
so a word that is itself an entry is one piece, and a word that was already
an entry keeps matching itself. Only words that begin with an added word
(and were split into pieces before) can start with a longer piece now.
"""

import dataclasses
import re
import unicodedata

import numpy as np

from tfbert.text.basic_tokenizer import BasicTokenizer
from tfbert.text.tokenizer import BertTokenizer

UNUSED_TOKEN = re.compile(r"\[unused\d+\]")
# The original WordpieceTokenizer's max_input_chars_per_word: a longer word is [UNK].
MAX_WORD_CHARS = 200


@dataclasses.dataclass(frozen=True)
class VocabExtension:
    """The extended vocab and where each added word went.

    Attributes:
        vocab: tuple of tokens, the extended vocab (index = id).
        original_size: int, how many tokens the vocab had before.
        words: the added words, normalised, in the order given.
        ids: their ids in `vocab`.
        pieces: for each word, the ids of its pieces under the original vocab.
    """

    vocab: tuple
    original_size: int
    words: tuple
    ids: tuple
    pieces: tuple

    @property
    def slots_filled(self) -> int:
        """How many `[unusedN]` slots now hold a word."""
        return sum(i < self.original_size for i in self.ids)

    @property
    def rows_appended(self) -> int:
        """How many rows the tables grow by."""
        return len(self.vocab) - self.original_size

    def grow(self, table: np.ndarray, name: str = "table") -> np.ndarray:
        """The table of the extended vocab, from the original's.

        Args:
            table: array with one row per original token along axis 0
                (`[vocab, hidden]` embeddings, or a `[vocab]` bias).
            name: how an error names the table.

        Returns:
            A new array of `len(vocab)` rows, same dtype: old rows kept, each
            added word's row the mean (in float64) of its current pieces' rows.

        Raises:
            ValueError: the table does not have one row per original token.
        """
        table = np.asarray(table)
        if table.ndim == 0 or table.shape[0] != self.original_size:
            raise ValueError(f"{name} has shape {list(table.shape)}, but the vocab has "
                             f"{self.original_size} tokens: they must match row for row")
        grown = np.concatenate(
            [table, np.zeros((self.rows_appended,) + table.shape[1:], table.dtype)])
        for word_id, pieces in zip(self.ids, self.pieces, strict=True):
            rows = table[list(pieces)].astype(np.float64)
            grown[word_id] = rows.mean(axis=0).astype(table.dtype)
        return grown


def _has_whitespace(word):
    # What the original splits words on: its whitespace set and str.split()'s.
    return any(ch.isspace() or unicodedata.category(ch) == "Zs" for ch in word)


def normalize_words(words, lower_case=True, where=None):
    """Each word as the basic tokenizer leaves it (cleaned; lower-cased and
    accent-stripped when `lower_case`), checked to stay one word.

    Args:
        words: list of str.
        lower_case: the vocab is uncased (`do_lower_case`).
        where: optional list of str, one per word, naming where it came from
            (`words.txt:3`) in error messages.

    Returns:
        list of normalised words.

    Raises:
        ValueError: naming the word: it is empty, holds whitespace, is split
            by the basic tokenizer (punctuation, CJK characters), or is
            longer than WordPiece's 200-character limit.

    Example:

    >>> normalize_words(["Café", "GENOMICS"])
    ['cafe', 'genomics']
    """
    where = where or [None] * len(words)
    named = [f"{word!r}" + (f" ({place})" if place else "") for word, place in zip(
        words, where, strict=True)]
    for word, name in zip(words, named, strict=True):
        if not word:
            raise ValueError(f"empty word {name}: give one word per line")
        if _has_whitespace(word):
            raise ValueError(f"word {name} contains whitespace: the tokenizer splits text "
                             "into words there, so give each word on its own line")
    split = BasicTokenizer(lower_case=lower_case).tokenize(list(words)).to_list()
    normalised = []
    for parts, name in zip(split, named, strict=True):
        parts = [p.decode("utf-8") for p in parts]
        if not parts:
            raise ValueError(f"word {name} is nothing but characters the tokenizer deletes")
        if len(parts) > 1:
            raise ValueError(
                f"word {name} can never be one piece: the basic tokenizer splits it into "
                f"{parts} (it splits at every punctuation mark and around CJK "
                "characters) before WordPiece sees it")
        if len(parts[0]) > MAX_WORD_CHARS:
            raise ValueError(f"word {name} has over {MAX_WORD_CHARS} characters: WordPiece "
                             "turns any such word into [UNK]")
        normalised.append(parts[0])
    return normalised


def plan_vocab_extension(vocab, words, lower_case=True, where=None) -> VocabExtension:
    """Gives each new whole word an id: `[unusedN]` slots first, then new ids.

    Args:
        vocab: list of tokens (e.g. `tfbert.text.load_vocab(path)`).
        words: the words to add (see `normalize_words` for what is refused).
        lower_case: the vocab is uncased; words are lower-cased and
            accent-stripped as the tokenizer would.
        where: optional places of the words, for error messages.

    Returns:
        A `VocabExtension`.

    Raises:
        ValueError: a bad word (named), a word already in the vocab, or a
            word given twice (after normalisation).

    Example:

    >>> vocab = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "gen", "##om",
    ...          "##ics"]
    >>> plan = plan_vocab_extension(vocab, ["Genomics", "genom"])
    >>> plan.vocab[1], plan.vocab[9:], plan.ids, plan.pieces
    ('genomics', ('genom',), (1, 9), ((6, 7, 8), (6, 7)))
    >>> plan.slots_filled, plan.rows_appended
    (1, 1)
    >>> plan.grow(np.arange(9.0)).tolist()
    [0.0, 7.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 6.5]
    """
    words = list(words)
    where = where or [None] * len(words)
    if not words:
        raise ValueError("no words to add")
    normalised = normalize_words(words, lower_case, where)
    present = set(vocab)
    seen = {}
    for word, original, place in zip(normalised, words, where, strict=True):
        name = f"{original!r}" + (f" ({place})" if place else "")
        if word in present:
            raise ValueError(f"word {name} is already in the vocab as {word!r}")
        if word in seen:
            raise ValueError(f"word {name} is given twice (as {seen[word]!r} before; both "
                             f"normalise to {word!r})")
        seen[word] = original
    # The pieces each word splits into today, by the tokenizer itself.
    pieces = BertTokenizer(vocabulary=list(vocab), lower_case=lower_case).tokenize(
        normalised).to_list()
    slots = [i for i, token in enumerate(vocab) if UNUSED_TOKEN.fullmatch(token)]
    new_vocab = list(vocab)
    ids = []
    for k, word in enumerate(normalised):
        if k < len(slots):
            ids.append(slots[k])
            new_vocab[slots[k]] = word
        else:
            ids.append(len(new_vocab))
            new_vocab.append(word)
    return VocabExtension(vocab=tuple(new_vocab), original_size=len(vocab),
                          words=tuple(normalised), ids=tuple(ids),
                          pieces=tuple(tuple(p) for p in pieces))
