"""Output heads: masked LM (tied to the word embeddings), classification, span, token."""

import keras
import tensorflow as tf
from keras import ops

from tfbert.layers.activations import get_activation
from tfbert.layers.dropout import Dropout
from tfbert.layers.initializers import truncated_normal
from tfbert.layers.layer_norm import layer_norm


def gather_positions(sequence, positions):
    """`sequence` `[batch, seq, hidden]` at `positions` `[batch, predictions]`
    -> `[batch, predictions, hidden]`."""
    return ops.take_along_axis(sequence, ops.cast(positions, "int32")[:, :, None], axis=1)


@keras.saving.register_keras_serializable(package="tfbert")
class MaskedLMHead(keras.layers.Layer):
    """The masked-LM head of the original BERT (`cls/predictions`).

    Gathers the masked positions first (so the vocab projection runs only on
    `predictions` vectors, not on the whole sequence), then
    `LN(act(Dense(x))) @ word_embeddings^T + output_bias`.

    Args:
        embedding_layer: the encoder's `OnDeviceEmbedding` for words; its
            table is the decoder (tied weights).
        activation: str. Transform activation (the config's `hidden_act`).
        initializer_range: float. Stddev of the truncated-normal init.

    Call arguments:
        sequence_output: `[batch, seq, hidden]`.
        masked_lm_positions: int `[batch, predictions]`.

    Returns float32 logits `[batch, predictions, vocab_size]`.

    Example:

    >>> words = OnDeviceEmbedding(vocab_size=20, width=8)
    >>> words.build()
    >>> head = MaskedLMHead(words)
    >>> head(np.zeros((2, 5, 8)), np.array([[1, 2], [0, 4]])).shape
    TensorShape([2, 2, 20])
    """

    def __init__(self, embedding_layer, activation="gelu", initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.embedding_layer = embedding_layer
        self.activation = activation
        self.initializer_range = initializer_range

    def build(self, sequence_output_shape, masked_lm_positions_shape=None):
        hidden = sequence_output_shape[-1]
        self.transform = keras.layers.Dense(
            hidden, activation=get_activation(self.activation),
            kernel_initializer=truncated_normal(self.initializer_range),
            name="transform", dtype=self.dtype_policy)
        self.transform_layer_norm = layer_norm("transform_layer_norm", self.dtype_policy)
        self.transform.build((None, None, hidden))
        self.transform_layer_norm.build((None, None, hidden))
        self.output_bias = self.add_weight(
            name="output_bias", shape=(self.embedding_layer.vocab_size,), initializer="zeros")

    def call(self, sequence_output, masked_lm_positions):
        x = gather_positions(sequence_output, masked_lm_positions)
        x = self.transform_layer_norm(self.transform(x))
        # [batch * predictions, hidden] @ table^T as one 2-D product: no transposed copy
        # of the [vocab, hidden] table, forward or backward.
        shape = ops.shape(x)
        logits = tf.linalg.matmul(ops.reshape(x, (-1, shape[-1])),
                                  ops.cast(self.embedding_layer.embeddings, x.dtype),
                                  transpose_b=True)
        logits = ops.reshape(logits, (shape[0], shape[1], self.embedding_layer.vocab_size))
        return ops.cast(logits, "float32") + ops.cast(self.output_bias, "float32")

    def compute_output_shape(self, sequence_output_shape, masked_lm_positions_shape):
        return (*masked_lm_positions_shape[:2], self.embedding_layer.vocab_size)

    def get_config(self):
        config = {**super().get_config(), "activation": self.activation,
                  "initializer_range": self.initializer_range}
        config["embedding_layer"] = keras.layers.serialize(self.embedding_layer)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["embedding_layer"] = keras.layers.deserialize(config["embedding_layer"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfbert")
class ClassificationHead(keras.layers.Layer):
    """Dropout then a Dense layer to `num_classes` float32 logits, on a `[batch, hidden]`
    vector (BERT's pooled output) or on every token of `[batch, seq, hidden]`.

    This is the original `run_classifier.py` head (`output_weights`,
    `output_bias`), the NSP head (`cls/seq_relationship`, dropout 0) and the
    token-tagging head.

    Args:
        num_classes: int. Number of logits.
        dropout: float. Dropout on the input when training.
        initializer_range: float. Stddev of the truncated-normal init.

    Example:

    >>> head = ClassificationHead(num_classes=3)
    >>> head(np.zeros((2, 8))).shape
    TensorShape([2, 3])
    """

    def __init__(self, num_classes, dropout=0.0, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.dropout_rate = dropout
        self.initializer_range = initializer_range
        self.dropout = Dropout(dropout, dtype=self.dtype_policy)
        self.dense = keras.layers.Dense(
            num_classes, kernel_initializer=truncated_normal(initializer_range),
            name="logits", dtype=self.dtype_policy)

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, inputs, training=False):
        return ops.cast(self.dense(self.dropout(inputs, training=training)), "float32")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_classes,)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "dropout": self.dropout_rate, "initializer_range": self.initializer_range}


@keras.saving.register_keras_serializable(package="tfbert")
class SpanHead(keras.layers.Layer):
    """Start and end logits for extractive QA (`cls/squad` in the original).

    A Dense layer to 2 units on every token of `[batch, seq, hidden]`, split
    into `start_logits` and `end_logits`, each `[batch, seq]` (float32).

    Example:

    >>> start, end = SpanHead()(np.zeros((2, 5, 8)))
    >>> start.shape
    TensorShape([2, 5])
    """

    def __init__(self, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            2, kernel_initializer=truncated_normal(initializer_range),
            name="logits", dtype=self.dtype_policy)

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, sequence_output):
        logits = ops.cast(self.dense(sequence_output), "float32")
        return logits[..., 0], logits[..., 1]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]), tuple(input_shape[:-1])

    def get_config(self):
        return {**super().get_config(), "initializer_range": self.initializer_range}
