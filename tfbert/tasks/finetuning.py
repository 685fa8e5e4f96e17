"""`FinetuningTask`: what every fine-tuning task shares.

A fine-tuning task differs from another in its data, head, loss, metrics and
post-processing (its subclass); this base class gives all of them the rest:

- the encoder, from an official config name or `bert_config.json`
  (`task.model`), or from a HuggingFace BERT directory given as
  `task.init_checkpoint` (its `config.json`, weights and `vocab.txt`);
- initial weights from a tfbert checkpoint, a Google TF1 checkpoint or a
  HuggingFace directory (`task.init_checkpoint`);
- the tokenizer (`task.vocab_file`, else the HuggingFace directory's vocab);
- features built once per input file and cached, and their input pipeline
  for `tfbert.training.Trainer`: static shapes, per-replica batches, sharded
  by input pipeline; evaluation data padded to whole batches with rows whose
  `is_real_example` is 0, which losses and metrics ignore (as the original
  `PaddingInputExample`), so an evaluation of `num_eval_steps` batches
  covers every example exactly once;
- `predict`: the model's outputs for every real example, in order, for the
  metrics that are not ratios of sums (Matthews, Pearson, SQuAD, NER).
"""

import dataclasses
import math
import os

import numpy as np
import tensorflow as tf

from tfbert.configs.experiment import DataConfig, TaskConfig
from tfbert.configs.official import model_config
from tfbert.data.finetuning import PADDINGS, make_dataset
from tfbert.networks.bert_encoder import BertEncoder
from tfbert.tasks.base import Task


@dataclasses.dataclass
class FinetuningConfig(TaskConfig):
    """A fine-tuning task's config: `TaskConfig` plus the tokenizer.

    Args:
        task: str. What to fine-tune: `glue/<name>`, `classification`,
            `regression`, `squad/v1.1`, `squad/v2.0` or `conll2003`
            (see `tfbert.tasks.finetune_run`).
        vocab_file: str. The WordPiece vocab; default: `vocab.txt` of a
            HuggingFace `init_checkpoint` directory.
        lower_case: bool. Uncased model (the original `do_lower_case`).
        dropout: float or None. Dropout before the head; None: the encoder's.
        num_train_epochs: float or None. If set, `trainer.train_steps` is
            `ceil(training examples * epochs / batch)` (the original
            `run_classifier.py`); None: `trainer.train_steps` as given.
        warmup_proportion: float or None. If set, the warmup is this share of
            the training steps; None: `trainer.optimizer.warmup_steps` as given.
        predict_data: DataConfig. The file `--mode=predict` runs on
            (default: `validation_data`'s).
    """

    task: str = ""
    vocab_file: str = ""
    lower_case: bool = True
    dropout: float | None = None
    num_train_epochs: float | None = 3.0
    warmup_proportion: float | None = 0.1
    predict_data: DataConfig = dataclasses.field(
        default_factory=lambda: DataConfig(global_batch_size=8))


def is_huggingface_dir(path):
    """Whether `path` is a HuggingFace model directory (config.json + weights)."""
    return bool(path) and os.path.isdir(path) and os.path.isfile(
        os.path.join(path, "config.json"))


