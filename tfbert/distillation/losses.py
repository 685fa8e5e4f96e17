"""The distillation losses: a student's outputs against its teacher's, per task head.

Hinton et al. (2015): soften both distributions with a temperature T and
train the student on the cross-entropy to the teacher's softened
distribution, scaled by T² so that the soft term's gradients keep their size
as T changes (they shrink as 1/T² otherwise), then mix it with the usual
hard-label loss: `loss = alpha * soft + (1 - alpha) * hard`.

Each head has its own soft loss (`soft_loss_kind` picks it from the task):

- `softmax` (classification): cross-entropy to `softmax(teacher / T)`;
- `token` (tagging): the same per token, weighted by the task's token mask
  (the first piece of each word);
- `span` (SQuAD): the same on the start and on the end logits, averaged, as
  the task's own loss averages its two cross-entropies;
- `sigmoid` (multi-label): per label, binary cross-entropy of
  `sigmoid(student / T)` to `sigmoid(teacher / T)`, averaged over labels
  (the multi-label task's loss averages them too);
- `mse` (regression): squared error to the teacher's output; no temperature
  (a score has no distribution to soften).

The functions return **sums** over the batch (weighted by `weights`), as
every task loss does (`tfbert.tasks.base`): the trainer divides by the
global denominator once.
"""

import tensorflow as tf

from tfbert.tasks.multilabel import MultiLabelTask
from tfbert.tasks.sentence_prediction import SentencePredictionTask
from tfbert.tasks.squad import SquadTask
from tfbert.tasks.tagging import TaggingTask

SOFT_LOSS_KINDS = ("softmax", "token", "span", "sigmoid", "mse")
# The outputs each kind compares.
LOGIT_NAMES = {"softmax": ("logits",), "token": ("logits",), "sigmoid": ("logits",),
               "mse": ("logits",), "span": ("start_logits", "end_logits")}


def soft_loss_kind(task) -> str:
    """The soft loss of a fine-tuning task's head (one of `SOFT_LOSS_KINDS`).

    Raises:
        ValueError: a task with no head to distill (pre-training, encoder exports).

    Example:

    >>> from tfbert.tasks.sentence_prediction import SentencePredictionConfig
    >>> soft_loss_kind(SentencePredictionTask(SentencePredictionConfig(task="glue/stsb")))
    'mse'
    """
    if isinstance(task, MultiLabelTask):
        return "sigmoid"
    if isinstance(task, SentencePredictionTask):
        return "mse" if task.regression else "softmax"
    if isinstance(task, TaggingTask):
        return "token"
    if isinstance(task, SquadTask):
        return "span"
    raise ValueError(f"task {task.config.task} has no head to distill: distillation works "
                     "for classification, regression, multi-label, tagging and SQuAD")


def _softmax_ce(student, teacher, temperature):
    """Per row, T² x cross-entropy of softmax(student / T) to softmax(teacher / T)."""
    targets = tf.nn.softmax(teacher / temperature)
    return temperature ** 2 * tf.nn.softmax_cross_entropy_with_logits(
        labels=targets, logits=student / temperature)


def soft_loss_sum(kind: str, student: dict, teacher: dict, weights, temperature: float):
    """The weighted sum of the soft loss of `kind` over a batch.

    Args:
        kind: one of `SOFT_LOSS_KINDS`.
        student, teacher: the models' output dicts (`logits`, or `start_logits`
            and `end_logits`); the teacher's are targets (no gradient).
        weights: float32 `[batch]` (`token`: `[batch, seq]`), 0 for rows (or
            tokens) that do not count.
        temperature: T > 0.

    Returns:
        A float32 scalar: `sum(weights * loss)`.

    Example:

    >>> import numpy as np
    >>> logits = {"logits": tf.constant([[2.0, 0.0]])}
    >>> teacher = {"logits": tf.constant([[2.0, 0.0]])}
    >>> p = np.exp(1.0) / (1 + np.exp(1.0))  # softmax([2, 0] / 2)[0]
    >>> expected = -4 * (p * np.log(p) + (1 - p) * np.log(1 - p))  # T² x the entropy
    >>> loss = float(soft_loss_sum("softmax", logits, teacher, tf.ones([1]), 2.0))
    >>> bool(abs(loss - expected) < 1e-5)
    True
    """
    if kind not in SOFT_LOSS_KINDS:
        raise ValueError(f"unknown soft loss {kind!r}; known: {', '.join(SOFT_LOSS_KINDS)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive; got {temperature}")
    names = LOGIT_NAMES[kind]
    s = {n: tf.cast(student[n], tf.float32) for n in names}
    t = {n: tf.stop_gradient(tf.cast(teacher[n], tf.float32)) for n in names}
    weights = tf.cast(weights, tf.float32)
    if kind in ("softmax", "token"):
        losses = _softmax_ce(s["logits"], t["logits"], temperature)
    elif kind == "span":
        losses = 0.5 * (_softmax_ce(s["start_logits"], t["start_logits"], temperature)
                        + _softmax_ce(s["end_logits"], t["end_logits"], temperature))
    elif kind == "sigmoid":
        targets = tf.sigmoid(t["logits"] / temperature)
        losses = temperature ** 2 * tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
            labels=targets, logits=s["logits"] / temperature), -1)
    else:  # mse
        losses = tf.square(s["logits"][:, 0] - t["logits"][:, 0])
    return tf.reduce_sum(losses * weights)


def teacher_agreement(kind: str, student: dict, teacher: dict, weights):
    """`(numerator, denominator)`: how often the student's top class (tag, start and
    end) is the teacher's; None for `sigmoid` and `mse`, which have no top class."""
    if kind in ("sigmoid", "mse"):
        return None
    weights = tf.cast(weights, tf.float32)
    agree = 1.0
    for name in LOGIT_NAMES[kind]:
        same = tf.equal(tf.argmax(student[name], -1), tf.argmax(teacher[name], -1))
        agree *= tf.cast(same, tf.float32)
    return tf.reduce_sum(agree * weights), tf.reduce_sum(weights)
