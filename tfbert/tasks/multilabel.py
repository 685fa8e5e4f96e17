"""`MultiLabelTask` (`--task=multilabel`): each text gets a set of labels, maybe none.

Head: dropout and a Dense layer with one logit per label on the pooled
output (the `BertClassifier` of single-label classification), a sigmoid per
label. Loss: binary cross-entropy, the mean over labels and examples (as
PyTorch's `BCEWithLogitsLoss`). Metrics during training: micro-F1 and subset
accuracy at threshold 0.5; the whole-file evaluation adds macro-F1 and
per-label precision/recall/F1 (`tfbert.metrics.multilabel`).

Decision thresholds: `thresholds: per_label` (default) or `global` tunes
them on the evaluation file to maximise F1 and writes `thresholds.json`
beside the checkpoints; `fixed` uses `threshold` for every label. The
predictions (`--do_predict`) and the export (`tfbert_export`, which reads the
checkpoint directory's `thresholds.json`) apply the tuned thresholds; a
directory without one uses `threshold`.
"""

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf
from absl import logging

from tfbert.data.multilabel import read_multilabel_file
from tfbert.data.result_files import write_text
from tfbert.metrics.multilabel import multilabel_metrics, tune_thresholds
from tfbert.serving import classification
from tfbert.tasks.registry import register_task
from tfbert.tasks.sentence_prediction import SentencePredictionConfig, SentencePredictionTask

THRESHOLDS_FILE = "thresholds.json"
THRESHOLD_MODES = ("per_label", "global", "fixed")


@dataclasses.dataclass
class MultiLabelConfig(SentencePredictionConfig):
    """Config of a multi-label task (`SentencePredictionConfig` plus the labels' layout).

    Args:
        text_a, text_b: text columns (`text_b`: pairs).
        label: the column holding the label list (JSON list or `label_separator`-separated).
        label_columns: instead of `label`, one 0/1 column per label (their names are
            the labels).
        label_separator: separates names in a list cell that is not JSON.
        allow_empty: a row may have no label (False: an empty set is an error).
        thresholds: `per_label`, `global` (both tuned on the evaluation file) or `fixed`.
        threshold: the threshold of `fixed`, and of exports without tuned thresholds.
    """

    task: str = "multilabel"
    text_a: str = "text"
    label: str = "labels"
    label_columns: list = dataclasses.field(default_factory=list)
    label_separator: str = "|"
    allow_empty: bool = True
    thresholds: str = "per_label"
    threshold: float = 0.5


