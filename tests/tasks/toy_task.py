"""A task of our own, in one module: what CONTRIBUTING.md's "add a task" shows.

`toy/parity` reads plain text files (one text per line) and learns whether a
text has an even or an odd number of words: the labels come from the text
itself, so any text file is training data. Everything a task owns is here:
config, reader, features, head, loss, metrics, whole-file evaluation,
prediction writer and export endpoints. The commands find it through
`TFBERT_TASK_MODULES=tests.tasks.toy_task` (see `tfbert.tasks.registry`).
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfbert.data.classification import (
    ClassificationData,
    ClassificationExample,
    classification_features,
)
from tfbert.data.result_files import write_text
from tfbert.models import BertClassifier
from tfbert.serving import classification
from tfbert.tasks import register_task
from tfbert.tasks.finetuning import FinetuningConfig, FinetuningTask

LABELS = ("even", "odd")


@dataclasses.dataclass
class ParityConfig(FinetuningConfig):
    """Config of `toy/parity`: nothing beyond a fine-tuning task's."""


@register_task("toy/parity")
class ParityTask(FinetuningTask):
    """Even or odd number of words, learnt from any text file."""

    config_class = ParityConfig

    def read(self, path):
        with open(path, encoding="utf-8") as f:
            texts = [line.strip() for line in f if line.strip()]
        examples = [ClassificationExample(f"{path}:{i + 1}", text, None, len(text.split()) % 2)
                    for i, text in enumerate(texts)]
        return ClassificationData(examples, LABELS, path)

    def make_features(self, path, is_training, seq_length):
        return classification_features(self.read(path), self.tokenizer, seq_length)

    def build_head(self, encoder):
        return BertClassifier(encoder, len(LABELS))

    def loss_numerators(self, features, outputs):
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=features["label_ids"], logits=outputs["logits"])
        return {"loss": tf.reduce_sum(nll * features["is_real_example"])}

    def metric_sums(self, features, outputs):
        weights = features["is_real_example"]
        predicted = tf.argmax(outputs["logits"], -1, output_type=tf.int32)
        correct = tf.cast(tf.equal(predicted, features["label_ids"]), tf.float32) * weights
        return {"accuracy": (tf.reduce_sum(correct), tf.reduce_sum(weights))}

    def evaluate_metrics(self, model, data_config=None, output_dir=None):
        data_config = data_config or self.config.validation_data
        predicted = np.argmax(self.predict(model, data_config)["logits"], -1)
        gold = self.features(data_config, False)["label_ids"]
        return {"accuracy": float(np.mean(predicted == gold))}, predicted

    def write_predictions(self, model, data_config, out_dir):
        predicted = np.argmax(self.predict(model, data_config)["logits"], -1)
        path = os.path.join(out_dir, "parity.txt")
        write_text(path, "".join(f"{LABELS[i]}\n" for i in predicted))
        return path

    def export_endpoints(self, model, preprocessor):
        return classification.endpoints(model, preprocessor, list(LABELS))
