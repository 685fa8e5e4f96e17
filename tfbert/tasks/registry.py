"""The task registry: every task found by one name, the same in every command.

A task module registers its `Task` class under its names:

    @register_task("squad/v1.1", "squad/v2.0")
    class SquadTask(FinetuningTask): ...

and `tfbert_finetune`, `tfbert_export`, `tfbert_pretrain` and the Python API
find it only here (`get_task_class`, `load_config`, `build_task`). The
built-in tasks register when this module first looks a name up. A task of
your own registers when its module is imported: import it before you run it
from Python; the commands import the modules named in the environment
variable `TFBERT_TASK_MODULES` (comma-separated) and those a package declares
under the entry-point group `tfbert.tasks`.

Old spellings keep working for a while, with a one-line deprecation warning
(`DEPRECATED_NAMES`).

Example:

>>> get_task_class("glue/mrpc").__name__
'SentencePredictionTask'
>>> canonical_name("squad_v2")
'squad/v2.0'
"""

import importlib
import importlib.metadata
import os

from absl import logging

from tfbert.configs import experiment as experiment_lib
from tfbert.configs import safe_yaml
from tfbert.configs.experiment import ExperimentConfig
from tfbert.configs.overrides import parse_overrides

# The modules of the built-in tasks, imported on the first look-up.
BUILTIN_TASK_MODULES = (
    "tfbert.tasks.sentence_prediction", "tfbert.tasks.multilabel", "tfbert.tasks.squad",
    "tfbert.tasks.tagging", "tfbert.tasks.encoder_exports", "tfbert.tasks.pretraining",
)
# Old spelling -> the registered name.
DEPRECATED_NAMES = {"squad": "squad/v1.1", "squad_v1.1": "squad/v1.1", "squad_v2": "squad/v2.0",
                    "squad_v2.0": "squad/v2.0"}

_TASKS = {}
_warned = set()
_builtins_loaded = False


def register_task(*names):
    """A class decorator that registers a `Task` subclass under `names`.

    Raises:
        ValueError: a name is registered already (to another class).
    """
    if not names:
        raise ValueError("register_task needs at least one name")

    def register(task_class):
        for name in names:
            key = name.lower()
            if _TASKS.get(key, task_class) is not task_class:
                raise ValueError(f"task {name!r} is registered already, to "
                                 f"{_TASKS[key].__module__}.{_TASKS[key].__name__}")
            _TASKS[key] = task_class
        task_class.names = tuple(task_class.names) + tuple(n.lower() for n in names)
        return task_class

    return register


def _load_builtins():
    """Imports the built-in task modules, then the user's (see the module doc)."""
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in BUILTIN_TASK_MODULES:
            importlib.import_module(module)
        for entry_point in importlib.metadata.entry_points(group="tfbert.tasks"):
            entry_point.load()
        for module in filter(None, os.environ.get("TFBERT_TASK_MODULES", "").split(",")):
            try:
                importlib.import_module(module.strip())
            except ImportError as error:
                raise ValueError(f"TFBERT_TASK_MODULES names {module.strip()!r}, which "
                                 f"cannot be imported: {error}") from None


def task_names() -> list[str]:
    """Every registered task name, sorted."""
    _load_builtins()
    return sorted(_TASKS)


def canonical_name(name: str) -> str:
    """The registered spelling of `name` (case-insensitive; old spellings warn once).

    Raises:
        ValueError: no task of that name (the message lists the known ones).
    """
    _load_builtins()
    key = (name or "").strip().lower()
    if key in DEPRECATED_NAMES:
        if key not in _warned:
            _warned.add(key)
            logging.warning("task name %r is deprecated; use %r", name, DEPRECATED_NAMES[key])
        key = DEPRECATED_NAMES[key]
    if key not in _TASKS:
        family = key.split("/")[0] + "/" if "/" in key else None
        siblings = [n for n in task_names() if family and n.startswith(family)]
        if siblings:  # e.g. glue/nope: say which glue/ tasks there are
            raise ValueError(f"unknown {family[:-1].upper()} task {name!r}; known: "
                             f"{', '.join(siblings)}")
        raise ValueError(f"unknown task {name!r}; known: {', '.join(task_names())}")
    return key


def get_task_class(name: str):
    """The `Task` class registered as `name`."""
    return _TASKS[canonical_name(name)]


def _raw_task_name(config_files, params_override):
    """`task.task` as the YAML files and overrides give it (the last one wins), or None."""
    name = None
    for path in config_files or ():
        found = experiment_lib.find_experiment_file(path)
        with open(found, encoding="utf-8") as f:
            values = safe_yaml.load(f, str(found)) or {}
        name = ((values.get("task") or {}).get("task")) or name
    return parse_overrides(params_override).get("task.task", name)


def load_config(task=None, config_files=(), params_override="") -> ExperimentConfig:
    """The experiment of a task: its defaults, then each YAML file, then the overrides.

    Args:
        task: the task name (`--task`); None: `task.task` of the files/overrides.
        config_files: experiment YAML paths or names in `official_configs/experiments`.
        params_override: `a.b=c,...` or a YAML mapping.

    Returns:
        An `ExperimentConfig` whose `task` is the task's own config (not yet
        validated: see `Task.prepare`).

    Raises:
        ValueError: no task, an unknown task, a file that names another task,
            or an unknown key (named with its file).
    """
    named = _raw_task_name(config_files, params_override)
    if task and named and get_task_class(task) is not get_task_class(named):
        raise ValueError(f"conflicting tasks: --task={task} and task.task={named} in "
                         "--config_file/--params_override")
    name = task or named
    if not name:
        raise ValueError(f"no task: give --task ({', '.join(task_names())})")
    name = canonical_name(name)
    config = get_task_class(name).default_experiment(name)
    for path in config_files or ():
        config = experiment_lib.load_yaml(config, path)
    config = experiment_lib.override(config, params_override)
    # --task wins over the files' spelling of the same task (glue/sst2 over glue/mrpc).
    final = name if task else canonical_name(config.task.task)
    return experiment_lib.set_values(config, {"task.task": final}, "--task")


def build_task(task_config):
    """The `Task` that `task_config.task` names, built on `task_config`."""
    return get_task_class(task_config.task)(task_config)
