"""`tfbert_finetune`: fine-tune BERT on GLUE, your own data, SQuAD v1.1/v2.0 or CoNLL-2003.

Two flag families work, alone or together:

- the original `run_classifier.py` / `run_squad.py` flags, same names and defaults:

    tfbert_finetune --task_name=MRPC --data_dir=glue_data/MRPC --vocab_file=vocab.txt \
        --bert_config_file=bert_config.json --init_checkpoint=bert_model.ckpt \
        --do_train --do_eval --max_seq_length=128 --train_batch_size=32 \
        --learning_rate=2e-5 --num_train_epochs=3 --output_dir=/tmp/mrpc

    tfbert_finetune --task=squad/v1.1 --train_file=train-v1.1.json \
        --predict_file=dev-v1.1.json --do_train --do_predict ...

- Model Garden style: an experiment YAML plus overrides:

    tfbert_finetune --config_file=glue_mrpc --mode=train_and_eval --model_dir=/tmp/mrpc \
        --init_checkpoint=/path/to/all-MiniLM-L6-v2 \
        --params_override=task.train_data.input_path=glue_data/MRPC/train.tsv

`--init_checkpoint` is a tfbert checkpoint, a Google TF1 checkpoint
(`bert_model.ckpt`), or a HuggingFace BERT directory (`config.json`, weights
and `vocab.txt`: the model config and vocab come from it); which one is found
from the files. Precedence: the task's defaults (those of the original
scripts), each `--config_file`, `--params_override`, then the flags given on
the command line. Two flags that set one value differently are an error
naming both. See `tfbert.tasks.finetune_run` for what each mode writes.
"""

import sys

from absl import app, flags, logging

from tfbert.configs import experiment as experiment_lib
from tfbert.tasks import finetune_run

# --- Model Garden style ---
flags.DEFINE_string("task", None, "glue/<name> (glue/sst2, glue/mrpc, ...), classification, "
                    "regression, squad/v1.1, squad/v2.0 or conll2003.")
flags.DEFINE_string("model_dir", None, "Where checkpoints, eval results and predictions go.")
flags.DEFINE_enum("mode", None, finetune_run.MODES, "What to run.")
flags.DEFINE_multi_string("config_file", [],
                          "Experiment YAML (a path or a name in official_configs/experiments); "
                          "repeatable, later files win.")
flags.DEFINE_string("params_override", "", "Overrides a.b=c,d.e=f (or a YAML mapping).")
flags.DEFINE_string("tpu", None, "TPU name, grpc:// address or 'local' (implies --strategy=tpu).")
flags.DEFINE_enum("strategy", None, experiment_lib.STRATEGIES,
                  "Distribution strategy (default: runtime.distribution_strategy).")

# --- The original run_classifier.py / run_squad.py flags ---
flags.DEFINE_string("task_name", None, "GLUE task name (= --task=glue/<name>).")
flags.DEFINE_string("data_dir", None, "GLUE task directory with train.tsv / dev.tsv / test.tsv.")
flags.DEFINE_string("train_file", None, "Training file (SQuAD JSON, CoNLL or your own data).")
flags.DEFINE_string("predict_file", None, "Evaluation / prediction file.")
flags.DEFINE_string("bert_config_file", None,
                    "bert_config.json of the model (or an official config name).")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab (default: a HuggingFace "
                    "--init_checkpoint's vocab.txt).")
flags.DEFINE_string("output_dir", None, "= --model_dir.")
flags.DEFINE_string("init_checkpoint", None, "tfbert or Google TF1 checkpoint, or HuggingFace "
                    "model directory.")
