"""`BertPretrainer`: the masked-LM and next-sentence heads of the original pre-training."""

from typing import Any

import keras

from tfbert.layers.heads import ClassificationHead, MaskedLMHead
from tfbert.models.base import EncoderTaskModel
from tfbert.networks.bert_encoder import INPUT_NAMES, BertEncoder


@keras.saving.register_keras_serializable(package="tfbert")
class BertPretrainer(EncoderTaskModel):
    """A `BertEncoder` with the original pre-training heads.

    Inputs: the encoder's three inputs and `masked_lm_positions` (int32
    `[batch, predictions]`). Outputs (float32): `mlm_logits`
    `[batch, predictions, vocab_size]` (the MLM decoder is tied to the word
    embeddings, with its own output bias) and `next_sentence_logits`
    `[batch, 2]`, a Dense layer on the encoder's pooled output, as the
    original `cls/seq_relationship` (label 0 = is next, 1 = random).

    Args:
        encoder: a `tfbert.BertEncoder`.
        mlm_activation: str or None. Activation of the MLM transform; None
            uses the encoder config's `hidden_act`, as the original does.
        max_predictions_per_seq: int or None. Static number of predictions.

    Example:

    >>> config = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2,
    ...                     num_attention_heads=2, intermediate_size=128)
    >>> pretrainer = BertPretrainer(BertEncoder(config))
    >>> inputs = pretrainer.encoder.dummy_inputs(2, 8)
    >>> inputs["masked_lm_positions"] = np.array([[1, 2], [3, 4]], "int32")
    >>> outputs = pretrainer(inputs)
    >>> outputs["mlm_logits"].shape, outputs["next_sentence_logits"].shape
    (TensorShape([2, 2, 100]), TensorShape([2, 2]))
    """

    _config_keys = ("mlm_activation", "max_predictions_per_seq")

    def __init__(self, encoder: BertEncoder, mlm_activation: str | None = None,
                 max_predictions_per_seq: int | None = None, **kwargs: Any) -> None:
        config = encoder.config
        masked_lm = MaskedLMHead(
            encoder.word_embeddings, activation=mlm_activation or config.hidden_act,
            initializer_range=config.initializer_range, name="masked_lm",
            dtype=encoder.dtype_policy)
        next_sentence = ClassificationHead(
            2, initializer_range=config.initializer_range, name="next_sentence",
            dtype=encoder.dtype_policy)

        inputs = self._inputs(encoder)
        inputs["masked_lm_positions"] = keras.Input(
            shape=(max_predictions_per_seq,), dtype="int32", name="masked_lm_positions")
        outputs = encoder({k: inputs[k] for k in INPUT_NAMES})
        super().__init__(inputs=inputs, outputs={
            "mlm_logits": masked_lm(outputs["sequence_output"], inputs["masked_lm_positions"]),
            "next_sentence_logits": next_sentence(outputs["pooled_output"]),
        }, **kwargs)

        self.encoder = encoder
        self.masked_lm = masked_lm
        self.next_sentence = next_sentence
        self.mlm_activation = mlm_activation
        self.max_predictions_per_seq = max_predictions_per_seq
