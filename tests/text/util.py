"""Test helpers for ragged results."""

import itertools

import tensorflow as tf


def ragged_to_list(rt):
    """`rt.to_list()`, fast for any ragged rank (TF's is slow for rank 3)."""
    if not isinstance(rt, tf.RaggedTensor):
        return rt.numpy().tolist()
    values = rt.flat_values.numpy().tolist()
    for splits in reversed(rt.nested_row_splits):
        splits = splits.numpy().tolist()
        values = [values[a:b] for a, b in itertools.pairwise(splits)]
    return values
