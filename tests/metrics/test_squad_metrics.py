"""The SQuAD evaluators: the official v1.1 numbers on real data, and the
v2.0 rules (no-answer questions, thresholds) on small hand-checked sets."""

import json

import pytest

from tfbert import metrics
from tfbert.metrics import squad as squad_metrics


def test_v1_official_numbers_on_real_predictions(shared_data):
    dataset = json.loads((shared_data / "squad" / "dev-v1.1-articles-00-23.json").read_text())
    predictions = json.loads(
        (shared_data / "squad" / "predictions-v1.1-BERT-ensemble-GoogleAI.json").read_text())
    result = metrics.evaluate_v1(dataset, predictions)
    assert f"{result['exact_match']:.4f}" == "86.3237"
    assert f"{result['f1']:.4f}" == "92.3098"
    assert result["total"] == 5696 and result["missing"] == 0
    # Answerable-only data: v2.0 gives the same numbers.
    v2 = metrics.evaluate_v2(dataset, predictions)
    assert v2["exact"] == pytest.approx(result["exact_match"])
    assert v2["f1"] == pytest.approx(result["f1"])


def test_normalization_and_token_f1():
    assert metrics.normalize_answer("The  Denver, Broncos!") == "denver broncos"
    assert metrics.normalize_answer("an apple a day") == "apple day"
    assert squad_metrics.token_f1("Denver Broncos", "the Denver Broncos team") == pytest.approx(0.8)
    assert squad_metrics.token_f1("", "") == 1.0
    assert squad_metrics.token_f1("", "x") == 0.0


def _v2_dataset():
    qas = [
        {"id": "a1", "answers": [{"text": "Paris"}, {"text": "the city of Paris"}]},
        {"id": "a2", "answers": [{"text": "42"}]},
        {"id": "n1", "answers": [], "is_impossible": True},
        {"id": "n2", "answers": [], "is_impossible": True},
    ]
    return {"version": "v2.0", "data": [{"paragraphs": [{"qas": qas}]}]}


def test_v2_breakdown_and_missing_predictions():
    predictions = {"a1": "city of Paris", "a2": "41", "n1": "", "n2": "something"}
    result = metrics.evaluate_v2(_v2_dataset(), predictions)
    # exact: a1 1, a2 0, n1 1, n2 0 -> 50%; f1: a1 1, a2 0, n1 1, n2 0.
    assert result["exact"] == 50.0 and result["f1"] == 50.0
    assert result["HasAns_total"] == 2 and result["NoAns_total"] == 2
    assert result["HasAns_exact"] == 50.0 and result["NoAns_exact"] == 50.0
    missing = metrics.evaluate_v2(_v2_dataset(), {"a1": "Paris"})
    assert missing["missing"] == 3 and missing["total"] == 4
    assert missing["exact"] == 75.0  # a1 right, a2 wrong, n1 and n2 "" right


def test_v2_thresholds():
    predictions = {"a1": "Paris", "a2": "41", "n1": "x", "n2": "y"}
    na_probs = {"a1": 0.1, "a2": 0.6, "n1": 0.8, "n2": 0.9}
    plain = metrics.evaluate_v2(_v2_dataset(), predictions, na_probs)
    assert plain["exact"] == 25.0  # threshold 1.0: nothing turned into ""
    # Sorted by na_prob: a1 (+1), a2 (+0), n1 (-1 -> 1 of 2 no-ans... ) - the
    # official search starts from "all empty" (2 right) and adds each question.
    # After a1: 3 right (best, threshold 0.1); a2: 3; n1: 2; n2: 1.
    assert plain["best_exact"] == 75.0 and plain["best_exact_thresh"] == 0.1
    cut = metrics.evaluate_v2(_v2_dataset(), predictions, na_probs, na_prob_threshold=0.5)
    assert cut["exact"] == 75.0 and cut["NoAns_exact"] == 100.0
