"""What every `tfbert_*` command shares: start-up, the error path and the flag families.

- **Start-up.** TensorFlow starts once the flags parsed, its start-up lines hidden
  (see `tfbert.cli`).
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

import sys

from absl import app, flags, logging

from tfbert.cli import import_tensorflow
from tfbert.configs.experiment import OPTIMIZERS, STRATEGIES, set_values
from tfbert.configs.overrides import parse_overrides


def user_errors():
    """Errors a user can cause with flags, files or data; anything else is a bug and
    keeps its traceback. (TensorFlow's two are there once it has started.)"""
    errors = (app.UsageError, ValueError, OSError, RuntimeError, KeyError)
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        errors += (tf.errors.NotFoundError, tf.errors.PermissionDeniedError)
    return errors


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
            argv = flags.FLAGS(argv)
        except flags.Error as error:
            fail(name, error)
        import_tensorflow()  # after the flags: a wrong one fails without waiting for it
        return argv

    def guarded(argv):
        if len(argv) > 1:
            fail(name, f"unexpected arguments: {' '.join(argv[1:])}")
        try:
            return main(argv)
        except user_errors() as error:
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



def define_beam_flags():
    """`--runner` and `--beam_option`: the Beam path of the corpus commands (tfbert.data.beam)."""
    flags.DEFINE_string("runner", "", "Apache Beam runner (DirectRunner, DataflowRunner, ...): "
                        "run as a Beam pipeline (pip install \"tfbert[beam]\"); empty = this "
                        "machine only, as before.")
    flags.DEFINE_multi_string("beam_option", [], "A Beam pipeline option key=value, repeatable "
                              "(e.g. project=my-project, temp_location=gs://bucket/tmp, "
                              "direct_num_workers=2). Only with --runner.")


def beam_module(name):
    """`tfbert.data.beam.<name>`, imported when `--runner` asks for it (Beam is optional)."""
    import importlib

    try:
        return importlib.import_module(f"tfbert.data.beam.{name}")
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] == "apache_beam":
            from tfbert.data.beam import BEAM_MISSING

            raise ValueError(BEAM_MISSING) from None
        raise


def vocab_file_or_beside(vocab_file, source_flag, source):
    """`--vocab_file` if given, else the vocab.txt beside the checkpoint `source`
    (the flag `--<source_flag>`); a usage error naming both when there is none."""
    from tfbert.checkpoints.loader import source_vocab

    found = vocab_file or source_vocab(source)
    if found is None:
        raise app.UsageError(f"give --vocab_file: there is no vocab.txt beside "
                             f"--{source_flag}={source}")
    return found

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
    flags.DEFINE_float("tpu_timeout_s", None, "Seconds the TPU connection may take before "
                       "the run fails with a message naming the address (default: "
                       "runtime.tpu_timeout_s, 300).")
    flags.DEFINE_enum("strategy", None, STRATEGIES,
                      "Distribution strategy (default: runtime.distribution_strategy).")


def define_training_flags():
    """`--optimizer` and `--seed`, which the original scripts did not have."""
    flags.DEFINE_enum("optimizer", None, OPTIMIZERS,
                      "trainer.optimizer.type: bert_adamw (the original AdamW, no bias "
                      "correction), adamw (with bias correction, as PyTorch's AdamW) or lamb.")
    flags.DEFINE_integer("seed", None, "runtime.seed: initial weights, dropout and (where "
                         "task.train_data.seed is unset) the order of the training data. "
                         "Default: a new random seed, written to params.yaml.")


# `define_training_flags` -> the config keys they set.
TRAINING_KEYS = {"optimizer": ("trainer.optimizer.type",), "seed": ("runtime.seed",)}


