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
error that names both. The run itself is `tfbert.training.run_experiment`.
"""


from absl import flags

from tfbert.cli import common
from tfbert.configs.experiment import set_values

MODES = ("train", "eval", "train_and_eval", "continuous_eval")

# The original flags of run_pretraining.py alone -> the config keys they set.
ORIGINAL_TO_CONFIG = {
    **common.ORIGINAL_RUN_KEYS,
    "input_file": ("task.train_data.input_path", "task.validation_data.input_path"),
    "max_seq_length": ("task.train_data.max_seq_length", "task.validation_data.max_seq_length"),
    "max_predictions_per_seq": ("task.train_data.max_predictions_per_seq",
                                "task.validation_data.max_predictions_per_seq"),
    "num_train_steps": ("trainer.train_steps",),
    "num_warmup_steps": ("trainer.optimizer.warmup_steps",),
    "max_eval_steps": ("trainer.validation_steps",),
}

# Flags for faults during training (docs/pretraining.md) -> the config keys they set.
FAULT_TO_CONFIG = {
    "skip_corrupt_records": ("task.train_data.skip_corrupt_records",
                             "task.validation_data.skip_corrupt_records"),
    "max_nonfinite_steps": ("trainer.max_nonfinite_steps",),
}


def define_flags():
    """The flags of `tfbert_pretrain` (see the module doc)."""
    common.define_original_flags(
        (*common.ORIGINAL_RUN_FLAGS, "input_file", "max_predictions_per_seq",
         "num_train_steps", "num_warmup_steps", "max_eval_steps"),
        helps={"init_checkpoint": "Initial checkpoint: tfbert, Google TF1 or HuggingFace "
                                  "(continued pre-training).",
               "max_seq_length": "Sequence length of the TFRecords."})
    common.define_experiment_flags("pretraining", "The task: pretraining (fine-tune the other "
                                   "registered tasks with tfbert_finetune).", MODES)
    flags.DEFINE_bool("skip_corrupt_records", False, "Read a TFRecord file with a corrupt or "
                      "truncated record up to it and skip the rest (logged, counted in the "
                      "summaries); default: such a record is an error naming file and offset.")
    flags.DEFINE_integer("max_nonfinite_steps", 10, "Stop after this many steps in a row with "
                         "a NaN or Inf loss or gradient norm (those steps are not applied; the "
                         "last checkpoint is kept); 0: never stop.")


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
    from tfbert.tasks.registry import get_task_class, load_config

    def given(name):
        return values[name] if name in present else None

    if get_task_class(values["task"]) is not get_task_class("pretraining"):
        raise ValueError(f"--task={values['task']}: tfbert_pretrain runs pre-training; "
                         "fine-tune other tasks with tfbert_finetune")
    config = load_config(values["task"], values["config_file"], values["params_override"])
    config = set_values(config, common.original_flag_changes(
        {**ORIGINAL_TO_CONFIG, **FAULT_TO_CONFIG}, values, present, values["params_override"]),
        "flags")
    model_dir = common.model_dir(values, present)
    config = common.resolve_runtime(config, values, present)

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


def main(argv):
    del argv
    from tfbert.training.experiment import run_experiment

    values, present = common.flag_values()
    config, model_dir, mode = resolve(values, present)
    run_experiment(config, model_dir, mode, num_tpu_cores=values["num_tpu_cores"])


def run():
    common.run_command("tfbert_pretrain", main, define_flags)


if __name__ == "__main__":
    run()
