"""Keras layers of the BERT model: embeddings, attention, blocks, heads.

Why the layers compute as they do is said where they do it; the measurements behind those
choices are in docs/performance.md.
"""

from tfbert.layers.activations import gelu_erf, gelu_tanh, get_activation
from tfbert.layers.attention import AttentionMask, SelfAttention, precomputed_attention
from tfbert.layers.dropout import Dropout
from tfbert.layers.embeddings import OnDeviceEmbedding, PositionEmbedding
from tfbert.layers.heads import ClassificationHead, MaskedLMHead, SpanHead, gather_positions
from tfbert.layers.layer_norm import LayerNorm, portable_layer_norm
from tfbert.layers.pooling import MeanPooling
from tfbert.layers.transformer import TransformerEncoderBlock, int8_blocks

__all__ = [
    "AttentionMask", "ClassificationHead", "Dropout", "LayerNorm", "MaskedLMHead", "MeanPooling",
    "OnDeviceEmbedding", "PositionEmbedding", "SelfAttention", "SpanHead",
    "TransformerEncoderBlock", "gather_positions", "gelu_erf", "gelu_tanh", "get_activation",
    "int8_blocks", "portable_layer_norm", "precomputed_attention",
]
