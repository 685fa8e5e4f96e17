"""Readers for GLUE in its original TSV files, and for the user's own
classification or regression data (CSV, TSV or JSON Lines).

Every reader returns a `ClassificationData`: the examples (texts and a label
id, a float score for regression, or None for unlabeled test files), the
label names, and the lines it skipped. Bad input is an error that names the
file and line: a missing column, a label not in the label list, a row with
too few fields, an empty file. With `skip_bad_lines=True` such rows are
skipped instead, counted, and listed in `skipped` (nothing is dropped
silently).

GLUE files are read as the original `run_classifier.py` reads them: tab
separated, no quoting (`csv.QUOTE_NONE`), UTF-8 (MRPC has a byte-order mark,
which `utf-8-sig` removes). Columns are found by their header name, so the
same code reads the train, dev and (unlabeled) test files; CoLA's train and
dev files have no header and use the original column positions.

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "dev.tsv"
>>> _ = path.write_text("sentence\\tlabel\\nit 's a charming journey . \\t1\\n")
>>> data = read_glue("sst2", path.parent, "dev")
>>> data.examples[0].text_a, data.examples[0].label, data.label_names
("it 's a charming journey . ", 1, ('0', '1'))
"""

import csv
import dataclasses
import json
import os
import sys

import numpy as np
from absl import logging