flags.DEFINE_bool("do_lower_case", True, "Uncased model.")
flags.DEFINE_integer("max_seq_length", 128, "Sequence length (run_squad.py: 384).")
flags.DEFINE_bool("do_train", False, "Train.")
flags.DEFINE_bool("do_eval", False, "Evaluate on the dev file.")
flags.DEFINE_bool("do_predict", False, "Predict (run_squad.py: predict and score the dev file).")
flags.DEFINE_integer("train_batch_size", 32, "Global training batch size.")
flags.DEFINE_integer("eval_batch_size", 8, "Eval batch size.")
flags.DEFINE_integer("predict_batch_size", 8, "Predict batch size.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate.")
flags.DEFINE_float("num_train_epochs", 3.0, "Training epochs.")
flags.DEFINE_float("warmup_proportion", 0.1, "Share of the steps with linear warmup.")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "Save a checkpoint every this many steps.")
flags.DEFINE_integer("iterations_per_loop", 1000, "Steps per host call (= steps_per_loop).")
flags.DEFINE_integer("doc_stride", 128, "SQuAD window stride.")
flags.DEFINE_integer("max_query_length", 64, "SQuAD question pieces kept.")
flags.DEFINE_integer("n_best_size", 20, "SQuAD n-best answers.")
flags.DEFINE_integer("max_answer_length", 30, "SQuAD longest answer in pieces.")
flags.DEFINE_bool("version_2_with_negative", False, "SQuAD v2.0 (= --task=squad/v2.0).")
flags.DEFINE_float("null_score_diff_threshold", 0.0, "SQuAD v2.0 null answer threshold.")
flags.DEFINE_bool("verbose_logging", False, "Accepted for compatibility; logs at debug level.")
flags.DEFINE_bool("use_tpu", False, "Run on a TPU (= --strategy=tpu).")
flags.DEFINE_string("tpu_name", None, "TPU name or grpc://ip:8470 address (= --tpu).")
flags.DEFINE_string("tpu_zone", None, "GCE zone of the TPU.")
flags.DEFINE_string("gcp_project", None, "GCP project of the TPU.")
flags.DEFINE_string("master", None, "TPU master address (= --tpu).")
flags.DEFINE_integer("num_tpu_cores", 8, "TPU cores; checked against the TPU's replicas.")
FLAGS = flags.FLAGS

_SEQ = ("task.train_data.max_seq_length", "task.validation_data.max_seq_length",
        "task.predict_data.max_seq_length")
# Original flag -> config keys it sets.
ORIGINAL_TO_CONFIG = {
    "bert_config_file": ("task.model",),
    "vocab_file": ("task.vocab_file",),
    "init_checkpoint": ("task.init_checkpoint",),
    "do_lower_case": ("task.lower_case",),
    "max_seq_length": _SEQ,
    "train_file": ("task.train_data.input_path",),
    "train_batch_size": ("task.train_data.global_batch_size",),
    "eval_batch_size": ("task.validation_data.global_batch_size",),
    "predict_batch_size": ("task.predict_data.global_batch_size",),
    "learning_rate": ("trainer.optimizer.learning_rate",),
    "num_train_epochs": ("task.num_train_epochs",),
    "warmup_proportion": ("task.warmup_proportion",),
    "save_checkpoints_steps": ("trainer.checkpoint_interval",),
    "iterations_per_loop": ("trainer.steps_per_loop",),
    "doc_stride": ("task.doc_stride",),
    "max_query_length": ("task.max_query_length",),
    "n_best_size": ("task.n_best_size",),
    "max_answer_length": ("task.max_answer_length",),
    "null_score_diff_threshold": ("task.null_score_diff_threshold",),
    "tpu_zone": ("runtime.tpu_zone",),
    "gcp_project": ("runtime.gcp_project",),
}
SQUAD_ONLY = ("doc_stride", "max_query_length", "n_best_size", "max_answer_length",
              "null_score_diff_threshold")


def _agree(values, what):
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


def _task_name(values, present):
    """`--task`, or what `--task_name` / `--version_2_with_negative` imply."""
    task = values["task"] if "task" in present else None
    if "task_name" in present:
        implied = f"glue/{values['task_name'].lower()}"
        if task and task.lower() != implied:
            raise ValueError(f"conflicting tasks: --task={task} and --task_name="
                             f"{values['task_name']}")
        task = implied
    if "version_2_with_negative" in present:
        implied = "squad/v2.0" if values["version_2_with_negative"] else "squad/v1.1"
        if task and task.lower() != implied:
            raise ValueError(f"conflicting tasks: --task={task} and "
                             f"--version_2_with_negative={values['version_2_with_negative']}")
        task = implied
    return task


def _mode(values, present):
    mode = values["mode"] if "mode" in present else None
    wanted = [name for name in ("do_train", "do_eval", "do_predict")
              if name in present and values[name]]
    if not wanted:
        if not mode:
            raise ValueError("nothing to do: give --mode (train, eval, train_and_eval, predict) "
                             "or at least one of --do_train, --do_eval and --do_predict")
        return [mode]
    implied = []
    if "do_train" in wanted:
        implied.append("train_and_eval" if "do_eval" in wanted else "train")
    elif "do_eval" in wanted:
        implied.append("eval")
    if "do_predict" in wanted:
        implied.append("predict")
    if mode and implied != [mode]:
        described = " ".join(f"--{name}" for name in wanted)
        raise ValueError(f"conflicting modes: {described} and --mode={mode}")
    return implied


