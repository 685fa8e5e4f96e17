"""Data: pre-training TFRecords (writing, reading, dynamic masking) and fine-tuning inputs."""

from tfbert.data.features import PRETRAINING_FEATURES, feature_names, pretraining_feature_spec

__all__ = ["PRETRAINING_FEATURES", "feature_names", "pretraining_feature_spec"]
