"""Sentence classification data, whoever reads it: the examples, the rows of
a table turned into them, and the model inputs made from them.

GLUE (`tfbert.data.glue`) and the user's own files
(`tfbert.data.classification_files`) differ only in how a file is opened and
where its columns are; both hand `(line number, row)` pairs to `read_rows`,
so that both return the same `ClassificationData` and fail with the same
messages. A row is a list of cells (CSV/TSV) or a dict (JSON Lines); bad
input is an error that names the file and line: a missing column, a label
not in the label list, a row with too few fields, an empty file. With
`skip_bad_lines=True` such rows are skipped instead, counted, and listed in
`skipped` (nothing is dropped silently).

Example:

>>> rows = [(1, ["sentence", "label"]), (2, ["a fine film .", "pos"])]
>>> data = read_rows(rows, "dev.tsv", True, ("sentence", None, "label"), ("neg", "pos"), False)
>>> data.examples[0]
ClassificationExample(guid='dev.tsv:2', text_a='a fine film .', text_b=None, label=1)
"""

import csv
import dataclasses
import json
import os
import sys

import numpy as np
from absl import logging

from tfbert.data import finetuning
from tfbert.data.windows import window_spans

# GLUE lines can be long (MNLI parses); the csv module's default limit is 128 KB.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclasses.dataclass(frozen=True)
class ClassificationExample:
    """One text or text pair with its label.

    Attributes:
        guid: where it comes from, `"<file name>:<line>"`.
        text_a: the first (or only) text.
        text_b: the second text of a pair, or None.
        label: the label id (an index into `label_names`), a float for
            regression, or None for unlabeled (test) data.

    Example:

    >>> ClassificationExample("dev.tsv:2", "a fine film .", None, 1).label
    1
    """

    guid: str
    text_a: str
    text_b: str | None
    label: int | float | None


@dataclasses.dataclass
class ClassificationData:
    """The examples of one file, with what is needed to interpret them.

    Attributes:
        examples: list of `ClassificationExample`.
        label_names: tuple of label strings (label id = index), or None for
            regression.
        path: the file read.
        skipped: `"<file>:<line>: <reason>"` for every line skipped because
            of `skip_bad_lines=True` (empty otherwise).

    Example:

    >>> ClassificationData([], None, "scores.tsv").is_regression
    True
    """

    examples: list
    label_names: tuple | None
    path: str
    skipped: list = dataclasses.field(default_factory=list)

    @property
    def is_regression(self):
        return self.label_names is None


def numbered(reader):
    """`(line number, row)` pairs of a `csv.reader` (the number of a row's last line)."""
    for row in reader:
        yield reader.line_num, row


def label_string(value):
    """A label as the label list holds it: JSON `true` is `"1"`, spaces are cut."""
    if isinstance(value, bool):
        return str(int(value))
    return str(value).strip()


def read_rows(rows, path, header, columns, label_names, skip_bad_lines, parse_label=None):
    """Turns `(line number, row)` pairs into a `ClassificationData`.

    Args:
        rows: `(line number, row)` pairs; a row is a list of cells or a dict.
        path: the file they come from (for guids and messages).
        header: the first non-blank row names the columns.
        columns: `(text_a, text_b, label)`: header names, 0-based positions
            (files without a header), dict keys, or None (no second text,
            unlabeled data). The label may be a tuple of columns (its cells
            are handed to `parse_label` as a list).
        label_names: the labels in id order, or None for regression.
        skip_bad_lines: skip and count malformed rows instead of failing.
        parse_label: `f(cell) -> label`, raising ValueError for a bad one
            (default: a class id of `label_names`, or a float for regression).
    """
    name = os.path.basename(path)
    examples, skipped = [], []
    positions = None
    if parse_label is None:
        label_ids = ({n: i for i, n in enumerate(label_names)} if label_names is not None
                     else None)

        def parse_label(text):
            return _label_value(text, label_ids)
    saw_any = False
    for number, row in rows:
        if isinstance(row, list) and not any(cell.strip() for cell in row):
            continue  # blank line
        saw_any = True
        if header and positions is None:
            positions = _header_positions(row, columns, path)
            continue
        try:
            text_a, text_b, label = (_cell(row, column, position) for column, position
                                     in zip(columns, positions or columns, strict=True))
            if columns[2] is not None:
                label = parse_label(label)
            examples.append(ClassificationExample(f"{name}:{number}", text_a, text_b, label))
        except ValueError as e:
            message = f"{path}:{number}: {e}"
            if not skip_bad_lines:
                raise ValueError(message) from None
            skipped.append(message)
    if not saw_any:
        raise ValueError(f"{path} is empty.")
    if not examples:
        raise ValueError(f"{path} has no examples" + (" (only a header row)." if header else "."))
    if skipped:
        logging.warning("%s: skipped %d bad lines of %d (first: %s)", path, len(skipped),
                        len(skipped) + len(examples), skipped[0])
    return ClassificationData(examples, label_names, path, skipped)


