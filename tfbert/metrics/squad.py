"""The official SQuAD v1.1 and v2.0 metrics (exact match and F1).

These follow the official `evaluate-v1.1.py` and `evaluate-v2.0.py`
scripts: the same answer normalisation (lower case, no punctuation, no
articles, single spaces), the same token F1, the maximum over the gold
answers, and percentages over all questions of the data set.

One deliberate difference from `evaluate-v2.0.py`: a question without a
prediction counts as answered with "" (the official v2 script skips it,
which changes the denominator); both evaluators report how many were
missing under `missing`.

Example:

>>> dataset = [{"paragraphs": [{"qas": [
...     {"id": "q1", "answers": [{"text": "the Denver Broncos"}]},
...     {"id": "q2", "answers": [{"text": "Santa Clara"}]}]}]}]
>>> evaluate_v1(dataset, {"q1": "Denver Broncos", "q2": "Santa Clara, California"})
{'exact_match': 50.0, 'f1': 90.0, 'total': 2, 'missing': 0}
"""

import collections
import re
import string

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text):
    """Lower case, remove punctuation, articles and extra whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction, gold):
    """1.0 if the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction, gold):
    """F1 over the normalised tokens. Two empty answers score 1.0 (v2.0 rule);
    one empty answer scores 0.0."""
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _questions(dataset):
    """Yields every question dict of a SQuAD `data` list (or the whole JSON)."""
    if isinstance(dataset, dict):
        dataset = dataset["data"]
    for article in dataset:
        for paragraph in article["paragraphs"]:
            yield from paragraph["qas"]


def evaluate_v1(dataset, predictions):
    """The official SQuAD v1.1 scores.

    Args:
        dataset: the `data` list of a SQuAD JSON file (or the whole JSON dict).
        predictions: `{question id: answer text}`; questions without one
            score 0 (as in the official script).

    Returns:
        `{"exact_match", "f1"}` in percent, plus `total` and `missing` counts.
    """
    exact = f1 = 0.0
    total = missing = 0
    for qa in _questions(dataset):
        total += 1
        if qa["id"] not in predictions:
            missing += 1
            continue
        golds = [answer["text"] for answer in qa["answers"]]
        prediction = predictions[qa["id"]]
        exact += max(exact_match(prediction, gold) for gold in golds)
        f1 += max(_v1_f1(prediction, gold) for gold in golds)
    if total == 0:
        raise ValueError("the SQuAD data set has no questions.")
    return {"exact_match": 100.0 * exact / total, "f1": 100.0 * f1 / total,
            "total": total, "missing": missing}


def _v1_f1(prediction, gold):
    # v1.1 has no rule for empty answers: an empty side scores 0.
    if not normalize_answer(prediction).split() or not normalize_answer(gold).split():
        return 0.0
    return token_f1(prediction, gold)


def _best_threshold(predictions, scores, na_probs, has_answer):
    """The `find_best_thresh` search of evaluate-v2.0.py: the score (in percent)
    and the no-answer probability threshold that maximise it."""
    current = best = sum(1 for qid in scores if not has_answer[qid])
    threshold = 0.0
    for qid in sorted(scores, key=lambda q: na_probs[q]):
        if has_answer[qid]:
            current += scores[qid]
        elif predictions.get(qid, ""):
            current -= 1
        if current > best:
            best, threshold = current, na_probs[qid]
    return 100.0 * best / len(scores), threshold


def evaluate_v2(dataset, predictions, na_probs=None, na_prob_threshold=1.0):
    """The official SQuAD v2.0 scores.

    Args:
        dataset: the `data` list of a SQuAD v2.0 JSON file (or the whole dict).
        predictions: `{question id: answer text}`, "" for no answer.
        na_probs: optional `{question id: no-answer score}` (the
            `null_odds.json` written by post-processing); with it the result
            also has `best_exact`, `best_exact_thresh`, `best_f1`,
            `best_f1_thresh`.
        na_prob_threshold: a question whose no-answer score is above this is
            predicted unanswerable (the official `--na-prob-thresh`).

    Returns:
        `exact`, `f1`, `total`, `missing` and the `HasAns_*` / `NoAns_*`
        breakdowns (when such questions exist), percentages.
    """
    exact, f1, has_answer = {}, {}, {}
    missing = 0
    for qa in _questions(dataset):
        qid = qa["id"]
        golds = [a["text"] for a in qa["answers"] if normalize_answer(a["text"])] or [""]
        has_answer[qid] = golds != [""]
        if qid not in predictions:
            missing += 1
        prediction = predictions.get(qid, "")
        exact[qid] = max(exact_match(prediction, gold) for gold in golds)
        f1[qid] = max(token_f1(prediction, gold) for gold in golds)
    if not exact:
        raise ValueError("the SQuAD data set has no questions.")
    probs = {qid: float((na_probs or {}).get(qid, 0.0)) for qid in exact}

    def thresholded(scores):
        return {qid: float(not has_answer[qid]) if probs[qid] > na_prob_threshold else value
                for qid, value in scores.items()}

    exact_t, f1_t = thresholded(exact), thresholded(f1)
    result = {"exact": _percent(exact_t), "f1": _percent(f1_t), "total": len(exact),
              "missing": missing}
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        qids = [qid for qid in exact if has_answer[qid] == wanted]
        if qids:
            result[f"{prefix}_exact"] = _percent(exact_t, qids)
            result[f"{prefix}_f1"] = _percent(f1_t, qids)
            result[f"{prefix}_total"] = len(qids)
    if na_probs is not None:
        result["best_exact"], result["best_exact_thresh"] = _best_threshold(
            predictions, exact, probs, has_answer)
        result["best_f1"], result["best_f1_thresh"] = _best_threshold(
            predictions, f1, probs, has_answer)
    return result


def _percent(scores, qids=None):
    qids = list(scores) if qids is None else qids
    return 100.0 * sum(scores[qid] for qid in qids) / len(qids)
