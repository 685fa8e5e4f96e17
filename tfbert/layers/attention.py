"""Multi-head self-attention with an additive padding mask, as in the original BERT."""

import contextlib
import contextvars
import math

import keras
import tensorflow as tf
from keras import ops

from tfbert.layers.dropout import Dropout
from tfbert.layers.initializers import truncated_normal

# The original adds (1 - mask) * -10000.0 to the attention scores.
MASK_ADDER = -10000.0


def attention_output_spec(layer, inputs, attention_bias, return_attention_scores):
    """The output spec of a layer that may also return `[batch, heads, seq, seq]`
    attention probabilities (`SelfAttention`, `TransformerEncoderBlock`)."""
    output = keras.KerasTensor(inputs.shape, dtype=layer.compute_dtype)
    if not return_attention_scores:
        return output
    batch, seq = attention_bias.shape[0], attention_bias.shape[-1]
    return output, keras.KerasTensor((batch, layer.num_heads, seq, seq),
                                     dtype=layer.compute_dtype)


_SAME_WIDTH_INT = {"float32": tf.int32, "bfloat16": tf.int16, "float16": tf.int16}


def transpose_bits(x, perm):
    """`tf.transpose(x, perm)` done on `x`'s bits as integers of the same width, for
    inference graphs: TensorFlow's own transpose kernel runs then, where a float transpose
    is rewritten to oneDNN's, whose fixed cost per call is most of a short request's
    transpose (docs/performance.md, "Head transposes"). Not differentiable: `Bitcast` has
    no gradient.

    >>> x = tf.reshape(tf.range(6, dtype=tf.float32), (1, 2, 3, 1))
    >>> bool(tf.reduce_all(transpose_bits(x, (0, 2, 1, 3)) == tf.transpose(x, (0, 2, 1, 3))))
    True
    """
    bits = _SAME_WIDTH_INT[x.dtype.name]
    return tf.bitcast(tf.transpose(tf.bitcast(x, bits), perm), x.dtype)


@keras.saving.register_keras_serializable(package="tfbert")
class AttentionMask(keras.layers.Layer):
    """Turns an `input_mask` `[batch, seq]` (1 = token, 0 = padding) into an
    additive attention bias `[batch, 1, 1, seq]`: 0 where attended, -10000 where not.

    Every query position ("from") attends to every real key position ("to"),
    as the original `create_attention_mask_from_input_mask`.

    Example:

    >>> AttentionMask()(np.array([[1, 1, 0]]))[0, 0, 0].numpy().tolist()
    [0.0, 0.0, -10000.0]
    """

    def call(self, input_mask):
        mask = ops.cast(input_mask, self.compute_dtype)
        return (mask[:, None, None, :] - 1.0) * -MASK_ADDER  # = (1 - mask) * -10000, no -0.0


