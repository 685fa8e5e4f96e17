import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfbert import layers


def test_gelu_is_the_tanh_form():
    x = np.linspace(-5, 5, 101).astype("float32")
    expected = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(layers.get_activation("gelu")(x), expected, atol=1e-6)
    erf = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(layers.get_activation("gelu_erf")(x), erf, atol=1e-6)
    assert np.abs(np.asarray(layers.get_activation("gelu")(x)) - erf).max() > 1e-4
    with pytest.raises(ValueError, match="unknown activation 'gelu3'"):
        layers.get_activation("gelu3")


def test_attention_mask_is_additive_minus_10000():
    bias = np.asarray(layers.AttentionMask()(np.array([[1, 1, 0, 0]])))
    assert bias.shape == (1, 1, 1, 4)
    np.testing.assert_array_equal(bias[0, 0, 0], [0, 0, -10000, -10000])


def test_one_hot_lookup_equals_gather():
    gather = layers.OnDeviceEmbedding(50, 8)
    one_hot = layers.OnDeviceEmbedding(50, 8, use_one_hot=True)
    ids = np.array([[1, 7, 49], [0, 3, 3]])
    gather.build()
    one_hot.build()
    one_hot.embeddings.assign(gather.embeddings)
    np.testing.assert_allclose(gather(ids), one_hot(ids), atol=1e-7)


def test_position_embedding_too_long_is_a_clear_error():
    layer = layers.PositionEmbedding(max_length=4)
    assert layer(np.zeros((1, 4, 8))).shape == (1, 4, 8)
    with pytest.raises(ValueError, match="longer than max_position_embeddings=4"):
        layer(np.zeros((1, 5, 8)))


def test_truncated_normal_init():
    layer = layers.OnDeviceEmbedding(1000, 64, initializer_range=0.02)
    layer.build()
    values = np.asarray(layer.embeddings)
    assert np.abs(values).max() <= 0.04 + 1e-6  # truncated at two stddevs
    assert 0.015 < values.std() < 0.02


def test_attention_ignores_padded_keys():
    layer = layers.SelfAttention(num_heads=2, head_size=4)
    x = np.random.default_rng(0).normal(size=(1, 5, 8)).astype("float32")
    bias = layers.AttentionMask()(np.array([[1, 1, 1, 0, 0]]))
    out = np.asarray(layer(x, bias))
    changed = x.copy()
    changed[:, 3:] = 100.0  # padded positions: their values must not matter
    np.testing.assert_allclose(np.asarray(layer(changed, bias))[:, :3], out[:, :3], atol=1e-5)


@pytest.mark.parametrize("make, args", [
    (lambda: layers.OnDeviceEmbedding(20, 8, use_one_hot=True), (np.array([[1, 2]]),)),
    (lambda: layers.PositionEmbedding(16), (np.zeros((1, 4, 8), "float32"),)),
    (lambda: layers.AttentionMask(), (np.array([[1, 0]]),)),
    (lambda: layers.LayerNorm(epsilon=1e-12), (np.arange(6.0).reshape(2, 3),)),
    (lambda: layers.SelfAttention(2, 4, attention_dropout=0.1),
     (np.zeros((1, 3, 8), "float32"), np.zeros((1, 1, 1, 3), "float32"))),
    (lambda: layers.TransformerEncoderBlock(2, 16, "gelu", dropout=0.1),
     (np.ones((1, 3, 8), "float32"), np.zeros((1, 1, 1, 3), "float32"))),
    (lambda: layers.ClassificationHead(3, dropout=0.1), (np.ones((2, 8), "float32"),)),
    (lambda: layers.SpanHead(), (np.ones((2, 3, 8), "float32"),)),
    (lambda: layers.MeanPooling(normalize=True),
     (np.ones((2, 3, 8), "float32"), np.array([[1, 1, 0], [1, 0, 0]]))),
])
def test_get_config_round_trip(make, args):
    layer = make()
    out = layer(*args)
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone(*args)
    clone.set_weights(layer.get_weights())
    for a, b in zip(keras.tree.flatten(out), keras.tree.flatten(clone(*args)), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_layer_norm_equals_keras_in_value_and_gradient(policy):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(0.5, 3.0, (4, 5, 32)), tf.float32)
    ours, theirs = (layers.LayerNorm(epsilon=1e-12, dtype=policy),
                    keras.layers.LayerNormalization(epsilon=1e-12, dtype=policy))
    gamma_beta = [rng.normal(1.0, 0.2, 32), rng.normal(0.0, 0.2, 32)]
    for layer in (ours, theirs):
        layer.build(x.shape)
        layer.set_weights(gamma_beta)
    results = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * tf.range(32, dtype=tf.float32))
        results.append([y, *tape.gradient(loss, [x, *layer.trainable_weights])])
    assert results[0][0].dtype == results[1][0].dtype
    bf16 = policy == "mixed_bfloat16"
    for a, b in zip(*results, strict=True):
        a, b = np.asarray(tf.cast(a, tf.float32)), np.asarray(tf.cast(b, tf.float32))
        np.testing.assert_allclose(a, b, rtol=1e-2 if bf16 else 1e-5,
                                   atol=(1e-2 if bf16 else 1e-5) * np.abs(b).max())


