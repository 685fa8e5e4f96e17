"""`Task`: what a training job is made of, apart from the loop that runs it.

A task differs from another task in its data, head, loss and metrics, and
nothing else: `tfbert.training.Trainer` runs any `Task` on any strategy.

Losses and metrics are given as **sums**: `(numerator, denominator)` pairs
per replica batch. The trainer adds them over replicas (and, for metrics,
over steps) and divides once, so a loss or metric is the same on one device
and on many for the same global batch.
"""

import abc


class Task(abc.ABC):
    """Base of the training tasks.

    Subclasses implement:
    - `build_model()` -> a Keras model taking the feature dict;
    - `build_inputs(data_config, input_context)` -> a `tf.data.Dataset` of
      per-replica batches (dicts of static-shape tensors);
    - `loss_denominators(features)` -> `{loss name: float32 scalar}`, computed
      from the features only (e.g. the number of masked tokens);
    - `loss_numerators(features, outputs)` -> `{loss name: float32 scalar}`;
      the loss is `sum(numerator / (global denominator + 1e-5))`;
    - `metric_sums(features, outputs)` -> `{metric name: (numerator, denominator)}`;
    - optionally `initialize(model)` (e.g. `init_checkpoint`) and
      `eval_results(metrics)` (file names and keys of the evaluation output).

    Args:
        config: the task's config (for pre-training, a `TaskConfig`).

    Example:

    >>> from tfbert.tasks.pretraining import PretrainingTask
    >>> issubclass(PretrainingTask, Task)
    True
    """

    def __init__(self, config):
        self.config = config

    @abc.abstractmethod
    def build_model(self):
        """The model to train."""

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
