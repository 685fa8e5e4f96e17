"""`TaggingTask`: named entities (CoNLL-2003) and other word tagging.

Head: dropout and a Dense layer on every token (`BertTokenClassifier`).
Loss: cross-entropy on the first word piece of each word (`label_weights`).
Metric during training: first-piece accuracy; `evaluate_metrics` gives the
entity-level precision/recall/F1 of `conlleval`/`seqeval` on whole words.
"""

import dataclasses

import tensorflow as tf

from tfbert.data import conll
from tfbert.metrics import entity_scores
from tfbert.models.token_classifier import BertTokenClassifier
from tfbert.tasks.finetuning import FinetuningConfig, FinetuningTask


@dataclasses.dataclass
class TaggingConfig(FinetuningConfig):
    """Config of a tagging task.

    Args:
        scheme: the files' tags, `iob2` or `iob1` (converted to IOB2).
        label_names: the tag list in id order; default: those of the
            training file ("O" first).
    """

    scheme: str = "iob2"
    label_names: list = dataclasses.field(default_factory=list)


class TaggingTask(FinetuningTask):
    """CoNLL-format word tagging.

    Args:
        config: a `TaggingConfig`.

    Example:

    >>> task = TaggingTask(TaggingConfig(model="bert_tiny_uncased",
    ...                                  label_names=["O", "B-PER", "I-PER"]))
    >>> task.build_model().output["logits"].shape
    (None, None, 3)
    """

    token_level_outputs = True

    def __init__(self, config):
        super().__init__(config)
        self._label_names = tuple(config.label_names) or None
        self._data = {}

    @property
    def label_names(self):
        if self._label_names is None:
            self._label_names = self.read(self.config.train_data.input_path).label_names
        return self._label_names

    def read(self, path):
        """The `TaggingData` of a file (cached)."""
        if path not in self._data:
            self._data[path] = conll.read_conll(path, self.config.scheme, self._label_names)
        return self._data[path]

    def make_features(self, path, is_training, seq_length):
        label_names = self.label_names  # the training file's tags, unless given
        data = self.read(path)
        self._data[(path, seq_length)] = features = conll.tagging_features(
            conll.TaggingData(data.sentences, label_names, path), self.tokenizer,
            seq_length)
        return features.arrays

    def build_model(self):
        return BertTokenClassifier(self.build_encoder(), len(self.label_names),
                                   dropout=self.config.dropout)

    def _weights(self, features):
        return features["label_weights"] * features["is_real_example"][:, tf.newaxis]

    def loss_denominators(self, features):
        return {"loss": tf.reduce_sum(self._weights(features))}

    def loss_numerators(self, features, outputs):
        nll = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=features["label_ids"], logits=outputs["logits"])
        return {"loss": tf.reduce_sum(nll * self._weights(features))}

    def metric_sums(self, features, outputs):
        weights = self._weights(features)
        predicted = tf.argmax(outputs["logits"], -1, output_type=tf.int32)
        correct = tf.cast(tf.equal(predicted, features["label_ids"]), tf.float32) * weights
        return {"word_accuracy": (tf.reduce_sum(correct), tf.reduce_sum(weights))}

    def evaluate_metrics(self, model, data_config=None):
        """Entity-level scores on the whole evaluation file.

        Returns:
            `(scores, predicted tags per sentence)`; see `tfbert.metrics.entity_scores`.
        """
        data_config = data_config or self.config.validation_data
        self.features(data_config, False)  # builds (or finds) the word positions
        logits = self.predict(model, data_config)["logits"]
        features = self._data[(data_config.input_path, data_config.max_seq_length)]
        predicted = conll.tags_from_logits(features, logits, self.label_names)
        gold = [s.tags for s in self.read(data_config.input_path).sentences]
        return entity_scores(gold, predicted), predicted