def _layer_norm(policy, width, seed=0):
    rng = np.random.default_rng(seed)
    layer = layers.LayerNorm(epsilon=1e-12, dtype=policy)
    layer.build((None, width))
    layer.set_weights([rng.normal(1.0, 0.2, width), rng.normal(0.0, 0.2, width)])
    return layer


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("shape", [(24, 32), (3, 8, 32)])
def test_layer_norm_with_run_time_rows_equals_the_static_form(policy, shape):
    # [None, ...] rows: the batch-norm graph that oneDNN rewrites (or, off a oneDNN CPU, the
    # same five ops as static shapes); value and gradient must match the static form's.
    layer = _layer_norm(policy, shape[-1])
    x = tf.constant(np.random.default_rng(1).normal(0.5, 3.0, shape), layer.compute_dtype)
    weights = tf.range(shape[-1], dtype=tf.float32)

    def value_and_gradients(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=False)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) * weights)
        return [y, *tape.gradient(loss, [x, *layer.trainable_weights])]

    static = tf.function(value_and_gradients)
    unknown_rows = tf.function(value_and_gradients, input_signature=[
        tf.TensorSpec((None,) * (len(shape) - 1) + shape[-1:], x.dtype)])
    bf16 = policy == "mixed_bfloat16"
    for a, b in zip(unknown_rows(x), static(x), strict=True):
        assert a.dtype == b.dtype
        a, b = np.asarray(tf.cast(a, tf.float32)), np.asarray(tf.cast(b, tf.float32))
        np.testing.assert_allclose(a, b, rtol=2e-2 if bf16 else 1e-5,
                                   atol=(2e-2 if bf16 else 1e-5) * np.abs(b).max())


def _executed_ops(function, *args):
    """The op types of `function`'s graph after TensorFlow's optimizations, as it ran."""
    from tensorflow.python.eager import context

    context.enable_run_metadata()
    try:
        function(*args)
        metadata = context.export_run_metadata()
    finally:
        context.disable_run_metadata()
    return {node.op for graphs in metadata.function_graphs
            for node in graphs.post_optimization_graph.node}


def test_layer_norm_at_inference_with_run_time_rows_is_one_onednn_kernel():
    from tfbert.layers.layer_norm import _onednn_cpu_process

    if not _onednn_cpu_process():
        pytest.skip("oneDNN is off in this TensorFlow process (or it has a GPU)")
    layer = _layer_norm("float32", 32)
    x = np.ones((5, 32), np.float32)

    def traced(training):
        return tf.function(lambda x: layer(x, training=training),
                           input_signature=[tf.TensorSpec([None, 32], tf.float32)])

    assert "_MklLayerNorm" in _executed_ops(traced(False), x)
    five_ops = {"Mean", "Rsqrt"}
    training_ops = _executed_ops(traced(True), x)  # training: the static form
    assert five_ops <= training_ops and "_MklLayerNorm" not in training_ops
    with layers.portable_layer_norm():
        portable = traced(False)
        assert five_ops <= _executed_ops(portable, x)
    assert "_MklLayerNorm" not in _executed_ops(portable, x)  # a trace keeps its form
    static = tf.function(lambda x: layer(x, training=False))
    assert "_MklLayerNorm" not in _executed_ops(static, x)
    xla = tf.function(lambda x: layer(x, training=False), jit_compile=True,
                      input_signature=[tf.TensorSpec([None, 32], tf.float32)])
    xla_ops = {op.type for op in xla.get_concrete_function().graph.get_operations()}
    assert "Rsqrt" in xla_ops and "FusedBatchNormV3" not in xla_ops


def test_layer_norm_other_axes_fall_back_to_keras():
    x = np.random.default_rng(1).normal(size=(2, 3, 4)).astype("float32")
    np.testing.assert_allclose(layers.LayerNorm(axis=1)(x),
                               keras.layers.LayerNormalization(axis=1)(x), atol=1e-6)


def test_masked_lm_head_is_tied_and_gathers():
    words = layers.OnDeviceEmbedding(20, 8)
    words.build()
    head = layers.MaskedLMHead(words, activation="gelu")
    sequence = np.random.default_rng(1).normal(size=(2, 6, 8)).astype("float32")
    positions = np.array([[0, 5], [2, 2]], "int32")
    logits = np.asarray(head(sequence, positions))
    assert logits.shape == (2, 2, 20)
    x = np.asarray(head.transform_layer_norm(head.transform(sequence[[0, 1], [5, 2]])))
    np.testing.assert_allclose(logits[[0, 1], [1, 0]], x @ np.asarray(words.embeddings).T,
                               atol=1e-5)
    # tied, not copied: the word table is the one variable the head shares
    assert sum(w is words.embeddings for w in head.weights) == 1
    assert len(head.weights) == 6  # + transform kernel/bias, LayerNorm gamma/beta, output_bias
    clone = layers.MaskedLMHead.from_config(head.get_config())
    assert clone.get_config() == head.get_config()


