"""Signatures of an encoder export for embeddings (`BertEncoder`).

- `serving_default(text)`: `pooled_output` `[batch, hidden]` (the [CLS]
  pooler) and `embedding` `[batch, hidden]`, the mean of `sequence_output`
  over real tokens (`tfbert.layers.MeanPooling`; L2-normalised with
  `normalize=True`, as sentence-transformers models expect).
- `serve_token_ids(...)`: the same from ids.
"""

import numpy as np

from tfbert.layers import MeanPooling
from tfbert.serving.export import (
    WARMUP_TEXTS,
    Endpoint,
    string_specs,
    token_id_specs,
    token_ids_warmup,
)
from tfbert.serving.graph import pack_to_longest, traced_once


def endpoints(encoder, preprocessor, normalize=False):
    """The endpoints of an embeddings export.

    Args:
        encoder: `tfbert.BertEncoder`.
        preprocessor: `tfbert.text.BertPreprocessor` of its vocab.
        normalize: L2-normalise `embedding`.

    Returns:
        `[Endpoint]`.
    """
    pooling = MeanPooling(normalize=normalize)

    @traced_once
    def heads(packed):
        outputs = encoder(packed, training=False)
        return {"pooled_output": outputs["pooled_output"],
                "embedding": pooling(outputs["sequence_output"], packed["input_mask"])}

    def from_text(text):
        return heads(pack_to_longest(preprocessor, [text]))

    def from_ids(input_word_ids, input_mask, input_type_ids):
        return heads({"input_word_ids": input_word_ids, "input_mask": input_mask,
                      "input_type_ids": input_type_ids})

    return [
        Endpoint("serving_default", from_text, string_specs("text"),
                 {"text": np.array(WARMUP_TEXTS, dtype=object)}),
        Endpoint("serve_token_ids", from_ids, token_id_specs(),
                 token_ids_warmup(preprocessor)),
    ]
