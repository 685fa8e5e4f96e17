"""Multi-label metrics and decision thresholds, in numpy.

Precision, recall and F1 are scikit-learn's (`average="micro"` / `"macro"`,
`zero_division=0`): a label never predicted has precision 0, a label never
gold has recall 0, and both make its F1 0. Subset accuracy is the share of
examples whose predicted set equals the gold set exactly.

Thresholds are tuned to maximise F1 on the data given (the dev set): per
label (each label's own F1), or one global threshold (micro-F1). The
candidates are the midpoints between consecutive distinct probabilities,
which reach every distinct prediction, and 0.5; ties keep the candidate
nearest 0.5 so that a flat stretch does not drift to an extreme.

Example:

>>> import numpy as np
>>> gold = np.array([[1, 0], [0, 1], [1, 1]])
>>> scores = multilabel_metrics(gold, np.array([[1, 0], [0, 0], [1, 1]]), ("a", "b"))
>>> round(scores["micro_f1"], 4), scores["subset_accuracy"], scores["recall/b"]
(0.8571, 0.6666666666666666, 0.5)
"""

import numpy as np


def _ratio(numerator, denominator):
    return np.where(denominator > 0, numerator / np.maximum(denominator, 1), 0.0)


def counts(gold, predicted):
    """Per-label true positives, predicted positives and gold positives, `[labels]` each."""
    gold, predicted = np.asarray(gold, bool), np.asarray(predicted, bool)
    return ((gold & predicted).sum(0), predicted.sum(0), gold.sum(0))


def f1_from_counts(true_pos, predicted, gold):
    """F1 = 2 TP / (predicted + gold positives), 0 where both are 0."""
    return _ratio(2.0 * np.asarray(true_pos, np.float64), np.asarray(predicted + gold))


def multilabel_metrics(gold, predicted, label_names):
    """Micro/macro precision, recall, F1, subset accuracy and per-label scores.

    Args:
        gold: 0/1 `[N, labels]`.
        predicted: 0/1 `[N, labels]`.
        label_names: the labels, in column order (keys `f1/<name>`, ...).

    Returns:
        `{name: float}`: `micro_precision`, `micro_recall`, `micro_f1`,
        `macro_precision`, `macro_recall`, `macro_f1`, `subset_accuracy`,
        and `precision/<label>`, `recall/<label>`, `f1/<label>`.
    """
    gold, predicted = np.asarray(gold, bool), np.asarray(predicted, bool)
    if gold.shape != predicted.shape or gold.ndim != 2 or gold.shape[1] != len(label_names):
        raise ValueError(f"gold {gold.shape} and predicted {predicted.shape} must be "
                         f"[examples, {len(label_names)}]")
    true_pos, pred_pos, gold_pos = counts(gold, predicted)
    precision = _ratio(true_pos.astype(np.float64), pred_pos)
    recall = _ratio(true_pos.astype(np.float64), gold_pos)
    f1 = f1_from_counts(true_pos, pred_pos, gold_pos)
    tp, pp, gp = true_pos.sum(), pred_pos.sum(), gold_pos.sum()
    scores = {
        "micro_precision": float(_ratio(float(tp), pp)),
        "micro_recall": float(_ratio(float(tp), gp)),
        "micro_f1": float(f1_from_counts(tp, pp, gp)),
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
        "subset_accuracy": float(np.all(gold == predicted, axis=1).mean()),
    }
    for name, p, r, f in zip(label_names, precision, recall, f1, strict=True):
        scores.update({f"precision/{name}": float(p), f"recall/{name}": float(r),
                       f"f1/{name}": float(f)})
    return scores


def _candidates(probabilities):
    values = np.unique(probabilities)
    return np.unique(np.concatenate([(values[1:] + values[:-1]) / 2.0, [0.5]]))


def _best(candidates, f1):
    """The candidate of the highest F1; among equals the one nearest 0.5."""
    best = np.flatnonzero(f1 >= f1.max() - 1e-12)
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


def _label_f1(gold, probabilities, candidates):
    """F1 of one label at each candidate threshold (predicted: probability > t)."""
    order = np.argsort(probabilities)
    p, g = probabilities[order], gold[order].astype(np.int64)
    # Examples above each candidate: the tail after searchsorted(side="right").
    start = np.searchsorted(p, candidates, side="right")
    gold_after = np.concatenate([np.cumsum(g[::-1])[::-1], [0]])
    true_pos = gold_after[start]
    predicted = len(p) - start
    return true_pos, predicted, g.sum()


def tune_thresholds(gold, probabilities, mode="per_label"):
    """Decision thresholds that maximise F1 on `(gold, probabilities)`.

    A label is predicted when its probability is greater than its threshold.

    Args:
        gold: 0/1 `[N, labels]`.
        probabilities: float `[N, labels]` (sigmoid outputs).
        mode: `per_label` (each label's F1) or `global` (one threshold, micro-F1).

    Returns:
        float64 `[labels]` thresholds (all equal for `global`).

    Example:

    >>> tune_thresholds(np.array([[1], [0], [1]]), np.array([[0.3], [0.1], [0.9]]))
    array([0.2])
    """
    gold = np.asarray(gold, bool)
    probabilities = np.asarray(probabilities, np.float64)
    labels = gold.shape[1]
    if mode == "global":
        candidates = _candidates(probabilities)
        true_pos = predicted = gold_total = 0
        for k in range(labels):
            tp, pp, gp = _label_f1(gold[:, k], probabilities[:, k], candidates)
            true_pos, predicted, gold_total = true_pos + tp, predicted + pp, gold_total + gp
        return np.full([labels], _best(candidates, f1_from_counts(true_pos, predicted,
                                                                  gold_total)))
    if mode != "per_label":
        raise ValueError(f"threshold mode must be 'per_label' or 'global'; got {mode!r}")
    thresholds = np.full([labels], 0.5)
    for k in range(labels):
        if not gold[:, k].any():  # no positive to tune on: keep the neutral threshold
            continue
        candidates = _candidates(probabilities[:, k])
        thresholds[k] = _best(candidates, f1_from_counts(
            *_label_f1(gold[:, k], probabilities[:, k], candidates)))
    return thresholds
