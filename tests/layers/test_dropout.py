"""tfbert's Dropout: Keras's semantics with 16-bit random thresholds."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbert.layers import Dropout


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_drops_at_the_rate_and_rescales(rate):
    layer = Dropout(rate, seed=3)
    x = np.ones((1000, 1001), "float32")  # an odd number of elements
    y = layer(x, training=True).numpy()
    assert abs((y == 0).mean() - rate) < 0.002
    np.testing.assert_allclose(np.unique(y), [0.0, 1.0 / (1.0 - rate)], rtol=1e-6)
    assert not np.array_equal(y, layer(x, training=True).numpy())  # a new mask per call
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)


@pytest.mark.parametrize("dtype", ["float32", "mixed_bfloat16"])
def test_gradient_is_the_same_mask(dtype):
    layer = Dropout(0.3, seed=4, dtype=dtype)
    x = tf.constant(np.random.default_rng(0).uniform(1.0, 2.0, (64, 33)).astype("float32"))
    upstream = tf.constant(np.random.default_rng(1).normal(size=(64, 33)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(tf.cast(y, "float32") * upstream)
    gradient = tape.gradient(loss, x).numpy()
    kept = tf.cast(y, "float32").numpy() != 0
    assert 0.2 < 1 - kept.mean() < 0.4
    scale = np.float32(1 / 0.7)
    if dtype == "mixed_bfloat16":  # the scale and the upstream gradient in bf16
        scale = tf.cast(tf.cast(scale, tf.bfloat16), tf.float32).numpy()
        upstream = tf.cast(tf.cast(upstream, tf.bfloat16), tf.float32)
    np.testing.assert_allclose(gradient, np.where(kept, upstream.numpy() * scale, 0.0),
                               rtol=1e-2 if dtype == "mixed_bfloat16" else 1e-6)


def test_dynamic_shapes_xla_and_bfloat16():
    layer = Dropout(0.25, seed=1)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
    def dynamic(x):
        return layer(x, training=True)

    y = dynamic(tf.ones((301, 7))).numpy()
    assert y.shape == (301, 7) and abs((y == 0).mean() - 0.25) < 0.03
    compiled = tf.function(lambda x: layer(x, training=True), jit_compile=True)
    y = compiled(tf.ones((64, 64))).numpy()
    assert abs((y == 0).mean() - 0.25) < 0.03
    y = Dropout(0.25, dtype="mixed_bfloat16")(tf.ones((64, 64)), training=True)
    assert y.dtype == tf.bfloat16 and abs(float(tf.reduce_mean(tf.cast(y == 0, tf.float32)))
                                          - 0.25) < 0.03


def test_same_variables_and_config_as_keras():
    ours, theirs = Dropout(0.1, seed=2), keras.layers.Dropout(0.1, seed=2)
    ours.build((2, 3))
    theirs.build((2, 3))
    assert [v.path.split("/")[-1] for v in ours.variables] == [
        v.path.split("/")[-1] for v in theirs.variables]
    assert {k: v for k, v in ours.get_config().items() if k != "name"} == {
        k: v for k, v in theirs.get_config().items() if k != "name"}
