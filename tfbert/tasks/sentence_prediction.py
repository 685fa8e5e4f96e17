"""`SentencePredictionTask`: GLUE and your own text (pair) classification or
regression, as the original `run_classifier.py`.

Head: dropout and a Dense layer on the pooled output (`BertClassifier`).
Loss: mean cross-entropy (classification) or mean squared error
(regression, `num_classes=1`). Metrics during training and `Trainer.evaluate`:
accuracy (and F1 of class 1 for MRPC/QQP), or MSE; `evaluate_metrics` gives
every GLUE metric of the task (Matthews, Pearson, Spearman too) from
`predict` over the whole evaluation file.

Texts longer than `max_seq_length` (`task.long_text`): `first` truncates
them, as the original does (the default: features, training and exports are
those of the original). `mean` and `max` read every piece of single texts:
each text becomes windows of `max_seq_length - 2` pieces that start
`task.doc_stride` pieces apart (`tfbert.data.windows`). In training each
window is an example that carries its text's label (a long document's
label is taken to hold for every part of it, as a document classifier is
usually trained; a text of W windows then counts W times per epoch, so the
epoch's steps count windows). The evaluation, the predictions and the export
combine a text's windows into one prediction, the mean or the elementwise
maximum of their logits (`combine_windows`). The loss and accuracy of the
training loop (`Trainer.evaluate`) stay per window; `evaluate_metrics`
scores texts.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfbert.data import glue
from tfbert.data.classification import classification_features, window_features
from tfbert.data.classification_files import read_classification_file
from tfbert.data.result_files import write_text
from tfbert.metrics import glue_metric_names, glue_metrics
from tfbert.models.classifier import BertClassifier
from tfbert.serving import classification
from tfbert.tasks.finetuning import FinetuningConfig, FinetuningTask
from tfbert.tasks.registry import register_task


@dataclasses.dataclass
class SentencePredictionConfig(FinetuningConfig):
    """Config of a sentence (pair) classification or regression task.

    Args:
        task: `glue/<name>` (`glue/sst2`, `glue/mrpc`, `glue/stsb`, ...: the
            original TSV files; `input_path` is the file or the task
            directory), or `classification` / `regression` for your own
            CSV/TSV/JSONL files.
        text_a, text_b, label: column names of your own files (`text_b`
            set: text pairs, also in the export).
        long_text: texts longer than `max_seq_length`: `first` (truncated, as
            the original), `mean` or `max` (single texts: read in windows whose
            logits are averaged, or maxed per class; see the module doc).
        doc_stride: how far the windows of a long text advance, in pieces.
    """

    task: str = "glue/sst2"
    text_a: str = "sentence"
    text_b: str | None = None
    label: str = "label"
    long_text: str = "first"
    doc_stride: int = 64


@register_task("classification", "regression", *(f"glue/{name}" for name in glue.GLUE_TASKS))
class SentencePredictionTask(FinetuningTask):
    """Sentence (pair) classification or regression.

    Args:
        config: a `SentencePredictionConfig`.

    Example:

    >>> task = SentencePredictionTask(SentencePredictionConfig(
    ...     task="glue/mrpc", model="bert_tiny_uncased"))
    >>> task.num_classes, task.regression
    (2, False)
    >>> task.build_model().output["logits"].shape
    (None, 2)
    """

    config_class = SentencePredictionConfig

    def __init__(self, config):
        super().__init__(config)
        name = config.task.lower()
        if name.startswith("glue/"):
            self.glue_task, spec = glue.glue_task(name)
            self.regression = spec.label_names is None
            self.label_names = spec.label_names
        else:  # the user's own data: classification, regression (and subclasses' tasks)
            self.glue_task = None
            self.regression = name == "regression"
            self.label_names = tuple(str(n) for n in config.label_names) or None
        self.metric_task = self.glue_task or name
        self.pair = (glue.GLUE_TASKS[self.glue_task].text_b is not None if self.glue_task
                     else config.text_b is not None)
        try:
            classification.check_long_text(config.long_text, self.pair, config.doc_stride)
        except ValueError as error:
            raise ValueError(f"task {config.task}: task.long_text / task.doc_stride "
                             f"(--long_text, --doc_stride): {error}") from None

    def _find_label_names(self):
        """Own classification data without `label_names`: the training file's labels
        (an export without a training file names its classes "0", "1", ...)."""
        if self.label_names is None and not self.regression and (
                self.config.train_data.input_path or not self.config.num_classes):
            if not self.config.train_data.input_path:
                raise ValueError("the labels are unknown: give label_names (--label_names), "
                                 "num_classes (--num_classes) or the training file")
            self.label_names = self.read(self.config.train_data.input_path, True).label_names

    @property
    def num_classes(self):
        self._find_label_names()
        if self.regression:
            return 1
        return len(self.label_names) if self.label_names else self.config.num_classes

    def read(self, path, is_training):
        """The `ClassificationData` of a file (GLUE: or of a task directory)."""
        if self.glue_task:
            if os.path.isdir(path):
                return glue.read_glue(self.glue_task, path, "train" if is_training else "dev")
            return glue.read_glue_file(self.glue_task, path,
                                       labeled=not os.path.basename(path).startswith("test"))
        data = read_classification_file(
            path, text_a=self.config.text_a, text_b=self.config.text_b, label=self.config.label,
            label_names=self.label_names, regression=self.regression)
        if self.label_names is None and not self.regression:
            self.label_names = data.label_names
        return data

    def make_features(self, path, is_training, seq_length):
        self._find_label_names()
        data = self.read(path, is_training)
        if self.config.long_text == "first":
            return classification_features(data, self.tokenizer, seq_length)
        return window_features(data, self.tokenizer, seq_length, self.config.doc_stride)

    def combine_windows(self, logits, example_index):
        """Per text, the logits of its windows combined by `task.long_text`.

        Args:
            logits: float `[windows, K]`, as `predict` gives them.
            example_index: int `[windows]`, the text of each window (the features').

        Returns:
            float32 numpy `[texts, K]`: with `first` (one row per text) `logits` itself.
        """
        if self.config.long_text == "first":
            return logits
        num_examples = int(example_index[-1]) + 1 if len(example_index) else 0
        return classification.combine_windows(logits, example_index, num_examples,
                                              self.config.long_text).numpy()

    def text_logits(self, model, data_config):
        """`(logits [texts, K], label ids or None)` of every text of `data_config`'s file."""
        features = self.features(data_config, False)
        logits = self.combine_windows(self.predict(model, data_config)["logits"],
                                      features["example_index"])
        labels = features.get("label_ids")
        if labels is not None and self.config.long_text != "first":
            first = np.flatnonzero(np.diff(features["example_index"], prepend=-1))
            labels = labels[first]  # every window carries its text's label
        return logits, labels

    def build_head(self, encoder):
        return BertClassifier(encoder, self.num_classes, dropout=self.config.dropout)

    def loss_numerators(self, features, outputs):
        logits, weights = outputs["logits"], features["is_real_example"]
        if self.regression:
            errors = tf.square(logits[:, 0] - tf.cast(features["label_ids"], tf.float32))
        else:
            errors = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=features["label_ids"], logits=logits)
        return {"loss": tf.reduce_sum(errors * weights)}

    def metric_sums(self, features, outputs):
        weights = features["is_real_example"]
        logits = outputs["logits"]
        if self.regression:
            error = tf.square(logits[:, 0] - tf.cast(features["label_ids"], tf.float32))
            return {"mse": (tf.reduce_sum(error * weights), tf.reduce_sum(weights))}
        predicted = tf.argmax(logits, -1, output_type=tf.int32)
        labels = features["label_ids"]
        correct = tf.cast(tf.equal(predicted, labels), tf.float32) * weights
        sums = {"accuracy": (tf.reduce_sum(correct), tf.reduce_sum(weights))}
        if self.metric_task in ("mrpc", "qqp"):
            positive = tf.cast(tf.equal(predicted, 1), tf.float32) * weights
            gold = tf.cast(tf.equal(labels, 1), tf.float32) * weights
            true_pos = tf.reduce_sum(positive * gold)
            # F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (predicted + gold positives).
            sums["f1"] = (2.0 * true_pos, tf.reduce_sum(positive) + tf.reduce_sum(gold))
        return sums

    def evaluate_metrics(self, model, data_config=None, output_dir=None):
        """Every GLUE metric of the task on the whole evaluation file.

        Returns:
            `(metrics, predictions)`: the metric dict, and the predicted label
            ids (or scores, for regression) in file order.
        """
        data_config = data_config or self.config.validation_data
        logits, labels = self.text_logits(model, data_config)
        if labels is None:
            raise ValueError(f"{data_config.input_path} has no labels to evaluate against")
        predictions = logits[:, 0] if self.regression else np.argmax(logits, -1)
        return glue_metrics(self.metric_task, labels, predictions), predictions

    def metric_names(self):
        return glue_metric_names(self.metric_task)

    def write_predictions(self, model, data_config, out_dir):
        """`test_results.tsv`: per line the class probabilities (or the score), as the
        original `run_classifier.py`."""
        logits, _ = self.text_logits(model, data_config)
        if self.regression:
            rows = [f"{value:.6f}\n" for value in logits[:, 0]]
        else:
            shifted = np.exp(logits - logits.max(-1, keepdims=True))
            probabilities = shifted / shifted.sum(-1, keepdims=True)
            rows = ["\t".join(f"{p:.6f}" for p in row) + "\n" for row in probabilities]
        path = os.path.join(out_dir, "test_results.tsv")
        write_text(path, "".join(rows))
        return path

    def export_endpoints(self, model, preprocessor):
        names = list(self.label_names) if self.label_names and not self.regression else None
        return classification.endpoints(model, preprocessor, names, pair=self.pair,
                                        regression=self.regression,
                                        long_text=self.config.long_text,
                                        doc_stride=self.config.doc_stride)