@register_task("multilabel")
class MultiLabelTask(SentencePredictionTask):
    """Multi-label classification of texts (or text pairs).

    Args:
        config: a `MultiLabelConfig`.

    Example:

    >>> task = MultiLabelTask(MultiLabelConfig(model="bert_tiny_uncased",
    ...                                        label_names=["PER", "ORG", "LOC"]))
    >>> task.build_model().output["logits"].shape
    (None, 3)
    >>> task.decision_thresholds().tolist()
    [0.5, 0.5, 0.5]
    """

    config_class = MultiLabelConfig

    def __init__(self, config):
        if config.thresholds not in THRESHOLD_MODES:
            raise ValueError(f"task.thresholds must be one of {THRESHOLD_MODES}; "
                             f"got {config.thresholds!r}")
        super().__init__(config)
        self.metric_task = "multilabel"
        self.label_names = (tuple(str(n) for n in config.label_names)
                            or tuple(config.label_columns) or None)
        self._thresholds = None

    def read(self, path, is_training):
        c = self.config
        data = read_multilabel_file(path, text_a=c.text_a, text_b=c.text_b, label=c.label,
                                    label_names=self.label_names, label_columns=c.label_columns,
                                    label_separator=c.label_separator, allow_empty=c.allow_empty)
        if self.label_names is None:
            self.label_names = data.label_names
        return data

    def loss_numerators(self, features, outputs):
        labels = tf.cast(features["label_ids"], tf.float32)
        errors = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=outputs["logits"])
        return {"loss": tf.reduce_sum(tf.reduce_mean(errors, -1) * features["is_real_example"])}

    def metric_sums(self, features, outputs):
        weights = features["is_real_example"]
        gold = tf.cast(features["label_ids"], tf.float32)
        predicted = tf.cast(outputs["logits"] > 0.0, tf.float32)  # probability > 0.5
        true_pos = tf.reduce_sum(tf.reduce_sum(predicted * gold, -1) * weights)
        positives = tf.reduce_sum(tf.reduce_sum(predicted + gold, -1) * weights)
        exact = tf.cast(tf.reduce_all(tf.equal(predicted, gold), -1), tf.float32) * weights
        return {"micro_f1": (2.0 * true_pos, positives),
                "subset_accuracy": (tf.reduce_sum(exact), tf.reduce_sum(weights))}

    # === Thresholds ===

    def decision_thresholds(self):
        """The thresholds in use: tuned (`thresholds.json`) or `task.threshold`, `[labels]`."""
        if self._thresholds is not None:
            return self._thresholds
        return np.full([self.num_classes], self.config.threshold, np.float32)

    def restore_tuned(self, directory):
        """Reads `directory/thresholds.json` when there is one (see the module doc)."""
        path = os.path.join(directory, THRESHOLDS_FILE)
        if not directory or not tf.io.gfile.exists(path):
            return
        with tf.io.gfile.GFile(path) as f:
            saved = json.load(f)
        if self.label_names is None:
            self.label_names = tuple(saved["label_names"])
        if list(saved["label_names"]) != list(self.label_names):
            raise ValueError(f"{path}: thresholds for labels {saved['label_names']}, but the "
                             f"task's labels are {list(self.label_names)}")
        self._thresholds = np.asarray(saved["thresholds"], np.float32)
        logging.info("decision thresholds from %s: %s", path, saved["thresholds"])

    def _save_thresholds(self, directory, thresholds):
        self._thresholds = np.asarray(thresholds, np.float32)
        if directory:
            write_text(os.path.join(directory, THRESHOLDS_FILE), json.dumps(
                {"label_names": list(self.label_names), "mode": self.config.thresholds,
                 "thresholds": [float(t) for t in thresholds]}, indent=1) + "\n")

    # === Evaluation, predictions, export ===

    def probabilities(self, model, data_config):
        """`(probabilities [texts, labels], gold 0/1 or None)` of `data_config`'s file;
        a long text's windows are combined first (`task.long_text`)."""
        logits, gold = self.text_logits(model, data_config)
        # float32 `tf.sigmoid`, as the export computes them, so both choose alike.
        return tf.sigmoid(logits).numpy(), gold

    def evaluate_metrics(self, model, data_config=None, output_dir=None):
        """Multi-label scores on the whole evaluation file, at tuned thresholds
        (`per_label`/`global`: tuned on this file, saved to `output_dir`) or the
        fixed one; `micro_f1_at_0.5` shows what tuning gained.

        Returns:
            `(metrics, predicted)`: the scores and the 0/1 predictions `[N, labels]`.
        """
        data_config = data_config or self.config.validation_data
        probabilities, gold = self.probabilities(model, data_config)
        if gold is None:
            raise ValueError(f"{data_config.input_path} has no labels to evaluate against")
        if self.config.thresholds != "fixed":
            self._save_thresholds(output_dir, tune_thresholds(gold, probabilities,
                                                              self.config.thresholds))
        predicted = probabilities > self.decision_thresholds()
        scores = multilabel_metrics(gold, predicted, self.label_names)
        scores["micro_f1_at_0.5"] = multilabel_metrics(gold, probabilities > 0.5,
                                                       self.label_names)["micro_f1"]
        return scores, predicted.astype(np.int32)

    def metric_names(self):
        self._find_label_names()
        per_label = [f"{kind}/{name}" for name in self.label_names
                     for kind in ("precision", "recall", "f1")]
        return ("micro_f1", "macro_f1", "subset_accuracy", "micro_precision", "micro_recall",
                "macro_precision", "macro_recall", "micro_f1_at_0.5", *per_label)

    def write_predictions(self, model, data_config, out_dir):
        """`test_results.tsv`: per line the label probabilities (label-id order), and
        `predicted_labels.tsv`: the labels over the thresholds, `|`-separated."""
        if self._thresholds is None:  # not restored with the weights (e.g. from best/)
            self.restore_tuned(out_dir)
        probabilities, _ = self.probabilities(model, data_config)
        chosen = probabilities > self.decision_thresholds()
        write_text(os.path.join(out_dir, "predicted_labels.tsv"), "".join(
            "|".join(n for n, hot in zip(self.label_names, row, strict=True) if hot) + "\n"
            for row in chosen))
        path = os.path.join(out_dir, "test_results.tsv")
        write_text(path, "".join("\t".join(f"{p:.6f}" for p in row) + "\n"
                                 for row in probabilities))
        return path

    def export_endpoints(self, model, preprocessor):
        names = list(self.label_names) if self.label_names else None
        return classification.endpoints(model, preprocessor, names, pair=self.pair,
                                        long_text=self.config.long_text,
                                        doc_stride=self.config.doc_stride,
                                        thresholds=self.decision_thresholds())
