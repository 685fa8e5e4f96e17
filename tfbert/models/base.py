"""What every task model on a `BertEncoder` shares: inputs and (de)serialisation."""

from typing import Any, Self

import keras

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
