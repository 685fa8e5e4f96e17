"""Signatures of a word tagger (`BertTokenClassifier`): labels and entity spans per text.

- `serving_default(text)`, all `[batch, n]`, padded per batch:
  per word piece (after truncation to `seq_length - 2` pieces): `labels`
  (names; ""), `label_ids` (-1), `start_byte`, `end_byte` (-1) into the
  UTF-8 input; per entity: `entity_labels` (the type, e.g. "PER"; ""),
  `entity_start_byte`, `entity_end_byte` (-1).
- `serve_token_ids(...)`: `logits` `[batch, seq, labels]`.

Entities are decoded as the tagging task trains: a word's label is its first
piece's (continuation pieces `##...` take it over). An entity starts at a
piece whose label is `B-T`/`S-T` at the start of a word, or whose type
differs from the previous piece's; it extends over the following pieces of
the same type, and spans from its first piece's first byte to its last
piece's last byte. "O" (any label without a `X-` prefix) is outside.

Long texts (`long_text="max_context"`): no piece is cut off. Each text is
cut into windows of `seq_length - 2` pieces that start `doc_stride` pieces
apart, the windows of all the batch's texts run through the model as one
batch, and every piece takes its label from the one window where it has the
most context (`tfbert.data.windows.max_context`, the rule of the original
SQuAD code and of the tagging task's Python path), so that a word is tagged
once, never twice and never skipped. The outputs cover every piece.
"""

import numpy as np
import tensorflow as tf

from tfbert.data.windows import max_context, sliding_windows, window_pieces
from tfbert.serving.export import (
    WARMUP_TEXTS,
    Endpoint,
    string_specs,
    token_id_specs,
    token_ids_warmup,
)
from tfbert.serving.graph import traced_once


def label_types(label_names):
    """`(types, type_ids, begins)`: entity type names, each label's type id
    (-1 outside) and whether it begins an entity (`B-`, `S-`).

    Example:

    >>> label_types(["O", "B-PER", "I-PER", "B-LOC"])
    (['PER', 'LOC'], [-1, 0, 0, 1], [False, True, False, True])
    """
    types, type_ids, begins = [], [], []
    for name in label_names:
        prefix, _, kind = str(name).partition("-")
        if not kind or prefix not in ("B", "I", "E", "S"):
            type_ids.append(-1)
            begins.append(False)
            continue
        if kind not in types:
            types.append(kind)
        type_ids.append(types.index(kind))
        begins.append(prefix in ("B", "S"))
    return types, type_ids, begins


def _pad(ragged, value):
    return ragged.to_tensor(default_value=tf.cast(value, ragged.dtype))


# How a text longer than one window is tagged: `first` cuts it (the original's
# truncation), `max_context` reads it all in windows.
LONG_TEXT = ("first", "max_context")


def check_long_text(long_text: str, doc_stride: int = 1):
    """Raises ValueError unless `long_text` is one of `LONG_TEXT` and `doc_stride` >= 1."""
    if long_text not in LONG_TEXT:
        raise ValueError(f"long_text must be one of {', '.join(LONG_TEXT)} for tagging (each "
                         f"word takes its tag from one window); got {long_text!r}")
    if doc_stride < 1:
        raise ValueError(f"doc_stride must be at least 1; got {doc_stride}")


def max_context_labels(window_labels, pieces, num_pieces):
    """Each piece's label from the window where it has the most context.

    Args:
        window_labels: int32 RaggedTensor `[windows, (pieces)]`: the label of
            each piece in each window that holds it.
        pieces: int64 RaggedTensor like it: the flat index of each piece.
        num_pieces: int64 scalar, the number of pieces (each in some window).

    Returns:
        int32 `[num_pieces]`.

    Example:

    >>> pieces = tf.ragged.range(tf.constant([0, 2], tf.int64), tf.constant([4, 6], tf.int64))
    >>> labels = tf.ragged.constant([[1, 1, 1, 1], [2, 2, 2, 2]])
    >>> max_context_labels(labels, pieces, 6).numpy().tolist()
    [1, 1, 1, 2, 2, 2]
    """
    scored = max_context(pieces, num_pieces).values
    # Exactly one window scores each piece: the segment maximum picks its label.
    return tf.math.unsorted_segment_max(tf.boolean_mask(window_labels.values, scored),
                                        tf.boolean_mask(pieces.values, scored), num_pieces)


