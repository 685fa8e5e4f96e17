"""`Task`: what a job is made of, apart from the loop that runs it.

A task differs from another task in its data, head, loss and metrics, and
nothing else: `tfbert.training.Trainer` runs any `Task` on any strategy, and
`tfbert.training.run_experiment` runs any registered task's experiment. A
task module registers its class under its names with
`tfbert.tasks.registry.register_task`, which is how every command finds it.

Losses and metrics are given as **sums**: `(numerator, denominator)` pairs
per replica batch. The trainer adds them over replicas (and, for metrics,
over steps) and divides once, so a loss or metric is the same on one device
and on many for the same global batch.
"""

import abc

from tfbert.configs.bert_config import BertConfig
from tfbert.configs.experiment import ExperimentConfig, TaskConfig
from tfbert.configs.official import model_config


class Task(abc.ABC):
    """Base of the tasks.

    Subclasses set `config_class` (their config dataclass) and `modes` (what
    `run_experiment` may run), and implement:

    - `build_head(encoder)` -> the Keras task model on a `BertEncoder`
      (`build_model()` builds the encoder from the config, then the head);
    - `build_inputs(data_config, input_context)` -> a `tf.data.Dataset` of
      per-replica batches (dicts of static-shape tensors);
    - `loss_denominators(features)` -> `{loss name: float32 scalar}`, computed
      from the features only (e.g. the number of masked tokens);
    - `loss_numerators(features, outputs)` -> `{loss name: float32 scalar}`;
      the loss is `sum(numerator / (global denominator + 1e-5))`;
    - `metric_sums(features, outputs)` -> `{metric name: (numerator, denominator)}`;
    - optionally `initialize(model)` (e.g. `init_checkpoint`), `eval_results(metrics)`,
      `evaluate(model, output_dir)` (a whole-file evaluation),
      `write_predictions(model, data_config, out_dir)` and
      `export_endpoints(model, preprocessor)` (what `tfbert_export` writes).

    Args:
        config: the task's config (an instance of `config_class`).

    Example:

    >>> from tfbert.tasks.pretraining import PretrainingTask
    >>> issubclass(PretrainingTask, Task)
    True
    """

    config_class = TaskConfig
    modes: tuple[str, ...] = ("train", "eval", "train_and_eval")
    # Whether `evaluate` scores the whole evaluation file (on the chief); if not, the
    # trainer's loop evaluates `validation_steps` batches on every worker.
    evaluates_whole_file = False
    # The names the task was registered under (set by `register_task`).
    names: tuple[str, ...] = ()
    # Whether a resumed run skips the training batches its restored steps read, so that it
    # goes on as if never stopped: for data whose order follows the seed alone and is cheap
    # to replay (`tfbert.training.resume`); otherwise the data starts afresh.
    resumes_data_position = False
    # Metrics of `evaluate` that are better when lower (all others: when higher).
    lower_is_better: tuple[str, ...] = ("loss", "mse")

    def __init__(self, config: TaskConfig):
        self.config = config

    @classmethod
    def default_config(cls, name: str) -> TaskConfig:
        """The config of the task registered as `name`, with that name's defaults."""
        return cls.config_class(task=name)

    @classmethod
    def default_experiment(cls, name: str) -> ExperimentConfig:
        """The experiment defaults of the task registered as `name`."""
        return ExperimentConfig(task=cls.default_config(name))

    def prepare(self, config: ExperimentConfig, mode: str) -> ExperimentConfig:
        """The experiment to run for `mode`, checked (and completed, e.g. the
        training length from epochs); raises ValueError naming what is missing."""
        data = config.task
        if mode in ("train", "train_and_eval") and not data.train_data.input_path:
            raise ValueError("no training data: give task.train_data.input_path")
        if mode != "train" and mode != "predict" and not data.validation_data.input_path:
            raise ValueError("no eval data: give task.validation_data.input_path")
        self.bert_config()  # a wrong model name or file, reported before any device is used
        return config.validate()

    def bert_config(self) -> BertConfig:
        """The `BertConfig` of `config.model` (+ `model_overrides`); an error names a
        model name or config file that does not resolve."""
        return model_config(self.config.model).replace(**self.config.model_overrides)

    def build_encoder(self):
        """The `BertEncoder` of `config.model` (+ `model_overrides`)."""
        raise NotImplementedError

    def build_head(self, encoder):
        """The task model on `encoder`."""
        raise NotImplementedError

    def build_model(self):
        """The model to train: the head on a new encoder."""
        return self.build_head(self.build_encoder())

    @abc.abstractmethod
    def build_inputs(self, data_config, input_context=None, is_training=True):
        """The dataset of one input pipeline (per-replica batches under `input_context`)."""

    @abc.abstractmethod
    def loss_denominators(self, features):
        """`{name: denominator}` of each loss term, from the features alone."""

    @abc.abstractmethod
    def loss_numerators(self, features, outputs):
        """`{name: numerator}` of each loss term (same names as `loss_denominators`)."""

    @abc.abstractmethod
    def metric_sums(self, features, outputs):
        """`{name: (numerator, denominator)}` of each metric."""

    def initialize(self, model):
        """Loads initial weights into a freshly built model (default: nothing)."""
        del model

    def eval_results(self, metrics, global_step):
        """`{key: value}` written to `eval_results.txt` (default: the metrics and the step)."""
        return {**metrics, "global_step": global_step}

    def evaluate(self, model, output_dir=None):
        """`{metric: float}` on the whole evaluation file (tasks that set
        `evaluates_whole_file`); `output_dir` receives any prediction files."""
        raise NotImplementedError

    def restore_tuned(self, directory: str) -> None:
        """Reads what evaluation tuned and wrote beside the checkpoints in `directory`
        (a multi-label task's thresholds), for predictions and exports; default: nothing."""
        del directory

    def metric_names(self) -> tuple[str, ...]:
        """The metrics `evaluate` reports, known before training (what `--keep_best`
        may name); default: none."""
        return ()

    def write_predictions(self, model, data_config, out_dir):
        """Writes the predictions for `data_config`'s file to `out_dir`; returns the path."""
        raise ValueError(f"task {self.config.task} writes no predictions")

    def export_endpoints(self, model, preprocessor):
        """The `tfbert.serving.export.Endpoint`s of the task's SavedModel."""
        raise ValueError(f"task {self.config.task} has no export; export the encoder with "
                         "--task=embeddings or --task=hub")
