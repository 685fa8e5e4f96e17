"""`TaggingTask`: named entities (CoNLL-2003) and other word tagging.

Head: dropout and a Dense layer on every token (`BertTokenClassifier`).
Loss: cross-entropy on the first word piece of each word (`label_weights`).
Metric during training: first-piece accuracy; `evaluate_metrics` gives the
entity-level precision/recall/F1 of `conlleval`/`seqeval` on whole words.

Long texts (`task.long_text`): `first` cuts a sentence at `max_seq_length`
(the cut words are logged, untrained, and tagged "O"), as the original
does. `max_context` reads every word: a sequence longer than one input is
cut into windows of `max_seq_length - 2` pieces that start `task.doc_stride`
pieces apart, and each word is trained and tagged in the one window where
its first piece has the most context (the SQuAD rule, `tfbert.data.windows`):
no word is tagged twice or skipped, and each counts once in the loss, as in
sentence training. `task.documents: true` reads whole documents (the text
between `-DOCSTART-` lines) instead of sentences, so that a word is tagged
with the context of the sentences around it; their tags are scored and
written sentence by sentence, so that the scores count the same entities as
a sentence-level evaluation.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from tfbert.data import conll
from tfbert.data.result_files import write_text
from tfbert.metrics import entity_scores
from tfbert.models.token_classifier import BertTokenClassifier
from tfbert.serving import tagging
from tfbert.tasks.finetuning import FinetuningConfig, FinetuningTask
from tfbert.tasks.registry import register_task

# The CoNLL-2003 tag set (IOB2): `conll2003` reads any CoNLL-2003 file with it, even a
# training subset without some tag; `tagging` takes the tags of the training file instead.
CONLL2003_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")


@dataclasses.dataclass
class TaggingConfig(FinetuningConfig):
    """Config of a tagging task.

    Args:
        scheme: the files' tags, `iob2` or `iob1` (converted to IOB2).
        (`label_names`: the tag list in id order; default: those of the
        training file, "O" first; `conll2003`: `CONLL2003_TAGS`.)
        long_text: `first` (cut at `max_seq_length`) or `max_context` (every
            word, in windows; see the module doc).
        doc_stride: how far the windows of a long sequence advance, in pieces.
        documents: read whole documents (between `-DOCSTART-` lines), not sentences.
    """

    scheme: str = "iob2"
    long_text: str = "first"
    doc_stride: int = 64
    documents: bool = False


@register_task("tagging", "conll2003")
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

    config_class = TaggingConfig
    token_level_outputs = True

    def __init__(self, config):
        super().__init__(config)
        try:
            tagging.check_long_text(config.long_text, config.doc_stride)
        except ValueError as error:
            raise ValueError(f"task {config.task}: task.long_text / task.doc_stride "
                             f"(--long_text, --doc_stride): {error}") from None
        self._label_names = tuple(config.label_names) or None
        self._data = {}

    @classmethod
    def default_config(cls, name):
        return TaggingConfig(task=name,
                             label_names=list(CONLL2003_TAGS) if name == "conll2003" else [])

    @property
    def label_names(self):
        if self._label_names is None:
            if not self.config.train_data.input_path and self.config.num_classes:
                return tuple(str(i) for i in range(self.config.num_classes))
            self._label_names = self.read(self.config.train_data.input_path).label_names
        return self._label_names

    def read(self, path):
        """The `TaggingData` of a file (cached): sentences, or documents (`task.documents`)."""
        if path not in self._data:
            read = conll.read_conll_documents if self.config.documents else conll.read_conll
            self._data[path] = read(path, self.config.scheme, self._label_names)
        return self._data[path]

    def make_features(self, path, is_training, seq_length):
        label_names = self.label_names  # the training file's tags, unless given
        data = self.read(path)
        doc_stride = self.config.doc_stride if self.config.long_text == "max_context" else None
        self._data[(path, seq_length)] = features = conll.tagging_features(
            conll.TaggingData(data.sentences, label_names, path), self.tokenizer,
            seq_length, doc_stride=doc_stride)
        return features.arrays

    def tagging_features(self, data_config):
        """The `tfbert.data.conll.TaggingFeatures` of `data_config`'s file (built once)."""
        self.features(data_config, False)
        return self._data[(data_config.input_path, data_config.max_seq_length)]

    def build_head(self, encoder):
        return BertTokenClassifier(encoder, len(self.label_names), dropout=self.config.dropout)

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

    def predict_tags(self, model, data_config):
        """The predicted tags of every sequence (sentence or document) of
        `data_config`'s file (whole words)."""
        features = self.tagging_features(data_config)  # builds (or finds) the word positions
        logits = self.predict(model, data_config)["logits"]
        return conll.tags_from_logits(features, logits, self.label_names)

    def evaluate_metrics(self, model, data_config=None, output_dir=None):
        """Entity-level scores on the whole evaluation file, sentence by sentence
        (documents are tagged whole, then cut into their sentences).

        Returns:
            `(scores, predicted tags per sentence)`; see `tfbert.metrics.entity_scores`.
            With windows, `scores` also has `multi_window_share`: the share of
            sequences read in more than one window.
        """
        data_config = data_config or self.config.validation_data
        data = self.read(data_config.input_path)
        predicted = conll.split_sentences(data, self.predict_tags(model, data_config))
        gold = conll.split_sentences(data, [s.tags for s in data.sentences])
        scores = entity_scores(gold, predicted)
        windows = self.tagging_features(data_config).windows
        if windows is not None:
            scores["multi_window_share"] = float(np.mean(windows > 1))
        return scores, predicted

    def metric_names(self):
        return ("f1", "precision", "recall", "token_accuracy")  # entity_scores' numbers

    def write_predictions(self, model, data_config, out_dir):
        """`test_predictions.txt`: `word predicted-tag` per line, a blank line between
        sentences."""
        lines = []
        data = self.read(data_config.input_path)
        sentences = conll.split_sentences(data, [s.words for s in data.sentences])
        predicted = conll.split_sentences(data, self.predict_tags(model, data_config))
        for words, tags in zip(sentences, predicted, strict=True):
            lines += [f"{word} {tag}\n" for word, tag in zip(words, tags, strict=True)]
            lines.append("\n")
        path = os.path.join(out_dir, "test_predictions.txt")
        write_text(path, "".join(lines))
        return path

    def export_endpoints(self, model, preprocessor):
        return tagging.endpoints(model, preprocessor, list(self.label_names),
                                 long_text=self.config.long_text,
                                 doc_stride=self.config.doc_stride)
