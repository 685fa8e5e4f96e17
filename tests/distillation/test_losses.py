"""The soft losses against NumPy on fixed logits: temperature, T² scaling, the
alpha mix, masked tagging tokens, SQuAD's start and end."""

import numpy as np
import pytest
import tensorflow as tf

from tfbert.distillation.losses import soft_loss_sum, teacher_agreement
from tfbert.distillation.task import DistillationTask

RNG = np.random.default_rng(7)


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _soft_ce(student, teacher, t):
    """T² * sum_c softmax(teacher/T)_c * -log softmax(student/T)_c, per row."""
    p = np.exp(_log_softmax(teacher / t))
    return t * t * -(p * _log_softmax(student / t)).sum(-1)


def _out(**arrays):
    return {k: tf.constant(v, tf.float32) for k, v in arrays.items()}


@pytest.mark.parametrize("t", [1.0, 2.0, 4.0])
def test_softmax_soft_cross_entropy_with_temperature(t):
    s, te = RNG.normal(size=(5, 3)) * 3, RNG.normal(size=(5, 3)) * 3
    w = np.array([1, 1, 0, 1, 1], np.float32)  # row 2: padding, not counted
    got = soft_loss_sum("softmax", _out(logits=s), _out(logits=te), w, t)
    np.testing.assert_allclose(float(got), (_soft_ce(s, te, t) * w).sum(), rtol=1e-5)


def test_t_squared_keeps_the_gradient_size():
    # Without T², the soft gradient shrinks as 1/T²; with it, it stays of one size.
    s = tf.Variable(RNG.normal(size=(64, 4)).astype(np.float32))
    te = _out(logits=RNG.normal(size=(64, 4)) * 0.3)
    norms = []
    for t in (4.0, 8.0):
        with tf.GradientTape() as tape:
            loss = soft_loss_sum("softmax", {"logits": s}, te, tf.ones([64]), t)
        norms.append(float(tf.norm(tape.gradient(loss, s))))
    # d/ds of T² CE(s/T) is T (softmax(s/T) - p): for small logits ~ (s - t)/T... of size 1
    assert norms[1] == pytest.approx(norms[0], rel=0.15)


def test_identical_logits_give_the_teacher_entropy_and_zero_gradient():
    te = RNG.normal(size=(4, 6))
    s = tf.Variable(te.astype(np.float32))
    with tf.GradientTape() as tape:
        loss = soft_loss_sum("softmax", {"logits": s}, _out(logits=te), tf.ones([4]), 2.0)
    p = np.exp(_log_softmax(te / 2.0))
    np.testing.assert_allclose(float(loss), 4.0 * -(p * np.log(p)).sum(), rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(loss, s), 0.0, atol=1e-5)


def test_tagging_is_per_token_and_masked():
    s, te = RNG.normal(size=(2, 7, 5)), RNG.normal(size=(2, 7, 5))
    mask = (RNG.random((2, 7)) > 0.4).astype(np.float32)
    got = soft_loss_sum("token", _out(logits=s), _out(logits=te), mask, 3.0)
    np.testing.assert_allclose(float(got), (_soft_ce(s, te, 3.0) * mask).sum(), rtol=1e-5)
    # Logits at masked tokens do not matter.
    s2 = np.where(mask[..., None] > 0, s, 100.0)
    again = soft_loss_sum("token", _out(logits=s2), _out(logits=te), mask, 3.0)
    np.testing.assert_allclose(float(again), float(got), rtol=1e-6)


def test_squad_averages_start_and_end():
    ss, se, ts, tend = (RNG.normal(size=(3, 11)) for _ in range(4))
    w = np.array([1, 0, 1], np.float32)
    got = soft_loss_sum("span", _out(start_logits=ss, end_logits=se),
                        _out(start_logits=ts, end_logits=tend), w, 2.0)
    expected = 0.5 * (_soft_ce(ss, ts, 2.0) + _soft_ce(se, tend, 2.0))
    np.testing.assert_allclose(float(got), (expected * w).sum(), rtol=1e-5)


def test_multilabel_sigmoid_bce_and_regression_mse():
    s, te = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    t = 2.0
    q = 1 / (1 + np.exp(-te / t))
    x = s / t
    bce = np.maximum(x, 0) - x * q + np.log1p(np.exp(-np.abs(x)))
    got = soft_loss_sum("sigmoid", _out(logits=s), _out(logits=te), np.ones(4), t)
    np.testing.assert_allclose(float(got), (t * t * bce.mean(-1)).sum(), rtol=1e-5)
    got = soft_loss_sum("mse", _out(logits=s[:, :1]), _out(logits=te[:, :1]), np.ones(4), t)
    np.testing.assert_allclose(float(got), ((s[:, 0] - te[:, 0]) ** 2).sum(), rtol=1e-5)




def test_alpha_mixes_soft_and_hard_and_transfer_rows_skip_the_hard_loss():
    from tfbert.tasks.sentence_prediction import SentencePredictionConfig, SentencePredictionTask

    student_task = SentencePredictionTask(SentencePredictionConfig(task="glue/sst2"))
    s, te = RNG.normal(size=(4, 2)) * 2, RNG.normal(size=(4, 2)) * 2
    labels = np.array([0, 1, 1, 0], np.int32)
    labeled = np.array([1, 1, 0, 0], np.float32)  # rows 2, 3: transfer data
    task = DistillationTask(student_task, teacher=None, alpha=0.3, temperature=2.0)
    task.teacher_model = lambda inputs, training: {"logits": tf.constant(te, tf.float32)}
    task.teacher_model.inputs = []
    features = {"input_word_ids": tf.zeros([4, 3], tf.int32), "label_ids": tf.constant(labels),
                "labeled": tf.constant(labeled),
                "is_real_example": tf.ones([4])}
    nums = task.loss_numerators(features, _out(logits=s))
    dens = task.loss_denominators(features)
    loss = sum(float(nums[k]) / (float(dens[k]) + 1e-5) for k in nums)
    soft = _soft_ce(s, te, 2.0).mean()
    hard = (-_log_softmax(s)[np.arange(4), labels] * labeled).sum() / labeled.sum()
    np.testing.assert_allclose(loss, 0.3 * soft + 0.7 * hard, rtol=1e-4)
    assert float(dens["hard_loss"]) == 2.0 and float(dens["soft_loss"]) == 4.0


def test_teacher_agreement():
    s = _out(logits=[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    te = _out(logits=[[2.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    num, den = teacher_agreement("softmax", s, te, tf.constant([1.0, 1.0, 0.0]))
    assert (float(num), float(den)) == (1.0, 2.0)
    assert teacher_agreement("mse", s, te, tf.ones([3])) is None


def test_bad_settings():
    with pytest.raises(ValueError, match="--temperature=0"):
        DistillationTask(None, None, alpha=0.5, temperature=0.0)
    with pytest.raises(ValueError, match="unknown soft loss"):
        soft_loss_sum("kl", {}, {}, tf.ones([1]), 1.0)
