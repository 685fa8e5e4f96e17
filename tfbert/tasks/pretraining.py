"""`PretrainingTask`: masked LM + next sentence prediction, as the original `run_pretraining.py`.

Losses: the masked-LM loss `sum(w * nll) / (sum(w) + 1e-5)` over the masked
positions weighted by `masked_lm_weights`, plus the mean next-sentence
cross-entropy. Metrics (the original eval keys): `masked_lm_accuracy`,
`masked_lm_loss`, `next_sentence_accuracy`, `next_sentence_loss`, `loss`. The
accuracies count a label whose logit ties for the maximum as correct (the original's
`argmax` picks the first tied class; see `_hits`).
"""

import tensorflow as tf

from tfbert.checkpoints.loader import restore_weights
from tfbert.data.pretraining_dataset import expand_input_files, pretraining_dataset
from tfbert.models.pretrainer import BertPretrainer
from tfbert.networks.bert_encoder import BertEncoder
from tfbert.tasks.base import Task
from tfbert.tasks.registry import register_task


def _rows(logits, labels):
    """`logits` [..., classes] as rows [items, classes] and `labels` [...] as [items]:
    `_nll` and `_hits` build the same ops, which the graph optimizer then shares."""
    classes = tf.shape(logits)[-1]
    return tf.reshape(logits, [-1, classes]), tf.reshape(labels, [-1])


def _nll(logits, labels):
    """Per-item negative log-likelihood of float32 `logits` [..., classes] at int `labels` [...].

    The same values and gradient as `tf.nn.sparse_softmax_cross_entropy_with_logits`,
    in plain ops that run in parallel: on a CPU that fused kernel is the slowest op
    of a pre-training step (see docs/performance.md, "Pre-training step").
    """
    flat_logits, flat_labels = _rows(logits, labels)

    @tf.custom_gradient
    def nll(flat_logits):
        peak = tf.stop_gradient(tf.reduce_max(flat_logits, -1, keepdims=True))
        exp = tf.exp(flat_logits - peak)
        total = tf.reduce_sum(exp, -1, keepdims=True)
        values = (tf.math.log(total[:, 0]) + peak[:, 0]
                  - tf.gather(flat_logits, flat_labels, batch_dims=1))

        def gradient(upstream):  # upstream * (softmax - one_hot(label))
            probabilities = exp * (upstream[:, None] / total)
            rows = tf.range(tf.shape(flat_labels)[0])
            return tf.tensor_scatter_nd_sub(probabilities, tf.stack([rows, flat_labels], 1),
                                            upstream)

        return values, gradient

    return tf.reshape(nll(flat_logits), tf.shape(labels))


def _hits(logits, labels):
    """1.0 where the float32 `logits` [..., classes] rank the int `labels` [...] first.

    A label counts when its logit equals the row's maximum: the maximum and the
    label's logit are the ones `_nll` computes (the graph optimizer shares them),
    where `argmax` would be one more pass over the 320 x 30,522 masked-LM logits.
    Unlike `argmax == label`, a label tied with another class for the maximum
    counts as a hit.
    """
    flat_logits, flat_labels = _rows(logits, labels)
    hits = (tf.gather(flat_logits, flat_labels, batch_dims=1)
            >= tf.reduce_max(flat_logits, -1, keepdims=True)[:, 0])
    return tf.reshape(tf.cast(hits, tf.float32), tf.shape(labels))


@register_task("pretraining")
class PretrainingTask(Task):
    """BERT pre-training on the TFRecords of `create_pretraining_data`.

    Args:
        config: a `tfbert.configs.experiment.TaskConfig`.
        use_one_hot_embeddings: bool or None. One-hot word lookup (as the original
            on TPUs); None: when the model is built under a `TPUStrategy`.
        source: str. What `train_data.input_path` came from, named in errors.

    Example:

    >>> from tfbert.configs.experiment import TaskConfig
    >>> task = PretrainingTask(TaskConfig(model="bert_tiny_uncased"))
    >>> model = task.build_model()
    >>> sorted(model.output)
    ['mlm_logits', 'next_sentence_logits']
    """

    modes = ("train", "eval", "train_and_eval", "continuous_eval")

    def __init__(self, config, use_one_hot_embeddings=None,
                 source="--input_file / task.train_data.input_path"):
        super().__init__(config)
        self.use_one_hot_embeddings = use_one_hot_embeddings
        self.source = source

    def prepare(self, config, mode):
        """The base checks, and that the TFRecord globs the mode reads match files
        (`expand_input_files`; the records themselves are checked when read)."""
        config = super().prepare(config, mode)
        if mode in ("train", "train_and_eval"):
            expand_input_files(config.task.train_data.input_path, self.source)
        if mode != "train":
            expand_input_files(config.task.validation_data.input_path,
                               "--input_file / task.validation_data.input_path")
        return config

    def build_encoder(self):
        one_hot = self.use_one_hot_embeddings
        if one_hot is None:
            one_hot = isinstance(tf.distribute.get_strategy(), tf.distribute.TPUStrategy)
        # Shapes stay open in the model: the static shapes come from the data.
        return BertEncoder(self.bert_config(), use_one_hot_embeddings=one_hot)

    def build_head(self, encoder):
        return BertPretrainer(encoder)

    def build_inputs(self, data_config, input_context=None, is_training=True):
        return pretraining_dataset(
            data_config.input_path, data_config.max_seq_length,
            data_config.max_predictions_per_seq, data_config.global_batch_size,
            is_training=is_training, input_context=input_context, shuffle=data_config.shuffle,
            shuffle_buffer_size=data_config.shuffle_buffer_size, seed=data_config.seed,
            source=self.source, skip_corrupt_records=data_config.skip_corrupt_records)

    def loss_denominators(self, features):
        weights = features["masked_lm_weights"]
        return {"masked_lm_loss": tf.reduce_sum(weights),
                "next_sentence_loss": tf.cast(tf.shape(weights)[0], tf.float32)}

    def loss_numerators(self, features, outputs):
        mlm_nll = _nll(outputs["mlm_logits"], features["masked_lm_ids"])  # [batch, predictions]
        nsp_nll = _nll(outputs["next_sentence_logits"], features["next_sentence_labels"])
        return {"masked_lm_loss": tf.reduce_sum(mlm_nll * features["masked_lm_weights"]),
                "next_sentence_loss": tf.reduce_sum(nsp_nll)}

    def metric_sums(self, features, outputs):
        weights = features["masked_lm_weights"]
        mlm_correct = _hits(outputs["mlm_logits"], features["masked_lm_ids"])
        nsp_correct = _hits(outputs["next_sentence_logits"], features["next_sentence_labels"])
        count = tf.cast(tf.size(nsp_correct), tf.float32)
        return {"masked_lm_accuracy": (tf.reduce_sum(mlm_correct * weights),
                                       tf.reduce_sum(weights)),
                "next_sentence_accuracy": (tf.reduce_sum(nsp_correct), count)}

    def initialize(self, model):
        if self.config.init_checkpoint:
            return restore_weights(model, self.config.init_checkpoint)
        return None

    def eval_results(self, metrics, global_step):
        results = {key: metrics[key] for key in (
            "masked_lm_accuracy", "masked_lm_loss", "next_sentence_accuracy",
            "next_sentence_loss", "loss")}
        results["global_step"] = global_step
        return results
