"""`BertSpanLabeler`: start/end logits for extractive question answering (SQuAD)."""

from typing import Any

import keras

from tfbert.layers.heads import SpanHead
from tfbert.models.base import EncoderTaskModel
from tfbert.networks.bert_encoder import BertEncoder


@keras.saving.register_keras_serializable(package="tfbert")
class BertSpanLabeler(EncoderTaskModel):
    """A `BertEncoder` with the original SQuAD head: a Dense layer to 2 units
    on every token. Outputs float32 `start_logits` and `end_logits`, each
    `[batch, seq]`.

    Args:
        encoder: a `tfbert.BertEncoder`.

    Example:

    >>> config = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2,
    ...                     num_attention_heads=2, intermediate_size=128)
    >>> labeler = BertSpanLabeler(BertEncoder(config))
    >>> labeler(labeler.encoder.dummy_inputs(2, 8))["start_logits"].shape
    TensorShape([2, 8])
    """

    def __init__(self, encoder: BertEncoder, **kwargs: Any) -> None:
        head = SpanHead(encoder.config.initializer_range, name="span_head",
                        dtype=encoder.dtype_policy)
        inputs = self._inputs(encoder)
        super().__init__(inputs=inputs, outputs=self._head_forward(head, encoder(inputs)),
                         **kwargs)
        self.encoder = encoder
        self.span_head = head

    @staticmethod
    def _head_forward(head, encoder_outputs):
        # Written once: it builds the functional model and runs `head_outputs`.
        start_logits, end_logits = head(encoder_outputs["sequence_output"])
        return {"start_logits": start_logits, "end_logits": end_logits}

    def head_outputs(self, encoder_outputs: dict, training: bool = False) -> dict:
        """The model's outputs from the encoder's (`BertEncoder.encode`), as a call
        computes them (the span head has no dropout: `training` changes nothing)."""
        del training
        return self._head_forward(self.span_head, encoder_outputs)
