"""Keras layers of the BERT model: embeddings, attention, blocks, heads."""

from tfbert.layers.activations import gelu_erf, gelu_tanh, get_activation
from tfbert.layers.attention import AttentionMask, SelfAttention
from tfbert.layers.dropout import Dropout
from tfbert.layers.embeddings import OnDeviceEmbedding, PositionEmbedding
from tfbert.layers.heads import ClassificationHead, MaskedLMHead, SpanHead, gather_positions
from tfbert.layers.pooling import MeanPooling
from tfbert.layers.transformer import LayerNorm, TransformerEncoderBlock, portable_layer_norm

__all__ = [
    "AttentionMask", "ClassificationHead", "Dropout", "LayerNorm", "MaskedLMHead", "MeanPooling",
    "OnDeviceEmbedding", "PositionEmbedding", "SelfAttention", "SpanHead",
    "TransformerEncoderBlock", "gather_positions", "gelu_erf", "gelu_tanh", "get_activation",
    "portable_layer_norm",
]
