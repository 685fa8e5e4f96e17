"""Classification and regression metrics of GLUE, in plain numpy.

Each function takes label and prediction sequences of the same length
(lists or arrays) and returns a Python float. The GLUE task metrics are
collected in `glue_metrics`.

Example:

>>> accuracy([1, 0, 1, 1], [1, 0, 0, 1])
0.75
>>> round(f1_score([1, 0, 1, 1], [1, 0, 0, 1]), 4)
0.8
"""

import numpy as np


def _pair(labels, predictions):
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape or labels.ndim != 1:
        raise ValueError(f"labels and predictions must be 1-D and alike; got shapes "
                         f"{labels.shape} and {predictions.shape}.")
    if labels.size == 0:
        raise ValueError("no examples to score (empty labels and predictions).")
    return labels, predictions


def accuracy(labels, predictions):
    """Fraction of predictions equal to the label."""
    labels, predictions = _pair(labels, predictions)
    return float(np.mean(labels == predictions))


def f1_score(labels, predictions, positive_label=1):
    """F1 of the positive class (GLUE's F1 for MRPC and QQP); 0.0 when no
    true or predicted positives."""
    labels, predictions = _pair(labels, predictions)
    true_pos = np.sum((predictions == positive_label) & (labels == positive_label))
    pred_pos = np.sum(predictions == positive_label)
    real_pos = np.sum(labels == positive_label)
    if true_pos == 0:
        return 0.0
    precision, recall = true_pos / pred_pos, true_pos / real_pos
    return float(2 * precision * recall / (precision + recall))


def matthews_corrcoef(labels, predictions):
    """Matthews correlation (CoLA), multi-class form; 0.0 when undefined."""
    labels, predictions = _pair(labels, predictions)
    classes, index = np.unique(np.concatenate([labels, predictions]), return_inverse=True)
    true_idx, pred_idx = index[:labels.size], index[labels.size:]
    confusion = np.zeros((len(classes), len(classes)), np.float64)
    np.add.at(confusion, (true_idx, pred_idx), 1.0)
    true_sums, pred_sums = confusion.sum(axis=1), confusion.sum(axis=0)
    correct, total = np.trace(confusion), confusion.sum()
    numerator = correct * total - np.dot(true_sums, pred_sums)
    denominator = np.sqrt((total**2 - np.dot(pred_sums, pred_sums))
                          * (total**2 - np.dot(true_sums, true_sums)))
    return 0.0 if denominator == 0 else float(numerator / denominator)


def pearson(labels, predictions):
    """Pearson correlation (STS-B); 0.0 when a side is constant."""
    x, y = (a.astype(np.float64) for a in _pair(labels, predictions))
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt(np.dot(x, x) * np.dot(y, y))
    return 0.0 if denominator == 0 else float(np.dot(x, y) / denominator)


def _average_ranks(values):
    """Ranks from 1, ties sharing their average rank (as scipy's rankdata)."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), np.float64)
    # Runs of equal values share the mean of the positions they cover.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return ranks


def spearman(labels, predictions):
    """Spearman rank correlation (STS-B), ties averaged."""
    labels, predictions = _pair(labels, predictions)
    return pearson(_average_ranks(labels.astype(np.float64)),
                   _average_ranks(predictions.astype(np.float64)))


# The metrics GLUE reports for each task (the first one is the task's headline).
GLUE_METRICS = {
    "cola": ("matthews_corrcoef",),
    "sst2": ("accuracy",),
    "mrpc": ("f1", "accuracy"),
    "stsb": ("pearson", "spearman"),
    "qqp": ("f1", "accuracy"),
    "mnli": ("accuracy",),
    "mnli_matched": ("accuracy",),
    "mnli_mismatched": ("accuracy",),
    "qnli": ("accuracy",),
    "rte": ("accuracy",),
    "wnli": ("accuracy",),
}

_FUNCTIONS = {"accuracy": accuracy, "f1": f1_score, "matthews_corrcoef": matthews_corrcoef,
              "pearson": pearson, "spearman": spearman}


def glue_metrics(task, labels, predictions):
    """`{metric name: value}` for a GLUE task.

    Args:
        task: a GLUE task name (`cola`, `sst2`, `mrpc`, `stsb`, `qqp`, `mnli`,
            `mnli_matched`, `mnli_mismatched`, `qnli`, `rte`, `wnli`), or
            `classification` (accuracy) / `regression` (Pearson, Spearman)
            for the user's own data.
        labels: the label ids (floats for STS-B / regression).
        predictions: the predicted ids (argmax of the logits) or scores.
    """
    return {name: _FUNCTIONS[name](labels, predictions) for name in glue_metric_names(task)}


def glue_metric_names(task):
    """The names of `glue_metrics(task, ...)`, headline first (see `glue_metrics`)."""
    names = {**GLUE_METRICS, "classification": ("accuracy",),
             "regression": ("pearson", "spearman")}.get(task)
    if names is None:
        raise ValueError(f"unknown task {task!r} for glue_metrics; known: "
                         f"{sorted(GLUE_METRICS) + ['classification', 'regression']}")
    return names
