"""Distillation end to end on the real Trainer: a tiny fine-tuned teacher, a 2-layer
student copied from its layers, trained toward it, then exported like any model."""

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tests.helpers import randomize, tiny_config
from tfbert.distillation import (
    DistillationConfig,
    copy_teacher_layers,
    distill,
    load_teacher,
    spread_layers,
)
from tfbert.distillation.task import DistillationTask, _check_outputs
from tfbert.tasks.registry import build_task


def _weights(layer):
    return [np.asarray(w) for w in layer.weights]


def test_layer_copy_takes_the_chosen_teacher_layers():
    teacher = randomize(tfbert.BertClassifier(tfbert.BertEncoder(
        tiny_config(num_hidden_layers=4)), 3), seed=1)
    student = tfbert.BertClassifier(tfbert.BertEncoder(tiny_config(num_hidden_layers=2)), 3)
    copy_teacher_layers(teacher, student, [1, 3])
    for i, j in ((0, 1), (1, 3)):
        for a, b in zip(_weights(student.encoder.transformer_layers[i]),
                        _weights(teacher.encoder.transformer_layers[j]), strict=True):
            np.testing.assert_array_equal(a, b)
    for name in ("word_embeddings", "position_embedding", "type_embeddings",
                 "embeddings_layer_norm", "pooler"):
        for a, b in zip(_weights(getattr(student.encoder, name)),
                        _weights(getattr(teacher.encoder, name)), strict=True):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(_weights(student.classifier), _weights(teacher.classifier), strict=True):
        np.testing.assert_array_equal(a, b)
    # Not layer 0 of the teacher: the copy took the chosen ones.
    assert not np.array_equal(_weights(student.encoder.transformer_layers[0])[0],
                              _weights(teacher.encoder.transformer_layers[0])[0])


def test_layer_copy_errors():
    teacher = tfbert.BertClassifier(tfbert.BertEncoder(tiny_config(num_hidden_layers=4)), 2)
    wide = tfbert.BertClassifier(tfbert.BertEncoder(
        tiny_config(num_hidden_layers=2, hidden_size=128)), 2)
    with pytest.raises(ValueError, match="hidden_size 128 is wider than the teacher's 64"):
        copy_teacher_layers(teacher, wide, [0, 2])
    student = tfbert.BertClassifier(tfbert.BertEncoder(tiny_config(num_hidden_layers=2)), 2)
    with pytest.raises(ValueError, match="layer 4 is out of range; the teacher has layers 0 to 3"):
        copy_teacher_layers(teacher, student, [0, 4])
    with pytest.raises(ValueError, match="names 3 layers; the student has 2"):
        copy_teacher_layers(teacher, student, [0, 1, 2])
    assert spread_layers(6, 3) == [0, 2, 4]
    # A student whose data has other classes than the teacher's.
    with pytest.raises(ValueError, match="has 2 logits per row, the student's data has 3"):
        _check_outputs(teacher, tfbert.BertClassifier(student.encoder, 3), "teacher/")


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _kl(teacher_logits, student_logits):
    """Mean KL(teacher || student) of the class distributions (T = 1)."""
    p = _log_softmax(teacher_logits)
    return float((np.exp(p) * (p - _log_softmax(student_logits))).sum(-1).mean())


