"""What every `tfbert_*` command shares: start-up, the error path and the flag families.

- **Start-up.** TensorFlow prints its start-up lines (oneDNN, CUDA, CPU
  features) on stderr before a command says anything; commands import this
  module first, which hides them unless `TF_CPP_MIN_LOG_LEVEL` is set in the
  environment (`TF_CPP_MIN_LOG_LEVEL=0 tfbert_finetune ...` shows them).
- **One error path.** A bad flag, file, path or value ends the command with
  `<command>: error: <message>` on stderr and exit status 1, never a
  traceback (`--verbosity=1` logs the details); see `run_command`.
- **Flags defined lazily.** Each command defines its flags in `run()`, so that
  importing a command's module (for its functions, or two in one process)
  registers nothing.
- **The flag families** shared by `tfbert_pretrain` and `tfbert_finetune`: the
  Model Garden style (`--task`, `--mode`, `--config_file`, `--params_override`,
  `--model_dir`, `--tpu`, `--strategy`) and the original scripts' run and TPU
  flags, with the conflict rules between them (`apply_original_flags`,
  `resolve_runtime`).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow

import sys  # noqa: E402

from absl import app, flags, logging  # noqa: E402

from tfbert.configs.experiment import STRATEGIES, parse_overrides, set_values  # noqa: E402

# Errors a user can cause with flags, files or data; anything else is a bug and keeps
# its traceback.
USER_ERRORS = (app.UsageError, ValueError, OSError, RuntimeError, KeyError)


def run_command(name, main, define_flags):
    """Runs an absl `main` as the command `name`, with the one error path.

    Args:
        name: the command (`tfbert_export`), the prefix of its error messages.
        main: `main(argv)`.
        define_flags: defines the command's flags (called once, here).
    """
    define_flags()

    def parse(argv):
        try:
            return flags.FLAGS(argv)
        except flags.Error as error:
            fail(name, error)

    def guarded(argv):
        if len(argv) > 1:
            fail(name, f"unexpected arguments: {' '.join(argv[1:])}")
        try:
            return main(argv)
        except USER_ERRORS as error:
            logging.debug("error details", exc_info=True)
            fail(name, error)

    app.run(guarded, flags_parser=parse)


def fail(name, message):
    """Ends the command `name` with `<name>: error: <message>` and exit status 1."""
    text = str(message)
    if isinstance(message, KeyError):
        text = str(message.args[0]) if message.args else text
    print(f"{name}: error: {text}", file=sys.stderr)
    sys.exit(1)


def define_experiment_flags(task_default, task_help, modes):
    """The Model Garden style flags of `tfbert_pretrain` and `tfbert_finetune`."""
    flags.DEFINE_string("task", task_default, task_help)
    flags.DEFINE_string("model_dir", None, "Where checkpoints, summaries, eval results and "
                        "predictions go.")
    flags.DEFINE_enum("mode", None, modes, "What to run.")
    flags.DEFINE_multi_string("config_file", [],
                              "Experiment YAML (a path or a name in official_configs/"
                              "experiments); repeatable, later files win.")
    flags.DEFINE_string("params_override", "", "Overrides a.b=c,d.e=f (or a YAML mapping).")
    flags.DEFINE_string("tpu", None, "TPU name, grpc:// address or 'local' (implies "
                        "--strategy=tpu).")
    flags.DEFINE_enum("strategy", None, STRATEGIES,
                      "Distribution strategy (default: runtime.distribution_strategy).")


def define_original_run_flags():
    """The run, batch, checkpoint and TPU flags that `run_pretraining.py`,
    `run_classifier.py` and `run_squad.py` share (same names and defaults)."""
    flags.DEFINE_string("bert_config_file", None,
                        "bert_config.json of the model (or an official config name).")
    flags.DEFINE_string("output_dir", None, "Where checkpoints and eval results go "
                        "(= --model_dir).")
    flags.DEFINE_bool("do_train", False, "Train.")
    flags.DEFINE_bool("do_eval", False, "Evaluate.")
    flags.DEFINE_integer("train_batch_size", 32, "Global training batch size.")
    flags.DEFINE_integer("eval_batch_size", 8, "Global eval batch size.")
    flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.")
    flags.DEFINE_integer("save_checkpoints_steps", 1000,
                         "Save a checkpoint every this many steps.")
    flags.DEFINE_integer("iterations_per_loop", 1000, "Steps per host call (= steps_per_loop).")
    flags.DEFINE_bool("use_tpu", False, "Run on a TPU (= --strategy=tpu).")
    flags.DEFINE_string("tpu_name", None, "TPU name or grpc://ip:8470 address (= --tpu).")
    flags.DEFINE_string("tpu_zone", None, "GCE zone of the TPU (looked up if not given).")
    flags.DEFINE_string("gcp_project", None, "GCP project of the TPU (looked up if not given).")
    flags.DEFINE_string("master", None, "TPU master address grpc://ip:8470 (= --tpu).")
    flags.DEFINE_integer("num_tpu_cores", 8, "TPU cores; checked against the TPU's replicas.")


# The original flags above -> the config keys they set (each command adds its own).
ORIGINAL_RUN_KEYS = {
    "bert_config_file": ("task.model",),
    "train_batch_size": ("task.train_data.global_batch_size",),
    "eval_batch_size": ("task.validation_data.global_batch_size",),
    "learning_rate": ("trainer.optimizer.learning_rate",),
    "save_checkpoints_steps": ("trainer.checkpoint_interval",),
    "iterations_per_loop": ("trainer.steps_per_loop",),
    "tpu_zone": ("runtime.tpu_zone",),
    "gcp_project": ("runtime.gcp_project",),
}


def flag_values():
    """`({flag name: value}, {names given on the command line})` of every defined flag."""
    return ({name: flags.FLAGS[name].value for name in flags.FLAGS},
            {name for name in flags.FLAGS if flags.FLAGS[name].present})


def agree(values, what):
    """The one value the given `{flag: value}` agree on; an error naming both if not."""
    given = {flag: value for flag, value in values.items() if value is not None}
    if len(set(given.values())) > 1:
        described = " and ".join(f"--{flag}={value}" for flag, value in given.items())
        raise ValueError(f"conflicting {what}: {described}")
    return next(iter(given.values()), None)


def _differ(a, b):
    """Whether two flag values differ (1e-4 and 0.0001 do not)."""
    try:
        return float(a) != float(b)
    except (TypeError, ValueError):
        return str(a) != str(b)


def original_flag_changes(mapping, values, present, params_override):
    """`{config key: value}` of the original flags given on the command line.

    Raises:
        ValueError: a flag and `--params_override` set one key differently
            (the message names both).
    """
    overridden = parse_overrides(params_override)
    changes = {}
    for flag, keys in mapping.items():
        if flag not in present:
            continue
        for key in keys:
            if key in overridden and _differ(overridden[key], values[flag]):
                raise ValueError(f"conflicting values for {key}: --{flag}={values[flag]} "
                                 f"and --params_override {key}={overridden[key]}")
            changes[key] = values[flag]
    return changes


def model_dir(values, present):
    """`--model_dir` or the original `--output_dir` (an error if they differ or neither)."""
    given = {name: values[name] if name in present else None
             for name in ("output_dir", "model_dir")}
    directory = agree(given, "output directories")
    if not directory:
        raise ValueError("give --model_dir (or the original --output_dir)")
    return directory


def resolve_runtime(config, values, present):
    """The config with the strategy and TPU that `--tpu`, `--tpu_name`, `--master`,
    `--use_tpu` and `--strategy` ask for; an error naming both flags of a conflict."""
    def given(name):
        return values[name] if name in present else None

    tpu = agree({"tpu": given("tpu"), "tpu_name": given("tpu_name"),
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
    runtime = {}
    if tpu or strategy:
        runtime["runtime.distribution_strategy"] = "tpu" if tpu else strategy
    if tpu:
        runtime["runtime.tpu"] = tpu
    if values.get("use_tpu") and "use_tpu" in present and not (tpu or config.runtime.tpu):
        raise ValueError("--use_tpu needs --tpu_name (or --tpu): the TPU's name or address")
    config = set_values(config, runtime, "flags")
    if config.runtime.distribution_strategy == "tpu" and not config.runtime.tpu:
        raise ValueError("--strategy=tpu needs --tpu (a TPU name, grpc:// address or 'local')")
    if "num_tpu_cores" in present and config.runtime.distribution_strategy != "tpu":
        logging.warning("--num_tpu_cores is ignored without a TPU")
    return config
