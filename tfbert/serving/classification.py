"""Signatures of a sentence (pair) classifier or regressor (`BertClassifier`).

- `serving_default(text)` or `(text_a, text_b)`: `logits`, `probabilities`,
  `label_id`, `label` (names looked up in the graph); regression: `score`.
  Multi-label (`thresholds` given): `logits`, `probabilities` (sigmoid)
  `[batch, labels]`, and the labels over their thresholds as `label_ids`
  int32 `[batch, labels]` and `labels` string `[batch, labels]`: the chosen
  labels first, in label-id order, padded with -1 and "" (TF Serving's
  signatures return dense tensors, so no ragged output).
- `serve_examples(inputs)`: serialized `tf.Example`s with bytes features
  `text` (or `text_a`, `text_b`), for TF Serving's Classify API (`classes`,
  `scores`) or Regress API (`outputs`).
- `serve_token_ids(input_word_ids, input_mask, input_type_ids)`: the same
  outputs as `serving_default`, for clients that tokenize themselves.

Texts are tokenized in the graph and truncated to the preprocessor's
`seq_length` as the original fine-tuning code truncates; a batch is padded
only to its longest packed text (`graph.pack_to_longest`), and a batch of 32 or
more runs as 4 slices sorted by length, each padded to its own longest
(`graph.by_length`).

Long texts (`long_text="mean"` or `"max"`, single texts only): every piece
of a text is read. Each text is cut into windows of `seq_length - 2` pieces
that start `doc_stride` pieces apart (`tfbert.data.windows`), the windows of
all the batch's texts run through the model as one batch, and each text's
logits are the mean or the elementwise maximum of its windows' logits
(`combine_windows`, which the task's Python path calls too). A request's work
grows with its texts' length: unlike the question-answering export, no
window limit cuts a text short, so that the export answers as the task's
evaluation does. `serve_token_ids` takes one packed window per row and
combines nothing.
"""

import numpy as np
import tensorflow as tf

from tfbert.data.windows import sliding_windows, window_pieces
from tfbert.serving.export import (
    CLASSIFY,
    REGRESS,
    WARMUP_TEXTS,
    Endpoint,
    string_specs,
    text_example,
    token_id_specs,
    token_ids_warmup,
)
from tfbert.serving.graph import by_length, pack_to_longest, traced_once

# How the windows of a long text are combined: `first` is the original's truncation.
LONG_TEXT = ("first", "mean", "max")


def check_long_text(long_text: str, pair: bool = False, doc_stride: int = 1):
    """Raises ValueError unless `long_text` is one of `LONG_TEXT` and works here."""
    if long_text not in LONG_TEXT:
        raise ValueError(f"long_text must be one of {', '.join(LONG_TEXT)}; got {long_text!r}")
    if long_text != "first" and pair:
        raise ValueError(f"long_text={long_text} reads single texts in windows; text pairs "
                         "are truncated (long_text=first)")
    if doc_stride < 1:
        raise ValueError(f"doc_stride must be at least 1; got {doc_stride}")


def combine_windows(logits, example, num_examples, long_text):
    """Each text's logits from its windows' logits.

    The task's evaluation and predictions (on numpy arrays, eagerly) and the
    export's graph call this one function, so that the same window logits
    give the same text logits, to the last bit.

    Args:
        logits: float `[windows, K]` (any K: classes, labels, or 1 score).
        example: int `[windows]`, the text of each window (a text's windows in order).
        num_examples: int, the number of texts (each has at least one window).
        long_text: `first` (the first window's), `mean` or `max` (elementwise over
            the text's windows).

    Returns:
        float Tensor `[num_examples, K]`.

    Example:

    >>> logits = np.array([[1.0, 0.0], [3.0, -2.0], [0.5, 0.5]], np.float32)
    >>> combine_windows(logits, [0, 0, 1], 2, "mean").numpy().tolist()
    [[2.0, -1.0], [0.5, 0.5]]
    >>> combine_windows(logits, [0, 0, 1], 2, "max").numpy().tolist()
    [[3.0, 0.0], [0.5, 0.5]]
    """
    check_long_text(long_text)
    logits = tf.convert_to_tensor(logits)
    example = tf.cast(example, tf.int64)
    if long_text == "max":
        return tf.math.unsorted_segment_max(logits, example, num_examples)
    if long_text == "mean":
        total = tf.math.unsorted_segment_sum(logits, example, num_examples)
        count = tf.math.unsorted_segment_sum(tf.ones_like(example, logits.dtype), example,
                                             num_examples)
        return total / count[:, tf.newaxis]
    first = tf.math.unsorted_segment_min(tf.range(tf.size(example, out_type=tf.int64)),
                                         example, num_examples)
    return tf.gather(logits, first)


