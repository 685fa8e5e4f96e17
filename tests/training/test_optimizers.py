"""The original AdamW (no bias correction, eps 1e-6, decay exclusions by full path), AdamW
with bias correction (PyTorch's), LAMB, and the original warmup + polynomial decay
schedule, against NumPy references."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbert.configs.experiment import OptimizerConfig
from tfbert.training.optimizers import (
    AdamW,
    BertAdamW,
    Lamb,
    WarmupPolynomialDecay,
    create_optimizer,
)


def _model():
    """Variables whose full paths hold `layer_norm` and `bias`, as tfbert's do."""
    inputs = keras.Input((3,))
    x = keras.layers.Dense(4, name="dense")(inputs)
    x = keras.layers.LayerNormalization(name="attention_layer_norm")(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="output")(x))
    rng = np.random.default_rng(0)
    for v in model.trainable_variables:
        v.assign(rng.normal(size=v.shape).astype("float32"))
    return model


def _gradients(model, step):
    rng = np.random.default_rng(100 + step)
    return [rng.normal(size=v.shape).astype("float32") for v in model.trainable_variables]


def _reference(weights, grads_per_step, paths, lr, wd, lamb=False, b1=0.9, b2=0.999, eps=1e-6):
    weights = [w.copy() for w in weights]
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    for step, grads in enumerate(grads_per_step, start=1):
        for i, g in enumerate(grads):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            decay = not any(p in paths[i] for p in ("LayerNorm", "layer_norm", "bias"))
            if lamb:
                update = (m[i] / (1 - b1**step)) / (np.sqrt(v[i] / (1 - b2**step)) + eps)
            else:
                update = m[i] / (np.sqrt(v[i]) + eps)
            if decay:
                update = update + wd * weights[i]
            ratio = 1.0
            if lamb:
                w_norm, u_norm = np.linalg.norm(weights[i]), np.linalg.norm(update)
                ratio = w_norm / u_norm if w_norm > 0 and u_norm > 0 else 1.0
            weights[i] = weights[i] - lr * ratio * update
    return weights


@pytest.mark.parametrize("cls", [BertAdamW, Lamb], ids=["bert_adamw", "lamb"])
def test_matches_reference(cls):
    model = _model()
    paths = [v.path for v in model.trainable_variables]
    assert any("layer_norm" in p for p in paths) and any("bias" in p for p in paths)
    start = [v.numpy() for v in model.trainable_variables]
    grads = [_gradients(model, s) for s in range(3)]
    optimizer = cls(learning_rate=0.01, weight_decay_rate=0.1)
    for g in grads:
        optimizer.apply([tf.constant(x) for x in g], model.trainable_variables)
    expected = _reference(start, grads, paths, 0.01, 0.1, lamb=cls is Lamb)
    for variable, want in zip(model.trainable_variables, expected, strict=True):
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-5, atol=1e-6,
                                   err_msg=variable.path)


def _torch_adamw_reference(weights, grads_per_step, decayed, lrs, wd, b1=0.9, b2=0.999,
                           eps=1e-6, eps_on_v_hat=True):
    """`torch.optim.AdamW.step` (its single-tensor path), line for line, in float64
    (`eps_on_v_hat=False`: epsilon added to sqrt(v), as Keras' and TF1's Adam)."""
    weights = [w.astype(np.float64) for w in weights]
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    for step, (grads, lr) in enumerate(zip(grads_per_step, lrs, strict=True), start=1):
        for i, g in enumerate(grads):
            if decayed[i]:
                weights[i] = weights[i] * (1 - lr * wd)            # param.mul_(1 - lr * wd)
            m[i] = m[i] + (g - m[i]) * (1 - b1)                    # exp_avg.lerp_(grad, 1 - b1)
            v[i] = v[i] * b2 + (1 - b2) * g * g
            step_size = lr / (1 - b1**step)
            if eps_on_v_hat:
                denom = np.sqrt(v[i]) / np.sqrt(1 - b2**step) + eps
            else:
                denom = (np.sqrt(v[i]) + eps) / np.sqrt(1 - b2**step)
            weights[i] = weights[i] - step_size * m[i] / denom
    return weights


