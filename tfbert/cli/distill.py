"""`tfbert_distill`: distill a fine-tuned model into a smaller BERT of the same task.

    tfbert_distill --teacher_dir=runs/sst2_minilm --output_dir=runs/sst2_l3 \
        --student_layers=3 --init_from_teacher_layers=0,2,4 --alpha=0.5 --temperature=2

The teacher is a model directory `tfbert_finetune` wrote (its `params.yaml`
names the task, labels, data and vocab); the student's experiment is the
teacher's unless flags say otherwise (`--train_file`, `--predict_file`,
`--num_train_epochs`, `--params_override`, ...; the flags of
`tfbert_finetune`, same names). The student: `--student_layers` (the
teacher's config with that many layers, initialised by default from layers
spread evenly from the first) or `--student_model` (a config name or file),
initialised from `--init_from_teacher_layers` or `--student_init_checkpoint`.
`--transfer_data` adds unlabelled texts the teacher labels. The output is a
normal model directory of the task: export it with
`tfbert_export --task=<task> --model_dir=<output_dir> --model=<output_dir>/bert_config.json`.
The library: `tfbert.distillation.distill` (docs/distillation.md).
"""

from absl import flags

from tfbert.cli import common
from tfbert.cli.finetune import ORIGINAL_TO_CONFIG

# The original fine-tuning flags this command takes, and `--num_train_steps`.
ORIGINAL = ("output_dir", "train_file", "predict_file", "max_seq_length", "train_batch_size",
            "eval_batch_size", "learning_rate", "num_train_epochs", "warmup_proportion",
            "save_checkpoints_steps", "iterations_per_loop", "num_train_steps")
MAPPING = {**{name: ORIGINAL_TO_CONFIG[name] for name in ORIGINAL if name in ORIGINAL_TO_CONFIG},
           "predict_file": ("task.validation_data.input_path", "task.predict_data.input_path"),
           "eval_batch_size": ("task.validation_data.global_batch_size",),
           "learning_rate": ("trainer.optimizer.learning_rate",),
           "save_checkpoints_steps": ("trainer.checkpoint_interval",),
           "iterations_per_loop": ("trainer.steps_per_loop",),
           "train_batch_size": ("task.train_data.global_batch_size",),
           "num_train_steps": ("trainer.train_steps",),
           **common.TRAINING_KEYS}


def define_flags():
    """The flags of `tfbert_distill` (see the module doc)."""
    from tfbert.distillation.defaults import DEFAULT_ALPHA, DEFAULT_TEMPERATURE

    flags.DEFINE_string("teacher_dir", None, "The fine-tuned teacher's model directory "
                        "(params.yaml and checkpoints; best/ when it has one).")
    flags.DEFINE_string("model_dir", None, "The student's model directory (= --output_dir).")
    flags.DEFINE_string("task", None, "Optional check: the task the teacher must have.")
    flags.DEFINE_string("student_model", None, "The student's config: an official name or "
                        "a bert_config .json/.yaml.")
    flags.DEFINE_integer("student_layers", None, "The student is the teacher's config with "
                         "this many layers.")
    flags.DEFINE_list("init_from_teacher_layers", None, "Teacher layer of each student "
                      "layer to copy, with embeddings, pooler and head (default with "
                      "--student_layers: evenly spread, e.g. 0,2,4 of 6).")
    flags.DEFINE_string("student_init_checkpoint", None, "Initial student weights instead "
                        "(a tfbert, Google TF1 or HuggingFace checkpoint).")
    flags.DEFINE_float("alpha", DEFAULT_ALPHA, "Weight of the soft (teacher) loss; the hard "
                       "labels get 1 - alpha.")
    flags.DEFINE_float("temperature", DEFAULT_TEMPERATURE, "Softens teacher and student "
                       "logits (the soft loss is scaled by T^2).")
    flags.DEFINE_string("transfer_data", None, "Unlabelled texts the teacher labels: one "
                        "text (a TSV pair for pair tasks) per line.")
    flags.DEFINE_string("params_override", "", "Overrides of the student's experiment "
                        "(a.b=c,...), over the teacher's params.yaml.")
    common.define_original_flags(ORIGINAL, helps={
        "num_train_steps": "Training steps (instead of --num_train_epochs).",
        "max_seq_length": "Sequence length (default: the teacher's).",
        "train_file": "Training file (default: the teacher's).",
        "predict_file": "Dev file to evaluate on (default: the teacher's)."})
    common.define_training_flags()
    flags.mark_flags_as_required(["teacher_dir"])


def _layers(values):
    if values["init_from_teacher_layers"] is None:
        return None
    try:
        return [int(index) for index in values["init_from_teacher_layers"]]
    except ValueError:
        raise ValueError(f"--init_from_teacher_layers="
                         f"{','.join(values['init_from_teacher_layers'])}: give layer numbers "
                         "(0 is the first)") from None


def resolve(values, present):
    """`(DistillationConfig, output_dir, config changes)` of the flags."""
    from tfbert.distillation.run import DistillationConfig

    output_dir = common.model_dir(values, present)
    changes = common.original_flag_changes(MAPPING, values, present, values["params_override"])
    if "num_train_steps" in present:
        if "num_train_epochs" in present:
            raise ValueError("give one of --num_train_steps and --num_train_epochs")
        changes["task.num_train_epochs"] = None
    config = DistillationConfig(
        teacher_dir=values["teacher_dir"], student_model=values["student_model"],
        student_layers=values["student_layers"], init_from_teacher_layers=_layers(values),
        student_init_checkpoint=values["student_init_checkpoint"], alpha=values["alpha"],
        temperature=values["temperature"], transfer_data=values["transfer_data"],
        task=values["task"])
    return config, output_dir, changes


def main(argv):
    del argv
    from tfbert.distillation.run import distill

    values, present = common.flag_values()
    config, output_dir, changes = resolve(values, present)
    result = distill(config, output_dir, values["params_override"], changes)
    if result.results:
        print(" ".join(f"{k}={v:.4f}" for k, v in sorted(result.results.items())))


def run():
    common.run_command("tfbert_distill", main, define_flags)


if __name__ == "__main__":
    run()
