"""Distillation of a fine-tuned tfbert model into a smaller BERT of the same task.

`distill(DistillationConfig(teacher_dir=..., student_layers=3), output_dir)`
trains the student (the `tfbert_distill` command does the same from flags);
see docs/distillation.md.
"""

from tfbert import lazy

_EXPORTS = {
    "soft_loss_kind": ".losses", "soft_loss_sum": ".losses", "DistillationConfig": ".run",
    "Distilled": ".run", "distill": ".run", "check_layer_copy": ".student",
    "copy_teacher_layers": ".student", "spread_layers": ".student",
    "student_config": ".student", "DistillationTask": ".task", "Teacher": ".teacher",
    "load_teacher": ".teacher",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy.exports(__name__, _EXPORTS)
