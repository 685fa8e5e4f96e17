"""`BertTokenClassifier`: a label per wordpiece (named entities, tagging)."""

from typing import Any

import keras

from tfbert.layers.heads import ClassificationHead
from tfbert.models.base import EncoderTaskModel
from tfbert.networks.bert_encoder import BertEncoder


@keras.saving.register_keras_serializable(package="tfbert")
class BertTokenClassifier(EncoderTaskModel):
    """A `BertEncoder` with dropout and a Dense layer on every token.

    Output: `logits`, float32 `[batch, seq, num_classes]`.

    Args:
        encoder: a `tfbert.BertEncoder`.
        num_classes: int. Number of tags.
        dropout: float or None. Dropout on the sequence output when training;
            None uses the encoder config's `hidden_dropout_prob`.

    Example:

    >>> config = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2,
    ...                     num_attention_heads=2, intermediate_size=128)
    >>> tagger = BertTokenClassifier(BertEncoder(config), num_classes=9)
    >>> tagger(tagger.encoder.dummy_inputs(2, 8))["logits"].shape
    TensorShape([2, 8, 9])
    """

    _config_keys = ("num_classes", "dropout")

    def __init__(self, encoder: BertEncoder, num_classes: int, dropout: float | None = None,
                 **kwargs: Any) -> None:
        config = encoder.config
        rate = config.hidden_dropout_prob if dropout is None else dropout
        head = ClassificationHead(num_classes, rate, config.initializer_range,
                                  name="token_classifier", dtype=encoder.dtype_policy)
        inputs = self._inputs(encoder)
        outputs = encoder(inputs)
        super().__init__(inputs=inputs, outputs={"logits": head(outputs["sequence_output"])},
                         **kwargs)
        self.encoder = encoder
        self.token_classifier = head
        self.num_classes = num_classes
        self.dropout = dropout
