"""`BertEncoder`: the BERT Transformer encoder, with the TF Hub BERT interface."""

from typing import Any, Self

import keras
import numpy as np

from tfbert.configs.bert_config import BertConfig
from tfbert.layers.attention import AttentionMask
from tfbert.layers.dropout import Dropout
from tfbert.layers.embeddings import OnDeviceEmbedding, PositionEmbedding, truncated_normal
from tfbert.layers.transformer import TransformerEncoderBlock, layer_norm

INPUT_NAMES: tuple[str, ...] = ("input_word_ids", "input_mask", "input_type_ids")


def encoder_inputs(seq_length: int | None = None) -> dict[str, keras.KerasTensor]:
    """Keras inputs `input_word_ids`, `input_mask`, `input_type_ids`: int32 `[batch, seq]`."""
    return {name: keras.Input(shape=(seq_length,), dtype="int32", name=name)
            for name in INPUT_NAMES}


# The layers a `BertEncoder` holds as attributes, under the names checkpoints know them by.
_LAYER_ATTRIBUTES = ("word_embeddings", "position_embedding", "type_embeddings",
                     "embeddings_layer_norm", "transformer_layers", "pooler")


def _forward(layers, inputs, word_embeddings=None, return_attention_scores=False,
             training=None):
    """The encoder's forward pass, written once: it builds the functional model (on Keras
    inputs) and runs `BertEncoder.encode` (on tensors), so the two cannot drift apart."""
    given = {} if training is None else {"training": training}
    words = (layers["word_embeddings"](inputs["input_word_ids"]) if word_embeddings is None
             else word_embeddings)  # [batch, seq, hidden]
    x = words + layers["position_embedding"](words) + layers["type_embeddings"](
        inputs["input_type_ids"])
    x = layers["embeddings_dropout"](layers["embeddings_layer_norm"](x), **given)
    attention_bias = layers["attention_mask"](inputs["input_mask"])
    encoder_outputs, attention_probs = [], []
    for block in layers["transformer_layers"]:
        if return_attention_scores:
            x, probs = block(x, attention_bias, return_attention_scores=True, **given)
            attention_probs.append(probs)
        else:
            x = block(x, attention_bias, **given)
        encoder_outputs.append(x)
    outputs = {"sequence_output": x, "pooled_output": layers["pooler"](x[:, 0, :]),
               "encoder_outputs": encoder_outputs}
    if return_attention_scores:
        outputs["attention_probs"] = attention_probs
    return outputs


