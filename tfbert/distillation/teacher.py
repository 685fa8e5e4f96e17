"""The teacher: a fine-tuned tfbert model directory, loaded with its own task.

A model directory that `tfbert_finetune` (or `tfbert_distill`) wrote holds
`params.yaml`, the whole experiment: the task's registered name, its labels,
data, vocab and model config. That file alone says how to rebuild the
teacher's task (`tfbert.tasks.registry`) and its head; the weights are the
directory's kept best checkpoint (`best/`, from `--keep_best` or
`--num_restarts`) when it has one, else its latest, as `tfbert_export` takes.
"""

import dataclasses
import os

from tfbert.checkpoints.loader import latest_weights, load_model
from tfbert.configs.experiment import ExperimentConfig
from tfbert.tasks.registry import build_task, canonical_name, load_config
from tfbert.training.best_checkpoint import best_checkpoint_dir


@dataclasses.dataclass
class Teacher:
    """A fine-tuned model directory's experiment, task and weights.

    Attributes:
        model_dir: the directory.
        experiment: its `ExperimentConfig` (from `params.yaml`).
        task: the `tfbert.tasks.FinetuningTask` it was fine-tuned as.
        weights: the checkpoint to load (`best/` or the latest).

    Example:

    >>> try:
    ...     load_teacher("/no/such/run")
    ... except FileNotFoundError as error:
    ...     print(str(error).split(':')[0])
    --teacher_dir=/no/such/run has no params.yaml
    """

    model_dir: str
    experiment: ExperimentConfig
    task: object
    weights: str

    @property
    def task_name(self) -> str:
        return self.task.config.task

    def build_model(self):
        """The teacher's task model with its fine-tuned weights, frozen."""
        model = load_model(self.weights, head=self.task.build_head,
                           config=self.task.bert_config())
        model.trainable = False
        return model


def load_teacher(model_dir: str) -> Teacher:
    """The `Teacher` of a fine-tuned model directory.

    Raises:
        FileNotFoundError: no `params.yaml` or no checkpoint in `model_dir`.
        ValueError: a `params.yaml` whose task is unknown or has no fine-tuned head.
    """
    params = os.path.join(model_dir, "params.yaml")
    if not os.path.isfile(params):
        raise FileNotFoundError(f"--teacher_dir={model_dir} has no params.yaml: give a model "
                                "directory that tfbert_finetune wrote")
    experiment = load_config(config_files=[params])
    task = build_task(experiment.task)
    if not hasattr(task, "build_head") or not hasattr(task, "vocab_file"):
        raise ValueError(f"--teacher_dir={model_dir}: task {experiment.task.task} is not a "
                         "fine-tuned task")
    weights = best_checkpoint_dir(model_dir) or latest_weights(model_dir=model_dir)
    return Teacher(model_dir, experiment, task, weights)


def check_task(teacher: Teacher, task_name: str | None) -> None:
    """Raises ValueError when `--task` names another task than the teacher's."""
    if task_name and canonical_name(task_name) != canonical_name(teacher.task_name):
        raise ValueError(f"--task={task_name}, but the teacher in {teacher.model_dir} was "
                         f"fine-tuned for {teacher.task_name} (its params.yaml)")
