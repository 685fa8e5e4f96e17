"""The user's own classification or regression data: CSV, TSV or JSON Lines.

Users bring files of any shape, so columns are named by the caller (the
header of a CSV/TSV file, the keys of a JSON object) and the label list is
given or found in the file; GLUE's fixed files are `tfbert.data.glue`. Both
return a `tfbert.data.classification.ClassificationData`.

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "train.csv"
>>> _ = path.write_text('review,verdict\\n"Great, really great",pos\\nAwful,neg\\n')
>>> data = read_classification_file(path, text_a="review", label="verdict")
>>> data.label_names, [e.label for e in data.examples]
(('neg', 'pos'), [1, 0])
"""

import contextlib
import csv
import io
import os

from absl import logging

from tfbert.data import classification, text_files


def read_classification_file(path, text_a="sentence", text_b=None, label="label",
                             label_names=None, regression=False, file_format=None,
                             skip_bad_lines=False):
    """Reads the user's own classification or regression data.

    Args:
        path: a `.csv`, `.tsv` or `.jsonl` (`.json`: one object per line) file.
            CSV/TSV files have a header row naming the columns; CSV uses
            standard quoting, TSV none (like GLUE).
        text_a: name of the column (or JSON key) with the first text.
        text_b: name of the second text's column for pairs, or None.
        label: name of the label column, or None for unlabeled data.
        label_names: the labels, in id order (strings; JSON numbers and
            booleans are matched by their string form). None: the sorted
            distinct labels of this file (pass the training file's
            `label_names` when reading its dev and test files).
        regression: labels are numbers (scores), not classes.
        file_format: `csv`, `tsv` or `jsonl`; default from the extension.
        skip_bad_lines: skip and count malformed lines instead of failing.

    Returns:
        A `ClassificationData`.
    """
    path = os.fspath(path)
    file_format = resolve_format(path, file_format)
    columns = (text_a, text_b, label)
    if regression:
        names = None
    elif label is None:
        names = tuple(label_names or ())
    else:
        names = tuple(str(n) for n in label_names) if label_names else _distinct_labels(
            path, file_format, label)
    with open_rows(path, file_format) as (rows, header):
        return classification.read_rows(rows, path, header, columns, names, skip_bad_lines)


def resolve_format(path, file_format=None):
    """`csv`, `tsv` or `jsonl`: `file_format`, else from the file's extension."""
    file_format = file_format or os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    file_format = {"json": "jsonl", "txt": "tsv"}.get(file_format, file_format)
    if file_format not in ("csv", "tsv", "jsonl"):
        raise ValueError(f"{path}: unknown file format {file_format!r}; "
                         "use file_format='csv', 'tsv' or 'jsonl'.")
    return file_format


@contextlib.contextmanager
def open_rows(path, file_format):
    """`(rows, header)`: the `(line number, row)` pairs of a CSV/TSV/JSONL file,
    for `classification.read_rows`, and whether the first row is a header."""
    f = io.StringIO(text_files.read_text(path), newline="")
    if file_format == "jsonl":
        yield _json_rows(f, path), False
    else:
        reader = (csv.reader(f) if file_format == "csv"
                  else csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        yield classification.numbered(reader), True


def _json_rows(f, path):
    for number, line in enumerate(f, start=1):
        if not line.strip():
            continue
        row = text_files.loads_json(line, f"{path}:{number}")
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        yield number, row


def _distinct_labels(path, file_format, label):
    data = read_classification_file(path, text_a=label, label=None, file_format=file_format)
    names = sorted({classification.label_string(e.text_a) for e in data.examples})
    logging.info("%s: label names not given; using the %d distinct labels of the file: %s",
                 path, len(names), names)
    return tuple(names)
