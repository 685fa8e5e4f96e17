"""What every task model on a `BertEncoder` shares: inputs and (de)serialisation,
and for the classifiers, the dropout + Dense head on one encoder output."""

from typing import Any, Self

import keras

from tfbert.layers.heads import ClassificationHead
from tfbert.networks.bert_encoder import BertEncoder, encoder_inputs


class EncoderTaskModel(keras.Model):
    """Base of the BERT task models: a functional model over an encoder.

    Subclasses build their outputs in `__init__` from `self.encoder_outputs`
    and list their own constructor arguments in `_config_keys`.
    """

    _config_keys: tuple[str, ...] = ()

    @staticmethod
    def _inputs(encoder: BertEncoder) -> dict[str, keras.KerasTensor]:
        """The encoder's three int32 `[batch, seq]` inputs, as Keras inputs."""
        return encoder_inputs(encoder.seq_length)

    def get_config(self) -> dict[str, Any]:
        config = {"encoder": keras.layers.serialize(self.encoder), "name": self.name,
                  "trainable": self.trainable}
        config.update({key: getattr(self, key) for key in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        config = dict(config)
        config["encoder"] = keras.layers.deserialize(config["encoder"])
        return cls(**config)


class DenseHeadModel(EncoderTaskModel):
    """A task model with dropout and a Dense layer on one encoder output, as the
    original `run_classifier.py`: `logits` `[..., num_classes]`.

    Subclasses name the head (`_head_name`: its layer name and the attribute that
    holds it, which checkpoints use) and the encoder output it reads.

    Args:
        encoder: a `tfbert.BertEncoder`.
        num_classes: int. Number of labels (or tags).
        dropout: float or None. Dropout on the encoder output when training;
            None uses the encoder config's `hidden_dropout_prob`.
    """

    _config_keys = ("num_classes", "dropout")
    _head_name = ""
    _encoder_output = ""

    def __init__(self, encoder: BertEncoder, num_classes: int, dropout: float | None = None,
                 **kwargs: Any) -> None:
        config = encoder.config
        rate = config.hidden_dropout_prob if dropout is None else dropout
        head = ClassificationHead(num_classes, rate, config.initializer_range,
                                  name=self._head_name, dtype=encoder.dtype_policy)
        inputs = self._inputs(encoder)
        super().__init__(inputs=inputs, outputs=self._head_forward(head, encoder(inputs)),
                         **kwargs)
        self.encoder = encoder
        setattr(self, self._head_name, head)
        self.num_classes = num_classes
        self.dropout = dropout

    @classmethod
    def _head_forward(cls, head, encoder_outputs, training=None):
        # Written once: it builds the functional model and runs `head_outputs`.
        given = {} if training is None else {"training": training}
        return {"logits": head(encoder_outputs[cls._encoder_output], **given)}

    def head_outputs(self, encoder_outputs: dict, training: bool = False) -> dict:
        """The model's outputs from the encoder's (`BertEncoder.encode`): what a call
        gives when the encoder gave `encoder_outputs` (`tfbert.explain` runs the
        encoder on word embeddings of its own through this)."""
        return self._head_forward(getattr(self, self._head_name), encoder_outputs, training)
