"""Signatures of an extractive question answerer (`BertSpanLabeler`), span decoding in the graph.

- `serving_default(question, context)`: `answer` (the context's bytes from
  the start piece's first byte to the end piece's last), `start_byte`,
  `end_byte` (into the UTF-8 context, end exclusive), `score`
  (start + end logit); v2 models also `has_answer`.
- `serve_token_ids(...)`: `start_logits`, `end_logits` `[batch, seq]`.

The graph does what `tfbert.data.squad.squad_features` and
`tfbert.tasks.squad_postprocess.postprocess` do in Python (the original
`run_squad.py`), for every question of a batch at once:

1. The question keeps its first `max_query_length` pieces. The context's
   pieces are cut into windows of `seq_length - 3 - question pieces`, each
   starting `doc_stride` pieces after the previous one, until one reaches
   the end; every window is `[CLS] question [SEP] window [SEP]`, and the
   windows of the whole batch go through the model in chunks of at most
   `window_batch_size` windows `[windows, seq_length]`, one chunk after
   another, so that a request's memory is bounded whatever its size
   (`graph.in_chunks`; docs/reliability.md, "Hostile input").
2. A piece seen by several windows may start an answer only in the window
   where it has the most context: `min(left, right) + 0.01 * window length`
   pieces, the first such window on ties (`max_context`).
3. In each window the `n_best_size` best starts and ends make the candidate
   spans: both in the context, `end >= start`, at most `max_answer_length`
   pieces. The answer is the candidate of all the question's windows with
   the highest `start + end` logit (summed in float64, as in Python) whose
   text is not empty; on ties the first in window, start rank, end rank
   order (Python's stable sort).
4. v2: the null score is the lowest `start_logits[0] + end_logits[0]` of
   the question's windows; `has_answer` is false (answer "") when
   `null - start logit - end logit` exceeds `null_score_diff_threshold`.

Deliberate differences from the Python post-processing: no valid span gives
answer "", bytes -1 and score 0 (Python writes the text "empty"); and a
context is read through at most `max_windows` windows (default 64, about
8,000 pieces at `seq_length` 384), as if cut after the last of them, which
bounds the work of one request: a 1 MB context would otherwise be some 1,800
windows of 384 positions.
"""

import numpy as np
import tensorflow as tf

from tfbert.data.windows import max_context, sliding_windows, window_pieces
from tfbert.serving.export import (
    Endpoint,
    string_specs,
    token_id_specs,
    token_ids_warmup,
)
from tfbert.serving.graph import in_chunks, traced_once

# The most windows that run through the model as one batch: a request's
# memory is bounded by this, not by its number of questions (docs/reliability.md).
WINDOW_BATCH_SIZE = 16

WARMUP = (("Who won?", "Denver won the game."), ("", ""), ("Why?", "Because. " * 250))


def _first(ragged, counts):
    """The first `counts[b]` items of each row of a ragged `[batch, (n)]`."""
    rows = ragged.value_rowids()
    position = tf.range(tf.size(ragged.values, out_type=tf.int64)) - tf.gather(
        ragged.row_starts(), rows)
    limit = tf.gather(tf.cast(counts, tf.int64), rows)
    return tf.RaggedTensor.from_row_lengths(tf.boolean_mask(ragged.values, position < limit),
                                            tf.cast(counts, tf.int64), validate=False)


def _slices(values, starts, lengths):
    """Ragged `[n, (lengths[i])]`: row i is `values[starts[i]:starts[i] + lengths[i]]`."""
    index = tf.ragged.range(starts, starts + lengths)
    return index.with_flat_values(tf.gather(values, index.values))


def _take(ragged, position, valid, default):
    """`ragged[w, position[w, i]]` where `valid`, else `default` (`position`: `[w, n]`)."""
    index = tf.cast(position, tf.int64) + ragged.row_starts()[:, None]
    values = tf.concat([ragged.values, tf.fill([1], tf.cast(default, ragged.dtype))], 0)
    return tf.gather(values, tf.where(valid, index, tf.size(ragged.values, out_type=tf.int64)))


def _first_max(scores):
    """Index of the first largest value of each row of `[rows, n]` (`tf.argmax`
    does not promise the first on ties)."""
    best = tf.reduce_max(scores, axis=1, keepdims=True)
    index = tf.range(tf.shape(scores)[1])
    return tf.reduce_min(tf.where(scores == best, index, tf.shape(scores)[1]), axis=1)