def _header_positions(row, columns, path):
    """The position of each named column in the header row."""
    stripped = [cell.strip() for cell in row]
    positions = []
    for column in columns:
        if column is None or isinstance(column, int):
            positions.append(column)
        elif isinstance(column, tuple):
            positions.append(tuple(_header_positions(row, column, path)))
        elif column in stripped:
            positions.append(stripped.index(column))
        else:
            raise ValueError(f"{path}:1: no column {column!r} in the header {stripped}")
    return positions


def _cell(row, column, position):
    """The text of one column (`column` names it, `position` locates it)."""
    if column is None:
        return None
    if isinstance(column, tuple):
        return [_cell(row, c, p) for c, p in zip(column, position, strict=True)]
    if isinstance(row, dict):
        if column not in row or row[column] is None:
            raise ValueError(f"no key {column!r} in {sorted(row)}")
        value = row[column]
        if isinstance(value, (list, dict)):  # a JSON list of labels: parsed by the caller
            return json.dumps(value)
        return value if isinstance(value, str) else label_string(value)
    if position >= len(row):
        raise ValueError(f"{len(row)} fields, but column {column!r} is field {position + 1}")
    return row[position]


def _label_value(text, label_ids):
    """A label id (classification) or a float (regression)."""
    if label_ids is None:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"label {text!r} is not a number (regression)") from None
    key = label_string(text)
    if key not in label_ids:
        raise ValueError(f"label {key!r} is not in the label list {list(label_ids)}")
    return label_ids[key]


def classification_features(data, tokenizer, seq_length):
    """Model inputs for a `ClassificationData`, as the original
    `convert_examples_to_features` makes them.

    A single text is cut to `seq_length - 2` pieces; a pair loses pieces from
    the end of the longer text until it fits in `seq_length - 3`.

    Args:
        data: a `ClassificationData`.
        tokenizer: a `tfbert.text.BertTokenizer`.
        seq_length: the padded length.

    Returns:
        `{"input_word_ids", "input_mask", "input_type_ids"}` int32 `[N, seq]`,
        `example_index` int32 `[N]`, and `label_ids` (int32 `[N]`, float32 for
        regression) when the data is labeled. Use `finetuning.make_dataset`.
    """
    cls_id, sep_id, pad_id = finetuning.special_ids(tokenizer)
    examples = data.examples
    tokens_a = finetuning.tokenize_texts(tokenizer, [e.text_a for e in examples],
                                         what=f"texts of {data.path}")
    pairs = examples[0].text_b is not None
    tokens_b = (finetuning.tokenize_texts(tokenizer, [e.text_b or "" for e in examples],
                                          what=f"second texts of {data.path}")
                if pairs else [None] * len(examples))
    writer = finetuning.FeatureWriter(len(examples), seq_length, pad_id)
    truncated = 0
    for row, (a, b) in enumerate(zip(tokens_a, tokens_b, strict=True)):
        if b is None:
            len_a, len_b = min(len(a), seq_length - 2), 0
            segments = [a[:len_a]]
        else:
            len_a, len_b = finetuning.truncate_pair(a, b, seq_length - 3)
            segments = [a[:len_a], b[:len_b]]
        truncated += len_a + len_b < len(a) + (0 if b is None else len(b))
        writer.set_row(row, *finetuning.pack_segments(segments, cls_id, sep_id))
    if truncated:
        logging.info("%s: %d of %d examples truncated to seq_length %d", data.path, truncated,
                     len(examples), seq_length)
    features = dict(writer.arrays)
    features["example_index"] = np.arange(len(examples), dtype=np.int32)
    if examples[0].label is not None:
        dtype = np.float32 if data.is_regression else np.int32
        features["label_ids"] = np.array([e.label for e in examples], dtype)
    return features


