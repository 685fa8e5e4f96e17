"""Embedding layers of the BERT encoder: table lookups and learned positions."""

import keras
import tensorflow as tf
from keras import ops

from tfbert.layers.initializers import truncated_normal


@keras.saving.register_keras_serializable(package="tfbert")
class OnDeviceEmbedding(keras.layers.Layer):
    """A `[vocab_size, width]` table looked up by int ids.

    With `use_one_hot=True` the lookup is a one-hot matmul, which is faster
    on TPUs for small tables (the original BERT does this on TPU for words,
    and always for token types). Both give the same values.

    Args:
        vocab_size: int. Number of rows.
        width: int. Size of each embedding vector.
        initializer_range: float. Stddev of the truncated-normal init.
        use_one_hot: bool. Look up with a one-hot matmul instead of a gather.

    Example:

    >>> layer = OnDeviceEmbedding(vocab_size=10, width=4)
    >>> layer(np.array([[1, 2, 3]])).shape
    TensorShape([1, 3, 4])
    """

    def __init__(self, vocab_size, width, initializer_range=0.02, use_one_hot=False, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.width = width
        self.initializer_range = initializer_range
        self.use_one_hot = use_one_hot
        # Look up float32 rows, then cast them: under mixed precision, autocasting
        # would cast the whole [vocab, width] table at every step instead.
        self.autocast = False

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.vocab_size, self.width),
            initializer=truncated_normal(self.initializer_range))

    def call(self, ids):
        # ids: [batch, seq] int  ->  [batch, seq, width]
        if self.use_one_hot:
            one_hot = ops.one_hot(ids, self.vocab_size, dtype=self.compute_dtype)
            return ops.matmul(one_hot, ops.cast(self.embeddings, self.compute_dtype))
        return ops.cast(ops.take(self.embeddings, ids, axis=0), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.width,)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "width": self.width,
                "initializer_range": self.initializer_range, "use_one_hot": self.use_one_hot}


@keras.saving.register_keras_serializable(package="tfbert")
class PositionEmbedding(keras.layers.Layer):
    """Learned absolute positions: the first `seq` rows of a `[max_length, width]` table.

    A sequence longer than `max_length` is an error that says so (at trace
    time when the length is static, at run time otherwise).

    Args:
        max_length: int. Longest sequence (`max_position_embeddings`).
        initializer_range: float. Stddev of the truncated-normal init.

    Example:

    >>> layer = PositionEmbedding(max_length=8)
    >>> layer(np.zeros((2, 5, 4))).shape
    TensorShape([1, 5, 4])
    """

    def __init__(self, max_length, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.max_length, input_shape[-1]),
            initializer=truncated_normal(self.initializer_range))

    def call(self, inputs):
        # inputs: [batch, seq, width]  ->  [1, seq, width], broadcast by the caller
        seq_length = inputs.shape[1]
        message = (f"input sequence is longer than max_position_embeddings="
                   f"{self.max_length}")
        if seq_length is not None:
            if seq_length > self.max_length:
                raise ValueError(f"{message} (got {seq_length})")
            return ops.expand_dims(self.embeddings[:seq_length], 0)
        seq_length = tf.shape(inputs)[1]
        with tf.control_dependencies([tf.debugging.assert_less_equal(
                seq_length, self.max_length, message=message)]):
            return ops.expand_dims(self.embeddings[:seq_length], 0)

    def compute_output_shape(self, input_shape):
        return (1, input_shape[1], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length,
                "initializer_range": self.initializer_range}
