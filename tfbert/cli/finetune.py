"""`tfbert_finetune`: fine-tune BERT on any registered task: GLUE, your own data
(single- or multi-label), SQuAD v1.1/v2.0, CoNLL-2003 and other tagging
(`tfbert.tasks.task_names()`).

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
naming both. The run is `tfbert.training.run_experiment`; each task's
`write_predictions` says what `--do_predict` writes.

Keeping the best run (`tfbert.training.best_run`, `tfbert.training.restarts`):
`--keep_best=f1` keeps the best dev evaluation's checkpoint (each epoch, or
every `--eval_every_steps`) in `<model_dir>/best/`, `--early_stopping_patience`
stops after that many evaluations without a better one, and `--num_restarts=3`
(or `--seeds=1,2,3`) trains one run per seed and keeps the best:

    tfbert_finetune --config_file=minilm_mrpc --mode=train_and_eval \
        --model_dir=/tmp/mrpc3 --num_restarts=3 --keep_best=f1

One optimizer default for both flag families: `adamw`, AdamW with Adam's
bias correction (as HuggingFace and Model Garden fine-tune). The original
flags keep their names and defaults, but not the original's optimizer:
without bias correction small models can stall at the majority class
(docs/finetuning.md, "Optimizer and seed"). `--optimizer=bert_adamw`
reproduces the arithmetic of the original `run_classifier.py` exactly.
`--seed` fixes initial weights, dropout and data order; without it each run
draws a seed and writes it to `params.yaml`.
"""

import contextlib

from absl import flags, logging

from tfbert.cli import common
from tfbert.configs.experiment import resolve_seed, set_values

MODES = ("train", "eval", "train_and_eval", "predict")


def define_flags():
    """The flags of `tfbert_finetune` (see the module doc)."""
    common.define_experiment_flags(None, "The task: glue/<name> (glue/sst2, glue/mrpc, ...), "
                                   "classification, regression, multilabel, squad/v1.1, "
                                   "squad/v2.0, tagging, conll2003 (tfbert.tasks.task_names()).",
                                   MODES)
    common.define_original_flags(
        (*common.ORIGINAL_RUN_FLAGS, "task_name", "data_dir", "train_file", "predict_file",
         "vocab_file", "do_lower_case", "do_predict", "predict_batch_size", "num_train_epochs",
         "warmup_proportion", "doc_stride", *SQUAD_ONLY, "version_2_with_negative",
         "verbose_logging"),
        helps={"do_eval": "Evaluate on the dev file.",
               "doc_stride": "Window stride in pieces: SQuAD contexts (default 128), and "
                             "long texts read in windows (--long_text; default 64)."})
    flags.DEFINE_string("long_text", None, LONG_TEXT_HELP)
    common.define_training_flags()
    _define_best_run_flags()


LONG_TEXT_HELP = ("Texts longer than --max_seq_length: 'first' truncates them (the default, "
                  "as the original); classification and regression: 'mean' or 'max' read "
                  "single texts in windows (--doc_stride apart) and combine their logits; "
                  "tagging: 'max_context' tags each word in the window where it has the most "
                  "context.")


def _define_best_run_flags():
    """Keeping the best run (`tfbert.training.best_run`, `tfbert.training.restarts`)."""
    flags.DEFINE_string("keep_best", None, "Keep the checkpoint with the best dev value of "
                        "this metric (f1, accuracy, exact_match, ...) in <model_dir>/best/.")
    flags.DEFINE_integer("eval_every_steps", None, "Evaluate on dev every this many steps "
                         "during training (default with --keep_best: each epoch).")
    flags.DEFINE_integer("early_stopping_patience", None, "Stop after this many evaluations "
                         "in a row without a better --keep_best value.")
    flags.DEFINE_integer("num_restarts", None, "Train this many runs, one per seed, in "
                         "<model_dir>/run_<seed>/; keep the best on dev in <model_dir>/best/ "
                         "and a table of all in <model_dir>/restarts.tsv.")
    flags.DEFINE_list("seeds", None, "The restarts' seeds (default: 1..--num_restarts).")


_SEQ = ("task.train_data.max_seq_length", "task.validation_data.max_seq_length",
        "task.predict_data.max_seq_length")
