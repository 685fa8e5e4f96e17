"""`LayerNorm`: Keras `LayerNormalization` over the last axis in fewer passes.

Why two forms, and the measurements behind them: docs/performance.md, "LayerNorm".
"""

import contextlib
import contextvars
import functools

import keras
import tensorflow as tf
from keras import ops

LAYER_NORM_EPSILON = 1e-12


@keras.saving.register_keras_serializable(package="tfbert")
class LayerNorm(keras.layers.LayerNormalization):
    """Keras `LayerNormalization` over the last axis (same weights `gamma`, `beta`, same
    config), computed with fewer passes over the activations.

    Two graphs, the same function (timings in docs/performance.md, "LayerNorm"):

    - Training, and calls whose row count is static: float32 even under mixed precision,
      as Keras. The statistics are the original's (`tf.nn.moments`: the mean, then the
      mean square of the centred values), and the output is
      `centred * rsqrt(variance + epsilon) * gamma + beta`: five elementwise ops over the
      whole `[rows, width]` tensor where Keras makes six and more memory traffic, so it
      takes less time. Outputs equal Keras's to 1e-6.
    - Inference (`training` false) with a row count known only at run time (a
      `tf.function` traced for `[None, None]` inputs, not XLA-compiled), in a process
      with oneDNN on and no GPU or TPU: the rows are normalised by one
      `FusedBatchNormV3` (training mode, each row a channel of a `[1, rows, width, 1]`
      view) and then scaled and shifted, the graph TensorFlow's oneDNN rewrite turns
      into one `_MklLayerNorm` kernel, several times faster than the five ops and worth
      points of the matmul peak to BERT-Base inference. Outputs equal the first form's
      to 5e-6 (fp32). Under `mixed_bfloat16` the kernel reads and writes bfloat16
      (statistics in float32) with `gamma` and `beta` rounded to bfloat16, so the
      encoder's bf16 output moves further from its fp32 output than with the first form.
      With static row counts constant folding turns the graph's `Fill`s into constants
      and the rewrite no longer applies; without oneDNN the batch norm is slower than the
      first form, so SavedModel exports trace the first form (`portable_layer_norm`):
      the server's CPU may not run oneDNN.

    Example:

    >>> layer = LayerNorm(epsilon=1e-12)
    >>> [round(v, 4) for v in layer(np.array([[1.0, 2.0, 3.0]])).numpy()[0].tolist()]
    [-1.2247, 0.0, 1.2247]
    """

    def call(self, inputs, training=None):
        rank = len(inputs.shape)
        axes = self.axis if isinstance(self.axis, (list, tuple)) else [self.axis]
        if [axis % rank for axis in axes] != [rank - 1] or self.rms_scaling:
            return super().call(inputs)
        if not training and self.scale and self.center and _onednn_rewrite_applies(inputs):
            dtype = inputs.dtype
            y = _normalized_rows(inputs, self.epsilon)
            return y * ops.cast(self.gamma, dtype) + ops.cast(self.beta, dtype)
        x = ops.cast(inputs, "float32")
        centred = x - ops.mean(x, axis=-1, keepdims=True)
        variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)
        y = centred * ops.rsqrt(variance + self.epsilon)
        if self.scale:
            y = y * ops.cast(self.gamma, "float32")
        if self.center:
            y = y + ops.cast(self.beta, "float32")
        return ops.cast(y, self.compute_dtype)


_PORTABLE = contextvars.ContextVar("tfbert_portable_layer_norm", default=False)


@contextlib.contextmanager
def portable_layer_norm():
    """Within it, `LayerNorm` traces its first form (five elementwise ops) even where
    oneDNN would rewrite the second: for graphs that leave this process, such as
    SavedModel exports, whose server may run without oneDNN (`TF_ENABLE_ONEDNN_OPTS=0`, or
    a build or CPU where TensorFlow leaves it off), where the batch-norm form runs several
    times slower than the five ops (docs/performance.md, "LayerNorm").

    Example:

        with portable_layer_norm():
            archive.add_endpoint("serving_default", serve, input_signature=specs)
    """
    token = _PORTABLE.set(True)
    try:
        yield
    finally:
        _PORTABLE.reset(token)


def _onednn_rewrite_applies(x):
    """Whether the graph being traced for `x` gets oneDNN's `_MklLayerNorm`: `x` is
    `[rows, width]` or `[batch, seq, width]` with a known width and a row count known only
    at run time, oneDNN is on in this process, which has no GPU or TPU, the graph is not
    compiled by XLA, and it stays here."""
    return (len(x.shape) in (2, 3) and x.shape[-1] is not None and None in x.shape[:-1]
            and not _PORTABLE.get() and _onednn_cpu_process() and not _in_xla_context())


@functools.cache
def _onednn_cpu_process():
    """Whether oneDNN's graph rewrites are on in this process and it sees no accelerator."""
    try:
        from tensorflow.python.util import _pywrap_util_port
        onednn = _pywrap_util_port.IsMklEnabled()
    except (ImportError, AttributeError):  # a TensorFlow without this (private) query
        onednn = False
    return onednn and not any(tf.config.list_logical_devices(kind) for kind in ("GPU", "TPU"))


def _in_xla_context():
    """Whether the graph being traced is compiled by XLA (`jit_compile=True`), where the
    oneDNN rewrite does not run."""
    try:
        from tensorflow.python.ops import control_flow_util
        return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())
    except (ImportError, AttributeError):
        return False


def _normalized_rows(x, epsilon):
    """Each row of `x` centred and scaled to unit variance by one `FusedBatchNormV3`
    (training mode) over a `[1, rows, width, 1]` NCHW view, where every row is a channel.

    Together with the `* gamma + beta` after it, this is the graph TensorFlow's remapper
    turns into one oneDNN `_MklLayerNorm` kernel on a CPU at inference, when the row count
    is a run-time value (with a static row count, constant folding makes the `Fill`s
    constants and the pattern no longer matches).
    """
    shape = tf.shape(x)
    rows = tf.reduce_prod(shape[:-1], keepdims=True)
    view = tf.reshape(x, tf.concat([[1], rows, [x.shape[-1], 1]], axis=0))
    empty = tf.zeros([0])
    y = tf.raw_ops.FusedBatchNormV3(
        x=view, scale=tf.ones(rows), offset=tf.zeros(rows), mean=empty,
        variance=empty, epsilon=epsilon, data_format="NCHW", is_training=True).y
    return tf.reshape(y, shape)


def layer_norm(name, dtype=None):
    """`LayerNorm` over the last axis with the original epsilon, 1e-12."""
    return LayerNorm(epsilon=LAYER_NORM_EPSILON, name=name, dtype=dtype)
