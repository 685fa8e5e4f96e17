"""Signatures of an extractive question answerer (`BertSpanLabeler`), span decoding in the graph.

- `serving_default(question, context)`: `answer` (the context's bytes from
  the start piece's first byte to the end piece's last), `start_byte`,
  `end_byte` (into the UTF-8 context, end exclusive), `score`
  (start + end logit); v2 models also `has_answer`.
- `serve_token_ids(...)`: `start_logits`, `end_logits` `[batch, seq]`.

The rule is the one of `tfbert.tasks.squad_postprocess` on one window: the
question keeps its first `max_query_length` pieces, the context fills the
rest of `seq_length` (`[CLS] question [SEP] context [SEP]`) and its later
pieces are cut off (the export reads one window; the Python post-processing
also slides windows by `doc_stride` over longer contexts, so answers agree
wherever the context fits one window). The answer is the best
`start + end` logit among the `n_best_size` best starts and ends that lie
in the context with `end >= start` and at most `max_answer_length` pieces.
No valid span: `answer` "", bytes -1. With `version_2_with_negative`, the
null score is `start_logits[0] + end_logits[0]`; `has_answer` is false (and
the answer "") when null - best exceeds `null_score_diff_threshold`.
"""

import numpy as np
import tensorflow as tf

from tfbert.serving.export import Endpoint, string_specs, token_id_specs, token_ids_warmup

WARMUP = (("Who won?", "Denver won the game."), ("", ""), ("Why?", "Because." * 50))


def _first(ragged, counts):
    """The first `counts[b]` items of each row of a ragged `[batch, (n)]`."""
    rows = ragged.value_rowids()
    position = tf.range(tf.size(ragged.values, out_type=tf.int64)) - tf.gather(
        ragged.row_starts(), rows)
    limit = tf.gather(tf.cast(counts, tf.int64), rows)
    return tf.RaggedTensor.from_row_lengths(tf.boolean_mask(ragged.values, position < limit),
                                            tf.cast(counts, tf.int64), validate=False)


