"""Small helpers shared by tfbert.text modules."""

import tensorflow as tf


def to_tensor_or_ragged(value, dtype=None):
    """A Tensor or RaggedTensor from a tensor, a numpy array or nested lists."""
    if isinstance(value, (tf.Tensor, tf.RaggedTensor)):
        return value
    try:
        return tf.convert_to_tensor(value, dtype=dtype)
    except (ValueError, TypeError):
        return tf.ragged.constant(value, dtype=dtype)
