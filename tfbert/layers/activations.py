"""Activation functions by the names BERT configs use.

`"gelu"` is the original Google BERT's tanh approximation (modeling.py, and
Model Garden's `tf_utils.get_activation`); the exact erf form is `"gelu_erf"`.
HuggingFace configs that say `"gelu"` mean the erf form: the HuggingFace
importer maps that name to `"gelu_erf"` (see tfbert.checkpoints.huggingface).
"""

import math

import keras
from keras import ops

_SQRT_HALF = math.sqrt(0.5)


@keras.saving.register_keras_serializable(package="tfbert")
def gelu_tanh(x):
    """GELU, tanh approximation: `0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))`.

    Keras' `gelu(approximate=True)` is this formula (on TensorFlow, `tf.nn.gelu`), written
    the way TensorFlow's graph optimizer recognises: after a Dense it becomes part of one
    fused oneDNN MatMul + BiasAdd + GELU kernel on a CPU. The same formula written out
    with `ops.tanh` and `ops.power` is not recognised, and runs slower (docs/performance.md,
    "GELU").
    """
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="tfbert")
def gelu_erf(x):
    """GELU, exact form: `x * Phi(x) = 0.5x(1 + erf(x / sqrt(2)))`, as the original BERT's
    first `modeling.py` and HuggingFace write it. TensorFlow's graph optimizer recognises
    this form: after a Dense on a CPU, MatMul + BiasAdd + GELU run as one oneDNN kernel.

    Not `keras.activations.gelu(x, approximate=False)`: TensorFlow computes that with
    `erfc`, whose CPU kernel is several times slower than `erf`, most of all in bfloat16,
    where it can cost a small model more than its matmuls (docs/performance.md, "GELU").
    """
    return 0.5 * x * (1.0 + ops.erf(x * _SQRT_HALF))


_ACTIVATIONS = {
    "gelu": gelu_tanh,
    "gelu_tanh": gelu_tanh,
    "gelu_erf": gelu_erf,
    "relu": keras.activations.relu,
    "tanh": keras.activations.tanh,
    "swish": keras.activations.silu,
    "silu": keras.activations.silu,
}


def get_activation(name):
    """Returns the activation function for a config name (see module docstring)."""
    if callable(name):
        return name
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; expected one of {sorted(_ACTIVATIONS)}") from None
