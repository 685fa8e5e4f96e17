"""`<model_dir>/best/`: the kept checkpoint, written whole or not at all.

`best/` is a tfbert checkpoint directory like a training directory: checkpoint
files `ckpt-<step>.*` and their `checkpoint` state file (so
`tf.train.latest_checkpoint`, `tfbert.checkpoints.load_model` and
`tfbert_export --model_dir` read it), plus `eval_results.txt` (the scores that
made it the best, with `global_step`), `params.yaml` and any prediction files
of that evaluation. `tfbert.training.best_run` (the best evaluation of a run)
and `tfbert.training.restarts` (the best of several runs) write it.

Atomic replacement: the new `best/` is filled under `best.tmp/`, then the old
one is renamed to `best.old/`, `best.tmp/` to `best/`, and `best.old/` is
deleted. A crash leaves the old `best/` whole, or (between the two renames)
only `best.old/`, which readers take and the next writer renames back: never a
part of one.
"""

import os

import tensorflow as tf

from tfbert.checkpoints.restore import training_checkpoint
from tfbert.data.result_files import read_eval_results, write_eval_results, write_text

BEST = "best"
EVAL_RESULTS = "eval_results.txt"


def best_checkpoint_dir(model_dir: str) -> str | None:
    """`<model_dir>/best` if it holds a checkpoint (or its `best.old` left by a crash
    during a swap), else None. Reads only: a run may be writing it.

    Example:

    >>> best_checkpoint_dir("/no/such/run") is None
    True
    """
    for name in (BEST, f"{BEST}.old"):
        directory = os.path.join(model_dir, name)
        if tf.io.gfile.exists(directory) and tf.train.latest_checkpoint(directory):
            return directory
    return None


def read_best_results(model_dir: str) -> dict[str, float] | None:
    """The `eval_results.txt` of `<model_dir>/best`, or None when there is no best yet."""
    directory = best_checkpoint_dir(model_dir)
    path = directory and os.path.join(directory, EVAL_RESULTS)
    return read_eval_results(path) if path and tf.io.gfile.exists(path) else None


def recover(model_dir: str) -> None:
    """Puts back a `best/` that a crash left as `best.old/`, and drops a half
    `best.tmp/` (the writer calls this before writing)."""
    best = os.path.join(model_dir, BEST)
    old, staging = f"{best}.old", f"{best}.tmp"
    if tf.io.gfile.exists(old):
        if tf.io.gfile.exists(best):
            tf.io.gfile.rmtree(old)
        else:
            tf.io.gfile.rename(old, best)
    if tf.io.gfile.exists(staging):
        tf.io.gfile.rmtree(staging)


def staging_dir(model_dir: str) -> str:
    """An empty `<model_dir>/best.tmp/` to fill with the next `best/`."""
    recover(model_dir)
    staging = os.path.join(model_dir, f"{BEST}.tmp")
    tf.io.gfile.makedirs(staging)
    return staging


def swap_in(staging: str, model_dir: str) -> str:
    """Makes the filled `staging` directory `<model_dir>/best` (see the module doc)."""
    best = os.path.join(model_dir, BEST)
    old = f"{best}.old"
    if tf.io.gfile.exists(best):
        tf.io.gfile.rename(best, old)
    tf.io.gfile.rename(staging, best)
    if tf.io.gfile.exists(old):
        tf.io.gfile.rmtree(old)
    return best


def _write_state(directory, name):
    """The `checkpoint` state file naming `name` (relative: the directory may move)."""
    write_text(os.path.join(directory, "checkpoint"),
               f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n')


def write_model_checkpoint(model, directory: str, step: int) -> str:
    """Writes `model` (and its encoder; no optimizer) as `<directory>/ckpt-<step>`."""
    prefix = training_checkpoint(model).write(os.path.join(directory, f"ckpt-{step}"))
    _write_state(directory, os.path.basename(prefix))
    return prefix


def copy_checkpoint(source_dir: str, directory: str) -> str:
    """Copies the latest checkpoint of `source_dir` (a training or a `best/`
    directory) and its other files (`eval_results.txt`, predictions...) into `directory`."""
    prefix = tf.train.latest_checkpoint(source_dir)
    if prefix is None:
        raise FileNotFoundError(f"{source_dir} has no checkpoint")
    name = os.path.basename(prefix)
    for path in tf.io.gfile.glob(os.path.join(source_dir, "*")):
        base = os.path.basename(path)
        is_checkpoint = base.startswith("ckpt-") or base == "checkpoint"
        if tf.io.gfile.isdir(path) or (is_checkpoint and not base.startswith(f"{name}.")):
            continue  # summaries, older checkpoints
        tf.io.gfile.copy(path, os.path.join(directory, base), overwrite=True)
    _write_state(directory, name)
    return os.path.join(directory, name)


def finish_best(staging: str, model_dir: str, results: dict, params_yaml: str | None) -> str:
    """Adds `eval_results.txt` and `params.yaml` to a staged `best/`, then swaps it in."""
    write_eval_results(os.path.join(staging, EVAL_RESULTS), results)
    if params_yaml and tf.io.gfile.exists(params_yaml):
        tf.io.gfile.copy(params_yaml, os.path.join(staging, "params.yaml"), overwrite=True)
    return swap_in(staging, model_dir)
