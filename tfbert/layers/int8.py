"""int8 dense products for CPU serving, behind `tfbert_export --quantize=int8`.

While `tfbert.layers.int8_blocks` is entered, every `TransformerEncoderBlock` it
quantized computes its four dense products (query/key/value as one, attention output,
feed-forward up and down) in oneDNN's `QuantizedMatMulWithBiasAndDequantize`, an op
that stock TF Serving (2.12+) registers. The attention core (scores, softmax, context),
the LayerNorms, GELU and the embeddings stay float32. The go/no-go figures (speed, dev
accuracy, what else was tried) are in docs/performance.md, "int8".

How each product quantizes, and why:
- **weights:** int8, one scale per matrix (`max |W| / 127`); the op aborts the process on
  one scale per column in TF 2.21.
- **activations:** uint8 over a fixed range, each product's min and max over calibration
  texts, given to the op as `SCALED` over `[0, max - min]`; the shift by `min` comes back
  through the bias (`b + min * colsum(W)`, folded once at construction: the range is
  fixed, so a request need not recompute it). The op has no kernel for int8 activations, and
  its own `MIN_FIRST` input mode is wrong in TF 2.21. Fixed ranges: no min/max pass over
  the activations per call. Values outside clip. They are quantized by `QuantizeV2` in
  `MIN_COMBINED` mode, TensorFlow's own kernel: `MIN_FIRST` (the same values but for
  rounding ties) runs oneDNN's, whose fixed cost per call weighs on short requests
  (docs/performance.md, "int8").
- **outlier channels:** a few input channels of BERT's activations run 3-5x larger than
  the rest and would set the range alone (in all-MiniLM-L6-v2, one GELU output channel
  reaches 24 where the rest stay under 7). The products named in `outliers` keep their
  largest channels on the calibration texts in a float32 product of their own, as
  LLM.int8() does; their int8 weight rows are zero.
- **weights in the graph:** oneDNN re-lays an int8 weight matrix into its blocked format
  on every call when the weights come from a variable, and once (then keeps it) when they
  are a graph constant: on short requests the re-layout took most of the int8 time.
  Within `constant_weights()` the products read their weights as constants; each copy of
  a graph then holds (and caches) its own, so exports use them where a signature calls
  the model once, and variables in the length-sorted slices of
  `tfbert.serving.graph.by_length` (four more call sites).

Without oneDNN (`TF_ENABLE_ONEDNN_OPTS=0`) the op has no working kernel:
in a served graph every request fails with "Missing 0-th output from ...
QuantizedMatMulWithBiasAndDequantize"; called eagerly it returns an empty tensor with no
error, so each block checks its first product's rows and fails with `NEEDS_ONEDNN`.
"""

import contextlib
import contextvars

import numpy as np
import tensorflow as tf

from tfbert.layers.attention import transpose_bits

# Measured on two fine-tuned all-MiniLM-L6-v2 models (docs/performance.md, "int8"): the
# feed-forward down input's outliers cost the most accuracy; elsewhere keeping channels
# in float32 cost more time than it won back.
DEFAULT_OUTLIERS = {"ffn_down": 4}
NEEDS_ONEDNN = ("this int8 export needs TensorFlow's oneDNN kernels (x86-64, "
                "TF_ENABLE_ONEDNN_OPTS unset or 1): the int8 product returned no rows")

# {id(block): {kind: product}} while `int8_blocks` is entered.
_INT8 = contextvars.ContextVar("tfbert_int8_blocks", default=None)
# True while `constant_weights` is entered.
_CONSTANTS = contextvars.ContextVar("tfbert_int8_constants", default=False)


def float_products(block):
    """`{kind: (kernel, bias)}` of a built `TransformerEncoderBlock`, float32 numpy; the
    query's carry the attention's `1 / sqrt(head_size)`."""
    attention = block.self_attention
    scale = np.float32(1.0 / np.sqrt(attention.head_size))

    def weights(layer, factor=1.0):
        return (np.asarray(layer.kernel.numpy(), np.float32) * factor,
                np.asarray(layer.bias.numpy(), np.float32) * factor)

    parts = [weights(attention.query, scale), weights(attention.key),
             weights(attention.value)]
    return {"qkv": (np.concatenate([p[0] for p in parts], 1),
                    np.concatenate([p[1] for p in parts])),
            "attention_output": weights(attention.attention_output),
            "ffn_up": weights(block.intermediate), "ffn_down": weights(block.output_dense)}


class Recorder:
    """The float32 product, recording each input channel's min and max (eager calls)."""

    def __init__(self, kernel, bias):
        self.kernel, self.bias = kernel, bias
        self.low = np.full(len(kernel), np.inf, np.float32)
        self.high = np.full(len(kernel), -np.inf, np.float32)

    def __call__(self, x):
        values = x.numpy()
        self.low = np.minimum(self.low, values.min(0))
        self.high = np.maximum(self.high, values.max(0))
        return tf.nn.bias_add(tf.matmul(x, self.kernel), self.bias)


