"""`tfbert_export`: a trained model -> a text-in SavedModel for TensorFlow Serving.

Writes `<export_dir>/<version>/` (version: `--version` or the Unix time),
under a temporary name renamed when complete; an existing version is never
overwritten. The graph tokenizes raw strings with the original WordPiece.

    tfbert_export --task=classification --model=bert_base_uncased \
        --model_dir=runs/sst2 --vocab_file=vocab.txt --label_names=negative,positive \
        --export_dir=models/sst2
    tfbert_export --task=squad/v1.1 --checkpoint=runs/squad/ckpt-2000 --model=bert_base_uncased \
        --vocab_file=vocab.txt --seq_length=384 --export_dir=models/squad
    tfbert_export --task=hub --checkpoint=uncased_L-12_H-768_A-12/bert_model.ckpt \
        --model=uncased_L-12_H-768_A-12/bert_config.json \
        --vocab_file=uncased_L-12_H-768_A-12/vocab.txt --export_dir=models/bert_hub

Tasks: any registered task name, the same as `tfbert_finetune`'s
(`classification`, `regression`, `multilabel`, `glue/<name>`, `squad/v1.1`,
`squad/v2.0`, `tagging`, `conll2003`), and the encoder exports `embeddings` (pooled and
mean-pooled outputs) and `hub` (the TF Hub pair: `<export_dir>/preprocess/<version>`
and `<export_dir>/encoder/<version>`); each task writes its own signatures
(`Task.export_endpoints`). `squad` and `squad_v2` are deprecated spellings of
`squad/v1.1` and `squad/v2.0`. A multi-label export applies the decision
thresholds its evaluation tuned (`thresholds.json` beside the checkpoint).
Weights: `--model_dir`, or `--checkpoint`:
anything `tfbert.checkpoints.load_model` reads (a tfbert or Google TF1
checkpoint, a `.keras` file, or a HuggingFace BERT directory). From
`--model_dir`, the checkpoint that `tfbert_finetune --keep_best` or
`--num_restarts` kept in `<model_dir>/best/` when there is one, else the
latest; `--nouse_best` takes the latest (the log says which it took).
"""

import os

from absl import flags, logging

from tfbert.cli import common
from tfbert.configs.experiment import ExperimentConfig, set_values

FLAGS = flags.FLAGS

# Flags of some tasks only -> the task config field they set.
TASK_FIELDS = {"label_names": "label_names", "num_classes": "num_classes", "pair": "text_b",
               "max_query_length": "max_query_length", "max_answer_length": "max_answer_length",
               "n_best_size": "n_best_size", "doc_stride": "doc_stride",
               "null_score_diff_threshold": "null_score_diff_threshold",
               "normalize": "normalize", "threshold": "threshold", "long_text": "long_text"}


def define_flags():
    """The flags of `tfbert_export` (see the module doc)."""
    flags.DEFINE_string("task", None, "What the model does (which signatures to write): a "
                        "registered task (tfbert.tasks.task_names()), embeddings or hub.")
    flags.DEFINE_string("model_dir", None, "Training directory: its best/ checkpoint "
                        "(--keep_best, --num_restarts) if any, else its latest is exported.")
    flags.DEFINE_bool("use_best", True, "With --model_dir: export <model_dir>/best/ when it "
                      "exists; --nouse_best: the latest checkpoint.")
    flags.DEFINE_string("checkpoint", None, "A tfbert or TF1 checkpoint, a .keras file, or a "
                        "HuggingFace BERT directory (instead of --model_dir).")
    flags.DEFINE_string("model", None, "Official model name or bert_config .json/.yaml "
                        "(default: the HuggingFace directory's config.json).")
    flags.DEFINE_string("vocab_file", None, "The WordPiece vocab (default: the HuggingFace "
                        "directory's vocab.txt).")
    flags.DEFINE_bool("lower_case", True, "Uncased model.")
    flags.DEFINE_integer("seq_length", 128, "Longest packed input, [CLS] and [SEP] included "
                         "(SQuAD: the window, usually 384).")
    flags.DEFINE_list("label_names", [], "Class (or tag) names in id order.")
    flags.DEFINE_integer("num_classes", None, "Classes when --label_names is not given.")
    flags.DEFINE_bool("pair", False, "Classification of text pairs: inputs text_a, text_b.")
    flags.DEFINE_integer("max_query_length", 64, "SQuAD: question pieces kept.")
    flags.DEFINE_integer("max_answer_length", 30, "SQuAD: longest answer, in pieces.")
    flags.DEFINE_integer("n_best_size", 20, "SQuAD: start/end candidates tried.")
    flags.DEFINE_float("null_score_diff_threshold", 0.0, "SQuAD v2: no-answer threshold.")
    flags.DEFINE_integer("doc_stride", None, "How far the windows over a long text advance, "
                         "in pieces (default: the task's: SQuAD 128, --long_text 64).")
    flags.DEFINE_string("long_text", None, "Texts longer than --seq_length: first (truncate; "
                        "the default), mean or max (classification, regression: combine the "
                        "windows' logits), max_context (tagging: each word from the window "
                        "where it has the most context).")
    flags.DEFINE_float("threshold", 0.5, "Multi-label: the decision threshold of every label "
                       "when the checkpoint's directory has no tuned thresholds.json.")
    flags.DEFINE_bool("normalize", False, "Embeddings: L2-normalise the mean-pooled embedding.")
    flags.DEFINE_enum("quantize", None, ["int8"], "int8: the encoder's dense products in "
                      "int8, for CPU servers with oneDNN (x86-64); calibrated on "
                      "--calibration_file (docs/serving.md, \"int8 exports\").")
    flags.DEFINE_string("calibration_file", None, "With --quantize: texts like the ones "
                        "served, one per line (default: the bundled demo corpus).")
    flags.DEFINE_string("export_dir", None, "Base directory: writes <export_dir>/<version>/.")
    flags.DEFINE_integer("version", None, "TF Serving version number (default: Unix time).")
    flags.mark_flags_as_required(["task", "export_dir"])


