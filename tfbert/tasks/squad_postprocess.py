"""SQuAD post-processing: from start/end logits to answers, n-best lists and
no-answer scores, as the original `run_squad.py` writes them.

For each question, every window proposes the `n_best_size` best start and
end positions; a (start, end) pair is kept when both are context pieces,
the start piece has its maximal context in this window, `end >= start` and
the answer is at most `max_answer_length` pieces long. Candidates are ranked
by `start_logit + end_logit`; the answer text is the context from the start
piece's first character to the end piece's last. With SQuAD v2.0 the null
answer scores `start_logits[0] + end_logits[0]` (the lowest over the
question's windows); the prediction is "" when that score exceeds the best
answer's by more than `null_score_diff_threshold`, and `null_odds.json`
holds the difference (tune the threshold on it with `evaluate_v2`'s
`best_f1_thresh`).

Example:

>>> from tfbert.data import squad
>>> from tfbert.text import BertTokenizer
>>> tokenizer = BertTokenizer(vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
...                                       "who", "won", "?", "denver", "did", "."])
>>> data = squad.parse_squad({"data": [{"paragraphs": [{"context": "Denver did.",
...     "qas": [{"id": "q1", "question": "Who won?"}]}]}]}, is_training=False)
>>> features = squad.squad_features(data, tokenizer, seq_length=12, max_query_length=4)
>>> start_logits, end_logits = np.zeros(12), np.zeros(12)
>>> start_logits[5] = end_logits[5] = 3.0  # [CLS] who won ? [SEP] denver did . [SEP]
>>> predictions, nbest, null_odds = postprocess(data, features, [(start_logits, end_logits)])
>>> predictions
{'q1': 'Denver'}
"""

import collections
import json
import os

import numpy as np

Candidate = collections.namedtuple("Candidate", ["text", "start_logit", "end_logit"])


def _top(logits, count):
    """Indices of the `count` largest logits, largest first (stable on ties)."""
    return np.argsort(-np.asarray(logits), kind="stable")[:count]


def _softmax(scores):
    scores = np.asarray(scores, np.float64)
    exp = np.exp(scores - scores.max())
    return exp / exp.sum()


def _candidates(features, feature, start_logits, end_logits, n_best_size, max_answer_length):
    """`[(score, start_char, end_char, start_logit, end_logit)]` of one window."""
    example = features.example_index[feature]
    pieces = features.context_pieces(feature)
    chars = features.piece_chars[example]
    best_window = features.best_window[example]
    window = features.window_index[feature]
    length = min(len(start_logits), len(pieces))
    out = []
    for start in _top(start_logits[:length], n_best_size):
        first = pieces[start]
        if first < 0 or best_window[first] != window:
            continue
        for end in _top(end_logits[:length], n_best_size):
            last = pieces[end]
            if last < 0 or end < start or end - start + 1 > max_answer_length:
                continue
            out.append((float(start_logits[start]) + float(end_logits[end]),
                        int(chars[first, 0]), int(chars[last, 1]),
                        float(start_logits[start]), float(end_logits[end])))
    return out


def postprocess(data, features, results, n_best_size=20, max_answer_length=30,
                version_2_with_negative=False, null_score_diff_threshold=0.0):
    """Answers from the model's logits.

    Args:
        data: the `tfbert.data.squad.SquadData` the features were made from.
        features: its `tfbert.data.squad.SquadFeatures`.
        results: `{unique_id: (start_logits, end_logits)}` (1-D arrays over
            the window's positions; padding positions may be cut off), or a
            sequence of such pairs in feature order.
        n_best_size: candidates kept per question (and starts/ends tried per window).
        max_answer_length: the longest answer, in word pieces.
        version_2_with_negative: SQuAD v2.0: consider the null answer.
        null_score_diff_threshold: predict "" when null score - best score
            is above this.

    Returns:
        `(predictions, nbest, null_odds)`: `{qid: text}`,
        `{qid: [{"text", "probability", "start_logit", "end_logit"}]}`, and
        `{qid: null score - best non-null score}` (empty unless v2.0).
    """
    unique_ids = features.arrays["unique_ids"]
    if isinstance(results, dict):
        missing = [int(u) for u in unique_ids if int(u) not in results]
        if missing:
            raise ValueError(f"no logits for {len(missing)} of {len(unique_ids)} windows "
                             f"(unique ids {missing[:5]}...)")
        results = [results[int(u)] for u in unique_ids]
    elif len(results) != len(unique_ids):
        raise ValueError(f"{len(results)} results for {len(unique_ids)} windows.")

    by_example = collections.defaultdict(list)
    for feature, example in enumerate(features.example_index):
        by_example[int(example)].append(feature)

    predictions, nbest_json, null_odds = {}, {}, {}
    for example_index, example in enumerate(data.examples):
        scored, null_score, null_logits = [], None, (0.0, 0.0)
        for feature in by_example.get(example_index, ()):
            start_logits, end_logits = (np.asarray(x, np.float64) for x in results[feature])
            if version_2_with_negative:
                score = start_logits[0] + end_logits[0]
                if null_score is None or score < null_score:
                    null_score, null_logits = score, (start_logits[0], end_logits[0])
            scored += _candidates(features, feature, start_logits, end_logits, n_best_size,
                                  max_answer_length)
        scored.sort(key=lambda c: c[0], reverse=True)
        nbest, seen = [], set()
        for _, begin, end, start_logit, end_logit in scored:
            if len(nbest) >= n_best_size:
                break
            text = example.context[begin:end]
            if text in seen:
                continue
            seen.add(text)
            nbest.append(Candidate(text, start_logit, end_logit))
        if version_2_with_negative and "" not in seen and null_score is not None:
            nbest.append(Candidate("", float(null_logits[0]), float(null_logits[1])))
        if not any(c.text for c in nbest):
            # No valid span at all (rare): the original predicts this placeholder.
            nbest.insert(0, Candidate("empty", 0.0, 0.0))
        nbest.sort(key=lambda c: c.start_logit + c.end_logit, reverse=True)
        probs = _softmax([c.start_logit + c.end_logit for c in nbest])
        nbest_json[example.qid] = [
            {"text": c.text, "probability": float(p), "start_logit": c.start_logit,
             "end_logit": c.end_logit} for c, p in zip(nbest, probs, strict=True)]
        best = next(c for c in nbest if c.text)
        if version_2_with_negative:
            diff = float(null_score - best.start_logit - best.end_logit)
            null_odds[example.qid] = diff
            predictions[example.qid] = "" if diff > null_score_diff_threshold else best.text
        else:
            predictions[example.qid] = best.text
    return predictions, nbest_json, null_odds


def write_json(value, path):
    """Writes JSON to a temporary name, then renames: never a half-written file."""
    temp = f"{path}.tmp-{os.getpid()}"
    with open(temp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(temp, path)


def write_predictions(output_dir, predictions, nbest, null_odds=None):
    """Writes `predictions.json`, `nbest_predictions.json` and, for v2.0,
    `null_odds.json` into `output_dir`; returns their paths."""
    os.makedirs(output_dir, exist_ok=True)
    paths = {"predictions": os.path.join(output_dir, "predictions.json"),
             "nbest_predictions": os.path.join(output_dir, "nbest_predictions.json")}
    write_json(predictions, paths["predictions"])
    write_json(nbest, paths["nbest_predictions"])
    if null_odds:
        paths["null_odds"] = os.path.join(output_dir, "null_odds.json")
        write_json(null_odds, paths["null_odds"])
    return paths
