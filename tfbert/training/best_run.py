"""Evaluate during training, keep the best checkpoint, stop early.

`run_experiment` adds a `BestRunKeeper` to a training run when the config sets
`trainer.keep_best` (`--keep_best=f1`), `trainer.eval_every_steps` or
`trainer.early_stopping_patience`. Every `eval_every_steps` steps (default:
each epoch) and at the end of training, the keeper scores the model with the
task's whole-file evaluation (`Task.evaluate`: the GLUE, SQuAD or entity
metrics, on the chief) and appends the scores to `<model_dir>/eval_history.tsv`.
When the `keep_best` metric is better than every earlier evaluation (higher,
or lower for `Task.lower_is_better` metrics such as `mse`; a tie is not
better), `<model_dir>/best/` is replaced, atomically, by that step's model,
`eval_results.txt`, `params.yaml` and prediction files
(`tfbert.training.best_checkpoint`). `tfbert_export --model_dir` exports it.

Early stopping: after `early_stopping_patience` evaluations in a row without
a better value, training saves its checkpoint and ends, and the log says why.

A run stopped by SIGTERM and restarted with the same command keeps its best so
far: the keeper reads the history up to the restored checkpoint's step and the
best from `best/eval_results.txt`, evaluates a step the stop skipped, and
does not train on after an early stop.
"""

import math
import os

import tensorflow as tf
from absl import logging

from tfbert.data.result_files import write_text
from tfbert.training import best_checkpoint

HISTORY = "eval_history.tsv"


def check_best_run(task, config, strategy=None) -> None:
    """Fails before training on `trainer.keep_best` / `eval_every_steps` /
    `early_stopping_patience` settings the task cannot honour.

    Raises:
        ValueError: a metric the task does not compute (the message lists those
            it does), early stopping without a metric, no dev data, or a task
            without whole-file evaluation.
    """
    trainer = config.trainer
    metric = trainer.keep_best
    if trainer.early_stopping_patience and not metric:
        raise ValueError("--early_stopping_patience (trainer.early_stopping_patience) needs "
                         "--keep_best: the metric whose improvement it waits for")
    if not (metric or trainer.eval_every_steps):
        return
    flag = f"--keep_best={metric}" if metric else f"--eval_every_steps={trainer.eval_every_steps}"
    names = task.metric_names() if task.evaluates_whole_file else ()
    if not names:
        raise ValueError(f"{flag}: task {config.task.task} has no dev metrics to evaluate "
                         "during training (fine-tuning tasks have)")
    if metric and metric not in names:
        raise ValueError(f"--keep_best={metric} (trainer.keep_best): task {config.task.task} "
                         f"does not compute {metric!r}; its metrics: {', '.join(names)}")
    if not config.task.validation_data.input_path:
        raise ValueError(f"{flag} evaluates on dev data: give --predict_file / --data_dir "
                         "(task.validation_data.input_path)")
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        raise ValueError(f"{flag}: evaluations during training run on the chief alone, which "
                         "multi_worker_mirrored cannot wait for; use continuous_eval")


def steps_per_epoch(task, config) -> int:
    """Training steps of one pass over the training file (a fine-tuning task's)."""
    examples = len(task.features(config.task.train_data, True)["input_mask"])
    return max(1, math.ceil(examples / config.task.train_data.global_batch_size))


class BestTracker:
    """The best value of one metric over a run's evaluations, and when to stop.

    Args:
        metric: the metric to follow, or None to follow none (never a best).
        higher_is_better: bool. False for losses and errors.
        patience: int. `should_stop` after this many evaluations in a row
            without a better value (0: never).

    Example:

    >>> tracker = BestTracker("f1", patience=2)
    >>> [tracker.update(step, {"f1": f1}) for step, f1 in
    ...  [(100, 0.80), (200, 0.85), (300, 0.85), (400, 0.83)]]
    [True, True, False, False]
    >>> tracker.best, tracker.best_step, tracker.should_stop
    (0.85, 200, True)
    """

    def __init__(self, metric: str | None, higher_is_better: bool = True,
                 patience: int = 0) -> None:
        self.metric, self.higher_is_better, self.patience = metric, higher_is_better, patience
        self.best = self.best_step = None
        self.since_best = 0

    def is_better(self, value: float) -> bool:
        """Whether `value` beats the best so far (ties do not)."""
        if self.best is None:
            return True
        return value > self.best if self.higher_is_better else value < self.best

    def update(self, step: int, results: dict) -> bool:
        """Takes one evaluation; returns whether it is the new best."""
        if self.metric is None:
            return False
        if self.metric not in results:
            raise ValueError(f"--keep_best={self.metric}: the evaluation at step {step} has no "
                             f"{self.metric!r} (it has {', '.join(sorted(results))})")
        if self.is_better(results[self.metric]):
            self.best, self.best_step, self.since_best = results[self.metric], step, 0
            return True
        self.since_best += 1
        return False

    @property
    def should_stop(self) -> bool:
        return bool(self.patience) and self.since_best >= self.patience

    def describe(self) -> str:
        return (f"best {self.metric} {self.best:.4f} at step {self.best_step}"
                if self.best is not None else f"no {self.metric} yet")


def read_history(path: str) -> list[dict]:
    """The rows of an `eval_history.tsv` (`global_step` and the metrics, as floats)."""
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        lines = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    if not lines:
        return []
    header, rows = lines[0], []
    for number, values in enumerate(lines[1:], 2):
        if len(values) != len(header):
            raise ValueError(f"{path}:{number}: {len(values)} columns, the header has "
                             f"{len(header)}")
        row = {k: float(v) for k, v in zip(header, values, strict=True) if v != ""}
        rows.append({**row, "global_step": int(row["global_step"])})
    return rows


