"""`distill`: train a small student of a fine-tuned teacher's task, end to end.

The student's experiment starts as the teacher's own (`params.yaml`: the same
task, labels, data files, sequence lengths and schedule), with the student's
model and the overrides given; the run is one `tfbert.training.Trainer` on a
`DistillationTask`, then the student task's whole-file evaluation. The
output directory is a normal model directory of the task: checkpoints of the
student alone, `params.yaml` (the student's experiment), `bert_config.json`
(the student's model), `vocab.txt` (the teacher's, which the student shares),
`eval_results.txt`, and `distillation.yaml` (how it was distilled). So
`tfbert_export --model_dir=<it> --model=<it>/bert_config.json` exports it
like any model of its task, and it can itself be a teacher.

Defaults: `alpha = 0.5` and `temperature = 2.0`. A fine-tuned teacher is
right on most but not all training rows: equal weights let the hard labels
correct its mistakes while its soft targets carry what the labels do not
(how sure it is, which wrong class is nearer). T = 2 softens a confident
two-class teacher enough that those differences reach the student (at T = 1
most of its probabilities sit near 0 or 1) without flattening its ranking;
the T² factor keeps the soft term's gradients the same size at any T. These
are the usual settings of GLUE distillations (Hinton et al. 2015; DistilBERT
and the HuggingFace distillation examples use T = 2); docs/distillation.md
says how to tune them.
"""

import dataclasses
import os
import shutil

import yaml
from absl import logging

from tfbert.configs import experiment as experiment_lib
from tfbert.configs.experiment import ExperimentConfig
from tfbert.data.result_files import write_eval_results, write_text
from tfbert.distillation.defaults import DEFAULT_ALPHA, DEFAULT_TEMPERATURE
from tfbert.distillation.student import check_layer_copy, spread_layers, student_config
from tfbert.distillation.task import DistillationTask
from tfbert.distillation.teacher import check_task, load_teacher
from tfbert.tasks.registry import build_task, load_config
from tfbert.training.trainer import Trainer


@dataclasses.dataclass
class DistillationConfig:
    """What to distill, into what (the `tfbert_distill` flags of the same names).

    Args:
        teacher_dir: a fine-tuned model directory (`params.yaml` and checkpoints).
        student_model: the student's config (official name or file); or
        student_layers: the teacher's config with this many layers.
        init_from_teacher_layers: teacher layer of each student layer to copy
            (with embeddings, pooler and head). Default with `student_layers`
            and no `student_init_checkpoint`: layers spread evenly from the
            first (`spread_layers`: 0, 2, 4 of 6); with `student_model`: none.
        student_init_checkpoint: initial student weights instead (any source
            `tfbert.checkpoints.load_model` reads).
        alpha: weight of the soft (teacher) loss; 1 - alpha for the hard labels.
        temperature: softening of both sides' logits (see the module doc).
        transfer_data: unlabelled texts the teacher labels (`tfbert.distillation.transfer`).
        task: if given, must be the teacher's task (a check).
    """

    teacher_dir: str
    student_model: str | None = None
    student_layers: int | None = None
    init_from_teacher_layers: list | None = None
    student_init_checkpoint: str | None = None
    alpha: float = DEFAULT_ALPHA
    temperature: float = DEFAULT_TEMPERATURE
    transfer_data: str | None = None
    task: str | None = None


@dataclasses.dataclass
class Distilled:
    """The result of `distill`: the trained student, its teacher, the training history
    (`Trainer.train`'s) and the student's evaluation (None without dev data)."""

    model: object
    teacher_model: object
    task: object
    history: list
    results: dict | None


def _init_layers(config: DistillationConfig, teacher_bert, student_bert):
    layers = config.init_from_teacher_layers
    if layers is not None and config.student_init_checkpoint:
        raise ValueError("give one of --init_from_teacher_layers and "
                         "--student_init_checkpoint, not both")
    if layers is None and config.student_layers is not None and \
            not config.student_init_checkpoint:
        layers = spread_layers(teacher_bert.num_hidden_layers, student_bert.num_hidden_layers)
    return None if layers is None else check_layer_copy(teacher_bert, student_bert, layers)


