"""What to explain: one logit of a task model's outputs, named the way users name it.

A `Target` is an output name and an index into one example's output: a class of a
classifier (`logits`, `(class,)`), a start or end logit of a span labeler
(`start_logits`, `(position,)`), a tag at a position of a tagger (`logits`,
`(position, tag)`). `resolve_target` turns the user's words (a label name, a class
index, `start` or `end`, and a position) into one, and says clearly what is wrong
with words that name nothing.
"""

import dataclasses

import numpy as np

SPAN_OUTPUTS = ("start", "end")


@dataclasses.dataclass(frozen=True)
class Target:
    """One logit of one example: `outputs[output][example][index]`.

    Args:
        output: the model output's name (`logits`, `start_logits`, `end_logits`).
        index: the index into one example's output (`(class,)`, `(position,)` or
            `(position, tag)`).
        label: how the target reads in pictures and files (`positive`, `start@7`).

    Example:

    >>> Target("logits", (1,), "positive").output
    'logits'
    """

    output: str
    index: tuple[int, ...]
    label: str


def _class_index(spec, label_names, num_classes, what):
    """The class a label name or index names; raises ValueError listing the choices."""
    names = [str(n) for n in label_names or ()]
    if spec in names:
        return names.index(spec)
    if str(spec).lstrip("-").isdigit():
        index = int(spec)
        if 0 <= index < num_classes:
            return index
        raise ValueError(f"target {spec}: the model has {num_classes} {what}(s), "
                         f"indices 0..{num_classes - 1}")
    known = ", ".join(names) if names else f"indices 0..{num_classes - 1}"
    raise ValueError(f"target {spec!r} is not a {what} of the model; known: {known}")


def _position(position, length, default):
    """A word-piece position inside the `length` real tokens; raises ValueError if not."""
    position = default if position is None else int(position)
    if not 0 <= position < length:
        raise ValueError(f"position {position} is beyond the input: it has {length} word "
                         f"pieces ([CLS] and [SEP] included), positions 0..{length - 1}")
    return position


def resolve_target(outputs: dict, length: int, target: str | int | None = None,
                   position: int | None = None, label_names=None) -> Target:
    """The `Target` that `target` and `position` name, for one example's outputs.

    Args:
        outputs: the model's outputs for the example (a batch of one).
        length: the example's real word pieces (positions `0..length-1`).
        target: a label (or tag) name, a class index, or `start`/`end` (SQuAD);
            None: the predicted class (or tag at `position`), or `start` for SQuAD.
        position: the word piece of a tag or span logit; default: 1 (the first
            piece after [CLS]) for a tagger, the highest logit for a span.
        label_names: class or tag names in id order.

    Raises:
        ValueError: a target or position the model does not have.

    Example:

    >>> resolve_target({"logits": np.array([[0.1, 2.0]])}, 5, "positive",
    ...                label_names=["negative", "positive"])
    Target(output='logits', index=(1,), label='positive')
    """
    outputs = {k: np.asarray(v) for k, v in outputs.items()}
    if "start_logits" in outputs:
        side = "start" if target is None else str(target)
        if side not in SPAN_OUTPUTS:
            raise ValueError(f"target {target!r}: a span model explains `start` or `end`")
        logits = outputs[f"{side}_logits"][0, :length]
        where = _position(position, length, int(np.argmax(logits)))
        return Target(f"{side}_logits", (where,), f"{side}@{where}")
    logits = outputs.get("logits")
    if logits is None:
        raise ValueError(f"the model's outputs {sorted(outputs)} have no logits to explain")
    names = [str(n) for n in label_names or ()]
    if logits.ndim == 2:  # [1, classes]: a sentence-level head
        if position is not None:
            raise ValueError("a position applies to tagging and SQuAD models only; this "
                             "model gives one prediction per text")
        num = logits.shape[-1]
        index = int(np.argmax(logits[0])) if target is None else _class_index(
            target, names, num, "class")
        return Target("logits", (index,), names[index] if index < len(names) else str(index))
    where = _position(position, length, 1 if length > 2 else 0)  # [1, seq, tags]: a tagger
    num = logits.shape[-1]
    index = int(np.argmax(logits[0, where])) if target is None else _class_index(
        target, names, num, "tag")
    name = names[index] if index < len(names) else str(index)
    return Target("logits", (where, index), f"{name}@{where}")