def endpoints(model, preprocessor, label_names, long_text="first", doc_stride=64):
    """The endpoints of a tagging export.

    Args:
        model: `tfbert.BertTokenClassifier` (`logits` `[batch, seq, labels]`).
        preprocessor: `tfbert.text.BertPreprocessor` of the model's vocab.
        label_names: the tags in id order (e.g. `["O", "B-PER", "I-PER", ...]`).
        long_text: `first` (pieces past `seq_length - 2` are cut off) or
            `max_context` (every piece, in windows; see the module doc).
        doc_stride: how far the windows of a long text advance, in pieces.

    Returns:
        `[Endpoint]`.
    """
    check_long_text(long_text, doc_stride)
    num_labels = int(model.output["logits"].shape[-1])
    if len(label_names) != num_labels:
        raise ValueError(f"{len(label_names)} label names for a {num_labels}-label model")
    tokenizer, seq_length = preprocessor.tokenizer, preprocessor.seq_length
    types, type_ids, begins = label_types(label_names)
    continues = [t.startswith("##") and len(t) > 2 for t in tokenizer.vocabulary]

    model_logits = traced_once(lambda packed: model(packed, training=False)["logits"])

    def truncated_labels(ids, begin, end):
        ids, begin, end = (x[:, :seq_length - 2] for x in (ids, begin, end))
        longest = tf.reduce_max(tf.concat([tf.cast(ids.row_lengths(), tf.int32), [0]], 0))
        packed = preprocessor.bert_pack_inputs([ids], seq_length=longest + 2)  # [batch, <=seq]
        logits = model_logits(packed)                                   # [batch, seq, labels]
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)[:, 1:]
        return _first_n(predicted, ids), ids, begin, end                # ragged [batch, (n)]

    def window_labels(ids, begin, end):
        max_doc = tf.fill(tf.shape(ids.row_lengths()), tf.constant(seq_length - 2, tf.int64))
        start, length = sliding_windows(ids.row_lengths(), max_doc, doc_stride)
        pieces = window_pieces(ids.row_starts(), start, length)         # [windows, (n)]
        longest = tf.reduce_max(tf.concat([tf.cast(length.values, tf.int32), [0]], 0))
        packed = preprocessor.bert_pack_inputs(
            [pieces.with_flat_values(tf.gather(ids.values, pieces.values))],
            seq_length=longest + 2)                                     # [windows, <=seq]
        logits = model_logits(packed)
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)[:, 1:]
        labels = max_context_labels(_first_n(predicted, pieces), pieces,
                                    tf.size(ids.values, out_type=tf.int64))
        return ids.with_flat_values(labels), ids, begin, end

    def from_text(text):
        pieces = tokenizer.tokenize_with_offsets(text)
        label_of = truncated_labels if long_text == "first" else window_labels
        # Label of every piece, then of its word's first piece.
        piece_label, ids, begin, end = label_of(*pieces)
        flat = piece_label.values
        row = ids.value_rowids()
        row_start = tf.equal(tf.range(tf.size(flat, out_type=tf.int64)),
                             tf.gather(ids.row_starts(), row))
        is_first = ~tf.gather(tf.constant(continues), ids.values) | row_start
        word = tf.cumsum(tf.cast(is_first, tf.int32)) - 1
        word_label = tf.gather(tf.boolean_mask(flat, is_first), word)
        kind = tf.gather(tf.constant(type_ids, tf.int32), word_label)     # -1: outside
        previous = tf.where(row_start, -1, tf.concat([[-1], kind[:-1]], 0))
        starts = (kind >= 0) & ((kind != previous) | (
            is_first & tf.gather(tf.constant(begins), word_label)))
        entity = tf.cumsum(tf.cast(starts, tf.int32)) - 1
        inside = kind >= 0
        count = tf.reduce_sum(tf.cast(starts, tf.int32))
        span_begin = tf.math.unsorted_segment_min(tf.boolean_mask(begin.values, inside),
                                                  tf.boolean_mask(entity, inside), count)
        span_end = tf.math.unsorted_segment_max(tf.boolean_mask(end.values, inside),
                                                tf.boolean_mask(entity, inside), count)
        entity_rows = tf.boolean_mask(row, starts)
        nrows = ids.nrows()

        def per_text(values):
            return tf.RaggedTensor.from_value_rowids(values, entity_rows, nrows=nrows,
                                                     validate=False)

        entity_kind = tf.boolean_mask(kind, starts)
        names = tf.constant(list(label_names))
        return {
            "labels": _pad(piece_label.with_flat_values(tf.gather(names, flat)), ""),
            "label_ids": _pad(piece_label, -1),
            "start_byte": _pad(begin, -1),
            "end_byte": _pad(end, -1),
            "entity_labels": _pad(per_text(tf.gather(tf.constant(types + [""]),
                                                     entity_kind)), ""),
            "entity_start_byte": _pad(per_text(span_begin), -1),
            "entity_end_byte": _pad(per_text(span_end), -1),
        }

    def from_ids(input_word_ids, input_mask, input_type_ids):
        return {"logits": model_logits({"input_word_ids": input_word_ids,
                                        "input_mask": input_mask,
                                        "input_type_ids": input_type_ids})}

    return [
        Endpoint("serving_default", from_text, string_specs("text"),
                 {"text": np.array(WARMUP_TEXTS, dtype=object)}),
        Endpoint("serve_token_ids", from_ids, token_id_specs(),
                 token_ids_warmup(preprocessor)),
    ]


def _first_n(dense, like):
    """The first `like.row_lengths()[b]` columns of each row of `dense` `[batch, seq]`."""
    return tf.RaggedTensor.from_tensor(dense, lengths=like.row_lengths())
