"""`tfbert.layers.int8`: the int8 product equals `x @ W + b` within its quantization
error, its float32 outlier channels remove the error they would cause, and `int8_blocks`
switches a model's blocks to it only while entered."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.python.framework import meta_graph
from tensorflow.python.grappler import tf_optimizer

import tfbert
from tests.helpers import random_inputs, randomize, skip_without_onednn, tiny_config
from tfbert.layers.int8 import Int8Product


@pytest.fixture(autouse=True)
def _needs_onednn():
    skip_without_onednn()


def _case(rows=64, inputs=96, outputs=80, outlier=None):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (rows, inputs)).astype(np.float32)
    if outlier is not None:
        x[:, outlier] *= 40  # one channel far larger than the rest, as BERT's have
    kernel = rng.normal(0, 0.05, (inputs, outputs)).astype(np.float32)
    bias = rng.normal(0, 0.1, outputs).astype(np.float32)
    return x, kernel, bias, x @ kernel + bias


def _emulated(x, kernel, bias, low, high):
    """NumPy: uint8 activations over a fixed [low, high] (clipped), int8 weights over
    max |W|."""
    step, weight_step = (high - low) / 255, np.abs(kernel).max() / 127
    x = np.round((np.clip(x, low, high) - low) / step) * step + low
    return x @ (np.round(kernel / weight_step) * weight_step) + bias


def test_int8_product_is_the_emulated_quantized_product():
    x, kernel, bias, expected = _case()
    product = Int8Product(kernel, bias, x.min(0), x.max(0))
    scale = np.abs(expected).max()
    got = product(tf.constant(x)).numpy()
    assert np.abs(got - _emulated(x, kernel, bias, x.min(), x.max())).max() < 0.01 * scale
    assert 0 < np.abs(got - expected).max() < 0.05 * scale
    # Values beyond the calibrated range clip, as a fixed range must.
    wider = product(tf.constant(x * 3)).numpy()
    assert np.abs(wider - _emulated(x * 3, kernel, bias, x.min(), x.max())).max() < 0.03 * scale
    assert np.abs(wider - (3 * x @ kernel + bias)).max() > 0.1 * scale


def test_outlier_channels_stay_float32():
    x, kernel, bias, expected = _case(outlier=7)
    low, high = x.min(0), x.max(0)
    plain = Int8Product(kernel, bias, low, high)
    split = Int8Product(kernel, bias, low, high, outliers=1)
    assert split.outliers.numpy().tolist() == [7]
    plain_error = np.abs(plain(tf.constant(x)).numpy() - expected).max()
    split_error = np.abs(split(tf.constant(x)).numpy() - expected).max()
    assert split_error < plain_error / 10
    assert split_error < 0.02 * np.abs(expected).max()


@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_erf"])
def test_int8_blocks_quantize_only_while_entered(hidden_act):
    encoder = randomize(tfbert.BertEncoder(tiny_config(hidden_act=hidden_act)), seed=3)
    inputs = random_inputs(tiny_config(), batch=4, seq=12)
    expected = encoder(inputs, training=False)["sequence_output"].numpy()
    serve = tf.function(lambda x: encoder(x, training=False)["sequence_output"])
    with tfbert.layers.int8_blocks([encoder, encoder.transformer_layers[0]],
                                   lambda: encoder(inputs, training=False)) as weights:
        assert len(weights) == 2 * 4 * 3  # 2 blocks (once each), 4 products, 3 variables
        assert all(not w.trainable for w in weights)
        eager = encoder(inputs, training=False)["sequence_output"].numpy()
        traced = serve(inputs).numpy()
    assert np.abs(traced - eager).max() < 1e-5
    _assert_int8_of(traced, expected, inputs["input_mask"])
    np.testing.assert_allclose(encoder(inputs, training=False)["sequence_output"], expected,
                               atol=1e-6)  # float again once left


def _assert_int8_of(got, expected, mask):
    mask = mask.astype(bool)
    cosines = (got * expected).sum(-1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(
        expected, axis=-1)
    assert cosines[mask].min() > 0.99
    assert np.abs(got - expected).max() > 1e-4  # really int8


def _weight_inputs_after_grappler(concrete):
    """The op type feeding each int8 product's weights once TensorFlow's default graph
    optimizer (what a session runs before the oneDNN rewrite) has run on `concrete`."""
    meta = meta_graph.create_meta_graph_def(graph=concrete.graph)
    meta.collection_def["train_op"].node_list.value.extend(t.name for t in concrete.outputs)
    graph = tf_optimizer.OptimizeGraph(config_pb2.ConfigProto(), meta)
    nodes = {n.name: n for n in graph.node}
    nodes.update((n.name, n) for f in graph.library.function for n in f.node_def)
    return [nodes[n.input[1].split(":")[0]].op for n in nodes.values()
            if n.op == "QuantizedMatMulWithBiasAndDequantize"]


def test_constant_weights_are_the_variables_in_the_graph():
    encoder = randomize(tfbert.BertEncoder(tiny_config()), seed=3)
    inputs = random_inputs(tiny_config(), batch=4, seq=12)
    expected = encoder(inputs, training=False)["sequence_output"].numpy()
    spec = [{k: tf.TensorSpec([None, None], tf.int32) for k in inputs}]
    graphs = {}
    with tfbert.layers.int8_blocks([encoder], lambda: encoder(inputs, training=False)):
        for constants in (False, True):
            serve = tf.function(lambda x: encoder(x, training=False)["sequence_output"],
                                input_signature=spec)
            with tfbert.layers.int8.constant_weights(constants):
                graphs[constants] = serve.get_concrete_function()
    # oneDNN keeps its re-laid weights only when a `Const` node feeds them: the int8
    # constant's bitcast to qint8 must fold into one. 2 blocks, 4 products each.
    assert _weight_inputs_after_grappler(graphs[True]) == ["Const"] * 8
    assert "Const" not in _weight_inputs_after_grappler(graphs[False])
    captured = {constants: {id(t) for t in graph.captured_inputs}
                for constants, graph in graphs.items()}
    # Every product's int8 weights and bias, and the outlier kernels of the feed-forward
    # down products (`DEFAULT_OUTLIERS`).
    assert len(captured[False]) - len(captured[True]) == 2 * 4 * 2 + 2
    np.testing.assert_array_equal(graphs[True](inputs), graphs[False](inputs))
    _assert_int8_of(graphs[True](inputs).numpy(), expected, inputs["input_mask"])


def test_calibration_must_run_the_blocks():
    encoder = tfbert.BertEncoder(tiny_config())
    encoder(random_inputs(tiny_config()), training=False)
    with (pytest.raises(ValueError, match="calibration did not run the blocks"),
          tfbert.layers.int8_blocks([encoder], lambda: None)):
        pass
