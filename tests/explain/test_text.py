"""`tfbert.explain.encode_text`: the packing of the exports, with each piece's word."""

import numpy as np
import pytest

from tfbert.explain import encode_text
from tfbert.text import BertTokenizer


@pytest.fixture(scope="module")
def tokenizer(uncased_vocab):
    return BertTokenizer(str(uncased_vocab))


def test_pieces_and_words_of_a_text(tokenizer):
    text = encode_text(tokenizer, "The film was unbelievably charming!")
    assert text.pieces[0] == "[CLS]" and text.pieces[-1] == "[SEP]"
    assert text.words == ["The", "film", "was", "unbelievably", "charming", "!"]
    pieces = text.pieces[1:-1]
    assert "".join(p.removeprefix("##") for p in pieces) == "thefilmwasunbelievablycharming!"
    assert len(pieces) > len(text.words)  # "unbelievably" is several pieces
    assert text.word_ids[0] == -1 and text.word_ids[-1] == -1
    # Every piece of "unbelievably" belongs to word 3, and their values add up.
    many = [i for i, w in enumerate(text.word_ids) if w == 3]
    assert len(many) > 1 and all(text.pieces[i].startswith("##") for i in many[1:])
    sums = dict(text.word_sums(np.arange(len(text.pieces), dtype=float)))
    assert sums["unbelievably"] == sum(many)
    assert text.inputs["input_mask"].tolist() == [[1] * len(text.pieces)]


def test_a_pair_is_packed_and_truncated_as_the_exports_do(tokenizer):
    text = encode_text(tokenizer, "Who won?", "Denver won the game.")
    assert text.pieces == ["[CLS]", "who", "won", "?", "[SEP]", "denver", "won", "the",
                           "game", ".", "[SEP]"]
    assert text.inputs["input_type_ids"][0].tolist() == [0] * 5 + [1] * 6
    assert text.word_ids == [-1, 0, 1, 2, -1, 3, 4, 5, 6, 7, -1]
    short = encode_text(tokenizer, "one two three four", "five six seven eight", seq_length=7)
    assert short.pieces == ["[CLS]", "one", "two", "[SEP]", "five", "six", "[SEP]"]
    assert short.word_ids == [-1, 0, 1, -1, 4, 5, -1]
    with pytest.raises(ValueError, match="the text to explain is empty"):
        encode_text(tokenizer, "  ")
