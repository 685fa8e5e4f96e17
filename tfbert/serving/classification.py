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
only to its longest packed text (`export.pack_to_longest`), and a batch of 32 or
more runs as 4 slices sorted by length, each padded to its own longest
(`export.by_length`).
"""

import numpy as np
import tensorflow as tf

from tfbert.serving.export import (
    CLASSIFY,
    REGRESS,
    WARMUP_TEXTS,
    Endpoint,
    by_length,
    pack_to_longest,
    string_specs,
    text_example,
    token_id_specs,
    token_ids_warmup,
)


def endpoints(model, preprocessor, label_names=None, pair=False, regression=False,
              thresholds=None):
    """The endpoints of a classifier export.

    Args:
        model: `tfbert.BertClassifier` (output `logits` `[batch, classes]`).
        preprocessor: `tfbert.text.BertPreprocessor` of the model's vocab.
        label_names: class names in id order (default: "0", "1", ...).
        pair: inputs are `text_a`, `text_b` instead of `text`.
        regression: one output, `score` (the model has one unit).
        thresholds: float `[labels]`: a multi-label model, whose label `k` is
            chosen when its sigmoid probability is greater than `thresholds[k]`.

    Returns:
        `[Endpoint]` for `tfbert.serving.export.export`.
    """
    num_classes = int(model.output["logits"].shape[-1])
    if regression and num_classes != 1:
        raise ValueError(f"a regression export needs a 1-unit head; the model has {num_classes}")
    names = [str(n) for n in (label_names or range(num_classes))]
    if not regression and len(names) != num_classes:
        raise ValueError(f"{len(names)} label names for a {num_classes}-class model: {names}")
    keys = ("text_a", "text_b") if pair else ("text",)

    def heads(packed):
        logits = by_length(lambda part: model(part, training=False)["logits"], packed)
        if regression:
            return {"score": logits[:, 0]}
        if thresholds is not None:
            return multilabel_outputs(logits, names, thresholds)
        label_id = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {"logits": logits, "probabilities": tf.nn.softmax(logits),
                "label_id": label_id, "label": tf.gather(tf.constant(names), label_id)}

    def pack(*texts):
        return pack_to_longest(preprocessor, list(texts))

    def from_text(*texts):
        return heads(pack(*texts))

    def from_examples(inputs):
        spec = {key: tf.io.FixedLenFeature([], tf.string, default_value="") for key in keys}
        features = tf.io.parse_example(inputs, spec)
        outputs = heads(pack(*(features[key] for key in keys)))
        if regression:
            return {"outputs": outputs["score"]}
        batch = tf.shape(inputs)[0]
        return {"classes": tf.tile(tf.constant([names]), [batch, 1]),
                "scores": outputs["probabilities"]}

    def from_ids(input_word_ids, input_mask, input_type_ids):
        return heads({"input_word_ids": input_word_ids, "input_mask": input_mask,
                      "input_type_ids": input_type_ids})

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
