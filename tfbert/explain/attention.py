"""Attention probabilities of every layer and head, from the model's own forward pass."""

import dataclasses

import numpy as np


@dataclasses.dataclass
class AttentionMaps:
    """What one forward pass gave: the model's outputs and its attention.

    Args:
        outputs: the model's outputs (a task model's logits, or the encoder's dict),
            bit-equal to those of a call on the same inputs.
        probs: one float32 array `[batch, heads, seq, seq]` per layer: row `i` of a
            head is how query position `i` spreads its attention over the key
            positions (it sums to 1 over the real tokens; padding gets 0).

    Example:

    >>> maps = AttentionMaps({}, [np.full((1, 2, 3, 3), 1 / 3)])
    >>> maps.num_layers, maps.num_heads
    (1, 2)
    """

    outputs: dict
    probs: list

    @property
    def num_layers(self) -> int:
        return len(self.probs)

    @property
    def num_heads(self) -> int:
        return self.probs[0].shape[1]

    def head(self, layer: int, head: int, example: int = 0) -> np.ndarray:
        """`[seq, seq]` of one head of one layer; an error names a layer or head the
        model does not have (negative indices count from the end)."""
        check_layer_head(self.num_layers, self.num_heads, layer, head)
        return self.probs[layer][example, head]


def check_layer_head(num_layers: int, num_heads: int, layer: int, head: int) -> None:
    """Raises ValueError naming a layer or head that a model of `num_layers` layers and
    `num_heads` heads does not have (negative indices count from the end).

    Example:

    >>> check_layer_head(2, 4, layer=-1, head=3)
    """
    for what, index, count in (("layer", layer, num_layers), ("head", head, num_heads)):
        if not -count <= index < count:
            raise ValueError(f"{what} {index} does not exist: the model has {count} "
                             f"{what}s, 0..{count - 1}")


def attention_maps(model, inputs: dict) -> AttentionMaps:
    """The attention probabilities of every layer and head for `inputs`, with the
    outputs of the same forward pass (`BertEncoder.encode` with
    `return_attention_scores=True`: the very layers of a call, so the maps cannot
    drift from what the model computes).

    Args:
        model: a `BertEncoder`, or a task model on one (its head's outputs are given).
        inputs: the encoder inputs, int `[batch, seq]` each.

    Returns:
        `AttentionMaps` (`probs`: `[layers][batch, heads, seq, seq]`).

    Example:

    >>> config = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2,
    ...                     num_attention_heads=2, intermediate_size=128)
    >>> encoder = BertEncoder(config)
    >>> maps = attention_maps(encoder, encoder.dummy_inputs(1, 5))
    >>> maps.num_layers, maps.probs[0].shape
    (2, (1, 2, 5, 5))
    """
    encoder = getattr(model, "encoder", model)
    inputs = {k: np.asarray(v, "int32") for k, v in inputs.items()}
    encoded = encoder.encode(inputs, return_attention_scores=True, training=False)
    probs = [np.asarray(p, "float32") for p in encoded.pop("attention_probs")]
    head_outputs = getattr(model, "head_outputs", None)
    outputs = head_outputs(encoded, training=False) if model is not encoder and callable(
        head_outputs) else encoded
    return AttentionMaps(outputs=outputs, probs=probs)