# The original scripts' flags (run_pretraining.py, run_classifier.py, run_squad.py):
# name -> (absl kind, default, help). Same names, defaults and meanings as the
# original; each command defines those its script had (`define_original_flags`).
ORIGINAL_FLAGS = {
    "bert_config_file": ("string", None,
                         "bert_config.json of the model (or an official config name)."),
    "output_dir": ("string", None, "Where checkpoints and eval results go (= --model_dir)."),
    "init_checkpoint": ("string", None, "Initial weights: a tfbert, Google TF1 or "
                        "HuggingFace checkpoint."),
    "max_seq_length": ("integer", 128, "Sequence length (run_squad.py: 384)."),
    "do_train": ("bool", False, "Train."),
    "do_eval": ("bool", False, "Evaluate."),
    "train_batch_size": ("integer", 32, "Global training batch size."),
    "eval_batch_size": ("integer", 8, "Global eval batch size."),
    "learning_rate": ("float", 5e-5, "Peak learning rate."),
    "save_checkpoints_steps": ("integer", 1000, "Save a checkpoint every this many steps."),
    "iterations_per_loop": ("integer", 1000, "Steps per host call (= steps_per_loop)."),
    "use_tpu": ("bool", False, "Run on a TPU (= --strategy=tpu)."),
    "tpu_name": ("string", None, "TPU name or grpc://ip:8470 address (= --tpu)."),
    "tpu_zone": ("string", None, "GCE zone of the TPU (looked up if not given)."),
    "gcp_project": ("string", None, "GCP project of the TPU (looked up if not given)."),
    "master": ("string", None, "TPU master address grpc://ip:8470 (= --tpu)."),
    "num_tpu_cores": ("integer", 8, "TPU cores; checked against the TPU's replicas."),
    # run_pretraining.py
    "input_file": ("string", None, "Input TFRecord files (glob or comma list of globs)."),
    "max_predictions_per_seq": ("integer", 20, "Masked-LM predictions per sequence."),
    "num_train_steps": ("integer", 100000, "Training steps."),
    "num_warmup_steps": ("integer", 10000, "Linear warmup steps."),
    "max_eval_steps": ("integer", 100, "Eval batches."),
    # run_classifier.py and run_squad.py
    "task_name": ("string", None, "GLUE task name (= --task=glue/<name>)."),
    "data_dir": ("string", None, "GLUE task directory with train.tsv / dev.tsv / test.tsv."),
    "train_file": ("string", None, "Training file (SQuAD JSON, CoNLL or your own data)."),
    "predict_file": ("string", None, "Evaluation / prediction file."),
    "vocab_file": ("string", None, "WordPiece vocab (default: a HuggingFace "
                   "--init_checkpoint's vocab.txt)."),
    "do_lower_case": ("bool", True, "Uncased model."),
    "do_predict": ("bool", False, "Predict (run_squad.py: predict and score the dev file)."),
    "predict_batch_size": ("integer", 8, "Predict batch size."),
    "num_train_epochs": ("float", 3.0, "Training epochs."),
    "warmup_proportion": ("float", 0.1, "Share of the steps with linear warmup."),
    "doc_stride": ("integer", 128, "SQuAD window stride."),
    "max_query_length": ("integer", 64, "SQuAD question pieces kept."),
    "n_best_size": ("integer", 20, "SQuAD n-best answers."),
    "max_answer_length": ("integer", 30, "SQuAD longest answer in pieces."),
    "version_2_with_negative": ("bool", False, "SQuAD v2.0 (= --task=squad/v2.0)."),
    "null_score_diff_threshold": ("float", 0.0, "SQuAD v2.0 null answer threshold."),
    "verbose_logging": ("bool", False, "Accepted for compatibility; logs at debug level."),
}
# The flags every original script has.
ORIGINAL_RUN_FLAGS = ("bert_config_file", "output_dir", "init_checkpoint", "max_seq_length",
                      "do_train", "do_eval", "train_batch_size", "eval_batch_size",
                      "learning_rate", "save_checkpoints_steps", "iterations_per_loop",
                      "use_tpu", "tpu_name", "tpu_zone", "gcp_project", "master",
                      "num_tpu_cores")


def define_original_flags(names, helps=None):
    """Defines the original flags `names` (see `ORIGINAL_FLAGS`), with `helps`
    replacing a flag's help text where a command says more."""
    for name in names:
        kind, default, text = ORIGINAL_FLAGS[name]
        getattr(flags, f"DEFINE_{kind}")(name, default, (helps or {}).get(name, text))


# The original flags above -> the config keys they set (each command adds its own).
ORIGINAL_RUN_KEYS = {
    "bert_config_file": ("task.model",),
    "init_checkpoint": ("task.init_checkpoint",),
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
    if given("tpu_timeout_s") is not None:
        if values["tpu_timeout_s"] <= 0:
            raise ValueError(f"--tpu_timeout_s={values['tpu_timeout_s']:g}: give a positive "
                             "number of seconds")
        runtime["runtime.tpu_timeout_s"] = values["tpu_timeout_s"]
    if values.get("use_tpu") and "use_tpu" in present and not (tpu or config.runtime.tpu):
        raise ValueError("--use_tpu needs --tpu_name (or --tpu): the TPU's name or address")
    config = set_values(config, runtime, "flags")
    if config.runtime.distribution_strategy == "tpu" and not config.runtime.tpu:
        raise ValueError("--strategy=tpu needs --tpu (a TPU name, grpc:// address or 'local')")
    if "num_tpu_cores" in present and config.runtime.distribution_strategy != "tpu":
        logging.warning("--num_tpu_cores is ignored without a TPU")
    return config