def window_features(data, tokenizer, seq_length, doc_stride):
    """Model inputs for the single texts of a `ClassificationData`, every piece
    of every text read: each text is cut into windows of `seq_length - 2`
    pieces that start `doc_stride` pieces apart (`tfbert.data.windows`), and
    each window is a row `[CLS] window [SEP]`.

    A text that fits in one window gives the same row as
    `classification_features`, and the first window of any text is its
    truncation there.

    Args:
        data: a `ClassificationData` of single texts.
        tokenizer: a `tfbert.text.BertTokenizer`.
        seq_length: the padded length of a window.
        doc_stride: how far windows advance, in pieces.

    Returns:
        `{"input_word_ids", "input_mask", "input_type_ids"}` int32 `[W, seq]`,
        `example_index` int32 `[W]` (the text of each window: a text's windows
        are consecutive rows, in order), and `label_ids` `[W]` (each window
        carries its text's label) when the data is labeled.

    Example:

    >>> import tempfile
    >>> from tfbert.text import BertTokenizer
    >>> vocab = os.path.join(tempfile.mkdtemp(), "vocab.txt")
    >>> _ = open(vocab, "w").write("[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n[MASK]\\na\\nb\\n")
    >>> data = ClassificationData([ClassificationExample("x:1", "a b a b a", None, 0),
    ...                            ClassificationExample("x:2", "b", None, 1)], ("0", "1"), "x")
    >>> features = window_features(data, BertTokenizer(vocab), seq_length=5, doc_stride=2)
    >>> features["input_word_ids"].tolist()
    [[2, 5, 6, 5, 3], [2, 5, 6, 5, 3], [2, 6, 3, 0, 0]]
    >>> features["example_index"].tolist(), features["label_ids"].tolist()
    ([0, 0, 1], [0, 0, 1])
    """
    if doc_stride < 1:
        raise ValueError(f"doc_stride must be at least 1; got {doc_stride}")
    if seq_length < 3:
        raise ValueError(f"seq_length {seq_length} leaves no room for a text between "
                         "[CLS] and [SEP]")
    examples = data.examples
    if any(e.text_b is not None for e in examples):
        raise ValueError(f"{data.path}: long texts are read in windows only for single "
                         "texts, not text pairs")
    cls_id, sep_id, pad_id = finetuning.special_ids(tokenizer)
    pieces = finetuning.tokenize_texts(tokenizer, [e.text_a for e in examples],
                                       what=f"texts of {data.path}")
    rows, example_index = [], []
    for index, ids in enumerate(pieces):
        for start, length in window_spans(len(ids), seq_length - 2, doc_stride):
            rows.append(finetuning.pack_segments([ids[start:start + length]], cls_id, sep_id))
            example_index.append(index)
    long_texts = sum(len(ids) > seq_length - 2 for ids in pieces)
    logging.info("%s: %d windows of %d pieces (stride %d) for %d texts, %d of them longer "
                 "than one window", data.path, len(rows), seq_length - 2, doc_stride,
                 len(examples), long_texts)
    writer = finetuning.FeatureWriter(len(rows), seq_length, pad_id)
    for row, (word_ids, type_ids) in enumerate(rows):
        writer.set_row(row, word_ids, type_ids)
    features = dict(writer.arrays)
    features["example_index"] = np.array(example_index, np.int32)
    if examples[0].label is not None:
        dtype = np.float32 if data.is_regression else np.int32
        labels = np.array([e.label for e in examples], dtype)
        features["label_ids"] = labels[features["example_index"]]
    return features
