"""Multi-head self-attention with an additive padding mask, as in the original BERT."""

import math

import keras
import tensorflow as tf
from keras import ops

from tfbert.layers.dropout import Dropout
from tfbert.layers.embeddings import truncated_normal

# The original adds (1 - mask) * -10000.0 to the attention scores.
MASK_ADDER = -10000.0


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
            inference: on a 2-D input each projection is one MatMul + BiasAdd, which
            TensorFlow's graph optimizer fuses into one oneDNN kernel; a 3-D input puts
            a Reshape between them). The output has the input's shape.
        attention_bias: `[batch, 1, 1, seq]` additive bias (see `AttentionMask`).
        training: bool. Applies dropout when True.

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

    def _split_heads(self, x, batch, seq):
        # [batch, seq, heads * head_size] or [batch * seq, ...] -> [batch, heads, seq, head_size]
        x = ops.reshape(x, (batch, seq, self.num_heads, self.head_size))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(self, inputs, attention_bias, training=False):
        # Batch and length from the bias [batch, 1, 1, seq]: the input may be a token matrix
        # (and -1 in a reshape is undefined for an empty batch).
        batch, seq = ops.shape(attention_bias)[0], ops.shape(attention_bias)[3]
        # Scaling the query before the product is the same math as scaling the scores.
        query = self._split_heads(self.query(inputs) * (1.0 / math.sqrt(self.head_size)),
                                  batch, seq)
        key = self._split_heads(self.key(inputs), batch, seq)
        value = self._split_heads(self.value(inputs), batch, seq)
        # transpose_b inside the batch matmul: no transposed copy of the keys (an explicit
        # transpose took 9% of the layer's time on a batch of 8 x 48 tokens, MiniLM width).
        scores = tf.linalg.matmul(query, key, transpose_b=True)  # [b, heads, seq, seq]
        scores = ops.cast(scores, "float32") + ops.cast(attention_bias, "float32")
        probs = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        probs = self.dropout(probs, training=training)
        context = ops.matmul(probs, value)  # [batch, heads, seq, head_size]
        context = ops.transpose(context, (0, 2, 1, 3))  # [batch, seq, heads, head_size]
        width = self.num_heads * self.head_size
        if len(inputs.shape) == 2:
            context = ops.reshape(context, (-1, width))
        else:
            context = ops.reshape(context, (batch, seq, width))
        return self.attention_output(context)

    def compute_output_shape(self, inputs_shape, attention_bias_shape):
        return inputs_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads,
                "head_size": self.head_size, "attention_dropout": self.attention_dropout,
                "initializer_range": self.initializer_range}
