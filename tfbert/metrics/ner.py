"""Entity-level precision, recall and F1, as `conlleval` and `seqeval` compute them.

An entity (a "chunk") is a maximal run of tags of one type, found with the
chunk boundary rules of the CoNLL-2000 `conlleval` script, which accept
IOB1, IOB2 (BIO), IOE and IOBES tags alike. A predicted entity is correct
when a gold entity has the same type, start and end. Sentences are scored
separately (an entity never crosses a sentence boundary); precision, recall
and F1 are micro-averaged over all entities, and also given per type.

Example:

>>> gold = [["B-PER", "I-PER", "O", "B-LOC"]]
>>> pred = [["B-PER", "I-PER", "O", "B-ORG"]]
>>> scores = entity_scores(gold, pred)
>>> scores["precision"], scores["recall"], scores["f1"]
(0.5, 0.5, 0.5)
>>> get_entities(["I-PER", "I-PER", "B-PER", "O"])
[('PER', 0, 1), ('PER', 2, 2)]
"""

import collections


def _split(tag):
    """"B-PER" -> ("B", "PER"); "O" -> ("O", "")."""
    if tag in ("O", ""):
        return "O", ""
    prefix, _, kind = tag.partition("-")
    return prefix, kind or "_"


def _ends(prev_prefix, prefix, prev_kind, kind):
    """Whether the chunk before this tag ended at the previous token."""
    if prev_prefix in ("E", "S"):
        return True
    if prev_prefix in ("B", "I") and prefix in ("B", "S", "O"):
        return True
    return prev_prefix != "O" and prev_kind != kind


def _starts(prev_prefix, prefix, prev_kind, kind):
    """Whether a chunk starts at this tag."""
    if prefix in ("B", "S"):
        return True
    if prefix in ("E", "I") and prev_prefix in ("E", "S", "O"):
        return True
    return prefix != "O" and prev_kind != kind


def get_entities(tags):
    """`[(type, first, last)]` of the entities in one sentence's tags (inclusive)."""
    entities, begin = [], 0
    prev_prefix, prev_kind = "O", ""
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = _split(tag)
        if _ends(prev_prefix, prefix, prev_kind, kind):
            entities.append((prev_kind, begin, i - 1))
        if _starts(prev_prefix, prefix, prev_kind, kind):
            begin = i
        prev_prefix, prev_kind = prefix, kind
    return entities


def _prf(correct, predicted, gold):
    precision = correct / predicted if predicted else 0.0
    recall = correct / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def entity_scores(gold_tags, predicted_tags):
    """Micro and per-type entity precision/recall/F1.

    Args:
        gold_tags: list of sentences, each a list of tag strings.
        predicted_tags: the predicted tags, same shape.

    Returns:
        `{"precision", "recall", "f1", "per_type": {type: {"precision",
        "recall", "f1", "support"}}, "token_accuracy"}` (fractions in [0, 1]).
    """
    if len(gold_tags) != len(predicted_tags):
        raise ValueError(f"{len(gold_tags)} gold sentences but {len(predicted_tags)} predicted.")
    counts = collections.defaultdict(lambda: [0, 0, 0])  # type -> [correct, predicted, gold]
    right_tokens = tokens = 0
    for index, (gold, pred) in enumerate(zip(gold_tags, predicted_tags, strict=True)):
        if len(gold) != len(pred):
            raise ValueError(f"sentence {index}: {len(gold)} gold tags but {len(pred)} predicted.")
        gold_set, pred_set = set(get_entities(gold)), set(get_entities(pred))
        for kind, _, _ in gold_set:
            counts[kind][2] += 1
        for entity in pred_set:
            counts[entity[0]][1] += 1
            counts[entity[0]][0] += entity in gold_set
        right_tokens += sum(g == p for g, p in zip(gold, pred, strict=True))
        tokens += len(gold)
    totals = [sum(c[i] for c in counts.values()) for i in range(3)]
    precision, recall, f1 = _prf(*totals)
    per_type = {}
    for kind in sorted(counts):
        p, r, f = _prf(*counts[kind])
        per_type[kind] = {"precision": p, "recall": r, "f1": f, "support": counts[kind][2]}
    return {"precision": precision, "recall": recall, "f1": f1, "per_type": per_type,
            "token_accuracy": right_tokens / tokens if tokens else 0.0}