def student_experiment(teacher, config: DistillationConfig, output_dir: str,
                       params_override: str = "", changes: dict | None = None
                       ) -> ExperimentConfig:
    """The student's experiment: the teacher's, on the student's model and vocab files
    in `output_dir`, then `params_override`, then `changes` (`{key: value}` of flags).
    Evaluation during training and restarts are the teacher's business, not copied."""
    experiment = load_config(config_files=[os.path.join(teacher.model_dir, "params.yaml")],
                             params_override=params_override)
    values = {"task.model": os.path.join(output_dir, "bert_config.json"),
              "task.model_overrides": {},
              "task.init_checkpoint": config.student_init_checkpoint or "",
              "task.vocab_file": os.path.join(output_dir, "vocab.txt"),
              "trainer.keep_best": "", "trainer.eval_every_steps": None,
              "trainer.early_stopping_patience": 0, "trainer.num_restarts": 0,
              "trainer.seeds": []}
    experiment = experiment_lib.set_values(experiment, values, "distillation")
    return experiment_lib.set_values(experiment, changes or {}, "flags")


def distill(config: DistillationConfig, output_dir: str, params_override: str = "",
            changes: dict | None = None) -> Distilled:
    """Distills the teacher of `config` into a student in `output_dir`.

    Args:
        config: a `DistillationConfig`.
        output_dir: the student's model directory (a run there resumes).
        params_override: experiment overrides (`a.b=c,...`), over the teacher's.
        changes: `{config key: value}` applied last (the command's flags).

    Returns:
        A `Distilled`.

    Raises:
        ValueError, FileNotFoundError: a bad teacher, student, layer list or
            data (the message names the flag or file), before any training.
    """
    teacher = load_teacher(config.teacher_dir)
    check_task(teacher, config.task)
    teacher_bert = teacher.task.bert_config()
    student_bert = student_config(teacher_bert, config.student_model, config.student_layers)
    init_layers = _init_layers(config, teacher_bert, student_bert)
    os.makedirs(output_dir, exist_ok=True)
    student_bert.to_json_file(os.path.join(output_dir, "bert_config.json"))
    shutil.copyfile(teacher.task.vocab_file(), os.path.join(output_dir, "vocab.txt"))
    experiment = student_experiment(teacher, config, output_dir, params_override, changes)
    student_task = build_task(experiment.task)
    student_bert = student_task.bert_config()  # a HuggingFace init checkpoint's own
    if student_bert.vocab_size != teacher_bert.vocab_size:
        raise ValueError(f"the student's vocab_size {student_bert.vocab_size} differs from "
                         f"the teacher's {teacher_bert.vocab_size}: both read the teacher's "
                         "word pieces")
    student_bert.to_json_file(os.path.join(output_dir, "bert_config.json"))
    task = DistillationTask(student_task, teacher, config.alpha, config.temperature,
                            init_layers, config.transfer_data)
    evaluating = bool(experiment.task.validation_data.input_path)
    experiment = student_task.prepare(experiment, "train_and_eval" if evaluating else "train")
    student_task.config = task.config = experiment.task
    write_text(os.path.join(output_dir, "params.yaml"),
               yaml.safe_dump(experiment_lib.to_dict(experiment), sort_keys=False))
    record = {**dataclasses.asdict(config), "teacher_task": teacher.task_name,
              "teacher_weights": teacher.weights, "init_from_teacher_layers": init_layers}
    write_text(os.path.join(output_dir, "distillation.yaml"),
               yaml.safe_dump(record, sort_keys=False))
    trainer = Trainer(task, experiment, output_dir)
    logging.info("distilling %s (%d layers) into %d layers, alpha %g, temperature %g",
                 teacher.model_dir, teacher_bert.num_hidden_layers,
                 student_bert.num_hidden_layers, config.alpha, config.temperature)
    history = trainer.train()
    results = None
    if evaluating:
        results = student_task.evaluate(trainer.model, output_dir=output_dir)
        results["global_step"] = trainer.step
        write_eval_results(os.path.join(output_dir, "eval_results.txt"), results)
    return Distilled(trainer.model, task.teacher_model, student_task, history, results)