def test_adamw_matches_pytorch_adamw():
    """Bias correction, decoupled decay before the step, epsilon on sqrt(v_hat), the
    exclusions and a changing learning rate: PyTorch's AdamW step for step."""
    model = _model()
    paths = [v.path for v in model.trainable_variables]
    decayed = [not any(p in path for p in ("LayerNorm", "layer_norm", "bias")) for path in paths]
    start = [v.numpy() for v in model.trainable_variables]
    # Gradients of ~1e-3 and epsilon 1e-3: where epsilon goes changes every update.
    grads = [[g * 1e-3 for g in _gradients(model, s)] for s in range(5)]
    schedule = WarmupPolynomialDecay(0.05, decay_steps=5, warmup_steps=2)
    optimizer = AdamW(learning_rate=schedule, weight_decay_rate=0.1, epsilon=1e-3)
    for g in grads:
        optimizer.apply([tf.constant(x) for x in g], model.trainable_variables)
    lrs = [float(schedule(s)) for s in range(5)]
    assert lrs[0] == 0.0 and lrs[1] > 0.0
    expected = _torch_adamw_reference(start, grads, decayed, lrs, 0.1, eps=1e-3)
    for variable, want in zip(model.trainable_variables, expected, strict=True):
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-5, atol=1e-6,
                                   err_msg=variable.path)
    # The same run with epsilon on sqrt(v) (Keras' and TF1's Adam) is measurably elsewhere.
    keras_eps = _torch_adamw_reference(start, grads, decayed, lrs, 0.1, eps=1e-3,
                                       eps_on_v_hat=False)
    assert max(np.abs(a - b).max() for a, b in zip(expected, keras_eps, strict=True)) > 1e-4


def test_first_adamw_step_is_smaller_than_bert_adamw():
    """Step 1: bias correction makes the update `lr * sign(g)`; without it (the original)
    it is `lr * 0.1 / sqrt(0.001) = 3.16 lr`, the issue's "3x larger" early updates."""
    moved = {}
    for cls in (AdamW, BertAdamW):
        w = keras.Variable([0.0], name="kernel")
        cls(learning_rate=1e-3, weight_decay_rate=0.0).apply([tf.constant([0.5])], [w])
        moved[cls] = -float(w.numpy()[0])
    assert moved[AdamW] == pytest.approx(1e-3, rel=1e-4)
    assert moved[BertAdamW] == pytest.approx(1e-3 * 0.1 / np.sqrt(0.001), rel=1e-4)


def test_bert_adamw_has_no_bias_correction_and_eps_1e6():
    w = keras.Variable([1.0], name="kernel")
    BertAdamW(learning_rate=1.0, weight_decay_rate=0.0).apply([tf.constant([1e-3])], [w])
    # m = 1e-4, sqrt(v) = sqrt(1e-3 * 1e-6) ~ 3.16e-5: update 1e-4 / (3.16e-5 + 1e-6).
    assert w.numpy()[0] == pytest.approx(1.0 - 1e-4 / (np.sqrt(1e-9) + 1e-6), rel=1e-5)
    assert BertAdamW().epsilon == 1e-6


def test_decay_exclusions_use_full_paths():
    model = _model()
    optimizer = BertAdamW(weight_decay_rate=0.01)
    optimizer.build(model.trainable_variables)
    decayed = {v.path for v, d in zip(model.trainable_variables, optimizer._decays, strict=True)
               if d}
    # Keras' own exclusion matches short names only; ours sees `attention_layer_norm/gamma`.
    assert decayed == {"dense/kernel", "output/kernel"}


def test_schedule_is_the_original():
    schedule = WarmupPolynomialDecay(1e-4, decay_steps=100, warmup_steps=10)
    for step in (0, 1, 5, 9):
        assert float(schedule(step)) == pytest.approx(1e-4 * step / 10)
    for step in (10, 50, 99, 100, 150):
        # Polynomial decay counted from step 0, not from the end of the warmup.
        expected = 1e-4 * (1 - min(step, 100) / 100)
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5, abs=1e-12)
    assert float(WarmupPolynomialDecay(1.0, 10, 0, end_learning_rate=0.5, power=2.0)(5)) == \
        pytest.approx(0.5 * 0.25 + 0.5)


def test_create_optimizer_clips_and_scales_losses():
    config = OptimizerConfig(learning_rate=0.1, warmup_steps=0, weight_decay_rate=0.0,
                             clip_norm=1.0)
    optimizer = create_optimizer(config, train_steps=1000)
    assert isinstance(optimizer, BertAdamW) and optimizer.global_clipnorm == 1.0
    w = keras.Variable([0.0, 0.0], name="kernel")
    reference = keras.Variable([0.0, 0.0], name="kernel")
    # Clipping: a gradient of norm 50 acts as the same gradient of norm 1.
    optimizer.apply([tf.constant([30.0, 40.0])], [w])
    unclipped = create_optimizer(OptimizerConfig(learning_rate=0.1, warmup_steps=0,
                                                 weight_decay_rate=0.0, clip_norm=None), 1000)
    unclipped.apply([tf.constant([0.6, 0.8])], [reference])
    np.testing.assert_allclose(w.numpy(), reference.numpy(), rtol=1e-5)
    assert type(create_optimizer(OptimizerConfig(type="adamw"), 1000)) is AdamW
    assert type(create_optimizer(OptimizerConfig(), 1000)) is BertAdamW  # the original's
    scaled = create_optimizer(OptimizerConfig(type="lamb"), 1000, "float16")
    assert isinstance(scaled, keras.optimizers.LossScaleOptimizer)
    assert isinstance(scaled.inner_optimizer, Lamb)
    assert float(scaled.scale_loss(1.0)) > 1.0
