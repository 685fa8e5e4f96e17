"""Restarts: several runs from the same initial weights with different seeds, the best kept.

The BERT paper's recipe for small data sets (MRPC, RTE, CoLA, STS-B):
fine-tuning is unstable there, so run it several times with different random
seeds and keep the run that scores best on dev. `trainer.num_restarts=N`
(`--num_restarts=N`, seeds `trainer.seeds`, default 1..N) runs, one after the
other in one process:

- run `<seed>` in `<model_dir>/run_<seed>/`, from the same `init_checkpoint`,
  with `runtime.seed` (the head's initial weights, dropout) set to the seed,
  and `task.train_data.seed` (the order of the training data) too unless the
  config fixes it;
- each run is scored by its best evaluation when `trainer.keep_best` is set
  (its `run_<seed>/best/eval_results.txt`), else by its final one
  (`run_<seed>/eval_results.txt`);
- `<model_dir>/restarts.tsv`: a header line, then one row per finished run:
  `seed`, the metrics, `global_step`, `run_dir`, so the run-to-run spread
  is visible;
- `<model_dir>/best/`: a copy of the best run's checkpoint (the `keep_best`
  metric, else the task's headline metric, the first of
  `Task.metric_names()`), with its `eval_results.txt` (plus `seed`) and
  `params.yaml`; `tfbert_export --model_dir` exports it.

The table and `best/` are rewritten after each run. A job restarted with the
same command skips the runs that finished (their eval results exist) and
resumes the one that was stopped.
"""

import os

import tensorflow as tf
from absl import logging

from tfbert.configs.experiment import set_values
from tfbert.data.result_files import read_eval_results, write_text
from tfbert.training import best_checkpoint

TABLE = "restarts.tsv"


def restart_seeds(trainer_config) -> list[int]:
    """The seeds of the runs: `trainer.seeds`, or 1..`trainer.num_restarts`.

    Raises:
        ValueError: seeds that are not distinct integers, or as many seeds as
            runs asked for.

    Example:

    >>> from tfbert.configs.experiment import TrainerConfig
    >>> restart_seeds(TrainerConfig(num_restarts=3))
    [1, 2, 3]
    >>> restart_seeds(TrainerConfig(seeds=[7, 42]))
    [7, 42]
    """
    seeds, count = list(trainer_config.seeds or ()), trainer_config.num_restarts
    if any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
        raise ValueError(f"--seeds (trainer.seeds) must be integers, got {seeds}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds (trainer.seeds) repeats a seed: {seeds}")
    if seeds and count and len(seeds) != count:
        raise ValueError(f"conflicting --num_restarts={count} and --seeds="
                         f"{','.join(map(str, seeds))} ({len(seeds)} seeds)")
    return seeds or list(range(1, count + 1))


def selection_metric(task, trainer_config) -> str:
    """The metric the runs are compared by: `keep_best`, else the task's headline metric."""
    if trainer_config.keep_best:
        return trainer_config.keep_best
    names = task.metric_names() if task.evaluates_whole_file else ()
    if not names:
        raise ValueError(f"--num_restarts: task {task.config.task} has no dev metric to compare "
                         "the runs by")
    return names[0]


def check_restarts(task, config, mode) -> None:
    """Fails before training on restarts that cannot pick a best run."""
    restart_seeds(config.trainer)
    selection_metric(task, config.trainer)
    if mode != "train_and_eval" and not config.trainer.keep_best:
        raise ValueError("--num_restarts compares the runs on dev: use --mode=train_and_eval "
                         "(--do_train --do_eval) or --keep_best")


def run_config(config, seed):
    """The config of the run with `seed` (see the module doc)."""
    values = {"runtime.seed": seed}
    if config.task.train_data.seed is None:
        values["task.train_data.seed"] = seed
    return set_values(config, values, f"restart seed {seed}")


