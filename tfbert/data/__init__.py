"""Data: pre-training TFRecords (writing, reading, dynamic masking) and fine-tuning inputs.

The names below load on first use, so that a process that needs only the
TensorFlow-free modules (a `create_pretraining_data --num_workers` worker,
which builds instances and record bytes in plain Python) does not start
TensorFlow. The function `create_pretraining_data` stays in its module of the
same name (exporting it here would hide the module):
`from tfbert.data.create_pretraining_data import ...`.

Example:

>>> from tfbert.data import feature_names
>>> feature_names(use_v2_feature_names=True)[:3]
['input_word_ids', 'input_mask', 'input_type_ids']
"""

from tfbert import lazy

_EXPORTS = {
    # Pre-training records (issue #3) and dynamic masking (issue #4).
    "PRETRAINING_FEATURES": ".features", "feature_names": ".features",
    "pretraining_feature_spec": ".features", "check_pretraining_files": ".pretraining_dataset",
    "expand_input_files": ".pretraining_dataset",
    "pretraining_dataset": ".pretraining_dataset",
    "dynamic_masking_dataset": ".dynamic_masking", "mask_batch": ".dynamic_masking",
    "text_dynamic_masking_dataset": ".dynamic_masking",
    "PretrainingDataOptions": ".pretraining_instances",
    "PretrainingDataStats": ".pretraining_instances",
    # Fine-tuning data (issue #6).
    "ClassificationData": ".classification", "classification_features": ".classification",
    "read_classification_file": ".classification_files", "TaggingData": ".conll",
    "read_conll": ".conll", "read_conll_documents": ".conll", "tagging_features": ".conll",
    "tags_from_logits": ".conll", "make_dataset": ".finetuning", "read_glue": ".glue",
    "SquadData": ".squad", "read_squad": ".squad", "squad_features": ".squad",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS)
