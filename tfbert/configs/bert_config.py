"""`BertConfig`: the hyper-parameters of a BERT encoder, as in `bert_config.json`.

The keys and defaults are those of the original `modeling.BertConfig`
(google-research/bert), including `type_vocab_size=16` when the key is absent.
Released `bert_config.json` files set it to 2.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import yaml

from tfbert.configs import safe_yaml

# Activation names a config may use, mapped to what tfbert computes. "gelu" in a
# Google config is the tanh approximation; HuggingFace configs are mapped by the
# HuggingFace importer (there "gelu" means the erf form, see
# tfbert.checkpoints.huggingface).
ACTIVATIONS = ("gelu", "gelu_tanh", "gelu_erf", "relu", "tanh", "swish", "silu")


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """Hyper-parameters of a BERT encoder, with the `bert_config.json` keys.

    Args:
        vocab_size: int. Size of the WordPiece vocabulary.
        hidden_size: int. Width `H` of every layer.
        num_hidden_layers: int. Number of Transformer blocks `L`.
        num_attention_heads: int. Attention heads `A`; must divide `hidden_size`.
        intermediate_size: int. Width of the feed-forward layer (4H in BERT).
        hidden_act: str. Feed-forward and MLM-transform activation. `"gelu"`
            is the original tanh approximation; `"gelu_erf"` the exact form.
        hidden_dropout_prob: float. Dropout on embeddings and block outputs.
        attention_probs_dropout_prob: float. Dropout on attention weights.
        max_position_embeddings: int. Longest sequence the model accepts.
        type_vocab_size: int. Number of segment (token type) ids.
        initializer_range: float. Stddev of the truncated-normal initializer.

    Example:

    >>> config = BertConfig(vocab_size=30522, hidden_size=128,
    ...                     num_hidden_layers=2, num_attention_heads=2,
    ...                     intermediate_size=512)
    >>> config.head_size
    64
    >>> BertConfig.from_dict({"vocab_size": 100, "hidden_size": 64,
    ...     "num_attention_heads": 4, "directionality": "bidi"}).hidden_size
    64
    """

    vocab_size: int
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 16
    initializer_range: float = 0.02

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise TypeError(
                        f"BertConfig.{field.name} must be an int, got "
                        f"{type(value).__name__} {value!r}")
                if value < 1:
                    raise ValueError(
                        f"BertConfig.{field.name} must be >= 1, got {value}")
            elif field.type == "float":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise TypeError(
                        f"BertConfig.{field.name} must be a number, got "
                        f"{type(value).__name__} {value!r}")
                object.__setattr__(self, field.name, float(value))
            elif field.type == "str" and not isinstance(value, str):
                raise TypeError(
                    f"BertConfig.{field.name} must be a string, got "
                    f"{type(value).__name__} {value!r}")
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(
                    f"BertConfig.{name} must be in [0, 1), got {getattr(self, name)}")
        if self.initializer_range <= 0:
            raise ValueError(
                f"BertConfig.initializer_range must be > 0, got {self.initializer_range}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"BertConfig.hidden_size ({self.hidden_size}) is not a multiple of "
                f"num_attention_heads ({self.num_attention_heads})")
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(
                f"BertConfig.hidden_act {self.hidden_act!r} is not one of {ACTIVATIONS}")

    @property
    def head_size(self) -> int:
        """Width of one attention head, `hidden_size // num_attention_heads`."""
        return self.hidden_size // self.num_attention_heads

    # --- dict / JSON / YAML ------------------------------------------------

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BertConfig:
        """Builds a config from a dict; unknown keys are ignored, as in the original."""
        if not isinstance(values, dict):
            raise TypeError(f"a BERT config must be a mapping, got {type(values).__name__}")
        if "vocab_size" not in values:
            raise ValueError("a BERT config needs the key 'vocab_size'")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> BertConfig:
        """A copy with some values changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> BertConfig:
        with open(path, encoding="utf-8") as f:
            try:
                values = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: not valid JSON: {e}") from e
        return cls.from_dict(values)

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_json_file(self, path: str | os.PathLike) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.to_json_string())

    @classmethod
    def from_yaml_file(cls, path: str | os.PathLike) -> BertConfig:
        """Reads a YAML file holding the config, at the top or under `model:`."""
        with open(path, encoding="utf-8") as f:
            values = safe_yaml.load(f, os.fspath(path))
        if isinstance(values, dict) and isinstance(values.get("model"), dict):
            values = values["model"]
        return cls.from_dict(values or {})

    def to_yaml_file(self, path: str | os.PathLike) -> None:
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump({"model": self.to_dict()}, f, sort_keys=False)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> BertConfig:
        """Reads `.json` or `.yaml`/`.yml`, by the file's extension."""
        if str(path).endswith((".yaml", ".yml")):
            return cls.from_yaml_file(path)
        return cls.from_json_file(path)
