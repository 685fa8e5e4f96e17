"""`DistillationTask`: a student task trained against a frozen teacher, on the Trainer.

The teacher's outputs are computed **in the training step**, from the same
batch, in inference mode (no dropout), rather than precomputed into the
features. Why: the features of tagging and SQuAD are cut to each batch's
longest row (`padding="bucket"`), so per-token teacher logits stored ahead
would need their own padding; a teacher run in the step always sees exactly
the student's inputs, transfer data needs no second pass, and nothing of
size `[examples, seq, classes]` is kept in memory. The price is one forward
pass of the teacher per step (no backward pass: its outputs are constants).

So the wrapper is an ordinary `tfbert.tasks.Task` for
`tfbert.training.Trainer`: `build_model` builds the student (the teacher
beside it, in the same strategy scope), `loss_numerators` adds the soft loss
to the student task's own (`tfbert.distillation.losses`), and evaluation,
predictions and export are the student task's. Its checkpoints hold the
student alone, so the output directory is a normal model directory of the
student's task.
"""

import numpy as np
import tensorflow as tf

from tfbert.data.finetuning import make_dataset
from tfbert.distillation.losses import soft_loss_kind, soft_loss_sum, teacher_agreement
from tfbert.distillation.student import copy_teacher_layers
from tfbert.distillation.transfer import transfer_features
from tfbert.tasks.base import Task
from tfbert.training.sums import model_inputs