@keras.saving.register_keras_serializable(package="tfbert")
class BertEncoder(keras.Model):
    """The BERT encoder of Devlin et al. (2018), with the original numerics.

    Inputs (a dict, int32 `[batch, seq]`): `input_word_ids`, `input_mask`
    (1 = token, 0 = padding), `input_type_ids` (segment ids).
    Outputs (a dict): `sequence_output` `[batch, seq, hidden]`,
    `pooled_output` `[batch, hidden]` (tanh Dense on the first token), and
    `encoder_outputs`, the list of every layer's output.

    Embeddings are word + position + type, then LayerNorm (epsilon 1e-12) and
    dropout; blocks are post-LN with tanh-GELU; the padding mask is additive
    (-10000); weights start truncated-normal(`initializer_range`).

    Args:
        config: a `tfbert.BertConfig` (or its dict).
        use_one_hot_embeddings: bool. One-hot matmul word lookup (TPUs).
        seq_length: int or None. Static sequence length of the inputs; None
            accepts any length up to `max_position_embeddings`.
        **kwargs: passed to `keras.Model` (e.g. `name`, `dtype`).

    Example:

    >>> config = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2,
    ...                     num_attention_heads=2, intermediate_size=128)
    >>> encoder = BertEncoder(config)
    >>> outputs = encoder({"input_word_ids": np.ones((2, 8), "int32"),
    ...                    "input_mask": np.ones((2, 8), "int32"),
    ...                    "input_type_ids": np.zeros((2, 8), "int32")})
    >>> outputs["sequence_output"].shape, outputs["pooled_output"].shape
    (TensorShape([2, 8, 64]), TensorShape([2, 64]))
    """

    def __init__(self, config: BertConfig | dict[str, Any], use_one_hot_embeddings: bool = False,
                 seq_length: int | None = None, **kwargs: Any) -> None:
        if isinstance(config, dict):
            config = BertConfig.from_dict(config)
        dtype = kwargs.pop("dtype", None)
        init = truncated_normal(config.initializer_range)

        # === Layers ===
        word_embeddings = OnDeviceEmbedding(
            config.vocab_size, config.hidden_size, config.initializer_range,
            use_one_hot=use_one_hot_embeddings, name="word_embeddings", dtype=dtype)
        position_embedding = PositionEmbedding(
            config.max_position_embeddings, config.initializer_range,
            name="position_embedding", dtype=dtype)
        type_embeddings = OnDeviceEmbedding(
            config.type_vocab_size, config.hidden_size, config.initializer_range,
            use_one_hot=True, name="type_embeddings", dtype=dtype)
        embeddings_layer_norm = layer_norm("embeddings_layer_norm", dtype)
        embeddings_dropout = Dropout(
            config.hidden_dropout_prob, name="embeddings_dropout", dtype=dtype)
        blocks = [
            TransformerEncoderBlock(
                config.num_attention_heads, config.intermediate_size, config.hidden_act,
                dropout=config.hidden_dropout_prob,
                attention_dropout=config.attention_probs_dropout_prob,
                initializer_range=config.initializer_range,
                name=f"transformer_layer_{i}", dtype=dtype)
            for i in range(config.num_hidden_layers)]
        pooler = keras.layers.Dense(
            config.hidden_size, activation="tanh", kernel_initializer=init,
            name="pooler_transform", dtype=dtype)

        # === Functional Model ===
        layers = {"word_embeddings": word_embeddings, "position_embedding": position_embedding,
                  "type_embeddings": type_embeddings,
                  "embeddings_layer_norm": embeddings_layer_norm,
                  "transformer_layers": blocks, "pooler": pooler}
        inputs = encoder_inputs(seq_length)
        outputs = _forward({**layers, "embeddings_dropout": embeddings_dropout,
                            "attention_mask": AttentionMask(name="attention_mask", dtype=dtype)},
                           inputs)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config, and the layers under the names checkpoints know them by ===
        self.config = config
        self.use_one_hot_embeddings = use_one_hot_embeddings
        self.seq_length = seq_length
        for name, layer in layers.items():
            setattr(self, name, layer)

    def get_config(self) -> dict[str, Any]:
        return {"config": self.config.to_dict(),
                "use_one_hot_embeddings": self.use_one_hot_embeddings,
                "seq_length": self.seq_length, "name": self.name,
                "trainable": self.trainable}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        return cls(**config)

    def encode(self, inputs: dict[str, Any], word_embeddings: Any = None,
               return_attention_scores: bool = False, training: bool = False) -> dict[str, Any]:
        """The encoder's outputs, computed by the very layers and code path of a normal
        call, with two options a call cannot take.

        This is for looking inside the model (`tfbert.explain`): attention maps that come
        from the same forward pass as the outputs (not a second implementation that could
        drift), and gradients with respect to the word embeddings. With both options off
        the outputs are those of `encoder(inputs)`, bit for bit.

        Args:
            inputs: the encoder's input dict (int32 `[batch, seq]`).
            word_embeddings: float `[batch, seq, hidden]` used in place of the looked-up
                word embeddings of `input_word_ids` (position and type embeddings, the
                mask and the rest stay); None: look them up.
            return_attention_scores: add `attention_probs`, the list (one entry per
                layer) of the attention probabilities `[batch, heads, seq, seq]`.
            training: bool. Dropout on when True.

        Returns:
            The dict of a call (`sequence_output`, `pooled_output`, `encoder_outputs`),
            plus `attention_probs` when asked for.

        Example:

        >>> config = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2,
        ...                     num_attention_heads=2, intermediate_size=128)
        >>> encoder = BertEncoder(config)
        >>> outputs = encoder.encode(encoder.dummy_inputs(1, 5), return_attention_scores=True)
        >>> len(outputs["attention_probs"]), outputs["attention_probs"][0].shape
        (2, TensorShape([1, 2, 5, 5]))
        """
        layers = {name: getattr(self, name) for name in _LAYER_ATTRIBUTES}
        for name in ("embeddings_dropout", "attention_mask"):
            layers[name] = self.get_layer(name)
        return _forward(layers, inputs, word_embeddings, return_attention_scores, training)

    def dummy_inputs(self, batch_size: int = 1, seq_length: int = 8) -> dict[str, np.ndarray]:
        """All-ones ids, full mask, type 0: builds the model and shows the input format."""
        shape = (batch_size, self.seq_length or seq_length)
        return {"input_word_ids": np.ones(shape, "int32"), "input_mask": np.ones(shape, "int32"),
                "input_type_ids": np.zeros(shape, "int32")}