@keras.saving.register_keras_serializable(package="tfbert")
class SelfAttention(keras.layers.Layer):
    """Scaled dot-product self-attention over `num_heads` heads.

    The projections `query`, `key`, `value` and `attention_output` are Dense
    layers with `[hidden, hidden]` kernels: the layout of the original
    checkpoints (heads are contiguous blocks of `head_size` columns). Softmax
    runs in float32 under mixed precision.

    Args:
        num_heads: int. Number of attention heads.
        head_size: int. Width of each head.
        attention_dropout: float. Dropout on the attention probabilities.
        initializer_range: float. Stddev of the truncated-normal init.

    Call arguments:
        inputs: `[batch, seq, hidden]`, or the same tokens as a matrix
            `[batch * seq, hidden]` (what `TransformerEncoderBlock` passes at
            inference: on a 2-D input the output projection is one MatMul + BiasAdd,
            which TensorFlow's graph optimizer fuses into one oneDNN kernel; a 3-D input
            puts a Reshape between them). The output has the input's shape.
        attention_bias: `[batch, 1, 1, seq]` additive bias (see `AttentionMask`).
        training: bool. Applies dropout when True. When False the same attention is
            computed with the biases moved off the activations (see `_infer`).
        return_attention_scores: bool. Also return the attention probabilities
            `[batch, heads, seq, seq]` (before dropout), the ones this very call used:
            `(output, probabilities)`. Default False: the output alone.

    Example:

    >>> layer = SelfAttention(num_heads=2, head_size=4)
    >>> layer(np.zeros((1, 3, 8)), np.zeros((1, 1, 1, 3))).shape
    TensorShape([1, 3, 8])
    """

    def __init__(self, num_heads, head_size, attention_dropout=0.0, initializer_range=0.02,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.head_size = head_size
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        width = num_heads * head_size
        dense = dict(kernel_initializer=truncated_normal(initializer_range),
                     dtype=self.dtype_policy)
        self.query = keras.layers.Dense(width, name="query", **dense)
        self.key = keras.layers.Dense(width, name="key", **dense)
        self.value = keras.layers.Dense(width, name="value", **dense)
        self.attention_output = keras.layers.Dense(width, name="attention_output", **dense)
        self.dropout = Dropout(attention_dropout, dtype=self.dtype_policy)

    def build(self, inputs_shape, attention_bias_shape=None):
        for layer in (self.query, self.key, self.value):
            layer.build(inputs_shape)
        self.attention_output.build(tuple(inputs_shape[:-1]) + (self.num_heads * self.head_size,))

    def _split_heads(self, x, batch, seq, transpose=ops.transpose):
        # [batch, seq, heads * head_size] or [batch * seq, ...] -> [batch, heads, seq, head_size]
        x = ops.reshape(x, (batch, seq, self.num_heads, self.head_size))
        return transpose(x, (0, 2, 1, 3))

    def call(self, inputs, attention_bias, training=False, return_attention_scores=False):
        # Batch and length from the bias [batch, 1, 1, seq]: the input may be a token matrix
        # (and -1 in a reshape is undefined for an empty batch).
        batch, seq = ops.shape(attention_bias)[0], ops.shape(attention_bias)[3]
        if not training:
            output, probs = self._infer(inputs, attention_bias, batch, seq)
            return (output, probs) if return_attention_scores else output
        # Scaling the query is the same math as scaling the scores; scaling its kernel and
        # bias is the same again (exactly, for a power-of-4 head size) with no pass over
        # the activations, forward or backward.
        query = self._split_heads(self._scaled_dense(self.query, inputs), batch, seq)
        key = self._split_heads(self.key(inputs), batch, seq)
        value = self._split_heads(self.value(inputs), batch, seq)
        # transpose_b inside the batch matmul: no transposed copy of the keys, which took
        # a noticeable share of the layer's time (docs/performance.md, "Self-attention").
        scores = tf.linalg.matmul(query, key, transpose_b=True)  # [b, heads, seq, seq]
        scores = ops.cast(scores, "float32") + ops.cast(attention_bias, "float32")
        probs = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        output = self._output(ops.matmul(self.dropout(probs, training=training), value),
                              inputs, batch, seq)
        return (output, probs) if return_attention_scores else output

    def _output(self, context, inputs, batch, seq, weights=None, transpose=ops.transpose):
        # context [batch, heads, seq, head_size] -> the output projection, in the input's shape.
        context = transpose(context, (0, 2, 1, 3))  # [batch, seq, heads, head_size]
        width = self.num_heads * self.head_size
        shape = (-1, width) if len(inputs.shape) == 2 else (batch, seq, width)
        context = ops.reshape(context, shape)
        if weights is None:
            return self.attention_output(context)
        kernel, bias = weights
        return tf.nn.bias_add(ops.matmul(context, kernel), bias)

    def _scaled_dense(self, layer, inputs):
        """`layer(inputs) / sqrt(head_size)`, the scale applied to the weights."""
        scale = 1.0 / math.sqrt(self.head_size)
        kernel = ops.cast(layer.kernel, self.compute_dtype) * scale
        return ops.add(ops.matmul(inputs, kernel), ops.cast(layer.bias, self.compute_dtype) * scale)

    def inference_weights(self):
        """The weights `_infer` uses, derived from the layer's: `{query, key, value}`
        kernels (the query's scaled by `1 / sqrt(head_size)`), in float32 laid out per head
        `[1, heads, hidden, head_size]` (the `[hidden, width]` kernels under bfloat16), the
        scaled query bias `[1, heads, 1, head_size]`, and the output projection with the
        value bias folded into its bias (see `_infer`). Weight-sized work, done per call
        unless `precomputed_attention` holds them as variables."""
        dtype = self.compute_dtype
        scale = 1.0 / math.sqrt(self.head_size)

        def kernel(layer, factor=None):
            kernel = ops.cast(layer.kernel, dtype)
            if factor is not None:
                kernel = kernel * factor  # weight-sized: cheaper than scaling the activations
            if dtype != "float32":
                return kernel
            hidden = kernel.shape[0]
            heads = ops.reshape(kernel, (hidden, self.num_heads, self.head_size))
            return ops.transpose(heads, (1, 0, 2))[None]

        output = self.attention_output
        output_bias = output.bias + ops.matmul(self.value.bias[None], output.kernel)[0]
        return {"query": kernel(self.query, scale), "key": kernel(self.key),
                "value": kernel(self.value),
                "query_bias": ops.reshape(ops.cast(self.query.bias, dtype) * scale,
                                          (1, self.num_heads, 1, self.head_size)),
                "output_kernel": ops.cast(output.kernel, dtype),
                "output_bias": ops.cast(output_bias, dtype)}

    def _heads(self, kernel, inputs, batch, seq, transpose):
        """`inputs @ kernel`, no bias, as `[batch, heads, seq, head_size]`."""
        hidden = ops.shape(inputs)[-1]
        if len(kernel.shape) == 2:
            # bfloat16: one large product, then the head transpose; the broadcast product
            # below was slower here (docs/performance.md, "Self-attention").
            return self._split_heads(ops.matmul(ops.reshape(inputs, (-1, hidden)), kernel),
                                     batch, seq, transpose)
        # float32: tokens [batch, 1, seq, hidden] times the kernel laid out per head
        # [1, heads, hidden, head_size], broadcast over the batch: the product writes the
        # head-major layout itself, with no transpose of the activations.
        return tf.linalg.matmul(ops.reshape(inputs, (batch, 1, seq, hidden)), kernel)

    def _infer(self, inputs, attention_bias, batch, seq):
        """The training path's attention (equal to float rounding) with no bias added to an
        activation, for dropout-free calls:

        - key bias: it adds `q . b_k` to all scores of a query row, and softmax ignores a
          per-row constant: dropped;
        - query bias: its part of the scores, `b_q . k`, is one value per key, a
          `[batch, heads, 1, seq]` term added to the mask bias (which is added anyway);
        - value bias: the probabilities of a row sum to 1, so it adds `b_v` to every
          context row; it moves into the output bias, `b_o + b_v W_o`;
        - the `1 / sqrt(head_size)` scaling moves into the query kernel.

        So the projections are plain products (in float32 written straight in the heads'
        layout), with no bias, scaling or transpose pass over the activations, which makes
        inference faster than the training path at dropout 0 (docs/performance.md,
        "Self-attention"). Only at inference: with dropout on the probabilities their rows
        no longer sum to 1, and the gradient of a broadcast kernel is formed per batch row.
        """
        weights = (_PRECOMPUTED.get() or {}).get(id(self))
        # Precomputed weights mean an export's graph, which nothing differentiates: its head
        # transposes can be `transpose_bits`, which has no gradient.
        transpose = transpose_bits if weights else ops.transpose
        weights = weights or self.inference_weights()
        query = self._heads(weights["query"], inputs, batch, seq, transpose)
        key = self._heads(weights["key"], inputs, batch, seq, transpose)
        value = self._heads(weights["value"], inputs, batch, seq, transpose)
        key_term = tf.linalg.matmul(weights["query_bias"], key, transpose_b=True)
        bias = ops.cast(key_term, "float32") + ops.cast(attention_bias, "float32")
        scores = tf.linalg.matmul(query, key, transpose_b=True)  # [b, heads, seq, seq]
        probs = ops.cast(ops.softmax(ops.cast(scores, "float32") + bias, axis=-1),
                         self.compute_dtype)
        return self._output(ops.matmul(probs, value), inputs, batch, seq,
                            (weights["output_kernel"], weights["output_bias"]), transpose), probs

    def compute_output_shape(self, inputs_shape, attention_bias_shape):
        return inputs_shape

    def compute_output_spec(self, inputs, attention_bias, training=False,
                            return_attention_scores=False):
        return attention_output_spec(self, inputs, attention_bias, return_attention_scores)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads,
                "head_size": self.head_size, "attention_dropout": self.attention_dropout,
                "initializer_range": self.initializer_range}