class DistillationTask(Task):
    """The student's task, with the teacher's soft targets mixed into its loss.

    `loss = alpha * soft + (1 - alpha) * hard`, each term averaged over its own
    rows (or tokens): `soft` over every row, transfer rows included; `hard`
    over the labelled rows. Logged as `soft_loss` and `hard_loss` (already
    weighted by `alpha` and `1 - alpha`: they add up to `loss`).

    Args:
        student_task: the student's `FinetuningTask` (its config: the student's
            model, data and vocab).
        teacher: a `tfbert.distillation.Teacher` of the same task.
        alpha: weight of the soft loss, in [0, 1] (0: hard labels only).
        temperature: T > 0 of the soft loss.
        init_layers: teacher layer of each student layer to copy at the start
            (`tfbert.distillation.copy_teacher_layers`), or None: the student
            task's own initialisation (its `init_checkpoint`, else random).
        transfer_data: a file of unlabelled texts (`tfbert.distillation.transfer`).

    Example:

    >>> DistillationTask(None, None, alpha=1.5, temperature=2.0)
    Traceback (most recent call last):
    ...
    ValueError: --alpha=1.5: give a weight from 0 to 1
    """

    evaluates_whole_file = True

    def __init__(self, student_task, teacher, alpha: float = 0.5, temperature: float = 2.0,
                 init_layers=None, transfer_data: str | None = None):
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"--alpha={alpha:g}: give a weight from 0 to 1")
        if temperature <= 0.0:
            raise ValueError(f"--temperature={temperature:g}: give a positive temperature")
        super().__init__(student_task.config)
        self.student_task, self.teacher = student_task, teacher
        self.alpha, self.temperature = float(alpha), float(temperature)
        self.init_layers = init_layers
        self.transfer_data = transfer_data
        self.kind = soft_loss_kind(student_task)
        self.teacher_model = None
        self._last_teacher = None

    # === Model and weights ===

    def build_model(self):
        self.teacher_model = self.teacher.build_model()
        student = self.student_task.build_model()
        _check_outputs(self.teacher_model, student, self.teacher.model_dir)
        return student

    def initialize(self, model):
        if self.init_layers is not None:
            copy_teacher_layers(self.teacher_model, model, self.init_layers)
            return "student"
        return self.student_task.initialize(model)

    # === Data ===

    def training_arrays(self, data_config):
        """The labelled training arrays (`labeled` 1) plus the transfer data's (0)."""
        labelled = self.student_task.features(data_config, True)
        labelled = {**labelled, "labeled": np.ones([len(labelled["input_mask"])], np.float32)}
        if not self.transfer_data:
            return labelled
        extra = transfer_features(self.student_task, self.transfer_data,
                                  data_config.max_seq_length, labelled)
        return {k: np.concatenate([labelled[k], extra[k]]) for k in labelled}

    def build_inputs(self, data_config, input_context=None, is_training=True):
        if not (is_training and self.transfer_data):
            return self.student_task.build_inputs(data_config, input_context, is_training)
        arrays = self.training_arrays(data_config)
        arrays["is_real_example"] = np.ones([len(arrays["input_mask"])], np.float32)
        batch = data_config.global_batch_size
        if input_context is not None:
            batch = input_context.get_per_replica_batch_size(batch)
            step = input_context.num_input_pipelines
            arrays = {k: v[input_context.input_pipeline_id::step] for k, v in arrays.items()}
        return make_dataset(arrays, batch, shuffle=True, repeat=True, seed=data_config.seed,
                            drop_remainder=True,
                            padding=self.student_task.padding(data_config, True))

    # === Losses and metrics ===

    def _hard_features(self, features):
        """The features with unlabelled (transfer) rows weighted 0 for the hard loss."""
        if "labeled" not in features:
            return features
        return {**features, "is_real_example": features["is_real_example"] * features["labeled"]}

    def _soft_weights(self, features):
        weights = features["is_real_example"]
        if self.kind == "token":  # the tagging task's tokens: each word's first piece
            weights = tf.cast(features["label_weights"], tf.float32) * weights[:, tf.newaxis]
        return weights

    def teacher_outputs(self, features):
        """The frozen teacher's outputs on the batch (inference mode, no gradient).

        The step asks twice (loss, then metrics) for the same batch tensors: the
        second call reuses the first's outputs, so the teacher runs once per step."""
        ids = features["input_word_ids"]
        if self._last_teacher is not None and self._last_teacher[0] is ids:
            return self._last_teacher[1]
        outputs = self.teacher_model(model_inputs(self.teacher_model, features), training=False)
        outputs = tf.nest.map_structure(tf.stop_gradient, outputs)
        self._last_teacher = (ids, outputs)
        return outputs

    def loss_denominators(self, features):
        soft = self.student_task.loss_denominators(features)["loss"]
        hard = self.student_task.loss_denominators(self._hard_features(features))
        return {"soft_loss": soft, **{f"hard_{k}": v for k, v in hard.items()}}

    def loss_numerators(self, features, outputs):
        soft = 0.0
        if self.alpha > 0.0:  # alpha 0 (a hard-label baseline) never runs the teacher
            soft = soft_loss_sum(self.kind, outputs, self.teacher_outputs(features),
                                 self._soft_weights(features), self.temperature)
        hard = self.student_task.loss_numerators(self._hard_features(features), outputs)
        return {"soft_loss": self.alpha * tf.convert_to_tensor(soft, tf.float32),
                **{f"hard_{k}": (1.0 - self.alpha) * v for k, v in hard.items()}}

    def metric_sums(self, features, outputs):
        sums = dict(self.student_task.metric_sums(self._hard_features(features), outputs))
        if self.alpha == 0.0:
            return sums
        agreement = teacher_agreement(self.kind, outputs, self.teacher_outputs(features),
                                      self._soft_weights(features))
        if agreement is not None:
            sums["teacher_agreement"] = agreement
        return sums

    # === Evaluation: the student task's ===

    def evaluate(self, model, output_dir=None):
        return self.student_task.evaluate(model, output_dir=output_dir)

    def metric_names(self):
        return self.student_task.metric_names()


def _check_outputs(teacher, student, teacher_dir):
    """Raises ValueError when the student's outputs cannot be compared with the teacher's
    (another task, or other labels: the data's classes differ from the teacher's)."""
    teacher_out, student_out = teacher.output, student.output
    if sorted(teacher_out) != sorted(student_out):
        raise ValueError(f"the teacher in {teacher_dir} outputs {sorted(teacher_out)}, the "
                         f"student's task {sorted(student_out)}: the tasks differ")
    for name in teacher_out:
        t, s = teacher_out[name].shape[-1], student_out[name].shape[-1]
        if t != s:
            raise ValueError(f"the teacher in {teacher_dir} has {t} {name} per row, the "
                             f"student's data has {s}: its labels differ from the teacher's")
