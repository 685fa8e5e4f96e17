"""`tfbert_pretrain`: BERT pre-training from TFRecords on a TPU, GPUs, or many workers.

Two flag families work, alone or together:

- the original `run_pretraining.py` flags, same names, defaults and meanings:

    tfbert_pretrain --input_file=gs://b/data/*.tfrecord --bert_config_file=bert_config.json \
        --output_dir=gs://b/out --do_train --do_eval --train_batch_size=256 \
        --num_train_steps=900000 --num_warmup_steps=10000 --learning_rate=1e-4 \
        --use_tpu --tpu_name=my-tpu

- Model Garden style: an experiment YAML plus overrides:

    tfbert_pretrain --tpu=my-tpu --mode=train_and_eval --model_dir=gs://b/out \
        --config_file=pretrain_bert_base_phase1 \
        --params_override=task.train_data.input_path=gs://b/data/*.tfrecord

Precedence: experiment defaults (the original's), then each `--config_file`,
then `--params_override`, then the original flags given on the command
line. Two flags that set one value differently (`--output_dir` and
`--model_dir`, `--num_train_steps` and `trainer.train_steps` in
`--params_override`, `--use_tpu` and `--strategy=mirrored`, ...) are an
error that names both.
"""

import os
import sys

from absl import app, flags, logging

from tfbert.configs import experiment as experiment_lib

MODES = ("train", "eval", "train_and_eval", "continuous_eval")

# --- The original run_pretraining.py flags (same defaults) ---
flags.DEFINE_string("input_file", None, "Input TFRecord files (glob or comma list of globs).")
flags.DEFINE_string("bert_config_file", None,
                    "bert_config.json of the model (or an official config name).")
flags.DEFINE_string("output_dir", None, "Where checkpoints and eval results go (= --model_dir).")
flags.DEFINE_string("init_checkpoint", None,
                    "Initial checkpoint: tfbert or Google TF1 (continued pre-training).")
flags.DEFINE_integer("max_seq_length", 128, "Sequence length of the TFRecords.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked-LM predictions per sequence.")
flags.DEFINE_bool("do_train", False, "Train (= --mode=train).")
flags.DEFINE_bool("do_eval", False, "Evaluate (= --mode=eval; both: train_and_eval).")
flags.DEFINE_integer("train_batch_size", 32, "Global training batch size.")
flags.DEFINE_integer("eval_batch_size", 8, "Global eval batch size.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.")
flags.DEFINE_integer("num_train_steps", 100000, "Training steps.")
flags.DEFINE_integer("num_warmup_steps", 10000, "Linear warmup steps.")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "Save a checkpoint every this many steps.")
flags.DEFINE_integer("iterations_per_loop", 1000, "Steps per host call (= steps_per_loop).")
flags.DEFINE_integer("max_eval_steps", 100, "Eval batches.")
flags.DEFINE_bool("use_tpu", False, "Run on a TPU (= --strategy=tpu).")
flags.DEFINE_string("tpu_name", None, "TPU name or grpc://ip:8470 address (= --tpu).")
flags.DEFINE_string("tpu_zone", None, "GCE zone of the TPU (looked up if not given).")
flags.DEFINE_string("gcp_project", None, "GCP project of the TPU (looked up if not given).")
flags.DEFINE_string("master", None, "TPU master address grpc://ip:8470 (= --tpu).")
flags.DEFINE_integer("num_tpu_cores", 8, "TPU cores; checked against the TPU's replicas.")

# --- Model Garden style ---
flags.DEFINE_string("tpu", None, "TPU name, grpc:// address or 'local' (implies --strategy=tpu).")
flags.DEFINE_enum("strategy", None, experiment_lib.STRATEGIES,
                  "Distribution strategy (default: runtime.distribution_strategy).")
flags.DEFINE_string("model_dir", None, "Where checkpoints, summaries and eval results go.")
flags.DEFINE_enum("mode", None, MODES, "What to run.")
flags.DEFINE_multi_string("config_file", [],
                          "Experiment YAML (a path or a name in official_configs/experiments); "
                          "repeatable, later files win.")
flags.DEFINE_string("params_override", "", "Overrides a.b=c,d.e=f (or a YAML mapping).")
FLAGS = flags.FLAGS

