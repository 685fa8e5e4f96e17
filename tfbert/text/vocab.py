"""WordPiece vocabulary files: reading them as the original does, special tokens."""

import tensorflow as tf

UNK_TOKEN = "[UNK]"
CLS_TOKEN = "[CLS]"
SEP_TOKEN = "[SEP]"
PAD_TOKEN = "[PAD]"
MASK_TOKEN = "[MASK]"

# The reserved tokens of the original vocabularies, in their customary order.
SPECIAL_TOKENS = (PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN, MASK_TOKEN)

# Keys of `special_tokens_dict` (the TF Hub preprocessing interface, plus unk).
_SPECIAL_KEYS = (
    ("start_of_sequence_id", CLS_TOKEN),
    ("end_of_segment_id", SEP_TOKEN),
    ("padding_id", PAD_TOKEN),
    ("mask_id", MASK_TOKEN),
    ("unk_id", UNK_TOKEN),
)


def load_vocab(vocab_file):
    """Reads a vocab file into a list of tokens, line number = id.

    Same reading as the original `load_vocab`: UTF-8 with undecodable bytes
    dropped, one token per line, each line `strip()`ped. Paths may be any
    filesystem `tf.io.gfile` knows (local, `gs://`).

    Args:
      vocab_file: path of a text file with one token per line.

    Returns:
      The list of tokens.
    """
    with tf.io.gfile.GFile(str(vocab_file), "rb") as f:
        text = f.read().decode("utf-8", errors="ignore")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return [line.strip() for line in lines]


def token_to_id(vocab):
    """`{token: id}`; a repeated token keeps its last line, as in the original."""
    return {token: index for index, token in enumerate(vocab)}


def special_tokens_dict(vocab, vocab_name="the vocabulary"):
    """`vocab_size` and the ids of [CLS], [SEP], [PAD], [MASK], [UNK].

    Args:
      vocab: list of tokens.
      vocab_name: how error messages name the vocabulary (e.g. its path).

    Returns:
      dict with `vocab_size`, `start_of_sequence_id`, `end_of_segment_id`,
      `padding_id`, `mask_id` and `unk_id` (Python ints).

    Raises:
      ValueError: naming every special token that is missing.
    """
    ids = token_to_id(vocab)
    missing = [token for _, token in _SPECIAL_KEYS if token not in ids]
    if missing:
        raise ValueError(
            f"{vocab_name} lacks the special token(s) {', '.join(missing)}; a BERT "
            f"vocabulary needs all of {', '.join(t for _, t in _SPECIAL_KEYS)} "
            "(one token per line).")
    result = {"vocab_size": len(vocab)}
    result.update({key: ids[token] for key, token in _SPECIAL_KEYS})
    return result