def test_mean_pooling_averages_real_tokens_only():
    x = np.random.default_rng(2).normal(size=(2, 4, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0], [1, 0, 0, 0]])
    expected = np.stack([x[0, :3].mean(0), x[1, 0]])
    np.testing.assert_allclose(layers.MeanPooling()(x, mask), expected, atol=1e-6)
    normed = np.asarray(layers.MeanPooling(normalize=True)(x, mask))
    np.testing.assert_allclose(np.linalg.norm(normed, axis=1), [1.0, 1.0], atol=1e-6)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("rank", [2, 3])
def test_attention_inference_path_equals_the_training_path(policy, rank):
    # At inference the biases move off the activations (key bias dropped, query bias
    # into the mask term, value bias into the output bias); with dropout 0 the training
    # path computes the original's formula, so the two must agree.
    rng = np.random.default_rng(0)
    layer = layers.SelfAttention(num_heads=2, head_size=8, dtype=policy)
    x = rng.normal(size=(3, 5, 16)).astype("float32")
    bias = layers.AttentionMask()(np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]]))
    layer(x, bias)
    layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
    inputs = x.reshape(15, 16) if rank == 2 else x
    inference = layer(inputs, bias, training=False)
    training = layer(inputs, bias, training=True)
    assert inference.shape == inputs.shape and inference.dtype == training.dtype
    inference, training = (np.asarray(tf.cast(t, tf.float32)) for t in (inference, training))
    tolerance = 0.05 if policy == "mixed_bfloat16" else 1e-5
    np.testing.assert_allclose(inference, training, atol=tolerance * np.abs(training).max())
    assert np.abs(training).max() > 1.0  # the biases are large enough to matter


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_attention_scales_the_query_on_its_weights_bit_exactly(policy):
    # Training scales the query kernel and bias by 1/sqrt(64) = 1/8, a power of two:
    # the same bits as scaling the projection.
    layer = layers.SelfAttention(num_heads=2, head_size=64, dtype=policy)
    x = np.random.default_rng(0).normal(size=(2, 7, 96)).astype("float32")
    layer(x, layers.AttentionMask()(np.ones((2, 7), "int32")))
    layer.query.bias.assign(np.random.default_rng(1).normal(size=(128,)))
    ours = layer._scaled_dense(layer.query, tf.cast(x, layer.compute_dtype))
    np.testing.assert_array_equal(np.asarray(tf.cast(ours, tf.float32)),
                                  np.asarray(tf.cast(layer.query(x) * 0.125, tf.float32)))


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_precomputed_attention_reads_copies_made_once(policy):
    # A graph traced within `precomputed_attention` reads the derived weights from the
    # yielded variables, not the layer's query/key/value kernels, and computes the same.
    rng = np.random.default_rng(3)
    block = layers.TransformerEncoderBlock(num_heads=2, intermediate_size=32, dtype=policy)
    x = rng.normal(size=(2, 5, 16)).astype("float32")
    bias = layers.AttentionMask()(np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]))
    block(x, bias)
    block.set_weights([rng.normal(0, 0.5, w.shape) for w in block.get_weights()])
    expected = np.asarray(tf.cast(block(x, bias), tf.float32))
    attention = block.self_attention
    with layers.precomputed_attention([block]) as copies:
        serve = tf.function(lambda x, bias: block(x, bias)).get_concrete_function(
            tf.TensorSpec([None, None, 16]), tf.TensorSpec([None, 1, 1, None]))
    assert len(copies) == 6  # query, key, value, query bias, output kernel, output bias
    read = {id(v) for v in serve.variables}
    assert {id(v) for v in copies} <= read
    originals = (attention.query.kernel, attention.key.kernel, attention.value.kernel)
    assert not {id(getattr(v, "value", v)) for v in originals} & read
    # Its head transposes move bits (`transpose_bits`, not differentiable): none of a float.
    transposed = [op.get_attr("T") for op in serve.graph.get_operations()
                  if op.type == "Transpose"]
    assert transposed and all(t.is_integer for t in transposed)
    got = np.asarray(tf.cast(serve(tf.constant(x), bias), tf.float32))
    # bfloat16: eager and graph round differently (one bfloat16 step is 1/64 near 2).
    np.testing.assert_allclose(got, expected, atol=1e-6 if policy == "float32" else 5e-2)
    # Outside the context the layer derives its weights per call again, and stays
    # differentiable at inference (integrated gradients run it with training off).
    plain = tf.function(lambda x: block(x, bias)).get_concrete_function(
        tf.TensorSpec([None, None, 16]))
    assert {id(v) for v in copies}.isdisjoint(id(v) for v in plain.variables)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(tf.cast(block(tf.constant(x), bias, training=False), tf.float32))
    gradient = tape.gradient(total, attention.query.kernel)  # only through the context
    assert gradient is not None and np.all(np.isfinite(gradient)) and np.any(gradient)