def write_history(path: str, rows: list[dict]) -> None:
    """`global_step` then the metrics (sorted), one row per evaluation, tab-separated."""
    names = sorted({k for row in rows for k in row} - {"global_step"})
    lines = ["\t".join(["global_step", *names])]
    lines += ["\t".join([str(row["global_step"])] + [str(row.get(k, "")) for k in names])
              for row in rows]
    write_text(path, "\n".join(lines) + "\n")


class BestRunKeeper:
    """Evaluates a `Trainer`'s model during training, keeps the best checkpoint
    in `<model_dir>/best/` and stops early (see the module doc).

    Used by `tfbert.training.run_experiment`: `start()` after the trainer
    restored its checkpoint, the keeper itself as `Trainer.train`'s callback
    (with `callback_every=keeper.every`), and `finish()` for the final scores.

    Args:
        task: a `Task` with whole-file evaluation (`evaluates_whole_file`).
        trainer: the `tfbert.training.Trainer` whose model it scores (and stops).
        model_dir: str. The run's directory.
        every: int. Steps between evaluations.

    Example (a fine-tuning task, its trainer, and `model_dir`):

        keeper = BestRunKeeper(task, trainer, model_dir, every=100)
        trainer.restore_or_initialize()
        if not keeper.start():
            trainer.train(callback=keeper, callback_every=keeper.every, restore=False)
        final = keeper.finish()  # the last step's scores; the best is in model_dir/best
    """

    def __init__(self, task, trainer, model_dir: str, every: int) -> None:
        self.task, self.trainer, self.model_dir, self.every = task, trainer, model_dir, every
        config = trainer.config.trainer
        metric = config.keep_best or None
        self.tracker = BestTracker(metric, metric not in task.lower_is_better,
                                   config.early_stopping_patience)
        self.history_path = os.path.join(model_dir, HISTORY)
        self.history = []
        self.stopped_early = False

    def start(self) -> bool:
        """Picks up a resumed run's evaluations; returns True when the run stopped
        early before (nothing left to train)."""
        step = self.trainer.step
        best_checkpoint.recover(self.model_dir)
        self.history = [r for r in read_history(self.history_path) if r["global_step"] <= step]
        for row in self.history:
            self.tracker.update(row["global_step"], row)
        # A best/ without a checkpoint to resume from is another run's: replaced at the first
        # evaluation.
        kept = best_checkpoint.read_best_results(self.model_dir) if step else None
        metric = self.tracker.metric
        if metric and kept and metric in kept and self.tracker.is_better(kept[metric]):
            # Kept after the checkpoint the run resumes from: still the best model seen.
            self.tracker.best, self.tracker.best_step = kept[metric], int(kept["global_step"])
            self.tracker.since_best = 0
        if self.history:
            logging.info("resumed with %d evaluations, %s", len(self.history),
                         self.tracker.describe())
        if self.tracker.should_stop:
            self.stopped_early = True
            logging.info("early stopping: the run stopped at step %d already (%s)", step,
                         self.tracker.describe())
            return True
        done = {r["global_step"] for r in self.history}
        if step and step % self.every == 0 and step not in done and \
                step < self.trainer.config.trainer.train_steps:
            self._evaluate(step)  # the stop that saved this checkpoint skipped its evaluation
        return False

    def __call__(self, step: int, logs: dict) -> None:
        """The trainer's callback: evaluates on every `every`-th step before the last."""
        del logs
        if step % self.every or step >= self.trainer.config.trainer.train_steps:
            return
        if self.trainer.stopped:
            logging.info("evaluation at step %d skipped: stopping (it runs on resume)", step)
            return
        self._evaluate(step)
        if self.tracker.should_stop:
            self.stopped_early = True
            logging.info("early stopping at step %d: %s did not improve in %d evaluations "
                         "(%s); saving the final checkpoint", step, self.tracker.metric,
                         self.tracker.since_best, self.tracker.describe())
            self.trainer.request_stop()

    def finish(self) -> dict:
        """The scores of the current (final) step, evaluated unless the history has them."""
        step = self.trainer.step
        last = self.history[-1] if self.history else None
        results = dict(last) if last and last["global_step"] == step else \
            self._evaluate(step, final=True)
        if self.tracker.metric:
            logging.info("%s kept in %s", self.tracker.describe(),
                         os.path.join(self.model_dir, best_checkpoint.BEST))
        return results

    def _evaluate(self, step, final=False):
        """Scores the model at `step`; keeps it in `best/` if it is the best."""
        staging = best_checkpoint.staging_dir(self.model_dir)
        results = self.task.evaluate(self.trainer.model, output_dir=staging)
        results["global_step"] = step
        if final:  # the final evaluation's prediction files also go to model_dir, as without
            for path in tf.io.gfile.glob(os.path.join(staging, "*")):
                tf.io.gfile.copy(path, os.path.join(self.model_dir, os.path.basename(path)),
                                 overwrite=True)
        improved = self.tracker.update(step, results)
        if improved:
            best_checkpoint.write_model_checkpoint(self.trainer.model, staging, step)
            best_checkpoint.finish_best(staging, self.model_dir, results,
                                        os.path.join(self.model_dir, "params.yaml"))
        else:
            tf.io.gfile.rmtree(staging)
        self.history.append(results)
        write_history(self.history_path, self.history)
        logging.info("eval at step %d: %s%s", step,
                     ", ".join(f"{k} {v:.4f}" for k, v in sorted(results.items())
                               if k != "global_step"),
                     "" if not self.tracker.metric else
                     " (new best, kept in best/)" if improved else f" ({self.tracker.describe()})")
        return results