def resolve(values, present):
    """The experiment, model_dir and modes (run in order) that the flags ask for.

    Args:
        values: `{flag name: value}` of every flag.
        present: the flag names given on the command line.

    Returns:
        `(ExperimentConfig, model_dir, [mode, ...])`.

    Raises:
        ValueError: conflicting flags (the message names both), or a missing value.
    """
    task = _task_name(values, present)
    config = finetune_run.load_config(task, values["config_file"], values["params_override"])
    kind = finetune_run.task_kind(config.task.task)
    overridden = experiment_lib.parse_overrides(values["params_override"])
    changes = {}
    mapping = dict(ORIGINAL_TO_CONFIG)
    if "data_dir" in present:
        if kind != "sentence" or config.task.task in ("classification", "regression"):
            raise ValueError("--data_dir is the GLUE task directory: use --train_file and "
                             "--predict_file for this task")
        mapping["data_dir"] = ("task.train_data.input_path", "task.validation_data.input_path")
    if "predict_file" in present:
        mapping["predict_file"] = ("task.validation_data.input_path",
                                   "task.predict_data.input_path")
    for flag, keys in mapping.items():
        if flag not in present:
            continue
        if flag in SQUAD_ONLY and kind != "squad":
            raise ValueError(f"--{flag} is a SQuAD flag; the task is {config.task.task}")
        for key in keys:
            if key in overridden and _differ(overridden[key], values[flag]):
                raise ValueError(f"conflicting values for {key}: --{flag}={values[flag]} "
                                 f"and --params_override {key}={overridden[key]}")
            changes[key] = values[flag]
    if "data_dir" in present and "predict_file" in present:
        changes["task.validation_data.input_path"] = values["predict_file"]
    if "data_dir" in present and "predict_file" not in present:
        # --do_predict runs on the GLUE test file when there is one, else on dev.
        from tfbert.data import glue
        try:
            changes["task.predict_data.input_path"] = glue.glue_file(
                config.task.task, values["data_dir"], "test")
        except FileNotFoundError:
            pass
    config = experiment_lib.set_values(config, changes, "flags")
    if values["verbose_logging"]:
        logging.set_verbosity(logging.DEBUG)

    given = {name: values[name] if name in present else None for name in values}
    model_dir = _agree({"output_dir": given["output_dir"],
                                     "model_dir": given["model_dir"]}, "output directories")
    if not model_dir:
        raise ValueError("give --model_dir (or the original --output_dir)")
    tpu = _agree({"tpu": given["tpu"], "tpu_name": given["tpu_name"],
                               "master": given["master"]}, "TPU addresses")
    strategy = given["strategy"]
    if "use_tpu" in present:
        if values["use_tpu"] and strategy and strategy != "tpu":
            raise ValueError(f"conflicting strategies: --use_tpu and --strategy={strategy}")
        strategy = strategy or ("tpu" if values["use_tpu"] else None)
    if tpu and strategy and strategy != "tpu":
        raise ValueError(f"conflicting strategies: a TPU address ({tpu}) and "
                         f"--strategy={strategy}")
    runtime = {}
    if tpu or strategy:
        runtime["runtime.distribution_strategy"] = "tpu" if tpu else strategy
    if tpu:
        runtime["runtime.tpu"] = tpu
    config = experiment_lib.set_values(config, runtime, "flags")
    if config.runtime.distribution_strategy == "tpu" and not config.runtime.tpu:
        raise ValueError("--use_tpu / --strategy=tpu needs --tpu_name (or --tpu)")
    return config, model_dir, _mode(values, present)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    values = {name: FLAGS[name].value for name in FLAGS}
    present = {name for name in FLAGS if FLAGS[name].present}
    try:
        config, model_dir, modes = resolve(values, present)
    except (ValueError, FileNotFoundError) as error:
        raise app.UsageError(str(error)) from None
    try:
        for mode in modes:
            results = finetune_run.run_finetuning(config, model_dir, mode)
            if mode in ("eval", "train_and_eval"):
                print(" ".join(f"{k}={v:.4f}" for k, v in sorted(results.items())))
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        # Bad input found before training: files, columns, labels, batch sizes.
        logging.debug("error details", exc_info=True)
        print(f"tfbert_finetune: error: {error}", file=sys.stderr)
        sys.exit(1)


def run():
    app.run(main)


if __name__ == "__main__":
    run()
