"""Activation functions by the names BERT configs use.

`"gelu"` is the original Google BERT's tanh approximation (modeling.py, and
Model Garden's `tf_utils.get_activation`); the exact erf form is `"gelu_erf"`.
HuggingFace configs that say `"gelu"` mean the erf form: the HuggingFace
importer maps that name to `"gelu_erf"` (see tfbert.checkpoints.huggingface).
"""

import math

import keras
from keras import ops

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@keras.saving.register_keras_serializable(package="tfbert")
def gelu_tanh(x):
    """GELU, tanh approximation: `0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))`."""
    return 0.5 * x * (1.0 + ops.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * ops.power(x, 3))))


@keras.saving.register_keras_serializable(package="tfbert")
def gelu_erf(x):
    """GELU, exact form: `x * Phi(x)` with the Gaussian CDF."""
    return keras.activations.gelu(x, approximate=False)


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
