"""The one experiment runner: `run_experiment(config, model_dir, mode)` for any task.

One experiment config (`tfbert.configs.experiment.ExperimentConfig`, whose
`task` is the registered task's own config, see `tfbert.tasks.load_config`)
describes a whole run, pre-training or fine-tuning alike. The runner builds
the task from the registry, lets it check and complete the config
(`Task.prepare`: e.g. the training length from epochs), writes it to
`model_dir/params.yaml`, and runs `mode` with one `Trainer`:

- `train`, `train_and_eval`: train (resuming from the latest checkpoint in
  `model_dir`; SIGTERM saves and stops), then evaluate; with
  `trainer.keep_best` / `eval_every_steps` / `early_stopping_patience` it also
  evaluates during training, keeps the best checkpoint in `model_dir/best/`
  and may stop early (`tfbert.training.best_run`); with
  `trainer.num_restarts` / `trainer.seeds` it trains one run per seed and
  keeps the best run (`tfbert.training.restarts`);
- `eval`: evaluate the latest checkpoint (or the initial weights; `best/`
  when the config keeps one);
- `continuous_eval`: evaluate each new checkpoint as training writes it;
- `predict`: the task's predictions file (`Task.write_predictions`), from the
  same weights as `eval`.

Evaluation is the task's whole-file evaluation (`Task.evaluate`: GLUE, SQuAD,
entity metrics) where it has one, else the trainer's loop on
`validation_steps` batches (pre-training); both write `eval_results.txt`.
"""

import dataclasses
import os

import tensorflow as tf
import yaml
from absl import logging

from tfbert.checkpoints.loader import restore_weights
from tfbert.configs import experiment as experiment_lib
from tfbert.configs.experiment import ExperimentConfig
from tfbert.data.result_files import write_eval_results, write_text
from tfbert.tasks.registry import build_task
from tfbert.training import best_checkpoint, best_run
from tfbert.training import restarts as restarts_lib
from tfbert.training.strategies import create_strategy, is_chief
from tfbert.training.trainer import Trainer


def _evaluate(task, trainer, model_dir):
    """The task's whole-file metrics (on the chief), else the trainer's eval loop
    (on every worker: it runs collectives)."""
    if not task.evaluates_whole_file:
        return trainer.evaluate()
    if not trainer.is_chief:
        return None
    results = task.evaluate(trainer.model, output_dir=model_dir)
    results["global_step"] = trainer.step
    logging.info("eval at step %d: %s", trainer.step,
                 ", ".join(f"{k} {v:.4f}" for k, v in sorted(results.items())))
    write_eval_results(os.path.join(model_dir, "eval_results.txt"), results)
    return results


def run_experiment(config: ExperimentConfig, model_dir: str, mode: str,
                   strategy: tf.distribute.Strategy | None = None, callback=None,
                   num_tpu_cores: int | None = None):
    """Runs `mode` of an experiment.

    Args:
        config: an `ExperimentConfig` (from `tfbert.tasks.load_config`).
        model_dir: checkpoints, `params.yaml`, `eval_results.txt` and
            predictions go here (with restarts: the runs' directories,
            `restarts.tsv` and `best/`).
        mode: one of the task's `modes` (see the module doc).
        strategy: a `tf.distribute.Strategy`, or None to create the config's.
        callback: passed to `Trainer.train`.
        num_tpu_cores: int or None. Expected TPU replicas (a mismatch is logged).

    Returns:
        The eval results (`eval`, `train_and_eval`, `continuous_eval`; with
        restarts, the best run's), the training history (`train`, or a run
        stopped by a signal), or the predictions file (`predict`).

    Raises:
        ValueError: a mode the task does not run, or a config it cannot run
            (e.g. a `--keep_best` metric the task does not compute), before
            any training.
    """
    task = build_task(config.task)
    if mode not in task.modes:
        known = ", ".join(task.modes) or "none: it is export-only"
        raise ValueError(f"task {config.task.task} does not run --mode={mode}; modes: {known}")
    config = dataclasses.replace(config, task=task.config)
    runtime = config.runtime
    if strategy is None:
        check_before_connecting(task, config, model_dir, mode)
        strategy = create_strategy(runtime.distribution_strategy, runtime.tpu,
                                   runtime.tpu_zone, runtime.gcp_project, runtime.tpu_timeout_s)
    if num_tpu_cores and runtime.distribution_strategy == "tpu" and \
            strategy.num_replicas_in_sync != num_tpu_cores:
        logging.warning("--num_tpu_cores=%d, but the TPU has %d cores; using %d", num_tpu_cores,
                        strategy.num_replicas_in_sync, strategy.num_replicas_in_sync)
    restarts = config.trainer.num_restarts or config.trainer.seeds
    if mode in ("train", "train_and_eval"):
        best_run.check_best_run(task, config, strategy)
        if restarts:
            restarts_lib.check_restarts(task, config, mode)

            def run(task, run_config, run_dir, mode):
                return _run(task, run_config, run_dir, mode, strategy, callback)

            return restarts_lib.run_restarts(task, config, model_dir, mode, run,
                                             is_chief(strategy))
    return _run(task, config, model_dir, mode, strategy, callback)