def decode_spans(start_logits, end_logits, context_offset, context_length, n_best_size,
                 max_answer_length):
    """Best valid span per row, as `squad_postprocess` chooses it in one window.

    Args:
        start_logits, end_logits: float `[batch, seq]`.
        context_offset, context_length: int32 `[batch]`: where the context pieces are.
        n_best_size, max_answer_length: as in `squad_postprocess.postprocess`.

    Returns:
        `(found bool [batch], start position, end position int32 [batch], score [batch])`;
        the score is 0 where no span is valid.

    Example:

    >>> found, start, end, score = decode_spans(
    ...     tf.constant([[9., 1., 5., 2.]]), tf.constant([[9., 1., 2., 5.]]),
    ...     context_offset=tf.constant([1]), context_length=tf.constant([3]),
    ...     n_best_size=20, max_answer_length=30)
    >>> found.numpy(), start.numpy(), end.numpy(), score.numpy()
    (array([ True]), array([2], dtype=int32), array([3], dtype=int32), array([10.], dtype=float32))
    """
    k = tf.minimum(n_best_size, tf.shape(start_logits)[1])
    _, starts = tf.math.top_k(start_logits, k)                         # [batch, k]
    _, ends = tf.math.top_k(end_logits, k)
    s, e = starts[:, :, None], ends[:, None, :]                         # [batch, k, 1], [b, 1, k]
    offset, end_of_context = context_offset[:, None, None], (context_offset + context_length)[
        :, None, None]
    valid = ((s >= offset) & (s < end_of_context) & (e >= offset) & (e < end_of_context)
             & (e >= s) & (e - s + 1 <= max_answer_length))
    score = (tf.gather(start_logits, starts, batch_dims=1)[:, :, None]
             + tf.gather(end_logits, ends, batch_dims=1)[:, None, :])
    score = tf.where(valid, score, tf.constant(-np.inf, score.dtype))
    flat = tf.reshape(score, [tf.shape(score)[0], -1])                  # [batch, k * k]
    best = tf.argmax(flat, axis=1, output_type=tf.int32)
    found = tf.reduce_any(valid, axis=[1, 2])
    start = tf.gather(starts, best // k, batch_dims=1)
    end = tf.gather(ends, best % k, batch_dims=1)
    return found, start, end, tf.where(found, tf.gather(flat, best, batch_dims=1), 0.0)


def endpoints(model, preprocessor, max_query_length=64, n_best_size=20, max_answer_length=30,
              version_2_with_negative=False, null_score_diff_threshold=0.0):
    """The endpoints of a question-answering export.

    Args:
        model: `tfbert.BertSpanLabeler` (`start_logits`, `end_logits` `[batch, seq]`).
        preprocessor: `tfbert.text.BertPreprocessor`; its `seq_length` is the window.
        max_query_length, n_best_size, max_answer_length: as the SQuAD task's.
        version_2_with_negative: SQuAD v2.0 model: also output `has_answer`.
        null_score_diff_threshold: v2.0: no answer when null - best exceeds it.

    Returns:
        `[Endpoint]`.
    """
    tokenizer, seq_length = preprocessor.tokenizer, preprocessor.seq_length
    if seq_length < max_query_length + 4:
        raise ValueError(f"seq_length {seq_length} leaves no room for a context after a "
                         f"question of max_query_length {max_query_length}")

    def from_text(question, context):
        question_ids = tokenizer.tokenize(question)
        question_ids = _first(question_ids, tf.minimum(question_ids.row_lengths(),
                                                       max_query_length))
        context_ids, begin, end = tokenizer.tokenize_with_offsets(context)
        room = seq_length - 3 - tf.cast(question_ids.row_lengths(), tf.int32)
        kept = tf.minimum(tf.cast(context_ids.row_lengths(), tf.int32), room)
        packed = preprocessor.bert_pack_inputs([question_ids, _first(context_ids, kept)])
        outputs = model(packed, training=False)
        start_logits, end_logits = outputs["start_logits"], outputs["end_logits"]
        offset = tf.cast(question_ids.row_lengths(), tf.int32) + 2
        found, start, stop, score = decode_spans(start_logits, end_logits, offset, kept,
                                                 n_best_size, max_answer_length)
        if version_2_with_negative:
            null = start_logits[:, 0] + end_logits[:, 0]
            found = found & (null - score <= null_score_diff_threshold)
        # Byte span of the start piece's first byte to the end piece's last.
        rows = tf.cast(begin.row_starts(), tf.int32)
        first = tf.where(found, rows + start - offset, 0)
        last = tf.where(found, rows + stop - offset, 0)
        safe = tf.size(begin.values)  # the extra slot, so that empty batches gather
        begin_values = tf.concat([begin.values, tf.zeros([1], tf.int64)], 0)
        end_values = tf.concat([end.values, tf.zeros([1], tf.int64)], 0)
        start_byte = tf.where(found, tf.gather(begin_values, tf.minimum(first, safe)), -1)
        end_byte = tf.where(found, tf.gather(end_values, tf.minimum(last, safe)), -1)
        answer = tf.strings.substr(context, tf.maximum(start_byte, 0),
                                   tf.maximum(end_byte - start_byte, 0))
        result = {"answer": answer, "start_byte": start_byte, "end_byte": end_byte,
                  "score": score}
        if version_2_with_negative:
            result["has_answer"] = found
        return result

    def from_ids(input_word_ids, input_mask, input_type_ids):
        outputs = model({"input_word_ids": input_word_ids, "input_mask": input_mask,
                         "input_type_ids": input_type_ids}, training=False)
        return {"start_logits": outputs["start_logits"], "end_logits": outputs["end_logits"]}

    questions = np.array([q for q, _ in WARMUP], dtype=object)
    contexts = np.array([c for _, c in WARMUP], dtype=object)
    return [
        Endpoint("serving_default", from_text, string_specs("question", "context"),
                 {"question": questions, "context": contexts}),
        Endpoint("serve_token_ids", from_ids, token_id_specs(),
                 token_ids_warmup(preprocessor)),
    ]