# {id(layer): {name: tf.Variable}} while `precomputed_attention` is entered.
_PRECOMPUTED = contextvars.ContextVar("tfbert_precomputed_attention", default=None)


@contextlib.contextmanager
def precomputed_attention(layers):
    """Within it, the inference attention of every built `SelfAttention` in `layers` (and
    their sublayers) reads `inference_weights()` from variables made once on entry, instead
    of deriving them per call: for graphs traced to serve, where the per-call re-layout of
    the query, key and value kernels is a large share of a short request
    (docs/performance.md, "Batch 1 on a CPU"). The variables are copies, taken on entry:
    save them with the graphs (they are yielded for that), and retrace after training.

    Example:

        with precomputed_attention([model]) as variables:
            archive.add_endpoint("serving_default", serve, input_signature=specs)
        root.precomputed_attention = variables  # saved with the graphs
    """
    precomputed = {}
    for item in layers:
        if not isinstance(item, keras.layers.Layer):
            continue
        for layer in item._flatten_layers():
            if isinstance(layer, SelfAttention) and layer.built:
                precomputed[id(layer)] = {
                    name: tf.Variable(value, trainable=False,
                                      name=f"{layer.name}_{name}_precomputed")
                    for name, value in layer.inference_weights().items()}
    token = _PRECOMPUTED.set(precomputed)
    try:
        yield [v for weights in precomputed.values() for v in weights.values()]
    finally:
        _PRECOMPUTED.reset(token)
