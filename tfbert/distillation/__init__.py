"""Distillation of a fine-tuned tfbert model into a smaller BERT of the same task.

`distill(DistillationConfig(teacher_dir=..., student_layers=3), output_dir)`
trains the student (the `tfbert_distill` command does the same from flags);
see docs/distillation.md.
"""

from tfbert.distillation.losses import soft_loss_kind, soft_loss_sum
from tfbert.distillation.run import DistillationConfig, Distilled, distill
from tfbert.distillation.student import (
    check_layer_copy,
    copy_teacher_layers,
    spread_layers,
    student_config,
)
from tfbert.distillation.task import DistillationTask
from tfbert.distillation.teacher import Teacher, load_teacher

__all__ = ["DistillationConfig", "DistillationTask", "Distilled", "Teacher",
           "check_layer_copy", "copy_teacher_layers", "distill", "load_teacher",
           "soft_loss_kind", "soft_loss_sum", "spread_layers", "student_config"]
