"""Encoder networks."""

from tfbert.networks.bert_encoder import BertEncoder, encoder_inputs

__all__ = ["BertEncoder", "encoder_inputs"]