def task_config(values, present, weights):
    """The task config the export flags describe, for the weights at `weights`.

    The shared flags apply with their values or defaults; a task-specific flag
    applies when given (its default is the task's own: `conll2003`'s tag set,
    `glue/mrpc`'s text pairs), and is an error for a task without that setting.
    """
    from tfbert.checkpoints.loader import source_vocab
    from tfbert.tasks.registry import load_config

    config = load_config(values["task"]).task
    changes = {"task.vocab_file": values["vocab_file"] or source_vocab(weights) or "",
               "task.lower_case": values["lower_case"],
               "task.predict_data.max_seq_length": values["seq_length"]}
    if values["model"]:
        changes["task.model"] = values["model"]
    for flag, field in TASK_FIELDS.items():
        if flag not in present:
            continue
        if not hasattr(config, field):
            why = (": it cannot combine the windows of a long text (classification, "
                   "regression and tagging tasks can)" if flag == "long_text" else "")
            raise ValueError(f"--{flag} does not apply to --task={config.task}{why}")
        value = values[flag]
        if flag == "pair":
            value = "text_b" if value else None
        changes[f"task.{field}"] = list(value) if flag == "label_names" else value
    return set_values(ExperimentConfig(task=config), changes, "flags").task


def _weights(values, present):
    """`<model_dir>/best` when `--model_dir` has one and `--use_best` holds, else None."""
    from tfbert.checkpoints.google_tf1 import checkpoint_prefix
    from tfbert.training.best_checkpoint import best_checkpoint_dir

    model_dir = values["model_dir"]
    if model_dir is None or values["checkpoint"] is not None:
        if "use_best" in present:
            raise ValueError("--use_best / --nouse_best choose within --model_dir; with "
                             "--checkpoint the checkpoint is the one given")
        return None
    best = best_checkpoint_dir(model_dir) if values["use_best"] else None
    if best:
        logging.info("exporting the kept best checkpoint %s", checkpoint_prefix(best))
    elif values["use_best"] and "use_best" in present:
        raise FileNotFoundError(f"--use_best: --model_dir={model_dir} has no best/ checkpoint "
                                "(train with --keep_best or --num_restarts)")
    else:
        logging.info("exporting the latest checkpoint of %s%s", model_dir,
                     "" if not values["use_best"] else " (it has no best/)")
    return best


def main(argv):
    del argv
    from tfbert.checkpoints.loader import latest_weights, load_model
    from tfbert.tasks.registry import build_task

    values, present = common.flag_values()
    weights = _weights(values, present) or latest_weights(values["model_dir"],
                                                          values["checkpoint"])
    task = build_task(task_config(values, present, weights))
    logging.info("loading %s for --task=%s", weights, task.config.task)
    # What evaluation tuned beside the weights (multi-label thresholds, with their labels).
    task.restore_tuned(weights if os.path.isdir(weights) else os.path.dirname(weights))
    model = load_model(weights, head=task.build_head, config=values["model"])
    if values["calibration_file"] and not values["quantize"]:
        raise ValueError("--calibration_file calibrates --quantize=int8; it has no use "
                         "without --quantize")
    for path in task.export(model, values["export_dir"], values["version"],
                            quantize=values["quantize"],
                            calibration_file=values["calibration_file"]):
        print(f"exported {path}")


def run():
    common.run_command("tfbert_export", main, define_flags)


if __name__ == "__main__":
    run()
