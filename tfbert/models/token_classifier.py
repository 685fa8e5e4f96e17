"""`BertTokenClassifier`: a label per wordpiece (named entities, tagging)."""

import keras

from tfbert.models.base import DenseHeadModel


@keras.saving.register_keras_serializable(package="tfbert")
class BertTokenClassifier(DenseHeadModel):
    """A `BertEncoder` with dropout and a Dense layer on every token.

    Output: `logits`, float32 `[batch, seq, num_classes]`.

    Args: `encoder`, `num_classes` (tags) and `dropout` (on each token's output), as
    `tfbert.models.base.DenseHeadModel`.

    Example:

    >>> config = BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2,
    ...                     num_attention_heads=2, intermediate_size=128)
    >>> tagger = BertTokenClassifier(BertEncoder(config), num_classes=9)
    >>> tagger(tagger.encoder.dummy_inputs(2, 8))["logits"].shape
    TensorShape([2, 8, 9])
    """

    _head_name = "token_classifier"
    _encoder_output = "sequence_output"
