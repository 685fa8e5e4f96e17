"""CoNLL-2003 named entities (and any CoNLL-style tagging data).

The file has one word per line, its tag in the last column (`EU NNP B-NP
B-ORG`), blank lines between sentences and `-DOCSTART-` lines between
documents. Tags may be IOB1 (the original CoNLL-2003 release: `I-` starts
an entity unless it follows one of the same type) or IOB2 (`B-` starts every
entity); `scheme="iob1"` converts IOB1 to IOB2 on reading, so that models
always learn IOB2. Entity-level scores (`tfbert.metrics.entity_scores`) are
the same under both schemes.

The label of a word goes on its first word piece; the other pieces (and the
special tokens, and padding) have `label_weights` 0, so the loss and the
predictions ignore them (`label_ids` is 0 there, a valid id, which keeps
TPU-friendly non-negative labels).

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "train.txt"
>>> _ = path.write_text("-DOCSTART- -X- -X- O\\n\\nEU NNP B-NP I-ORG\\nrejects VBZ B-VP O\\n")
>>> data = read_conll(path, scheme="iob1")
>>> data.sentences[0].words, data.sentences[0].tags
(('EU', 'rejects'), ('B-ORG', 'O'))
"""

import dataclasses
import os

import numpy as np
from absl import logging

from tfbert.data import finetuning


@dataclasses.dataclass(frozen=True)
class TaggedSentence:
    """Words and their tags; `line` is the file line of the first word."""

    words: tuple
    tags: tuple
    line: int = 0


@dataclasses.dataclass
class TaggingData:
    """Sentences of a tagging file, and the tag list (tag id = index)."""

    sentences: list
    label_names: tuple
    path: str | None = None


def iob1_to_iob2(tags):
    """IOB1 -> IOB2: an `I-X` that does not continue an `X` entity becomes `B-X`."""
    out, prev = [], "O"
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return tuple(out)


def _check_tag(tag, path, line):
    if tag != "O" and (len(tag) < 3 or tag[1] != "-" or tag[0] not in "BIES"):
        raise ValueError(f"{path}:{line}: tag {tag!r} is neither 'O' nor a "
                         "B-/I-/E-/S- tag with a type (e.g. B-PER)")


def read_conll(path, scheme="iob2", label_names=None):
    """Reads a CoNLL-format tagging file.

    Args:
        path: the file (word first, tag last on each line; whitespace separated).
        scheme: the file's tags, `iob2` (kept) or `iob1` (converted to IOB2).
        label_names: the tag list in id order. None: "O", then the file's
            other tags sorted (pass the training set's `label_names` when
            reading dev and test files). A tag not in a given list is an
            error naming the line.

    Returns:
        A `TaggingData`.
    """
    path = os.fspath(path)
    if scheme not in ("iob1", "iob2"):
        raise ValueError(f"scheme must be 'iob1' or 'iob2', got {scheme!r}")
    sentences, words, tags, lines = [], [], [], []
    label_set = None if label_names is None else set(label_names)

    def flush():
        if words:
            converted = iob1_to_iob2(tags) if scheme == "iob1" else tuple(tags)
            for tag, line in zip(converted, lines, strict=True):
                if label_set is not None and tag not in label_set:
                    raise ValueError(f"{path}:{line}: tag {tag!r} is not in the label list "
                                     f"{list(label_names)}")
            sentences.append(TaggedSentence(tuple(words), converted, lines[0]))
            for part in (words, tags, lines):
                part.clear()

    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                flush()
                continue
            if fields[0] == "-DOCSTART-":
                flush()
                continue
            if len(fields) < 2:
                raise ValueError(
                    f"{path}:{number}: expected a word and a tag, got {line.strip()!r}")
            _check_tag(fields[-1], path, number)
            words.append(fields[0])
            tags.append(fields[-1])
            lines.append(number)
    flush()
    if not sentences:
        raise ValueError(f"{path} has no sentences (empty, or only -DOCSTART- lines).")
    if label_names is None:
        found = {t for s in sentences for t in s.tags} - {"O"}
        label_names = ("O",) + tuple(sorted(found, key=lambda t: (t[2:], t)))
    return TaggingData(sentences, tuple(label_names), path)