from tfbert.data import finetuning

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
    """

    examples: list
    label_names: tuple | None
    path: str
    skipped: list = dataclasses.field(default_factory=list)

    @property
    def is_regression(self):
        return self.label_names is None


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """Where a GLUE task keeps its texts and labels.

    Columns are header names, or 0-based positions for files without a
    header (CoLA train/dev). `label_names` None means regression.
    """

    text_a: str | int
    text_b: str | int | None
    label: str | int
    label_names: tuple | None
    header: bool = True
    dev_file: str = "dev.tsv"
    test_file: str = "test.tsv"
    test_text_a: str | None = None  # header name in the test file, when `header` is False


GLUE_TASKS = {
    "cola": GlueTask(3, None, 1, ("0", "1"), header=False, test_text_a="sentence"),
    "sst2": GlueTask("sentence", None, "label", ("0", "1")),
    "mrpc": GlueTask("#1 String", "#2 String", "Quality", ("0", "1")),
    "stsb": GlueTask("sentence1", "sentence2", "score", None),
    "qqp": GlueTask("question1", "question2", "is_duplicate", ("0", "1")),
    "mnli": GlueTask("sentence1", "sentence2", "gold_label",
                     ("contradiction", "entailment", "neutral"),
                     dev_file="dev_matched.tsv", test_file="test_matched.tsv"),
    "mnli_mismatched": GlueTask("sentence1", "sentence2", "gold_label",
                                ("contradiction", "entailment", "neutral"),
                                dev_file="dev_mismatched.tsv", test_file="test_mismatched.tsv"),
    "qnli": GlueTask("question", "sentence", "label", ("entailment", "not_entailment")),
    "rte": GlueTask("sentence1", "sentence2", "label", ("entailment", "not_entailment")),
    "wnli": GlueTask("sentence1", "sentence2", "label", ("0", "1")),
}
GLUE_TASKS["mnli_matched"] = GLUE_TASKS["mnli"]

# The directory names of the GLUE download, for `read_glue(task, glue_dir)`.
GLUE_DIRS = {"cola": "CoLA", "sst2": "SST-2", "mrpc": "MRPC", "stsb": "STS-B", "qqp": "QQP",
             "mnli": "MNLI", "mnli_matched": "MNLI", "mnli_mismatched": "MNLI",
             "qnli": "QNLI", "rte": "RTE", "wnli": "WNLI"}


def glue_task(name):
    """The `GlueTask` of `name` (`sst2`, `SST-2` and `glue/sst2` all work)."""
    key = name.lower().removeprefix("glue/").replace("-", "")
    if key not in GLUE_TASKS:
        raise ValueError(f"unknown GLUE task {name!r}; known: {sorted(GLUE_TASKS)}")
    return key, GLUE_TASKS[key]


def glue_file(task, data_dir, split):
    """The path of a GLUE split (`train`, `dev` or `test`) in `data_dir`.

    `data_dir` is the task's own directory (`.../SST-2`) or the GLUE root
    holding it (`.../glue_data`).
    """
    key, spec = glue_task(task)
    names = {"train": "train.tsv", "dev": spec.dev_file, "test": spec.test_file}
    if split not in names:
        raise ValueError(f"unknown split {split!r}; use one of {sorted(names)}")
    data_dir = os.fspath(data_dir)
    for folder in (data_dir, os.path.join(data_dir, GLUE_DIRS[key])):
        path = os.path.join(folder, names[split])
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"no {names[split]} for GLUE task {key!r} in {data_dir} "
                            f"(nor in {os.path.join(data_dir, GLUE_DIRS[key])})")


def read_glue(task, data_dir, split, skip_bad_lines=False):
    """Reads a GLUE split in its original TSV format.

    Args:
        task: the GLUE task (`cola`, `sst2`, `mrpc`, `stsb`, `qqp`, `mnli`
            (= `mnli_matched`), `mnli_mismatched`, `qnli`, `rte`, `wnli`).
        data_dir: the task directory, or the GLUE root holding it.
        split: `train`, `dev` or `test` (test files have no labels).
        skip_bad_lines: skip and count malformed lines instead of failing.

    Returns:
        A `ClassificationData`.
    """
    return read_glue_file(task, glue_file(task, data_dir, split), labeled=split != "test",
                          skip_bad_lines=skip_bad_lines)


def read_glue_file(task, path, labeled=True, skip_bad_lines=False):
    """Reads one GLUE TSV file (see `read_glue`); `labeled=False` for test files."""
    _, spec = glue_task(task)
    path = os.fspath(path)
    header = spec.header or not labeled
    columns = (spec.test_text_a if not spec.header and not labeled else spec.text_a,
               spec.text_b, spec.label if labeled else None)
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = _numbered(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        return _read_rows(rows, path, header, columns, spec.label_names, skip_bad_lines)


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
    file_format = file_format or os.path.splitext(path)[1].lstrip(".").lower()
    file_format = {"json": "jsonl", "txt": "tsv"}.get(file_format, file_format)
    if file_format not in ("csv", "tsv", "jsonl"):
        raise ValueError(f"{path}: unknown file format {file_format!r}; "
                         "use file_format='csv', 'tsv' or 'jsonl'.")
    columns = (text_a, text_b, label)
    if regression:
        names = None
    elif label is None:
        names = tuple(label_names or ())
    else:
        names = tuple(str(n) for n in label_names) if label_names else _distinct_labels(
            path, file_format, label)
    with open(path, encoding="utf-8-sig", newline="") as f:
        if file_format == "jsonl":
            rows = _json_rows(f, path)
            header = False
        else:
            reader = (csv.reader(f) if file_format == "csv"
                      else csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
            rows, header = _numbered(reader), True
        return _read_rows(rows, path, header, columns, names, skip_bad_lines)


def _numbered(reader):
    for row in reader:
        yield reader.line_num, row


def _json_rows(f, path):
    for number, line in enumerate(f, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{number}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        yield number, row


def _label_string(value):
    if isinstance(value, bool):
        return str(int(value))
    return str(value).strip()


def _distinct_labels(path, file_format, label):
    data = read_classification_file(path, text_a=label, label=None, file_format=file_format)
    names = sorted({_label_string(e.text_a) for e in data.examples})
    logging.info("%s: label names not given; using the %d distinct labels of the file: %s",
                 path, len(names), names)
    return tuple(names)


def _read_rows(rows, path, header, columns, label_names, skip_bad_lines):
    """Turns `(line number, row)` pairs into a `ClassificationData`."""
    name = os.path.basename(path)
    examples, skipped = [], []
    positions = None
    label_ids = {n: i for i, n in enumerate(label_names)} if label_names is not None else None
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
                label = _label_value(label, label_ids)
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
        elif column in stripped:
            positions.append(stripped.index(column))
        else:
            raise ValueError(f"{path}:1: no column {column!r} in the header {stripped}")
    return positions


def _cell(row, column, position):
    """The text of one column (`column` names it, `position` locates it)."""
    if column is None:
        return None
    if isinstance(row, dict):
        if column not in row or row[column] is None:
            raise ValueError(f"no key {column!r} in {sorted(row)}")
        value = row[column]
        return value if isinstance(value, str) else _label_string(value)
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
    key = _label_string(text)
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
