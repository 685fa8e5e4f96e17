"""`SquadTask`: extractive question answering (SQuAD v1.1 and v2.0), as the
original `run_squad.py`.

Head: a Dense layer to start and end logits on every token (`BertSpanLabeler`).
Loss: `(start cross-entropy + end cross-entropy) / 2`, mean over windows.
Metrics during training and `Trainer.evaluate`: start and end position
accuracy. `evaluate_metrics` runs the whole evaluation file, post-processes
(n-best, `max_answer_length`, v2.0 null answers), optionally writes
`predictions.json`, `nbest_predictions.json`, `null_odds.json`, and scores
the answers with the official SQuAD metric.
"""

import dataclasses
import json
import os

import tensorflow as tf

from tfbert.data import squad
from tfbert.metrics import evaluate_v1, evaluate_v2
from tfbert.models.span_labeler import BertSpanLabeler
from tfbert.serving import question_answering
from tfbert.tasks import squad_postprocess
from tfbert.tasks.finetuning import FinetuningConfig, FinetuningTask
from tfbert.tasks.registry import register_task


@dataclasses.dataclass
class SquadConfig(FinetuningConfig):
    """Config of a SQuAD task (the original `run_squad.py` flags).

    Args:
        version_2_with_negative: SQuAD v2.0 (unanswerable questions).
        doc_stride, max_query_length: windowing (see `tfbert.data.squad`).
        n_best_size, max_answer_length, null_score_diff_threshold:
            post-processing (see `tfbert.tasks.squad_postprocess`).
    """

    version_2_with_negative: bool = False
    doc_stride: int = 128
    max_query_length: int = 64
    n_best_size: int = 20
    max_answer_length: int = 30
    null_score_diff_threshold: float = 0.0


@register_task("squad/v1.1", "squad/v2.0")
class SquadTask(FinetuningTask):
    """SQuAD question answering (`squad/v2.0`: with unanswerable questions).

    Args:
        config: a `SquadConfig`.

    Example:

    >>> task = SquadTask(SquadConfig(model="bert_tiny_uncased"))
    >>> sorted(task.build_model().output)
    ['end_logits', 'start_logits']
    """

    config_class = SquadConfig
    token_level_outputs = True
    default_seq_length = 384

    def __init__(self, config):
        super().__init__(config)
        self._windows = {}

    @classmethod
    def default_config(cls, name):
        return SquadConfig(task=name, version_2_with_negative=name == "squad/v2.0")

    def make_features(self, path, is_training, seq_length):
        data = squad.read_squad(path, is_training)
        features = squad.squad_features(
            data, self.tokenizer, seq_length, self.config.doc_stride,
            self.config.max_query_length, is_training=True)
        self._windows[(path, is_training, seq_length)] = (data, features)
        return features.arrays

    def build_head(self, encoder):
        return BertSpanLabeler(encoder)

    def loss_numerators(self, features, outputs):
        weights = features["is_real_example"]
        total = 0.0
        for side in ("start", "end"):
            total += tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=features[f"{side}_positions"], logits=outputs[f"{side}_logits"])
        return {"loss": tf.reduce_sum(0.5 * total * weights)}

    def metric_sums(self, features, outputs):
        weights = features["is_real_example"]
        sums = {}
        for side in ("start", "end"):
            predicted = tf.argmax(outputs[f"{side}_logits"], -1, output_type=tf.int32)
            correct = tf.cast(tf.equal(predicted, features[f"{side}_positions"]), tf.float32)
            sums[f"{side}_accuracy"] = (tf.reduce_sum(correct * weights), tf.reduce_sum(weights))
        return sums

    def answers(self, model, data_config):
        """`(predictions, nbest, null_odds)` of `squad_postprocess.postprocess` for
        every question of `data_config`'s file."""
        self.features(data_config, False)
        data, features = self._windows[(data_config.input_path, False,
                                        data_config.max_seq_length)]
        outputs = self.predict(model, data_config)
        results = list(zip(outputs["start_logits"], outputs["end_logits"], strict=True))
        config = self.config
        return squad_postprocess.postprocess(
            data, features, results, config.n_best_size, config.max_answer_length,
            config.version_2_with_negative, config.null_score_diff_threshold)

    def evaluate_metrics(self, model, data_config=None, output_dir=None):
        """Answers and official scores for the whole evaluation file.

        Args:
            model: the trained `BertSpanLabeler`.
            data_config: default: `validation_data`.
            output_dir: if given, the prediction files are written there.

        Returns:
            `(scores, predictions)`: `evaluate_v1` (or `evaluate_v2` with the
            null odds) of the answers, and `{question id: answer}`.
        """
        data_config = data_config or self.config.validation_data
        predictions, nbest, null_odds = self.answers(model, data_config)
        if output_dir:
            squad_postprocess.write_predictions(output_dir, predictions, nbest, null_odds)
        with open(data_config.input_path, encoding="utf-8") as f:
            gold = json.load(f)
        if self.config.version_2_with_negative:
            return evaluate_v2(gold, predictions, null_odds), predictions
        return evaluate_v1(gold, predictions), predictions

    def metric_names(self):
        if self.config.version_2_with_negative:  # evaluate_v2's scores (HasAns_*: if any)
            return ("f1", "exact", "best_f1", "best_exact", "HasAns_f1", "HasAns_exact",
                    "NoAns_f1", "NoAns_exact")
        return ("f1", "exact_match")

    def write_predictions(self, model, data_config, out_dir):
        """`predictions.json`, `nbest_predictions.json` (v2.0: `null_odds.json`), as
        the original `run_squad.py`; returns the path of `predictions.json`."""
        squad_postprocess.write_predictions(out_dir, *self.answers(model, data_config))
        return os.path.join(out_dir, "predictions.json")

    def export_endpoints(self, model, preprocessor):
        config = self.config
        return question_answering.endpoints(
            model, preprocessor, config.max_query_length, config.n_best_size,
            config.max_answer_length, config.version_2_with_negative,
            config.null_score_diff_threshold, doc_stride=config.doc_stride)


def split_articles(path, num_train_articles, train_path, eval_path):
    """Splits a SQuAD file by article: the first `num_train_articles` to
    `train_path`, the rest to `eval_path` (for training and evaluating on
    disjoint parts of one file). Returns the two article counts."""
    with open(path, encoding="utf-8") as f:
        dataset = json.load(f)
    articles = dataset["data"]
    if not 0 < num_train_articles < len(articles):
        raise ValueError(f"{path} has {len(articles)} articles; cannot put "
                         f"{num_train_articles} in the training part.")
    for part, out in ((articles[:num_train_articles], train_path),
                      (articles[num_train_articles:], eval_path)):
        squad_postprocess.write_json({"version": dataset.get("version", ""), "data": part}, out)
    return num_train_articles, len(articles) - num_train_articles
