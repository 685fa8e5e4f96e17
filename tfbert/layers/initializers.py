"""The weight initializer of the BERT layers, in one place for every layer that makes weights."""

import keras


def truncated_normal(stddev):
    """The initializer of every BERT weight matrix: truncated normal, mean 0."""
    return keras.initializers.TruncatedNormal(stddev=stddev)
