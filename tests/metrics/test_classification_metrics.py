"""GLUE metrics against scikit-learn and SciPy (test-time oracles only)."""

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from tfbert import metrics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 500)
    predictions = np.where(rng.random(500) < 0.7, labels, 1 - labels)
    assert metrics.accuracy(labels, predictions) == pytest.approx(
        skm.accuracy_score(labels, predictions), abs=1e-12)
    assert metrics.f1_score(labels, predictions) == pytest.approx(
        skm.f1_score(labels, predictions), abs=1e-12)
    assert metrics.matthews_corrcoef(labels, predictions) == pytest.approx(
        skm.matthews_corrcoef(labels, predictions), abs=1e-12)
    three = rng.integers(0, 3, 500)
    guess = np.where(rng.random(500) < 0.5, three, rng.integers(0, 3, 500))
    assert metrics.matthews_corrcoef(three, guess) == pytest.approx(
        skm.matthews_corrcoef(three, guess), abs=1e-12)


def test_correlations_match_scipy_with_ties():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 6, 300).astype(float)  # STS-B-like, many ties
    predictions = scores + rng.normal(0, 1.5, 300)
    predictions[:50] = np.round(predictions[:50])
    assert metrics.pearson(scores, predictions) == pytest.approx(
        stats.pearsonr(scores, predictions)[0], abs=1e-12)
    assert metrics.spearman(scores, predictions) == pytest.approx(
        stats.spearmanr(scores, predictions)[0], abs=1e-12)


def test_degenerate_cases():
    assert metrics.matthews_corrcoef([1, 1, 1], [1, 1, 1]) == 0.0
    assert metrics.f1_score([0, 0], [0, 0]) == 0.0
    assert metrics.pearson([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) == 0.0
    with pytest.raises(ValueError, match="empty"):
        metrics.accuracy([], [])
    with pytest.raises(ValueError, match="shapes"):
        metrics.accuracy([1, 0], [1])


def test_glue_metrics_names():
    assert set(metrics.glue_metrics("mrpc", [1, 0, 1], [1, 1, 1])) == {"f1", "accuracy"}
    assert set(metrics.glue_metrics("cola", [1, 0, 1], [1, 0, 0])) == {"matthews_corrcoef"}
    assert set(metrics.glue_metrics("stsb", [1.0, 2.0, 3.5], [1.1, 2.5, 3.0])) == {
        "pearson", "spearman"}
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        metrics.glue_metrics("nope", [1], [1])