@pytest.mark.slow
def test_distillation_moves_the_student_toward_the_teacher(teacher_dir, tmp_path):
    teacher = load_teacher(teacher_dir)
    dev = teacher.task.config.validation_data
    teacher_model = teacher.build_model()
    teacher_logits = teacher.task.predict(teacher_model, dev)["logits"]
    # The student's start: teacher layers 0 and 2 (the default spread of 2 of 4).
    start = teacher.task.build_head(tfbert.BertEncoder(
        teacher.task.bert_config().replace(num_hidden_layers=2)))
    copy_teacher_layers(teacher_model, start, [0, 2])
    before = _kl(teacher_logits, teacher.task.predict(start, dev)["logits"])

    result = distill(DistillationConfig(teacher_dir, student_layers=2, alpha=1.0,
                                        temperature=2.0),
                     str(tmp_path / "student"),
                     params_override="trainer.train_steps=40,trainer.steps_per_loop=20,"
                                     "task.num_train_epochs=null,"
                                     "trainer.optimizer.learning_rate=1e-3")
    after = _kl(teacher_logits, result.task.predict(result.model, dev)["logits"])
    assert after < 0.7 * before, (before, after)
    assert result.history[-1][1]["teacher_agreement"] > 0.5
    assert 0.0 <= result.results["accuracy"] <= 1.0
    assert (tmp_path / "student" / "eval_results.txt").is_file()
    assert result.model.encoder.config.num_hidden_layers == 2

    # The output directory is a normal model directory of glue/sst2: it exports as one.
    student = load_teacher(str(tmp_path / "student"))  # params.yaml + checkpoint
    assert student.task.config.task == "glue/sst2"
    model = student.build_model()
    paths = student.task.export(model, str(tmp_path / "export"), version=1)
    loaded = tf.saved_model.load(paths[0])
    texts = ["a gripping , funny film", "dull and far too long"]
    served = loaded.signatures["serving_default"](text=tf.constant(texts))
    inputs = student.task.preprocessor()(tf.constant(texts))
    np.testing.assert_allclose(served["logits"].numpy(),
                               model(inputs, training=False)["logits"].numpy(), atol=1e-5)


@pytest.mark.slow
def test_transfer_data_joins_as_unlabelled_rows(teacher_dir, sst2, tmp_path):
    _, dev = sst2
    transfer = tmp_path / "transfer.txt"
    with open(dev, encoding="utf-8") as f:
        lines = [line.split("\t")[0] for line in f.read().splitlines()[1:]]
    transfer.write_text("\n".join(lines[:40]) + "\n\n", encoding="utf-8")
    teacher = load_teacher(teacher_dir)
    task = DistillationTask(build_task(teacher.task.config), teacher, 0.5, 2.0,
                            transfer_data=str(transfer))
    arrays = task.training_arrays(teacher.task.config.train_data)
    assert len(arrays["labeled"]) == 300 + 40 and arrays["labeled"].sum() == 300
    assert set(arrays) >= {"input_word_ids", "label_ids", "labeled"}

    result = distill(DistillationConfig(teacher_dir, student_layers=2,
                                        transfer_data=str(transfer)),
                     str(tmp_path / "student"),
                     params_override="trainer.train_steps=4,trainer.steps_per_loop=4,"
                                     "task.num_train_epochs=null")
    assert np.isfinite(result.history[-1][1]["loss"])

    pairs = tmp_path / "pairs.txt"
    pairs.write_text("one text\nanother\tsecond\n", encoding="utf-8")
    task = DistillationTask(build_task(teacher.task.config), teacher, transfer_data=str(pairs))
    with pytest.raises(ValueError, match=r"pairs\.txt:2: --transfer_data needs one text"):
        task.training_arrays(teacher.task.config.train_data)


@pytest.mark.slow
def test_clear_errors(teacher_dir, tmp_path):
    with pytest.raises(ValueError, match=r"--task=glue/mrpc, but the teacher .* glue/sst2"):
        distill(DistillationConfig(teacher_dir, student_layers=2, task="glue/mrpc"),
                str(tmp_path / "a"))
    with pytest.raises(ValueError, match="--student_layers=5: give 1 to the teacher's 4"):
        distill(DistillationConfig(teacher_dir, student_layers=5), str(tmp_path / "b"))
    with pytest.raises(ValueError, match="layer 7 is out of range"):
        distill(DistillationConfig(teacher_dir, student_layers=2,
                                   init_from_teacher_layers=[0, 7]), str(tmp_path / "c"))
    with pytest.raises(ValueError, match="hidden_size 128 is wider than the teacher's 64"):
        distill(DistillationConfig(teacher_dir, student_model="bert_tiny_uncased",
                                   init_from_teacher_layers=[0, 2]), str(tmp_path / "d"))
