"""Metrics of the fine-tuning tasks, in plain Python and numpy (no TF needed).

GLUE classification/regression, the official SQuAD v1.1/v2.0 EM and F1,
and entity-level NER precision/recall/F1 as `conlleval`/`seqeval` compute them.
"""

from tfbert.metrics.classification import (
    accuracy,
    f1_score,
    glue_metric_names,
    glue_metrics,
    matthews_corrcoef,
    pearson,
    spearman,
)
from tfbert.metrics.ner import entity_scores, get_entities
from tfbert.metrics.squad import evaluate_v1, evaluate_v2, normalize_answer

__all__ = [
    "accuracy", "entity_scores", "evaluate_v1", "evaluate_v2", "f1_score", "get_entities",
    "glue_metric_names", "glue_metrics", "matthews_corrcoef", "normalize_answer", "pearson",
    "spearman",
]