def _run_results(run_dir, keep_best):
    """The scores of a finished run (its best, or its final ones), or None if unfinished."""
    if not tf.io.gfile.exists(os.path.join(run_dir, best_checkpoint.EVAL_RESULTS)):
        return None
    source = os.path.join(run_dir, best_checkpoint.BEST) if keep_best else run_dir
    results = read_eval_results(os.path.join(source, best_checkpoint.EVAL_RESULTS))
    return {**results, "global_step": int(results["global_step"])}


def write_table(path, rows):
    """`restarts.tsv`: `seed`, the metrics (sorted), `global_step`, `run_dir`."""
    names = sorted({k for _, results, _ in rows for k in results} - {"global_step", "seed"})
    lines = ["\t".join(["seed", *names, "global_step", "run_dir"])]
    for seed, results, run_dir in rows:
        lines.append("\t".join([str(seed), *(repr(results[k]) if k in results else ""
                                             for k in names),
                                str(results["global_step"]), run_dir]))
    write_text(path, "\n".join(lines) + "\n")


def _keep_best_run(model_dir, seed, results, run_dir, keep_best):
    """Copies run `seed`'s checkpoint to `<model_dir>/best/` unless it is there already."""
    kept = best_checkpoint.read_best_results(model_dir)
    if kept and kept.get("seed") == seed and kept.get("global_step") == results["global_step"]:
        return
    staging = best_checkpoint.staging_dir(model_dir)
    source = os.path.join(run_dir, best_checkpoint.BEST) if keep_best else run_dir
    best_checkpoint.copy_checkpoint(source, staging)
    best_checkpoint.finish_best(staging, model_dir, {**results, "seed": seed},
                                os.path.join(run_dir, "params.yaml"))


def run_restarts(task, config, model_dir, mode, run, is_chief=True):
    """Runs the restarts of `config` (see the module doc).

    Args:
        task: the task (built once: its features serve every run).
        config: the experiment, with `trainer.num_restarts` or `trainer.seeds`.
        model_dir: str. The runs' parent directory.
        mode: `train` or `train_and_eval`.
        run: `run(task, config, run_dir, mode)` trains and evaluates one run
            (`tfbert.training.experiment` passes its single-run function).
        is_chief: only the chief writes the table and `best/`.

    Returns:
        The best run's scores (with its `seed`), or, when a run was stopped
        (SIGTERM), what `run` returned for it.
    """
    keep_best = config.trainer.keep_best
    metric = selection_metric(task, config.trainer)
    higher = metric not in task.lower_is_better
    seeds = restart_seeds(config.trainer)
    logging.info("%d restarts (seeds %s) in %s, compared by dev %s", len(seeds),
                 ", ".join(map(str, seeds)), model_dir, metric)
    rows = []
    for seed in seeds:
        run_dir = os.path.join(model_dir, f"run_{seed}")
        results = _run_results(run_dir, keep_best)
        if results is None:
            logging.info("restart with seed %d in %s", seed, run_dir)
            outcome = run(task, run_config(config, seed), run_dir, mode)
            results = _run_results(run_dir, keep_best)
            if results is None:  # stopped by a signal: the same command resumes it
                return outcome
        else:
            logging.info("restart with seed %d: finished already (%s)", seed, run_dir)
        if metric not in results:
            raise ValueError(f"{run_dir}: its eval results have no {metric!r}")
        rows.append((seed, results, run_dir))
        if not is_chief:
            continue
        write_table(os.path.join(model_dir, TABLE), rows)
        best = (max if higher else min)(rows, key=lambda row: row[1][metric])
        _keep_best_run(model_dir, *best, keep_best)
    values = [results[metric] for _, results, _ in rows]
    best_seed, best_results, _ = (max if higher else min)(rows, key=lambda row: row[1][metric])
    logging.info("restarts: dev %s %s (mean %.4f, min %.4f, max %.4f); seed %d kept in %s",
                 metric, ", ".join(f"{v:.4f}" for v in values), sum(values) / len(values),
                 min(values), max(values), best_seed,
                 os.path.join(model_dir, best_checkpoint.BEST))
    return {**best_results, "seed": best_seed}