@dataclasses.dataclass
class TaggingFeatures:
    """Model inputs of a `TaggingData`.

    Attributes:
        arrays: `input_word_ids`, `input_mask`, `input_type_ids`, `label_ids`
            int32 `[N, seq]`, `label_weights` float32 `[N, seq]`, and
            `example_index` int32 `[N]`.
        word_positions: per sentence, int `[words]`: the position of each
            word's first piece, -1 for words that were cut off (beyond
            `seq_length`) or have no pieces; `tags_from_logits` gives those "O".
        cut_words: how many words were cut off or had no pieces, in all.
    """

    arrays: dict
    word_positions: list
    cut_words: int


def tagging_features(data, tokenizer, seq_length=128):
    """Word pieces and first-piece labels for each sentence.

    Args:
        data: a `TaggingData`.
        tokenizer: a `tfbert.text.BertTokenizer`.
        seq_length: the padded length; longer sentences are cut (counted and logged).

    Returns:
        A `TaggingFeatures`.
    """
    cls_id, sep_id, pad_id = finetuning.special_ids(tokenizer)
    tag_ids = {t: i for i, t in enumerate(data.label_names)}
    words = [w for s in data.sentences for w in s.words]
    pieces = finetuning.tokenize_texts(tokenizer, words, chunk_size=8192,
                                       what=f"words of {data.path}")
    writer = finetuning.FeatureWriter(len(data.sentences), seq_length, pad_id,
                                      extra_sequences=["label_ids"])
    weights = np.zeros([len(data.sentences), seq_length], np.float32)
    word_positions, cut, cut_sentences, cursor = [], 0, 0, 0
    for row, sentence in enumerate(data.sentences):
        ids, labels, positions = [], [], []
        for tag in sentence.tags:
            word = pieces[cursor]
            cursor += 1
            if len(word) == 0 or 1 + len(ids) + len(word) > seq_length - 1:
                positions.append(-1)
                continue
            positions.append(1 + len(ids))
            labels += [tag_ids[tag]] + [0] * (len(word) - 1)
            ids += list(word)
        missing = int(np.sum(np.array(positions) < 0))
        cut += missing
        cut_sentences += missing > 0
        word_ids, type_ids = finetuning.pack_segments([ids], cls_id, sep_id)
        writer.set_row(row, word_ids, type_ids, label_ids=[0] + labels)
        positions = np.array(positions, np.int64)
        weights[row, positions[positions >= 0]] = 1.0
        word_positions.append(positions)
    if cut:
        logging.warning("%s: %d words in %d sentences are beyond seq_length %d or have no word "
                        "pieces; they get no label in training and 'O' in predictions",
                        data.path, cut, cut_sentences, seq_length)
    arrays = dict(writer.arrays)
    arrays["label_weights"] = weights
    arrays["example_index"] = np.arange(len(data.sentences), dtype=np.int32)
    return TaggingFeatures(arrays, word_positions, cut)


def tags_from_logits(features, logits, label_names):
    """Word-level tags from token logits.

    Args:
        features: the `TaggingFeatures`.
        logits: float `[N, seq, num_labels]` (seq may be shorter, as with
            padding to the batch's longest row), in feature order.
        label_names: the tag list.

    Returns:
        A list of tag tuples, one per sentence ("O" for cut-off words).
    """
    if len(logits) != len(features.word_positions):
        raise ValueError(f"{len(logits)} rows of logits for {len(features.word_positions)} "
                         "sentences.")
    out = []
    for row, positions in enumerate(features.word_positions):
        best = np.argmax(np.asarray(logits[row]), axis=-1)
        out.append(tuple(label_names[best[p]] if 0 <= p < len(best) else "O"
                         for p in positions))
    return out
