"""Raw text -> one model input, with the word pieces and the words they belong to.

A word is what the original BasicTokenizer splits on whitespace and punctuation (one
punctuation mark is a word); its pieces are the WordPiece continuations (`##...`)
that follow it. Words are cut from the text by the tokenizer's byte offsets, so they
read as written (case and accents kept).
"""

import dataclasses

import numpy as np
import tensorflow as tf

from tfbert.text.packing import pack_inputs


@dataclasses.dataclass
class TextInput:
    """One packed example and how it reads.

    Args:
        inputs: the encoder inputs, int32 `[1, seq]` each, no padding.
        pieces: the word pieces, `[CLS]` and `[SEP]` included (`seq` strings).
        word_ids: for each piece, the index of its word in `words`, or -1 for
            [CLS] and [SEP].
        words: the words as written in the text(s), in order.

    Example:

    >>> t = TextInput({}, ["[CLS]", "un", "##like", "[SEP]"], [-1, 0, 0, -1], ["unlike"])
    >>> t.word_sums(np.array([0.0, 0.5, 0.25, 0.0]))
    [('unlike', 0.75)]
    """

    inputs: dict
    pieces: list
    word_ids: list
    words: list

    def word_sums(self, values) -> list[tuple[str, float]]:
        """`(word, sum of its pieces' values)` for every word, in order."""
        sums = np.zeros(len(self.words))
        for value, word in zip(values, self.word_ids, strict=False):
            if word >= 0:
                sums[word] += value
        return [(w, float(s)) for w, s in zip(self.words, sums, strict=True)]


def encode_text(tokenizer, text: str, text_b: str | None = None,
                seq_length: int = 128) -> TextInput:
    """`text` (and `text_b`) packed as the task's exports pack them
    (`[CLS] a [SEP] b [SEP]`, truncated to `seq_length` the original way).

    Args:
        tokenizer: a `tfbert.text.BertTokenizer`.
        text, text_b: the text and, for pair tasks, the second one.
        seq_length: longest input, [CLS] and [SEP] included.

    Raises:
        ValueError: an empty text.

    Example:

    >>> from tfbert.text import BertTokenizer
    >>> tokenizer = BertTokenizer(vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un",
    ...                                       "##like", "it", "!"])
    >>> encoded = encode_text(tokenizer, "Unlike it!")
    >>> encoded.pieces, encoded.words
    (['[CLS]', 'un', '##like', 'it', '!', '[SEP]'], ['Unlike', 'it', '!'])
    """
    texts = [t for t in (text, text_b) if t is not None]
    if not any(t.strip() for t in texts):
        raise ValueError("the text to explain is empty")
    segments, words, word_ids = [], [], []
    for segment_text in texts:
        ids, begin, end = tokenizer.tokenize_with_offsets(tf.constant([segment_text]),
                                                          words=True)
        segments.append(ids)
        raw = segment_text.encode("utf-8")
        word_ids.append([])
        for word_begin, word_end in zip(begin[0].to_list(), end[0].to_list(), strict=True):
            word_ids[-1] += [len(words)] * len(word_begin)
            words.append(raw[word_begin[0]:word_end[-1]].decode("utf-8", "replace"))
    special = tokenizer.get_special_tokens_dict()
    packed = pack_inputs(segments, seq_length, special["start_of_sequence_id"],
                         special["end_of_segment_id"], special["padding_id"])
    length = int(np.sum(packed["input_mask"]))
    inputs = {k: np.asarray(v)[:, :length].astype("int32") for k, v in packed.items()}
    types = inputs["input_type_ids"][0]
    piece_words = [-1]  # [CLS]
    for index, segment_word_ids in enumerate(word_ids):
        kept = int(np.sum(types == index)) - 1 - (index == 0)  # minus [SEP] (and [CLS])
        piece_words += segment_word_ids[:kept] + [-1]
    pieces = [tokenizer.id_to_token(i) for i in inputs["input_word_ids"][0]]
    return TextInput(inputs=inputs, pieces=pieces, word_ids=piece_words, words=words)
