"""Feature names, dtypes and shapes of the pre-training TFRecords.

The original `create_pretraining_data.py` writes these features, in this
order, as a `tf.train.Example`; `run_pretraining.py` reads the same names.
Model Garden's `--use_v2_feature_names` renames two of them.

The dtypes are names (`tf.as_dtype` takes them) and TensorFlow is imported only
to build a parsing spec: the record writer's worker processes import this
module and run without TensorFlow (`tfbert.data`).
"""

# (v1 name, v2 name, dtype name, "seq" or "pred" or 1 for the static length)
PRETRAINING_FEATURES = (
    ("input_ids", "input_word_ids", "int64", "seq"),
    ("input_mask", "input_mask", "int64", "seq"),
    ("segment_ids", "input_type_ids", "int64", "seq"),
    ("masked_lm_positions", "masked_lm_positions", "int64", "pred"),
    ("masked_lm_ids", "masked_lm_ids", "int64", "pred"),
    ("masked_lm_weights", "masked_lm_weights", "float32", "pred"),
    ("next_sentence_labels", "next_sentence_labels", "int64", 1),
)

V1_TO_V2 = {v1: v2 for v1, v2, _, _ in PRETRAINING_FEATURES}


def feature_names(use_v2_feature_names=False):
    """The seven feature names in the original order."""
    return [v2 if use_v2_feature_names else v1 for v1, v2, _, _ in PRETRAINING_FEATURES]


def pretraining_feature_spec(max_seq_length, max_predictions_per_seq, use_v2_feature_names=False):
    """`{name: tf.io.FixedLenFeature}` to parse one pre-training record."""
    import tensorflow as tf  # here, not at the top: see the module doc

    lengths = {"seq": max_seq_length, "pred": max_predictions_per_seq}
    return {
        (v2 if use_v2_feature_names else v1):
            tf.io.FixedLenFeature([lengths.get(n, n)], tf.as_dtype(dtype))
        for v1, v2, dtype, n in PRETRAINING_FEATURES
    }