def window_inputs(preprocessor, text, doc_stride):
    """The windows of a batch of texts, packed: `(packed [windows, <=seq], example [windows])`.

    Each text's pieces are cut into windows of `seq_length - 2` that start
    `doc_stride` pieces apart; every window is `[CLS] window [SEP]`, padded to
    the longest window of the batch. An empty text has one empty window.
    """
    ids = preprocessor.tokenizer.tokenize(text)
    max_doc = tf.fill(tf.shape(ids.row_lengths()), tf.constant(preprocessor.seq_length - 2,
                                                               tf.int64))
    start, length = sliding_windows(ids.row_lengths(), max_doc, doc_stride)
    example = start.value_rowids()
    pieces = window_pieces(ids.row_starts(), start, length, example)
    longest = tf.reduce_max(tf.concat([tf.cast(length.values, tf.int32), [0]], 0))
    packed = preprocessor.bert_pack_inputs(
        [pieces.with_flat_values(tf.gather(ids.values, pieces.values))], seq_length=longest + 2)
    return packed, example


def endpoints(model, preprocessor, label_names=None, pair=False, regression=False,
              long_text="first", doc_stride=64, thresholds=None):
    """The endpoints of a classifier export.

    Args:
        model: `tfbert.BertClassifier` (output `logits` `[batch, classes]`).
        preprocessor: `tfbert.text.BertPreprocessor` of the model's vocab.
        label_names: class names in id order (default: "0", "1", ...).
        pair: inputs are `text_a`, `text_b` instead of `text`.
        regression: one output, `score` (the model has one unit).
        long_text: `first` (truncate, as the original), or `mean` / `max`:
            read every piece in windows and combine their logits (see the module doc).
        doc_stride: how far the windows of a long text advance, in pieces.
        thresholds: float `[labels]`: a multi-label model, whose label `k` is
            chosen when its sigmoid probability is greater than `thresholds[k]`.

    Returns:
        `[Endpoint]` for `tfbert.serving.export.export`.
    """
    check_long_text(long_text, pair, doc_stride)
    num_classes = int(model.output["logits"].shape[-1])
    if regression and num_classes != 1:
        raise ValueError(f"a regression export needs a 1-unit head; the model has {num_classes}")
    names = [str(n) for n in (label_names or range(num_classes))]
    if not regression and len(names) != num_classes:
        raise ValueError(f"{len(names)} label names for a {num_classes}-class model: {names}")
    keys = ("text_a", "text_b") if pair else ("text",)

    logits = traced_once(lambda packed: model(packed, training=False)["logits"])

    def run(packed):
        return by_length(logits, packed)

    def heads(logits):
        if regression:
            return {"score": logits[:, 0]}
        if thresholds is not None:
            return multilabel_outputs(logits, names, thresholds)
        label_id = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {"logits": logits, "probabilities": tf.nn.softmax(logits),
                "label_id": label_id, "label": tf.gather(tf.constant(names), label_id)}

    def text_logits(*texts):
        if long_text == "first":
            return run(pack_to_longest(preprocessor, list(texts)))
        packed, example = window_inputs(preprocessor, texts[0], doc_stride)
        return combine_windows(run(packed), example, tf.shape(texts[0], out_type=tf.int64)[0],
                               long_text)

    def from_text(*texts):
        return heads(text_logits(*texts))

    def from_examples(inputs):
        spec = {key: tf.io.FixedLenFeature([], tf.string, default_value="") for key in keys}
        features = tf.io.parse_example(inputs, spec)
        outputs = heads(text_logits(*(features[key] for key in keys)))
        if regression:
            return {"outputs": outputs["score"]}
        batch = tf.shape(inputs)[0]
        return {"classes": tf.tile(tf.constant([names]), [batch, 1]),
                "scores": outputs["probabilities"]}

    def from_ids(input_word_ids, input_mask, input_type_ids):
        return heads(run({"input_word_ids": input_word_ids, "input_mask": input_mask,
                          "input_type_ids": input_type_ids}))

    texts = np.array(WARMUP_TEXTS, dtype=object)
    text_warmup = {key: texts for key in keys}
    examples = np.array([text_example(**{k: t for k in keys}) for t in WARMUP_TEXTS],
                        dtype=object)
    return [
        Endpoint("serving_default", from_text, string_specs(*keys), text_warmup),
        Endpoint("serve_examples", from_examples, string_specs("inputs"), {"inputs": examples},
                 REGRESS if regression else CLASSIFY),
        Endpoint("serve_token_ids", from_ids, token_id_specs(),
                 token_ids_warmup(preprocessor)),
    ]


def multilabel_outputs(logits, names, thresholds):
    """`logits`, `probabilities` and the chosen `label_ids` / `labels`, padded."""
    probabilities = tf.sigmoid(logits)
    chosen = probabilities > tf.constant(np.asarray(thresholds, np.float32))
    # A stable sort of "not chosen" puts the chosen ids first, each part in id order.
    order = tf.argsort(tf.cast(tf.logical_not(chosen), tf.int32), axis=-1, stable=True)
    first = tf.gather(chosen, order, batch_dims=1)
    return {"logits": logits, "probabilities": probabilities,
            "label_ids": tf.where(first, order, -1),
            "labels": tf.where(first, tf.gather(tf.constant(names), order), "")}