# Original flag -> config keys it sets.
ORIGINAL_TO_CONFIG = {
    "input_file": ("task.train_data.input_path", "task.validation_data.input_path"),
    "bert_config_file": ("task.model",),
    "init_checkpoint": ("task.init_checkpoint",),
    "max_seq_length": ("task.train_data.max_seq_length", "task.validation_data.max_seq_length"),
    "max_predictions_per_seq": ("task.train_data.max_predictions_per_seq",
                                "task.validation_data.max_predictions_per_seq"),
    "train_batch_size": ("task.train_data.global_batch_size",),
    "eval_batch_size": ("task.validation_data.global_batch_size",),
    "learning_rate": ("trainer.optimizer.learning_rate",),
    "num_train_steps": ("trainer.train_steps",),
    "num_warmup_steps": ("trainer.optimizer.warmup_steps",),
    "save_checkpoints_steps": ("trainer.checkpoint_interval",),
    "iterations_per_loop": ("trainer.steps_per_loop",),
    "max_eval_steps": ("trainer.validation_steps",),
    "tpu_zone": ("runtime.tpu_zone",),
    "gcp_project": ("runtime.gcp_project",),
}


def _agree(values, what):
    """The one value that the given `{flag: value}` agree on; an error naming both if not."""
    given = {flag: value for flag, value in values.items() if value is not None}
    distinct = set(given.values())
    if len(distinct) > 1:
        described = " and ".join(f"--{flag}={value}" for flag, value in given.items())
        raise ValueError(f"conflicting {what}: {described}")
    return distinct.pop() if distinct else None


def resolve(values, present):
    """The experiment, model_dir and mode that the flags ask for.

    Args:
        values: `{flag name: value}` of every flag above.
        present: the flag names given on the command line.

    Returns:
        `(ExperimentConfig, model_dir, mode)`.

    Raises:
        ValueError: conflicting flags (the message names both), or a missing
            required value.
    """
    def given(name):
        return values[name] if name in present else None

    config = experiment_lib.load_experiment(values["config_file"], values["params_override"])
    overridden = experiment_lib.parse_overrides(values["params_override"])
    changes = {}
    for flag, keys in ORIGINAL_TO_CONFIG.items():
        if flag not in present:
            continue
        for key in keys:
            if key in overridden and _differ(overridden[key], values[flag]):
                raise ValueError(f"conflicting values for {key}: --{flag}={values[flag]} "
                                 f"and --params_override {key}={overridden[key]}")
            changes[key] = values[flag]
    config = experiment_lib.set_values(config, changes, "flags")

    model_dir = _agree({"output_dir": given("output_dir"), "model_dir": given("model_dir")},
                       "output directories")
    if not model_dir:
        raise ValueError("give --model_dir (or the original --output_dir)")

    tpu = _agree({"tpu": given("tpu"), "tpu_name": given("tpu_name"),
                  "master": given("master")}, "TPU addresses")
    strategy = given("strategy")
    if "use_tpu" in present:
        implied = "tpu" if values["use_tpu"] else None
        if strategy and implied and strategy != implied:
            raise ValueError(f"conflicting strategies: --use_tpu and --strategy={strategy}")
        if strategy == "tpu" and not values["use_tpu"]:
            raise ValueError("conflicting strategies: --nouse_tpu and --strategy=tpu")
        strategy = strategy or implied
    if tpu and strategy and strategy != "tpu":
        flag = "tpu" if given("tpu") else ("tpu_name" if given("tpu_name") else "master")
        raise ValueError(f"conflicting strategies: --{flag}={tpu} and --strategy={strategy}")
    if tpu:
        strategy = "tpu"
    runtime = {}
    if strategy:
        runtime["distribution_strategy"] = strategy
    if tpu:
        runtime["tpu"] = tpu
    if values.get("use_tpu") and "use_tpu" in present and not (tpu or config.runtime.tpu):
        raise ValueError("--use_tpu needs --tpu_name (or --tpu): the TPU's name or address")
    config = experiment_lib.set_values(
        config, {f"runtime.{key}": value for key, value in runtime.items()}, "flags")
    if config.runtime.distribution_strategy == "tpu" and not config.runtime.tpu:
        raise ValueError("--strategy=tpu needs --tpu (a TPU name, grpc:// address or 'local')")

    mode = given("mode")
    if "do_train" in present or "do_eval" in present:
        do_train, do_eval = values["do_train"], values["do_eval"]
        implied = {(True, True): "train_and_eval", (True, False): "train",
                   (False, True): "eval"}.get((bool(do_train), bool(do_eval)))
        if mode and implied and mode != implied and not (mode == "continuous_eval"
                                                          and implied == "eval"):
            raise ValueError(f"conflicting modes: --do_train={do_train} --do_eval={do_eval} and "
                             f"--mode={mode}")
        mode = mode or implied
    if not mode:
        raise ValueError("nothing to do: give --mode (train, eval, train_and_eval, "
                         "continuous_eval) or at least one of --do_train and --do_eval")
    if mode in ("train", "train_and_eval") and not config.task.train_data.input_path:
        raise ValueError("no training data: give --input_file (or "
                         "task.train_data.input_path in --config_file/--params_override)")
    if mode != "train" and not config.task.validation_data.input_path:
        raise ValueError("no eval data: give --input_file (or "
                         "task.validation_data.input_path in --config_file/--params_override)")
    return config.validate(), model_dir, mode


