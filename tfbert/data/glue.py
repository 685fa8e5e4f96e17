"""Readers for GLUE in its original TSV files.

Every reader returns a `tfbert.data.classification.ClassificationData`: the
examples (texts and a label id, a float score for regression, or None for
unlabeled test files), the label names, and the lines it skipped; bad input
is an error that names the file and line (see `classification.read_rows`).
The user's own CSV/TSV/JSONL files are `tfbert.data.classification_files`.

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
import io
import os

from tfbert.data import classification, text_files


@dataclasses.dataclass(frozen=True)
class GlueTask:
    """Where a GLUE task keeps its texts and labels.

    Columns are header names, or 0-based positions for files without a
    header (CoLA train/dev). `label_names` None means regression.

    Example:

    >>> GLUE_TASKS["mrpc"].text_b, GLUE_TASKS["stsb"].label_names
    ('#2 String', None)
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
    f = io.StringIO(text_files.read_text(path), newline="")
    rows = classification.numbered(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return classification.read_rows(rows, path, header, columns, spec.label_names,
                                     skip_bad_lines)
