"""Entity-level NER scores: agreement with seqeval on the real CoNLL-2003
data, with predictions that make every kind of boundary mistake."""

import numpy as np
import pytest

from tfbert import metrics
from tfbert.data import conll

seqeval_metrics = pytest.importorskip("seqeval.metrics", reason="pip install seqeval (test extra)")


def _corrupt(sentences, rng, rate):
    """Random tag changes: wrong types, I- without B-, dropped and extra tags."""
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
    out = []
    for sentence in sentences:
        new = [t if rng.random() > rate else tags[rng.integers(len(tags))] for t in sentence]
        out.append(new)
    return out


@pytest.mark.parametrize("scheme", ["iob2", "iob1"])
def test_entity_scores_agree_with_seqeval(shared_data, scheme):
    data = conll.read_conll(shared_data / "conll2003" / "valid.txt")
    gold = [list(s.tags) for s in data.sentences]
    if scheme == "iob1":  # the original CoNLL-2003 tagging: B- only between equal types
        gold = [_to_iob1(s) for s in gold]
    predicted = _corrupt(gold, np.random.default_rng(0), 0.1)
    ours = metrics.entity_scores(gold, predicted)
    assert ours["precision"] == pytest.approx(seqeval_metrics.precision_score(gold, predicted))
    assert ours["recall"] == pytest.approx(seqeval_metrics.recall_score(gold, predicted))
    assert ours["f1"] == pytest.approx(seqeval_metrics.f1_score(gold, predicted))
    assert 0.3 < ours["f1"] < 0.95  # the corruption made real mistakes
    report = seqeval_metrics.classification_report(gold, predicted, output_dict=True)
    for kind, scores in ours["per_type"].items():
        assert scores["f1"] == pytest.approx(report[kind]["f1-score"])
        assert scores["support"] == report[kind]["support"]


def _to_iob1(tags):
    out, prev = [], "O"
    for tag in tags:
        if tag.startswith("B-") and prev[2:] != tag[2:]:
            tag = "I-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def test_chunk_rules():
    assert metrics.get_entities(["B-PER", "I-PER", "I-LOC", "O", "I-ORG"]) == [
        ("PER", 0, 1), ("LOC", 2, 2), ("ORG", 4, 4)]
    assert metrics.get_entities(["S-PER", "B-LOC", "E-LOC", "O"]) == [
        ("PER", 0, 0), ("LOC", 1, 2)]
    perfect = metrics.entity_scores([["B-PER", "O"]], [["B-PER", "O"]])
    assert perfect["f1"] == 1.0 and perfect["token_accuracy"] == 1.0
    with pytest.raises(ValueError, match="sentence 0: 2 gold tags but 1 predicted"):
        metrics.entity_scores([["O", "O"]], [["O"]])