def decode_windows(start_logits, end_logits, context_offset, may_start, piece_begin, piece_end,
                   n_best_size, max_answer_length):
    """The best candidate span of each window, by `squad_postprocess`'s rule.

    Args:
        start_logits, end_logits: float `[windows, seq]`.
        context_offset: int `[windows]`, the position of the first context piece.
        may_start: bool RaggedTensor `[windows, (pieces)]`, which context
            pieces may start an answer here (`max_context`).
        piece_begin, piece_end: int64 RaggedTensors like `may_start`: the
            pieces' byte spans in the context.
        n_best_size, max_answer_length: as in `squad_postprocess.postprocess`.

    Returns:
        dict of `[windows]`: `found` (a candidate exists), `score` (float64
        start + end logit, -inf where none), `start_logit`, `end_logit`
        (float64), `start_byte`, `end_byte` (of the span; 0 where none).
        Spans with empty text are skipped when `n_best_size > 1` (Python
        falls through to the next candidate then).

    Example:

    >>> pieces = tf.ragged.constant([[0, 1, 2]], tf.int64)
    >>> best = decode_windows(
    ...     tf.constant([[9., 1., 5., 2.]]), tf.constant([[9., 1., 2., 5.]]),
    ...     context_offset=tf.constant([1]), may_start=pieces >= 0,
    ...     piece_begin=pieces * 4, piece_end=pieces * 4 + 3, n_best_size=20,
    ...     max_answer_length=30)
    >>> best["found"].numpy(), best["score"].numpy(), best["start_byte"].numpy()
    (array([ True]), array([10.]), array([4]))
    >>> best["end_byte"].numpy()
    array([11])
    """
    k = tf.minimum(n_best_size, tf.shape(start_logits)[1])
    _, starts = tf.math.top_k(start_logits, k)                          # [windows, k]
    _, ends = tf.math.top_k(end_logits, k)
    offset = tf.cast(context_offset, tf.int32)[:, None]
    length = tf.cast(may_start.row_lengths(), tf.int32)[:, None]
    first, last = starts - offset, ends - offset                        # context piece numbers
    first_in, last_in = (first >= 0) & (first < length), (last >= 0) & (last < length)
    can_start = first_in & _take(may_start, first, first_in, False)
    start_byte = _take(piece_begin, first, first_in, 0)
    end_byte = _take(piece_end, last, last_in, 0)
    # [windows, start rank, end rank]: Python's loop order.
    valid = (can_start[:, :, None] & last_in[:, None, :] & (ends[:, None, :] >= starts[:, :, None])
             & (ends[:, None, :] - starts[:, :, None] < max_answer_length))
    if n_best_size > 1:
        valid &= end_byte[:, None, :] > start_byte[:, :, None]
    start_logit = tf.cast(tf.gather(start_logits, starts, batch_dims=1), tf.float64)
    end_logit = tf.cast(tf.gather(end_logits, ends, batch_dims=1), tf.float64)
    score = tf.where(valid, start_logit[:, :, None] + end_logit[:, None, :],
                     tf.constant(-np.inf, tf.float64))
    best = _first_max(tf.reshape(score, [-1, k * k]))
    by_start, by_end = best // k, best % k
    return {"found": tf.reduce_any(valid, axis=[1, 2]),
            "score": tf.reduce_max(score, axis=[1, 2]),
            "start_logit": tf.gather(start_logit, by_start, batch_dims=1),
            "end_logit": tf.gather(end_logit, by_end, batch_dims=1),
            "start_byte": tf.gather(start_byte, by_start, batch_dims=1),
            "end_byte": tf.gather(end_byte, by_end, batch_dims=1)}


def _best_windows(found, score, example, num_examples):
    """Per example, the first of its windows with the highest score among
    those that found a span; `num windows` where none did."""
    num_windows = tf.shape(score, out_type=tf.int64)[0]
    best = tf.math.unsorted_segment_max(score, example, num_examples)
    chosen = found & (score == tf.gather(best, example))
    first = tf.math.unsorted_segment_min(
        tf.where(chosen, tf.range(num_windows), num_windows), example, num_examples)
    return tf.minimum(first, num_windows)


def _pick(values, index, default):
    """`values[index]`, `default` where `index == len(values)`."""
    return tf.gather(tf.concat([values, tf.fill([1], tf.cast(default, values.dtype))], 0), index)