class Int8Product:
    """`x @ W + b` for float32 `x [rows, in]`, in int8 (see the module doc).

    Args:
        kernel, bias: float32 `[in, out]`, `[out]`.
        low, high: `[in]`: each input channel's min and max on calibration data.
        outliers: how many of the largest channels (by `max(-low, high)`) stay float32.
        name: prefix of the variable names.

    Example:

    >>> x = np.random.default_rng(0).normal(size=(8, 16)).astype(np.float32)
    >>> kernel, bias = np.eye(16, 4, dtype=np.float32), np.zeros(4, np.float32)
    >>> product = Int8Product(kernel, bias, x.min(0), x.max(0), outliers=1, name="demo")
    >>> bool(np.abs(product(tf.constant(x)).numpy() - x @ kernel).max() < 0.05)
    True
    """

    def __init__(self, kernel, bias, low, high, outliers=0, name="int8"):
        kernel = np.array(kernel, np.float32)
        order = np.argsort(np.maximum(-low, high), kind="stable")[::-1]
        kept = np.sort(order[:outliers]).astype(np.int32)
        normal = np.setdiff1d(np.arange(len(kernel)), kept)
        self.range = (float(np.min(low[normal])), float(np.max(high[normal])))
        self.outliers = tf.constant(kept)
        self._values = {}  # id(variable) -> its value, for `constant_weights`
        self.outlier_kernel = self._variable(kernel[kept], f"{name}_outlier_kernel")
        kernel[kept] = 0.0  # their share comes from the float32 product
        self.limit = float(np.abs(kernel).max()) or 1.0
        step = self.limit / 127
        weights = np.clip(np.round(kernel / step), -127, 127)
        self.weights = self._variable(weights.astype(np.int8), f"{name}_weights")
        # The range QuantizeV2 reports for its output (it widens the given one to hold 0),
        # from the kernel itself; float32 arithmetic, as the graph did it per call before.
        _, low, high = self._quantize(tf.zeros([1, len(kernel)]))
        self.span = float(high.numpy() - low.numpy())
        column_sums = (weights * step).sum(0).astype(np.float32)
        self.bias = self._variable(np.asarray(bias, np.float32) + low.numpy() * column_sums,
                                   f"{name}_bias")

    def variables(self):
        return [self.weights, self.bias, self.outlier_kernel]

    def _variable(self, value, name):
        variable = tf.Variable(value, trainable=False, name=name)
        self._values[id(variable)] = value
        return variable

    def _read(self, variable):
        """`variable`, or its value as a graph constant within `constant_weights`."""
        return tf.constant(self._values[id(variable)]) if _CONSTANTS.get() else variable

    def _quantize(self, x):
        return tf.raw_ops.QuantizeV2(input=x, min_range=self.range[0],
                                     max_range=self.range[1], T=tf.quint8,
                                     mode="MIN_COMBINED")

    def __call__(self, x):
        quantized, _, _ = self._quantize(x)
        # An int8 constant's bitcast folds into a qint8 `Const` (which oneDNN needs to keep
        # its re-laid copy) and left less freed heap at load than a qint8 constant did.
        output = tf.raw_ops.QuantizedMatMulWithBiasAndDequantize(
            a=quantized, b=tf.bitcast(self._read(self.weights), tf.qint8),
            bias=self._read(self.bias), min_a=0.0, max_a=self.span, min_b=-self.limit,
            max_b=self.limit, min_freezed_output=0.0, max_freezed_output=0.0,
            Toutput=tf.float32, input_quant_mode="SCALED")
        if self.outliers.shape[0]:
            output += tf.matmul(tf.gather(x, self.outliers, axis=1),
                                self._read(self.outlier_kernel))
        return output


def block_products(block):
    """The products (`{kind: callable}`) that `using_products` set for `block`, or None."""
    return (_INT8.get() or {}).get(id(block))


@contextlib.contextmanager
def using_products(products):
    """Within it, `block_products` answers from `products` (`{id(block): {kind: f}}`)."""
    token = _INT8.set(products)
    try:
        yield
    finally:
        _INT8.reset(token)


@contextlib.contextmanager
def constant_weights(enabled=True):
    """Within it, the `Int8Product`s traced read their int8 weights as graph constants,
    which oneDNN re-lays once, rather than from their variables, which it re-lays per
    call (see the module doc), and their biases and outlier kernels too (no variable
    reads per request); `enabled=False` turns that off again inside. Each traced copy
    holds its own constants: for one call site per graph."""
    token = _CONSTANTS.set(enabled)
    try:
        yield
    finally:
        _CONSTANTS.reset(token)


def constants_active():
    """Whether `constant_weights` is entered (a key of traced functions' caches)."""
    return _CONSTANTS.get()


def int8_layer(block, products, tokens, attention_bias):
    """The inference math of `TransformerEncoderBlock._layer` on `tokens [batch * seq,
    hidden]` with `products` (`{kind: callable}`); returns `(output, probabilities)`."""
    attention = block.self_attention
    heads, head_size = attention.num_heads, attention.head_size
    batch, seq = tf.shape(attention_bias)[0], tf.shape(attention_bias)[3]
    qkv = products["qkv"](tokens)
    if isinstance(products["qkv"], Int8Product):
        tf.debugging.assert_equal(tf.shape(qkv)[0], tf.shape(tokens)[0], NEEDS_ONEDNN)
    qkv = tf.reshape(qkv, (batch, seq, 3, heads, head_size))
    query, key, value = tf.unstack(transpose_bits(qkv, (2, 0, 3, 1, 4)))
    scores = tf.matmul(query, key, transpose_b=True) + attention_bias
    probs = tf.nn.softmax(scores)
    context = transpose_bits(tf.matmul(probs, value), (0, 2, 1, 3))
    context = tf.reshape(context, (-1, heads * head_size))
    hidden = block.attention_layer_norm(tokens + products["attention_output"](context))
    up = block.intermediate.activation(products["ffn_up"](hidden))
    return block.output_layer_norm(hidden + products["ffn_down"](up)), probs
