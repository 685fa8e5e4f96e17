"""`TransformerEncoderBlock`: one post-LayerNorm BERT layer, and `int8_blocks`."""

import contextlib

import keras
import numpy as np
from keras import ops

from tfbert.layers import int8
from tfbert.layers.activations import get_activation
from tfbert.layers.attention import SelfAttention, attention_output_spec
from tfbert.layers.dropout import Dropout
from tfbert.layers.initializers import truncated_normal
from tfbert.layers.layer_norm import layer_norm


@keras.saving.register_keras_serializable(package="tfbert")
class TransformerEncoderBlock(keras.layers.Layer):
    """A BERT layer: self-attention and a feed-forward net, each followed by
    dropout, a residual connection and LayerNorm (post-LN, as the original):

        h   = LN(x + dropout(attention(x)))
        out = LN(h + dropout(W2 act(W1 h)))

    Args:
        num_heads: int. Attention heads; must divide the input width.
        intermediate_size: int. Width of the feed-forward layer.
        activation: str. Feed-forward activation name (`"gelu"` = tanh form).
        dropout: float. Dropout on both sub-layer outputs.
        attention_dropout: float. Dropout on attention probabilities.
        initializer_range: float. Stddev of the truncated-normal init.

    Call arguments:
        inputs: `[batch, seq, hidden]`.
        attention_bias: `[batch, 1, 1, seq]` additive bias (see `AttentionMask`).
        training: bool.
        return_attention_scores: bool. Also return the self-attention probabilities
            `[batch, heads, seq, seq]` of this call: `(output, probabilities)`.

    Example:

    >>> block = TransformerEncoderBlock(num_heads=2, intermediate_size=16)
    >>> block(np.zeros((1, 3, 8)), np.zeros((1, 1, 1, 3))).shape
    TensorShape([1, 3, 8])
    """

    def __init__(self, num_heads, intermediate_size, activation="gelu", dropout=0.0,
                 attention_dropout=0.0, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_size = intermediate_size
        self.activation = activation
        self.dropout_rate = dropout
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range

    def build(self, inputs_shape, attention_bias_shape=None):
        hidden = inputs_shape[-1]
        if hidden % self.num_heads:
            raise ValueError(
                f"hidden width {hidden} is not a multiple of num_heads {self.num_heads}")
        policy = self.dtype_policy
        init = truncated_normal(self.initializer_range)
        self.self_attention = SelfAttention(
            self.num_heads, hidden // self.num_heads, self.attention_dropout,
            self.initializer_range, name="self_attention", dtype=policy)
        self.attention_layer_norm = layer_norm("attention_layer_norm", policy)
        self.intermediate = keras.layers.Dense(
            self.intermediate_size, activation=get_activation(self.activation),
            kernel_initializer=init, name="intermediate", dtype=policy)
        self.output_dense = keras.layers.Dense(
            hidden, kernel_initializer=init, name="output", dtype=policy)
        self.output_layer_norm = layer_norm("output_layer_norm", policy)
        self.dropout = Dropout(self.dropout_rate, dtype=policy)
        self.self_attention.build(inputs_shape)
        self.attention_layer_norm.build(inputs_shape)
        self.intermediate.build(inputs_shape)
        self.output_dense.build(tuple(inputs_shape[:-1]) + (self.intermediate_size,))
        self.output_layer_norm.build(inputs_shape)

    def call(self, inputs, attention_bias, training=False, return_attention_scores=False):
        # At inference the block works on the tokens as one [batch * seq, hidden] matrix,
        # as the original's transformer_model does: then each Dense is MatMul + BiasAdd
        # (+ GELU, + the residual add) with nothing between them, and TensorFlow's graph
        # optimizer fuses them into one oneDNN kernel. A training step was slower that way,
        # so training keeps [batch, seq, hidden] (docs/performance.md, "Token-matrix
        # layout"). Same math either way.
        if training:
            output, probs = self._layer(inputs, attention_bias, training)
        else:
            tokens = ops.reshape(inputs, (-1, inputs.shape[-1]))
            products = int8.block_products(self)
            if products:
                output, probs = int8.int8_layer(self, products, tokens, attention_bias)
            else:
                output, probs = self._layer(tokens, attention_bias, training)
            output = ops.reshape(output, ops.shape(inputs))
        return (output, probs) if return_attention_scores else output

    def _layer(self, x, attention_bias, training):
        """The layer's output and its attention probabilities (which cost nothing extra:
        the attention computes them anyway)."""
        attention, probs = self.self_attention(x, attention_bias, training=training,
                                               return_attention_scores=True)
        attention = self.dropout(attention, training=training)
        hidden = self.attention_layer_norm(x + attention)
        output = self.output_dense(self.intermediate(hidden))
        output = self.dropout(output, training=training)
        return self.output_layer_norm(hidden + output), probs

    def compute_output_shape(self, inputs_shape, attention_bias_shape):
        return inputs_shape

    def compute_output_spec(self, inputs, attention_bias, training=False,
                            return_attention_scores=False):
        return attention_output_spec(self, inputs, attention_bias, return_attention_scores)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads,
                "intermediate_size": self.intermediate_size, "activation": self.activation,
                "dropout": self.dropout_rate, "attention_dropout": self.attention_dropout,
                "initializer_range": self.initializer_range}


@contextlib.contextmanager
def int8_blocks(layers, calibrate, outliers=None):
    """Within it, every built `TransformerEncoderBlock` in `layers` (and their sublayers)
    computes its dense products in int8 at inference (`tfbert.layers.int8`): for graphs
    traced to serve on CPUs. On entry, `calibrate()` runs eagerly with the blocks in
    float32 recording their inputs' ranges: call the model on a few hundred typical texts.
    The int8 weights are variables made on entry (yielded: save them with the graphs);
    graphs traced within `tfbert.layers.int8.constant_weights()` as well carry them as
    constants, which short calls run faster on (one copy per traced call).

    Args:
        layers: Keras layers or models.
        calibrate: a function of no arguments that calls the model (eagerly).
        outliers: `{product: count}` of input channels kept in float32 (default
            `tfbert.layers.int8.DEFAULT_OUTLIERS`).

    Example:

        with int8_blocks([model], lambda: model(calibration_inputs)) as variables:
            archive.add_endpoint("serving_default", serve, input_signature=specs)
        root.int8_weights = variables  # saved with the graphs
    """
    outliers = int8.DEFAULT_OUTLIERS if outliers is None else outliers
    blocks = list({id(layer): layer for item in layers if isinstance(item, keras.layers.Layer)
                   for layer in item._flatten_layers()
                   if isinstance(layer, TransformerEncoderBlock) and layer.built}.values())
    recorders = {id(block): {kind: int8.Recorder(*pair)
                             for kind, pair in int8.float_products(block).items()}
                 for block in blocks}
    with int8.using_products(recorders):
        calibrate()
    unseen = [b.name for b in blocks if np.isinf(recorders[id(b)]["qkv"].low).all()]
    if unseen:
        raise ValueError(f"int8 calibration did not run the blocks {unseen}: `calibrate` "
                         "must call the model these blocks belong to, eagerly")
    products = {id(block): {
        kind: int8.Int8Product(recorder.kernel, recorder.bias, recorder.low, recorder.high,
                               outliers.get(kind, 0), f"{block.name}_{kind}_int8")
        for kind, recorder in recorders[id(block)].items()} for block in blocks}
    with int8.using_products(products):
        yield [v for block in products.values() for p in block.values() for v in p.variables()]
