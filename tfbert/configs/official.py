"""The official model configs (`official_configs/models/*.yaml`), loadable by name.

In a source checkout they are read from the repository's `official_configs/`;
an installed wheel carries a copy under `<sys.prefix>/share/tfbert/`.
"""

import pathlib
import sys

from tfbert.configs.bert_config import BertConfig
from tfbert.configs.huggingface import (
    config_from_huggingface,
    is_huggingface_config,
    is_huggingface_dir,
)

# The four small BERTs that Google's README names.
ALIASES = {
    "bert_tiny_uncased": "uncased_L-2_H-128_A-2",
    "bert_mini_uncased": "uncased_L-4_H-256_A-4",
    "bert_small_uncased": "uncased_L-4_H-512_A-8",
    "bert_medium_uncased": "uncased_L-8_H-512_A-8",
}


def official_configs_dir() -> pathlib.Path:
    """The `official_configs` directory: the checkout's, else the installed copy."""
    candidates = [pathlib.Path(__file__).resolve().parents[2] / "official_configs",
                  pathlib.Path(sys.prefix) / "share" / "tfbert" / "official_configs"]
    for path in candidates:
        if (path / "models").is_dir():
            return path
    raise FileNotFoundError(
        "official_configs not found; looked in " + ", ".join(map(str, candidates)))


def list_model_configs() -> list[str]:
    """Names of the official model configs, e.g. `bert_base_uncased`."""
    names = [p.stem for p in (official_configs_dir() / "models").glob("*.yaml")]
    return sorted(names + list(ALIASES))


def model_config(name_or_path: str) -> BertConfig:
    """A `BertConfig` from an official name (`bert_base_uncased`,
    `uncased_L-4_H-512_A-8`, `bert_small_uncased`, ...) or from a path to a
    `.yaml` file, a Google `bert_config.json`, or a HuggingFace `config.json`
    (or its model directory; recognised by its `model_type` key).

    Example:

    >>> model_config("bert_base_uncased").num_hidden_layers
    12
    """
    path = pathlib.Path(name_or_path)
    if is_huggingface_dir(path):
        path = path / "config.json"
    if path.suffix == ".json" and path.is_file() and is_huggingface_config(path):
        return config_from_huggingface(str(path))  # its "gelu" is the erf form
    if path.suffix in (".yaml", ".yml", ".json") and path.is_file():
        return BertConfig.from_file(path)
    if (path.suffix in (".yaml", ".yml", ".json") or "/" in str(name_or_path)) \
            and not path.exists():
        raise FileNotFoundError(f"model config {name_or_path}: no such file (give a "
                                "bert_config.json, a model .yaml or an official name)")
    name = ALIASES.get(name_or_path, name_or_path)
    path = official_configs_dir() / "models" / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"no official model config named {name_or_path!r}; "
                         f"known: {', '.join(list_model_configs())}")
    return BertConfig.from_yaml_file(path)
