"""Transfer data: texts without labels, which the teacher labels during distillation.

A transfer file has one text per line, or two tab-separated texts for a task
of text pairs (MRPC-like). Its rows join the labelled training rows with
`labeled = 0`: they count in the soft loss only (the teacher's outputs on
them are the targets), never in the hard-label loss. For tagging, a line is
whitespace-separated words (the teacher tags each word's first piece).
SQuAD has no transfer data here: a question needs its context paragraph.
"""

import numpy as np

from tfbert.data import conll
from tfbert.data.classification import (
    ClassificationData,
    ClassificationExample,
    classification_features,
)
from tfbert.tasks.sentence_prediction import SentencePredictionTask
from tfbert.tasks.tagging import TaggingTask


def read_transfer_lines(path: str, pair: bool) -> list[tuple[int, str, str | None]]:
    """`(line number, text_a, text_b)` of each non-blank line of `path`.

    Raises:
        ValueError: a line with the wrong number of texts (naming file and line),
            or a file without any text.
    """
    rows = []
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) != (2 if pair else 1):
                want = "two tab-separated texts (the task reads pairs)" if pair else \
                    "one text without tabs (the task reads single texts)"
                raise ValueError(f"{path}:{number}: --transfer_data needs {want}; the line "
                                 f"has {len(parts)}")
            rows.append((number, parts[0], parts[1] if pair else None))
    if not rows:
        raise ValueError(f"--transfer_data={path} has no text")
    return rows


def transfer_features(task, path: str, seq_length: int, like: dict) -> dict:
    """The feature arrays of a transfer file, shaped as the task's labelled ones.

    Args:
        task: the student's fine-tuning task.
        path: the transfer file (see the module doc).
        seq_length: the padded length.
        like: the labelled training arrays: missing arrays (labels, label
            weights of the hard loss) are zeros of their shape and dtype.

    Returns:
        `{name: array}` with the keys of `like` plus `labeled` (zeros).
    """
    if isinstance(task, TaggingTask):
        rows = read_transfer_lines(path, pair=False)
        names = tuple(task.label_names)
        sentences = [conll.TaggedSentence(tuple(a.split()), (names[0],) * len(a.split()), n)
                     for n, a, _ in rows]
        arrays = conll.tagging_features(conll.TaggingData(sentences, names, path),
                                        task.tokenizer, seq_length).arrays
        # The words' first pieces: where the teacher's tags are the soft targets.
        arrays["label_weights"] = np.asarray(arrays["label_weights"], np.float32)
    elif isinstance(task, SentencePredictionTask):
        rows = read_transfer_lines(path, pair=task.pair)
        examples = [ClassificationExample(f"{path}:{n}", a, b, None) for n, a, b in rows]
        arrays = classification_features(ClassificationData(examples, None, path),
                                         task.tokenizer, seq_length)
    else:
        raise ValueError(f"--transfer_data is not supported for task {task.config.task}: it "
                         "reads single texts, text pairs (classification, regression, "
                         "multi-label) or words (tagging)")
    num = len(arrays["input_mask"])
    out = {}
    for name, array in like.items():
        if name in arrays and np.shape(arrays[name])[1:] == np.shape(array)[1:]:
            out[name] = np.asarray(arrays[name]).astype(np.asarray(array).dtype)
        else:
            out[name] = np.zeros((num, *np.shape(array)[1:]), np.asarray(array).dtype)
    out["labeled"] = np.zeros([num], np.float32)
    return out