# Original flag -> config keys it sets.
# The original flags of run_classifier.py / run_squad.py -> the config keys they set.
ORIGINAL_TO_CONFIG = {
    **common.ORIGINAL_RUN_KEYS,
    "vocab_file": ("task.vocab_file",),
    "do_lower_case": ("task.lower_case",),
    "max_seq_length": _SEQ,
    "train_file": ("task.train_data.input_path",),
    "predict_batch_size": ("task.predict_data.global_batch_size",),
    "num_train_epochs": ("task.num_train_epochs",),
    "warmup_proportion": ("task.warmup_proportion",),
    "doc_stride": ("task.doc_stride",),
    "max_query_length": ("task.max_query_length",),
    "n_best_size": ("task.n_best_size",),
    "max_answer_length": ("task.max_answer_length",),
    "null_score_diff_threshold": ("task.null_score_diff_threshold",),
}
# Keeping the best run: flag -> config key.
BEST_RUN_TO_CONFIG = {name: (f"trainer.{name}",) for name in (
    "keep_best", "eval_every_steps", "early_stopping_patience", "num_restarts", "seeds")}
SQUAD_ONLY = ("max_query_length", "n_best_size", "max_answer_length",
              "null_score_diff_threshold")
# Flags of the tasks that read long texts in windows (their config has the field).
WINDOW_FLAGS = ("doc_stride", "long_text")


def _seeds(seeds):
    try:
        return [int(seed) for seed in seeds]
    except ValueError:
        raise ValueError(f"--seeds={','.join(seeds)}: seeds are integers") from None


def _task_name(values, present):
    """`--task`, or what `--task_name` / `--version_2_with_negative` imply."""
    task = values["task"] if "task" in present else None
    if "task_name" in present:
        from tfbert.data.glue import glue_task

        implied = f"glue/{glue_task(values['task_name'])[0]}"
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
    from tfbert.tasks.registry import get_task_class, load_config
    from tfbert.tasks.sentence_prediction import SentencePredictionTask
    from tfbert.tasks.squad import SquadTask

    config = load_config(_task_name(values, present), values["config_file"],
                         values["params_override"])
    task_class = get_task_class(config.task.task)
    mapping = {**ORIGINAL_TO_CONFIG, **common.TRAINING_KEYS, **BEST_RUN_TO_CONFIG}
    if "seeds" in present:
        values = {**values, "seeds": _seeds(values["seeds"])}
    if "data_dir" in present:
        if task_class is not SentencePredictionTask or \
                config.task.task in ("classification", "regression"):
            raise ValueError("--data_dir is the GLUE task directory: use --train_file and "
                             "--predict_file for this task")
        mapping["data_dir"] = ("task.train_data.input_path", "task.validation_data.input_path")
    if "predict_file" in present:
        mapping["predict_file"] = ("task.validation_data.input_path",
                                   "task.predict_data.input_path")
    for flag in SQUAD_ONLY:
        if flag in present and task_class is not SquadTask:
            raise ValueError(f"--{flag} is a SQuAD flag; the task is {config.task.task}")
    for flag in WINDOW_FLAGS:
        if flag in present and not hasattr(config.task, flag):
            raise ValueError(f"--{flag} does not apply to --task={config.task.task}: it "
                             "cannot combine the windows of a long text (classification, "
                             "regression and tagging tasks can)")
    mapping["long_text"] = ("task.long_text",)
    changes = common.original_flag_changes(mapping, values, present, values["params_override"])
    if "data_dir" in present and "predict_file" in present:
        changes["task.validation_data.input_path"] = values["predict_file"]
    if "data_dir" in present and "predict_file" not in present:
        # --do_predict runs on the GLUE test file when there is one, else on dev.
        from tfbert.data import glue
        with contextlib.suppress(FileNotFoundError):
            changes["task.predict_data.input_path"] = glue.glue_file(
                config.task.task, values["data_dir"], "test")
    config = set_values(config, changes, "flags")
    if not (config.trainer.num_restarts or config.trainer.seeds):
        # One seed for every mode run below (a new one if none is given), written to
        # params.yaml. Restarts give each run its own seed (and data order) instead.
        config = resolve_seed(config)
    if values["verbose_logging"]:
        logging.set_verbosity(logging.DEBUG)
    model_dir = common.model_dir(values, present)
    config = common.resolve_runtime(config, values, present)
    return config, model_dir, _mode(values, present)


def main(argv):
    del argv
    from tfbert.training.experiment import run_experiment

    values, present = common.flag_values()
    config, model_dir, modes = resolve(values, present)
    for mode in modes:
        results = run_experiment(config, model_dir, mode, num_tpu_cores=values["num_tpu_cores"])
        if mode in ("eval", "train_and_eval") and isinstance(results, dict):
            print(" ".join(f"{k}={v:.4f}" for k, v in sorted(results.items())))


def run():
    common.run_command("tfbert_finetune", main, define_flags)


if __name__ == "__main__":
    run()
