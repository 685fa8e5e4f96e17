"""Tasks: what a job trains, evaluates and exports; found by name in the registry.

Example:

>>> from tfbert import tasks
>>> "squad/v2.0" in tasks.task_names()
True
"""

from tfbert.tasks.base import Task
from tfbert.tasks.registry import (
    build_task,
    canonical_name,
    get_task_class,
    load_config,
    register_task,
    task_names,
)

__all__ = ["Task", "build_task", "canonical_name", "get_task_class", "load_config",
           "register_task", "task_names"]
