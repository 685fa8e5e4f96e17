"""Data: pre-training TFRecords (writing, reading, dynamic masking) and fine-tuning inputs."""

from tfbert.data.features import PRETRAINING_FEATURES, feature_names, pretraining_feature_spec
from tfbert.data.pretraining_dataset import (
    check_pretraining_files,
    expand_input_files,
    pretraining_dataset,
)

__all__ = ["PRETRAINING_FEATURES", "check_pretraining_files", "expand_input_files",
           "feature_names", "pretraining_dataset", "pretraining_feature_spec"]

# Fine-tuning data (issue #6).
from tfbert.data.classification import ClassificationData, classification_features
from tfbert.data.classification_files import read_classification_file
from tfbert.data.conll import (
    TaggingData,
    read_conll,
    read_conll_documents,
    tagging_features,
    tags_from_logits,
)
from tfbert.data.finetuning import make_dataset
from tfbert.data.glue import read_glue
from tfbert.data.squad import SquadData, read_squad, squad_features

__all__ += ["ClassificationData", "SquadData", "TaggingData", "classification_features",
            "make_dataset", "read_classification_file", "read_conll", "read_conll_documents",
            "read_glue", "read_squad", "squad_features", "tagging_features", "tags_from_logits"]

# Pre-training data creation and dynamic masking (issue #4). The function
# `create_pretraining_data` stays in its module of the same name (importing it
# here would hide the module): `from tfbert.data.create_pretraining_data import ...`.
from tfbert.data.dynamic_masking import (  # noqa: E402
    dynamic_masking_dataset,
    mask_batch,
    text_dynamic_masking_dataset,
)
from tfbert.data.pretraining_instances import (  # noqa: E402
    PretrainingDataOptions,
    PretrainingDataStats,
)

__all__ += ["PretrainingDataOptions", "PretrainingDataStats", "dynamic_masking_dataset",
            "mask_batch", "text_dynamic_masking_dataset"]
