"""Multi-label metrics against scikit-learn, and thresholds against a brute-force search."""

import numpy as np
import pytest
from sklearn import metrics as sk

from tfbert.metrics.multilabel import multilabel_metrics, tune_thresholds

NAMES = ("PER", "ORG", "LOC", "MISC", "NEVER")


def _random_case(seed):
    rng = np.random.default_rng(seed)
    gold = (rng.random((200, 5)) < [0.3, 0.2, 0.4, 0.1, 0.0]).astype(int)
    noisy = np.where(rng.random(gold.shape) < 0.2, 1 - gold, gold)
    noisy[:, 3] = 0  # a label never predicted: precision and F1 0 (zero_division=0)
    return gold, noisy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_scikit_learn(seed):
    gold, predicted = _random_case(seed)
    scores = multilabel_metrics(gold, predicted, NAMES)
    for average in ("micro", "macro"):
        p, r, f, _ = sk.precision_recall_fscore_support(gold, predicted, average=average,
                                                        zero_division=0)
        assert scores[f"{average}_precision"] == pytest.approx(p, abs=1e-12)
        assert scores[f"{average}_recall"] == pytest.approx(r, abs=1e-12)
        assert scores[f"{average}_f1"] == pytest.approx(f, abs=1e-12)
    p, r, f, _ = sk.precision_recall_fscore_support(gold, predicted, zero_division=0)
    for k, name in enumerate(NAMES):
        assert scores[f"precision/{name}"] == pytest.approx(p[k], abs=1e-12)
        assert scores[f"recall/{name}"] == pytest.approx(r[k], abs=1e-12)
        assert scores[f"f1/{name}"] == pytest.approx(f[k], abs=1e-12)
    assert scores["subset_accuracy"] == pytest.approx(sk.accuracy_score(gold, predicted))


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"must be \[examples, 5\]"):
        multilabel_metrics(np.zeros((3, 4)), np.zeros((3, 4)), NAMES)


def _f1(gold, predicted):
    return sk.f1_score(gold, predicted, zero_division=0)


@pytest.mark.parametrize("seed", [0, 1])
def test_per_label_thresholds_reach_the_best_f1_of_any_threshold(seed):
    rng = np.random.default_rng(seed)
    gold = (rng.random((300, 4)) < 0.3).astype(int)
    probabilities = np.clip(gold * 0.3 + rng.random(gold.shape) * 0.7, 0, 1)
    thresholds = tune_thresholds(gold, probabilities)
    grid = np.unique(probabilities)
    for k in range(4):
        best = max(_f1(gold[:, k], probabilities[:, k] > t) for t in np.append(grid, -1.0))
        assert _f1(gold[:, k], probabilities[:, k] > thresholds[k]) == pytest.approx(best)
        assert thresholds[k] != 0.5  # tuned, not the default


def test_global_threshold_maximises_micro_f1():
    rng = np.random.default_rng(3)
    gold = (rng.random((300, 3)) < 0.3).astype(int)
    probabilities = np.clip(gold * 0.4 + rng.random(gold.shape) * 0.6, 0, 1)
    thresholds = tune_thresholds(gold, probabilities, "global")
    assert len(set(thresholds)) == 1

    def micro(t):
        return sk.f1_score(gold, probabilities > t, average="micro", zero_division=0)

    best = max(micro(t) for t in np.unique(probabilities))
    assert micro(thresholds[0]) == pytest.approx(best)


def test_a_label_without_positives_keeps_the_neutral_threshold():
    gold = np.array([[1, 0], [0, 0], [1, 0]])
    thresholds = tune_thresholds(gold, np.array([[0.9, 0.7], [0.2, 0.1], [0.6, 0.3]]))
    assert thresholds[1] == 0.5 and 0.2 < thresholds[0] < 0.6
    with pytest.raises(ValueError, match="per_label' or 'global'"):
        tune_thresholds(gold, gold, "best")