def check_before_connecting(task, config: ExperimentConfig, model_dir: str, mode: str) -> None:
    """Checks all that a run can check without devices, before any is contacted.

    A TPU connection can take minutes (or, to a wrong address, until
    `runtime.tpu_timeout_s`): a wrong model config, data path or output
    directory is reported first, in seconds. Checked here: the task's own
    checks (`Task.prepare`: the data the mode reads is given and exists, the
    model config resolves, the training length), the keep-best and restart
    settings, and that `model_dir` can be created.

    Raises:
        ValueError, OSError: the message names the flag, file or path.
    """
    if mode in ("train", "train_and_eval"):
        best_run.check_best_run(task, config)
        if config.trainer.num_restarts or config.trainer.seeds:
            restarts_lib.check_restarts(task, config, mode)
    # Its result is recomputed per run by `_run` (restarts: per seed); a placeholder seed
    # keeps a seedless run from drawing (and logging) a seed it would not use.
    if config.runtime.seed is None:
        config = experiment_lib.set_values(config, {"runtime.seed": 0}, "check")
    # Quiet: `_run` prepares again and logs what it finds (the training length) then.
    absl_logger = logging.get_absl_logger()
    level = absl_logger.level  # restored as it was, NOTSET included
    absl_logger.setLevel(logging.converter.ABSL_TO_STANDARD[logging.WARNING])
    try:
        task.prepare(config, mode)
    finally:
        absl_logger.setLevel(level)
    try:
        tf.io.gfile.makedirs(model_dir)
    except (OSError, tf.errors.OpError) as error:
        detail = getattr(error, "message", None) or str(error)
        raise OSError(f"--model_dir={model_dir}: cannot create the output directory "
                      f"({detail})") from None


def _run(task, config, model_dir, mode, strategy, callback):
    """One run of `mode` in `model_dir` (see `run_experiment`)."""
    config = task.prepare(config, mode)
    task.config = config.task
    trainer = Trainer(task, config, model_dir, strategy=strategy)
    logging.info("%s of %s on %d replica(s) of %s, model_dir %s", mode, config.task.task,
                 strategy.num_replicas_in_sync, type(strategy).__name__, model_dir)
    if trainer.is_chief:
        write_text(os.path.join(model_dir, "params.yaml"),
                   yaml.safe_dump(experiment_lib.to_dict(config), sort_keys=False))
    if mode in ("train", "train_and_eval"):
        keeper = _keeper(task, trainer, model_dir)
        with trainer.stop_on_sigterm():
            if keeper is None:
                history = trainer.train(callback=callback)
            else:
                trainer.restore_or_initialize()
                history = [] if keeper.start() else trainer.train(
                    callback=_both(keeper, callback), callback_every=keeper.every,
                    restore=False)
        if trainer.stopped and not (keeper and keeper.stopped_early):
            logging.warning("stopped at step %d; restart the same command to resume",
                            trainer.step)
            return history
        if keeper is not None:
            results = keeper.finish()
            write_eval_results(os.path.join(model_dir, "eval_results.txt"), results)
            return history if mode == "train" else results
        if mode == "train":
            return history
    elif mode == "continuous_eval":
        return trainer.continuous_evaluate()
    else:
        _restore_for_eval(trainer, config, model_dir, mode)
    if mode == "predict":
        if not trainer.is_chief:
            return None
        path = task.write_predictions(trainer.model, task.predict_data(), model_dir)
        logging.info("wrote %s", path)
        return path
    return _evaluate(task, trainer, model_dir)


def _keeper(task, trainer, model_dir):
    """The run's `BestRunKeeper`, if the config evaluates during training."""
    settings = trainer.config.trainer
    if not (settings.keep_best or settings.eval_every_steps):
        return None
    every = settings.eval_every_steps or best_run.steps_per_epoch(task, trainer.config)
    return best_run.BestRunKeeper(task, trainer, model_dir, every)


def _both(keeper, callback):
    # The caller's callback first: a stop it asks for skips the keeper's evaluation,
    # as a SIGTERM during the loop does (the resumed run evaluates that step).
    def both(step, logs):
        if callback:
            callback(step, logs)
        keeper(step, logs)
    return both


def _restore_for_eval(trainer, config, model_dir, mode):
    """`eval` and `predict` weights: `best/` when the run kept one, else the latest
    checkpoint, else the initial weights."""
    settings = config.trainer
    if settings.keep_best or settings.num_restarts or settings.seeds:
        best = best_checkpoint.best_checkpoint_dir(model_dir)
        if best:
            restore_weights(trainer.model, best)
            trainer.task.restore_tuned(best)  # e.g. the thresholds tuned with those weights
            logging.info("%s of the kept checkpoint %s", mode, tf.train.latest_checkpoint(best))
            return
        if settings.num_restarts or settings.seeds:
            raise ValueError(f"{model_dir} has no best/ checkpoint: train the restarts first "
                             "(--mode=train_and_eval)")
    if trainer.restore_or_initialize() is None and not config.task.init_checkpoint:
        logging.warning("no checkpoint in %s and no --init_checkpoint: using a randomly "
                        "initialised model", model_dir)