def endpoints(model, preprocessor, max_query_length=64, n_best_size=20, max_answer_length=30,
              version_2_with_negative=False, null_score_diff_threshold=0.0, doc_stride=128,
              max_windows=64, window_batch_size=WINDOW_BATCH_SIZE):
    """The endpoints of a question-answering export (decoding: see the module doc).

    Args:
        model: `tfbert.BertSpanLabeler` (`start_logits`, `end_logits` `[batch, seq]`).
        preprocessor: `tfbert.text.BertPreprocessor`; its `seq_length` is the window.
        max_query_length, n_best_size, max_answer_length: as the SQuAD task's.
        version_2_with_negative: SQuAD v2.0 model: also output `has_answer`.
        null_score_diff_threshold: v2.0: no answer when null - best exceeds it.
        doc_stride: how far the windows over a long context advance, in pieces.
        max_windows: read a context through at most this many windows
            (None: all of them, however long the context).
        window_batch_size: the most windows the model runs as one batch; a
            request's windows run in chunks of this size, one after another.

    Returns:
        `[Endpoint]`.
    """
    tokenizer, seq_length = preprocessor.tokenizer, preprocessor.seq_length
    if seq_length < max_query_length + 4:
        raise ValueError(f"seq_length {seq_length} leaves no room for a context after a "
                         f"question of max_query_length {max_query_length}")
    for name, value in (("doc_stride", doc_stride), ("n_best_size", n_best_size),
                        ("max_answer_length", max_answer_length),
                        ("max_windows", 1 if max_windows is None else max_windows),
                        ("window_batch_size", window_batch_size)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1; got {value}")

    def windows_of(question, context):
        """The windows of every (question, context): their packed inputs and pieces."""
        question_ids = tokenizer.tokenize(question)
        question_ids = _first(question_ids, tf.minimum(question_ids.row_lengths(),
                                                       max_query_length))
        ids, begin, end = tokenizer.tokenize_with_offsets(context)
        question_length = question_ids.row_lengths()
        start, length = sliding_windows(ids.row_lengths(), seq_length - 3 - question_length,
                                        doc_stride, max_windows)
        example = start.value_rowids()                                   # [windows]
        pieces = window_pieces(ids.row_starts(), start, length, example)
        question_start = tf.gather(question_ids.row_starts(), example)
        window_question = _slices(question_ids.values, question_start,
                                  tf.gather(question_length, example))
        packed = preprocessor.bert_pack_inputs(
            [window_question, pieces.with_flat_values(tf.gather(ids.values, pieces.values))])
        return {"packed": packed, "example": example, "pieces": pieces,
                "offset": tf.gather(question_length, example) + 2,
                "begin": pieces.with_flat_values(tf.gather(begin.values, pieces.values)),
                "end": pieces.with_flat_values(tf.gather(end.values, pieces.values)),
                "num_pieces": tf.size(ids.values, out_type=tf.int64)}

    keys = ("start_logits", "end_logits")

    @traced_once
    def span_logits(packed):
        outputs = model(packed, training=False)  # one call: the model once per window
        return {key: outputs[key] for key in keys}

    def from_text(question, context):
        windows = windows_of(question, context)
        outputs = in_chunks(span_logits, windows["packed"], window_batch_size,
                            dict.fromkeys(keys, tf.TensorSpec([None, seq_length], tf.float32)))
        start_logits, end_logits = outputs["start_logits"], outputs["end_logits"]
        spans = decode_windows(start_logits, end_logits, windows["offset"],
                               max_context(windows["pieces"], windows["num_pieces"]),
                               windows["begin"], windows["end"], n_best_size,
                               max_answer_length)
        num_examples = tf.shape(question, out_type=tf.int64)[0]
        chosen = _best_windows(spans["found"], spans["score"], windows["example"], num_examples)
        best = {key: _pick(value, chosen, 0) for key, value in spans.items()}
        # With n_best_size 1 the single n-best entry may have an empty text: no answer.
        span = best["found"] & (best["end_byte"] > best["start_byte"])
        found = span
        if version_2_with_negative:
            null = tf.math.unsorted_segment_min(
                tf.cast(start_logits[:, 0], tf.float64) + tf.cast(end_logits[:, 0], tf.float64),
                windows["example"], num_examples)
            # Python's order of operations, so that a tie falls the same way.
            difference = null - best["start_logit"] - best["end_logit"]
            found &= ~(difference > null_score_diff_threshold)
        start_byte = tf.where(found, best["start_byte"], -1)
        end_byte = tf.where(found, best["end_byte"], -1)
        answer = tf.strings.substr(context, tf.maximum(start_byte, 0),
                                   tf.maximum(end_byte - start_byte, 0))
        score = tf.cast(tf.where(span, best["score"], 0.0), tf.float32)
        result = {"answer": answer, "start_byte": start_byte, "end_byte": end_byte,
                  "score": score}
        if version_2_with_negative:
            result["has_answer"] = found
        return result

    def from_ids(input_word_ids, input_mask, input_type_ids):
        return span_logits({"input_word_ids": input_word_ids, "input_mask": input_mask,
                            "input_type_ids": input_type_ids})

    questions = np.array([q for q, _ in WARMUP], dtype=object)
    contexts = np.array([c for _, c in WARMUP], dtype=object)
    return [
        Endpoint("serving_default", from_text, string_specs("question", "context"),
                 {"question": questions, "context": contexts}),
        Endpoint("serve_token_ids", from_ids, token_id_specs(),
                 token_ids_warmup(preprocessor)),
    ]
