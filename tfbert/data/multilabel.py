"""Multi-label classification data: each text carries a set of labels (maybe none).

Two layouts of the user's CSV/TSV/JSONL files are read (the files are opened
as `tfbert.data.classification_files` opens them, so the messages match):

- one column holding the list: a JSON list (`["PER", "LOC"]`, in JSON Lines
  also a real list) or names separated by `label_separator` (`PER|LOC`); an
  empty cell or `[]` is the empty set;
- one 0/1 column per label (`label_columns=("PER", "ORG", ...)`; the column
  names are the label names; `1`, `true`, `yes` mark a label, `0`, `false`,
  `no` or an empty cell do not).

A label is stored as a multi-hot tuple of 0/1 ints in label-id order, so the
features (`classification_features`) give `label_ids` int32 `[N, labels]`.
`conll_entity_types` derives a multi-label set from CoNLL-2003 (each sentence
-> the entity types it mentions).

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "train.tsv"
>>> _ = path.write_text("text\\tlabels\\nJohn in Paris\\tPER|LOC\\nhello\\t\\n")
>>> data = read_multilabel_file(path, text_a="text", label="labels")
>>> data.label_names, [e.label for e in data.examples]
(('LOC', 'PER'), [(1, 1), (0, 0)])
"""

import json
import os

from absl import logging

from tfbert.data import classification, text_files
from tfbert.data.classification_files import open_rows, resolve_format
from tfbert.data.conll import read_conll

_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"", "0", "0.0", "false", "no"}


def read_multilabel_file(path, text_a="sentence", text_b=None, label="labels",
                         label_names=None, label_columns=None, label_separator="|",
                         allow_empty=True, file_format=None, skip_bad_lines=False):
    """Reads a multi-label CSV/TSV/JSONL file (see the module doc).

    Args:
        path: the file.
        text_a, text_b: text columns (JSON keys); `text_b` None for single texts.
        label: the column holding the label list (ignored with `label_columns`;
            None: unlabeled data).
        label_names: the labels in id order; None: the sorted labels of this
            file (pass the training file's to its dev and test files).
        label_columns: one 0/1 column per label, instead of `label`.
        label_separator: separates names in a list cell that is not JSON.
        allow_empty: whether a row may have no label; False makes an empty
            set an error naming the file and line.
        file_format: `csv`, `tsv` or `jsonl`; default from the extension.
        skip_bad_lines: skip and count malformed lines instead of failing.

    Returns:
        A `tfbert.data.classification.ClassificationData` whose labels are
        multi-hot tuples.

    Raises:
        ValueError: `"<file>:<line>: ..."` for a label not in `label_names`, an
            empty set where `allow_empty` is False, a bad 0/1 cell, a missing column.
    """
    path = os.fspath(path)
    file_format = resolve_format(path, file_format)
    if label_columns:
        label_columns = tuple(label_columns)
        names = tuple(label_names or label_columns)
        if names != label_columns:
            raise ValueError(f"label_names {list(names)} differ from label_columns "
                             f"{list(label_columns)}: the columns name the labels")
        label = label_columns
    elif label is None:
        names = tuple(str(n) for n in label_names or ())
    else:
        names = (tuple(str(n) for n in label_names) if label_names
                 else _distinct_labels(path, file_format, text_a, label, label_separator))
    if label is not None and not names:
        raise ValueError(f"{path}: no labels: every row's label list is empty; "
                         "give label_names")
    ids = {n: i for i, n in enumerate(names)}

    def parse(cell):
        if label_columns:
            hot = tuple(_flag(value, column) for value, column in zip(cell, label_columns,
                                                                      strict=True))
        else:
            hot = [0] * len(names)
            for name in split_labels(cell, label_separator):
                if name not in ids:
                    raise ValueError(f"label {name!r} is not in the label list {list(names)}")
                hot[ids[name]] = 1
            hot = tuple(hot)
        if not allow_empty and not any(hot):
            raise ValueError("empty label list (this task requires at least one label)")
        return hot

    with open_rows(path, file_format) as (rows, header):
        data = classification.read_rows(rows, path, header, (text_a, text_b, label), names,
                                        skip_bad_lines, parse_label=parse)
    return data


def split_labels(cell, separator="|"):
    """The label names of one list cell: a JSON list, or names split at `separator`."""
    text = cell.strip()
    if text.startswith("["):
        values = text_files.loads_json(text, f"label list {text[:80]!r}")
        if not isinstance(values, list):
            raise ValueError(f"label list {text!r} is not a JSON list")
        return [classification.label_string(v) for v in values]
    return [name.strip() for name in text.split(separator) if name.strip()]


def _flag(value, column):
    text = value.strip().lower()
    if text in _TRUE:
        return 1
    if text in _FALSE:
        return 0
    raise ValueError(f"column {column!r}: {value!r} is not 0/1")


def _distinct_labels(path, file_format, text_a, label, separator):
    names = set()
    with open_rows(path, file_format) as (rows, header):
        data = classification.read_rows(rows, path, header, (text_a, None, label), (), False,
                                        parse_label=lambda cell: cell)
    for example in data.examples:
        try:
            names.update(split_labels(example.label, separator))
        except ValueError as e:
            raise ValueError(f"{path}:{example.guid.rsplit(':', 1)[1]}: {e}") from None
    names = tuple(sorted(names))
    logging.info("%s: label names not given; using the %d labels of the file: %s",
                 path, len(names), list(names))
    return names


def conll_entity_types(conll_path, out_path, types=("PER", "ORG", "LOC", "MISC")):
    """Writes a JSON Lines multi-label set from a CoNLL file: per sentence its
    text (words joined by spaces) and the entity types it mentions (maybe none).

    Returns:
        The number of sentences written.
    """
    data = read_conll(conll_path)
    lines = []
    for sentence in data.sentences:
        mentioned = {tag[2:] for tag in sentence.tags if tag != "O"}
        lines.append(json.dumps({"text": " ".join(sentence.words),
                                 "labels": [t for t in types if t in mentioned]}) + "\n")
    with open(out_path, "w", encoding="utf-8") as f:
        f.writelines(lines)
    return len(lines)