class FinetuningTask(Task):
    """Base of the fine-tuning tasks (see the module doc).

    Subclasses implement `make_features(path, is_training, seq_length)`,
    which returns a dict of numpy arrays (`input_word_ids`, `input_mask`,
    `input_type_ids` `[N, seq]`, labels...), and the `Task` methods
    `build_model`, `loss_numerators` and `metric_sums`. Losses and metrics
    weight each row by `features["is_real_example"]`.

    Args:
        config: a `FinetuningConfig` (or a subclass).
    """

    # Whether the model's outputs are per token (tagging, SQuAD): `predict` concatenates
    # them over batches, so their evaluation batches keep one length (see `padding`).
    token_level_outputs = False

    def __init__(self, config):
        super().__init__(config)
        self._tokenizer = None
        self._cache = {}

    # === Model and weights ===

    def bert_config(self):
        if is_huggingface_dir(self.config.init_checkpoint):
            from tfbert.checkpoints.huggingface import config_from_huggingface
            config = config_from_huggingface(
                os.path.join(self.config.init_checkpoint, "config.json"))
        else:
            config = model_config(self.config.model)
        return config.replace(**self.config.model_overrides)

    def build_encoder(self):
        return BertEncoder(self.bert_config())

    def initialize(self, model):
        path = self.config.init_checkpoint
        if not path:
            return None
        if is_huggingface_dir(path):
            from tfbert.checkpoints.huggingface import load_huggingface_weights
            load_huggingface_weights(model.encoder, path)
            return "encoder"
        from tfbert.training.checkpointing import restore_model
        return restore_model(model, path)

    @property
    def tokenizer(self):
        """The `tfbert.text.BertTokenizer` of `vocab_file`."""
        if self._tokenizer is None:
            from tfbert.text import BertTokenizer
            vocab = self.config.vocab_file
            if not vocab and is_huggingface_dir(self.config.init_checkpoint):
                vocab = os.path.join(self.config.init_checkpoint, "vocab.txt")
            if not vocab:
                raise ValueError("task.vocab_file (--vocab_file) is required unless "
                                 "--init_checkpoint is a HuggingFace model directory")
            self._tokenizer = BertTokenizer(vocab, lower_case=self.config.lower_case)
        return self._tokenizer

    # === Data ===

    def make_features(self, path, is_training, seq_length):
        """`{name: numpy array}` of the file or directory `path`."""
        raise NotImplementedError

    def features(self, data_config, is_training):
        """The (cached) feature arrays of a data config."""
        key = (data_config.input_path, is_training, data_config.max_seq_length)
        if key not in self._cache:
            if not data_config.input_path:
                part = "train_data" if is_training else "validation_data"
                raise ValueError(f"task.{part}.input_path is empty: give the data file")
            self._cache[key] = self.make_features(data_config.input_path, is_training,
                                                  data_config.max_seq_length)
        return self._cache[key]

    def num_eval_steps(self, data_config):
        """Batches that cover the evaluation data once."""
        num = len(self.features(data_config, False)["input_mask"])
        return math.ceil(num / data_config.global_batch_size)

    def _padded(self, arrays, multiple):
        """Rows appended (copies of row 0, `is_real_example` 0) up to a multiple."""
        num = len(arrays["input_mask"])
        arrays = {**arrays, "is_real_example": np.ones([num], np.float32)}
        extra = -num % multiple
        if not extra:
            return arrays
        padded = {k: np.concatenate([v, np.repeat(v[:1], extra, axis=0)]) for k, v in
                  arrays.items()}
        padded["is_real_example"][num:] = 0.0
        return padded

    def build_inputs(self, data_config, input_context=None, is_training=True):
        arrays = self.features(data_config, is_training)
        batch = data_config.global_batch_size
        if is_training:
            arrays = {**arrays, "is_real_example": np.ones([len(arrays["input_mask"])],
                                                           np.float32)}
            if len(arrays["input_mask"]) < batch:
                raise ValueError(f"{data_config.input_path}: {len(arrays['input_mask'])} "
                                 f"training examples, fewer than one batch of {batch}")
        else:
            arrays = self._padded(arrays, batch)
        if input_context is not None:
            batch = input_context.get_per_replica_batch_size(batch)
            if input_context.num_input_pipelines > 1:
                step = input_context.num_input_pipelines
                arrays = {k: v[input_context.input_pipeline_id::step] for k, v in
                          arrays.items()}
        shuffle = is_training if data_config.shuffle is None else data_config.shuffle
        return make_dataset(arrays, batch, shuffle=shuffle, repeat=is_training,
                            seed=data_config.seed, drop_remainder=True,
                            padding=self.padding(data_config, is_training))

    def padding(self, data_config, is_training):
        """`make_dataset`'s padding for `data_config` (its `padding`, "auto" resolved).

        On a TPU (the Trainer builds inputs in its strategy's scope) always one shape.
        Training: "auto" is length bucketing. Evaluation keeps the file order (no
        buckets): each batch cut to its longest, except for tasks whose outputs are
        per token (`predict` concatenates them over batches: one length).
        """
        padding = data_config.padding
        if padding != "auto" and padding not in PADDINGS:
            raise ValueError(f"task.*_data.padding must be 'auto' or one of {PADDINGS}; "
                             f"got {padding!r}")
        if padding == "max_seq_length" or isinstance(tf.distribute.get_strategy(),
                                                     tf.distribute.TPUStrategy):
            return "max_seq_length"
        if is_training:
            return "bucket" if padding == "auto" else padding
        return "max_seq_length" if self.token_level_outputs else "batch"

    # === Prediction ===

    def predict(self, model, data_config):
        """`{output name: numpy array [N, ...]}` for every real example of
        `data_config`'s evaluation data, in file order."""
        dataset = self.build_inputs(data_config, is_training=False)
        names = [t.name.split(":")[0] for t in model.inputs]

        @tf.function
        def forward(features):
            return model({n: features[n] for n in names}, training=False)

        outputs, real = [], []
        for features in dataset:
            outputs.append({k: v.numpy() for k, v in forward(features).items()})
            real.append(features["is_real_example"].numpy() > 0)
        real = np.concatenate(real)
        return {k: np.concatenate([o[k] for o in outputs])[real] for k in outputs[0]}

    def loss_denominators(self, features):
        return {"loss": tf.reduce_sum(features["is_real_example"])}