def _differ(a, b):
    """Whether two flag values differ (1e-4 and 0.0001 do not)."""
    try:
        return float(a) != float(b)
    except (TypeError, ValueError):
        return str(a) != str(b)


def run_experiment(config, model_dir, mode, strategy=None, callback=None,
                   num_tpu_cores=None):
    """Runs `mode` of a pre-training experiment; returns the eval results (or the history).

    Args:
        config: a validated `ExperimentConfig`.
        model_dir: str.
        mode: one of `MODES`.
        strategy: a `tf.distribute.Strategy`, or None to create the config's.
        callback: passed to `Trainer.train`.
        num_tpu_cores: int or None. Expected TPU replicas (a mismatch is logged).
    """
    import yaml

    from tfbert.tasks.pretraining import PretrainingTask
    from tfbert.training.strategies import create_strategy
    from tfbert.training.trainer import Trainer, write_text

    runtime = config.runtime
    strategy = strategy or create_strategy(runtime.distribution_strategy, runtime.tpu,
                                           runtime.tpu_zone, runtime.gcp_project)
    if num_tpu_cores and runtime.distribution_strategy == "tpu" and \
            strategy.num_replicas_in_sync != num_tpu_cores:
        logging.warning("--num_tpu_cores=%d, but the TPU has %d cores; using %d", num_tpu_cores,
                        strategy.num_replicas_in_sync, strategy.num_replicas_in_sync)
    task = PretrainingTask(config.task, use_one_hot_embeddings=runtime.distribution_strategy
                           == "tpu", source="--input_file / task.train_data.input_path")
    trainer = Trainer(task, config, model_dir, strategy=strategy)
    logging.info("%s on %d replica(s) of %s, model_dir %s", mode, strategy.num_replicas_in_sync,
                 type(strategy).__name__, model_dir)
    if trainer.is_chief:
        write_text(os.path.join(model_dir, "params.yaml"),
                   yaml.safe_dump(experiment_lib.to_dict(config), sort_keys=False))
    results = None
    if mode in ("train", "train_and_eval"):
        trainer.install_signal_handlers()
        results = trainer.train(callback=callback)
        if trainer.stopped:
            logging.warning("stopped at step %d; restart the same command to resume",
                            trainer.step)
            return results
    if mode == "continuous_eval":
        return trainer.continuous_evaluate()
    if mode in ("eval", "train_and_eval"):
        if mode == "eval" and trainer.restore_or_initialize() is None and \
                not config.task.init_checkpoint:
            logging.warning("no checkpoint in %s and no --init_checkpoint: evaluating a "
                            "randomly initialised model", model_dir)
        results = trainer.evaluate()
    return results


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    values = {name: FLAGS[name].value for name in FLAGS}
    present = {name for name in FLAGS if FLAGS[name].present}
    try:
        config, model_dir, mode = resolve(values, present)
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error)) from None
    if "num_tpu_cores" in present and config.runtime.distribution_strategy != "tpu":
        logging.warning("--num_tpu_cores is ignored without a TPU")
    try:
        run_experiment(config, model_dir, mode, num_tpu_cores=values["num_tpu_cores"])
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        # Bad input found before training (files, features, shapes, batch sizes, TPU).
        logging.debug("error details", exc_info=True)
        print(f"tfbert_pretrain: error: {error}", file=sys.stderr)
        sys.exit(1)


def run():
    app.run(main)


if __name__ == "__main__":
    run()
