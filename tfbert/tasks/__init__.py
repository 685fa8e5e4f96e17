"""Tasks: what a training job trains (model, data, losses, metrics); `Trainer` runs them."""

from tfbert.tasks.base import Task
from tfbert.tasks.pretraining import PretrainingTask

__all__ = ["PretrainingTask", "Task"]
