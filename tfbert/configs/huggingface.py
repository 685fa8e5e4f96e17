"""HuggingFace BERT model directories: how to recognise one, and its `config.json`.

HuggingFace's config word `"gelu"` means the exact erf GELU (its
`"gelu_new"`/`"gelu_pytorch_tanh"` are the tanh form of the original BERT),
so activations are mapped by the function HuggingFace really computes. The
weights are read by `tfbert.checkpoints.huggingface`.
"""

import json
import os

import numpy as np

from tfbert.configs.bert_config import BertConfig

# HuggingFace ACT2FN name -> tfbert activation name.
HF_ACTIVATIONS = {
    "gelu": "gelu_erf",
    "gelu_python": "gelu_erf",
    "gelu_new": "gelu",
    "gelu_pytorch_tanh": "gelu",
    "gelu_fast": "gelu",
    "relu": "relu",
    "tanh": "tanh",
    "silu": "silu",
    "swish": "silu",
}
_CONFIG_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "hidden_dropout_prob", "attention_probs_dropout_prob",
                "max_position_embeddings", "type_vocab_size", "initializer_range")


def config_from_huggingface(config):
    """A `BertConfig` from a HuggingFace BERT `config.json` (path or dict)."""
    if not isinstance(config, dict):
        with open(config, encoding="utf-8") as f:
            config = json.load(f)
    act = config.get("hidden_act", "gelu")
    if act not in HF_ACTIVATIONS:
        raise ValueError(f"HuggingFace hidden_act {act!r} is not supported; "
                         f"known: {sorted(HF_ACTIVATIONS)}")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only position_embedding_type='absolute' is BERT; got "
                         f"{config['position_embedding_type']!r}")
    eps = config.get("layer_norm_eps", 1e-12)
    if not np.isclose(eps, 1e-12, rtol=0, atol=1e-13):
        raise ValueError(f"layer_norm_eps={eps}: tfbert implements BERT's 1e-12 only")
    values = {k: config[k] for k in _CONFIG_KEYS if k in config}
    return BertConfig.from_dict({**values, "hidden_act": HF_ACTIVATIONS[act]})


def is_huggingface_dir(path) -> bool:
    """Whether `path` is a HuggingFace model directory (it holds a `config.json`).

    Example:

    >>> is_huggingface_dir("/nonexistent")
    False
    """
    return bool(path) and os.path.isdir(path) and os.path.isfile(
        os.path.join(path, "config.json"))


def is_huggingface_config(path) -> bool:
    """Whether the `.json` file at `path` is a HuggingFace config: HuggingFace writes
    `model_type` into every config.json; Google's `bert_config.json` has none."""
    try:
        with open(path, encoding="utf-8") as f:
            return "model_type" in json.load(f)
    except (OSError, ValueError, TypeError):
        return False  # BertConfig.from_file reports the bad JSON
