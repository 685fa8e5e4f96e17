"""Distillation end to end for the teachers other than classification: tagging
(CoNLL-2003), SQuAD v1.1, multi-label and pair regression. Per kind: a tiny
2-layer teacher fine-tuned a few steps on real data (`run_experiment`, what
`tfbert_finetune` runs), a 1-layer student distilled from it (tagging: through
`tfbert_distill`, from the teacher's layer 0; the others through `distill`, from a
random start), the student's checkpoint reloaded, exported and served on real text
by TensorFlow's C++ loader (`NativeSavedModel`)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO_ROOT
from tests.serving.conftest import text_array
from tests.training.conftest import head_lines
from tfbert.configs.bert_config import BertConfig
from tfbert.distillation import (
    DistillationConfig,
    distill,
    load_teacher,
    soft_loss_kind,
    soft_loss_sum,
)
from tfbert.serving import NativeSavedModel
from tfbert.tasks import load_config
from tfbert.tasks.tagging import CONLL2003_TAGS
from tfbert.training.experiment import run_experiment

pytestmark = pytest.mark.slow

# The teacher: 2 layers of hidden 64 on the uncased vocab; the students have 1.
TEACHER = dict(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=128, max_position_embeddings=128, type_vocab_size=2)
STEPS = 20
# Students train in loops of 5 steps: `history` holds 4 means of the soft loss.
STUDENT = ("trainer.train_steps=20,trainer.steps_per_loop=5,trainer.checkpoint_interval=20,"
           "task.num_train_epochs=null,trainer.optimizer.learning_rate=2e-3")
MULTILABEL_ROWS = [
    ("john smith lives in paris", ["PER", "LOC"]), ("the film was a delight", ["FILM"]),
    ("who won the game", []), ("a great movie with a great cast", ["FILM"]),
    ("mary jones flew to london", ["PER", "LOC"]), ("paris , france", ["LOC"]),
    ("john smith at the film festival in berlin", ["PER", "LOC", "FILM"]),
    ("it is not bad at all", [])]
SENTENCES = ("EU rejects German call to boycott British lamb .",
             "Peter Blackburn flew from Brussels to London on Friday .")


def _squad_files(shared_data, root):
    """Paragraphs 0-1 of the first SQuAD v1.1 dev article to train on (55 questions),
    paragraph 2 to evaluate (25)."""
    data = json.loads((shared_data / "squad" / "dev-v1.1-articles-00-23.json").read_text())
    article = data["data"][0]
    paths = []
    for name, paragraphs in (("train", article["paragraphs"][:2]),
                             ("dev", article["paragraphs"][2:3])):
        path = root / f"{name}.json"
        path.write_text(json.dumps({"version": "1.1", "data": [
            {"title": article["title"], "paragraphs": paragraphs}]}), encoding="utf-8")
        paths.append(path)
    return paths


def _regression_files(shared_data, root):
    """STS-B-like pairs: real MRPC sentence pairs scored 0-5 by their word overlap
    (5 x the Jaccard index of their lower-cased words), a target a model can learn."""
    paths = []
    for name, first, count in (("train", 1, 64), ("dev", 1, 32)):
        with open(shared_data / "glue" / "MRPC" / f"{name}.tsv", encoding="utf-8-sig") as f:
            rows = [line.rstrip("\n").split("\t") for line in f][first:first + count]
        path = root / f"{name}.jsonl"
        with open(path, "w", encoding="utf-8") as out:
            for row in rows:
                a, b = set(row[3].lower().split()), set(row[4].lower().split())
                out.write(json.dumps({"sentence": row[3], "sentence2": row[4],
                                      "score": round(5.0 * len(a & b) / len(a | b), 3)}) + "\n")
        paths.append(path)
    return paths


def _multilabel_files(root):
    path = root / "labels.jsonl"
    path.write_text("".join(json.dumps({"text": t, "labels": labels}) + "\n"
                            for t, labels in MULTILABEL_ROWS * 4), encoding="utf-8")
    return path, path


def _task_overrides(kind, shared_data, root):
    """`(task name, overrides)` of a kind's tiny run on its real data."""
    extra = ""
    if kind == "tagging":
        name, length = "conll2003", 48
        train = head_lines(shared_data / "conll2003" / "train.txt", 260, root / "train.txt")
        dev = head_lines(shared_data / "conll2003" / "valid.txt", 120, root / "valid.txt")
    elif kind == "squad":
        name, length = "squad/v1.1", 128
        train, dev = _squad_files(shared_data, root)
        extra = ",task.doc_stride=48,task.max_query_length=24"
    elif kind == "multilabel":
        name, length = "multilabel", 16
        train, dev = _multilabel_files(root)
    else:
        name, length = "regression", 64
        train, dev = _regression_files(shared_data, root)
        extra = ",task.text_a=sentence,task.text_b=sentence2,task.label=score"
    lengths = ",".join(f"task.{d}_data.max_seq_length={length}"
                       for d in ("train", "validation", "predict"))
    return name, (f"task.train_data.input_path={train},"
                  f"task.validation_data.input_path={dev},{lengths}{extra}")


@pytest.fixture(scope="module")
def teachers(shared_data, uncased_vocab, tmp_path_factory):
    """`teachers(kind)`: the model directory of a tiny teacher of that kind, fine-tuned
    `STEPS` steps and evaluated (trained on first use)."""
    made = {}

    def teacher(kind):
        if kind not in made:
            root = tmp_path_factory.mktemp(f"teacher_{kind}")
            BertConfig(**TEACHER).to_json_file(root / "bert_config.json")
            name, data = _task_overrides(kind, shared_data, root)
            override = (f"task.model={root / 'bert_config.json'},"
                        f"task.vocab_file={uncased_vocab},{data},"
                        "task.num_train_epochs=null,task.warmup_proportion=null,"
                        f"trainer.train_steps={STEPS},trainer.steps_per_loop={STEPS},"
                        f"trainer.checkpoint_interval={STEPS},"
                        "trainer.optimizer.learning_rate=2e-3,trainer.optimizer.warmup_steps=2,"
                        "task.train_data.global_batch_size=8,"
                        "task.validation_data.global_batch_size=16,runtime.seed=1")
            run_experiment(load_config(name, params_override=override),
                           str(root / "run"), "train_and_eval")
            made[kind] = str(root / "run")
        return made[kind]

    return teacher


def _soft_losses(history):
    return [metrics["soft_loss"] for _, metrics in history]


def _check_student(student_dir, model, inputs):
    """The student directory is a model directory of its task: its checkpoint loads
    (1 layer) and gives the distilled model's outputs."""
    student = load_teacher(student_dir)
    loaded = student.build_model()
    assert loaded.encoder.config.num_hidden_layers == 1
    expected, got = model(inputs, training=False), loaded(inputs, training=False)
    for key in expected:
        np.testing.assert_allclose(got[key].numpy(), expected[key].numpy(), atol=1e-5)
    return student, loaded


def _excess_soft_loss(kind, outputs, teacher):
    """The soft loss over its floor (the teacher against itself: sigmoid and softmax
    targets have an entropy no student goes under), per row."""
    weights = tf.ones([teacher[next(iter(teacher))].shape[0]])
    return float(soft_loss_sum(kind, outputs, teacher, weights, 2.0)
                 - soft_loss_sum(kind, teacher, teacher, weights, 2.0)) / len(weights)


def _distill(teacher_dir, student_dir, texts):
    """A 1-layer student of random start (`student_model`, no layer copied: a copy of
    layer 0 of a teacher trained 20 steps already agrees with it, leaving the soft loss
    nothing to show), distilled on the soft loss alone. On `texts` (the preprocessor's
    input) it is nearer its teacher than a student of random start (as its own was)."""
    inputs = load_teacher(teacher_dir).task.preprocessor()(texts)
    config = student_dir.parent / "student_config.json"
    BertConfig(**{**TEACHER, "num_hidden_layers": 1}).to_json_file(config)
    result = distill(DistillationConfig(teacher_dir, student_model=str(config), alpha=1.0),
                     str(student_dir), params_override=STUDENT)
    soft = _soft_losses(result.history)
    assert len(soft) == 4 and all(np.isfinite(soft)), soft
    assert soft[-1] < soft[0], soft
    kind = soft_loss_kind(result.task)
    teacher = result.teacher_model(inputs, training=False)
    fresh = result.task.build_model()  # random weights, the student's start
    before = _excess_soft_loss(kind, fresh(inputs, training=False), teacher)
    after = _excess_soft_loss(kind, result.model(inputs, training=False), teacher)
    assert after < 0.5 * before, (before, after)
    assert set(result.task.metric_names()) <= set(result.results), result.results
    return result


def test_tagging_teacher_through_the_commands(teachers, tmp_path):
    teacher_dir = teachers("tagging")
    student = tmp_path / "student"
    result = subprocess.run(
        [sys.executable, "-m", "tfbert.cli.distill", f"--teacher_dir={teacher_dir}",
         f"--output_dir={student}", "--student_layers=1", "--alpha=0.8",
         "--num_train_steps=20", "--iterations_per_loop=5", "--learning_rate=2e-3"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "f1=" in result.stdout and "token_accuracy=" in result.stdout, result.stdout
    results = dict(line.split(" = ") for line in
                   (student / "eval_results.txt").read_text().splitlines())
    assert 0.0 <= float(results["f1"]) <= 1.0
    assert "teacher_task: conll2003" in (student / "distillation.yaml").read_text()

    loaded = load_teacher(str(student))
    assert loaded.task.config.task == "conll2003"
    model = loaded.build_model()
    assert model.encoder.config.num_hidden_layers == 1
    exported = subprocess.run(
        [sys.executable, "-m", "tfbert.cli.export", "--task=conll2003",
         f"--model_dir={student}", f"--model={student / 'bert_config.json'}",
         "--seq_length=48", f"--export_dir={tmp_path / 'models'}", "--version=1"],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert exported.returncode == 0, exported.stderr[-3000:]
    served = NativeSavedModel(tmp_path / "models" / "1")
    out = served.run("serving_default", {"text": text_array(*SENTENCES)})
    assert {"labels", "label_ids", "entity_labels", "entity_start_byte"} <= set(out)
    assert out["labels"].shape[0] == 2 and out["labels"].shape == out["label_ids"].shape
    # One tag per word piece, each a CoNLL-2003 tag ("" pads the shorter text).
    assert {x.decode() for x in out["labels"].ravel()} <= set(CONLL2003_TAGS) | {""}
    ids = loaded.task.preprocessor()(tf.constant(SENTENCES))
    token = served.run("serve_token_ids", {k: v.numpy() for k, v in ids.items()})
    np.testing.assert_allclose(token["logits"],
                               model(ids, training=False)["logits"].numpy(), atol=1e-5)


def test_squad_teacher(teachers, tmp_path):
    context = ("Super Bowl 50 was an American football game to determine the champion of "
               "the National Football League (NFL) for the 2015 season.")
    question = "Which league's champion did Super Bowl 50 determine?"
    texts = ([question, "who won?"], [context, context])
    result = _distill(teachers("squad"), tmp_path / "student", texts)
    assert result.history[-1][1]["teacher_agreement"] > 0.0
    assert 0.0 <= result.results["exact_match"] <= result.results["f1"] <= 100.0
    inputs = result.task.preprocessor()(texts)
    student, model = _check_student(str(tmp_path / "student"), result.model, inputs)
    path = student.task.export(model, str(tmp_path / "models"), version=1)[0]
    out = NativeSavedModel(path).run("serving_default", {
        "question": text_array(question, "who won?"), "context": text_array(context, context)})
    assert set(out) == {"answer", "start_byte", "end_byte", "score"}
    assert all(out[k].shape == (2,) for k in out)
    for row in range(2):  # an answer is the context's bytes it points at
        start, end = int(out["start_byte"][row]), int(out["end_byte"][row])
        assert out["answer"][row] == context.encode()[max(start, 0):max(end, start, 0)]


def test_multilabel_teacher(teachers, tmp_path):
    texts = [text for text, _ in MULTILABEL_ROWS]
    result = _distill(teachers("multilabel"), tmp_path / "student", texts)
    assert "teacher_agreement" not in result.history[-1][1]  # no top class to agree on
    assert 0.0 <= result.results["micro_f1"] <= 1.0
    # The student's evaluation tuned its own thresholds, which its export applies.
    assert (tmp_path / "student" / "thresholds.json").is_file()
    texts = texts[:3]
    inputs = result.task.preprocessor()(texts)
    student, model = _check_student(str(tmp_path / "student"), result.model, inputs)
    student.task.restore_tuned(str(tmp_path / "student"))
    path = student.task.export(model, str(tmp_path / "models"), version=1)[0]
    out = NativeSavedModel(path).run("serving_default", {"text": text_array(*texts)})
    assert out["probabilities"].shape == (3, 3) and out["labels"].shape == (3, 3)
    expected = tf.sigmoid(model(inputs, training=False)["logits"]).numpy()
    np.testing.assert_allclose(out["probabilities"], expected, atol=1e-5)
    chosen = out["probabilities"] > np.float32(student.task.decision_thresholds())
    np.testing.assert_array_equal((out["label_ids"] >= 0).sum(-1), chosen.sum(-1))


def test_regression_teacher(teachers, tmp_path):
    pairs = (SENTENCES, SENTENCES[::-1])
    result = _distill(teachers("regression"), tmp_path / "student", pairs)
    assert "teacher_agreement" not in result.history[-1][1]
    assert np.isfinite(result.results["pearson"])
    inputs = result.task.preprocessor()(pairs)
    student, model = _check_student(str(tmp_path / "student"), result.model, inputs)
    path = student.task.export(model, str(tmp_path / "models"), version=1)[0]
    out = NativeSavedModel(path).run("serving_default", {"text_a": text_array(*pairs[0]),
                                                         "text_b": text_array(*pairs[1])})
    assert set(out) == {"score"} and out["score"].shape == (2,)
    np.testing.assert_allclose(out["score"], model(inputs, training=False)["logits"][:, 0],
                               atol=1e-5)


def test_a_teacher_of_another_task_is_refused(teachers, tmp_path):
    """`--task` names the task the teacher must have: a regression teacher is no SQuAD one."""
    teacher_dir = teachers("regression")
    with pytest.raises(ValueError, match=r"--task=squad/v1.1, but the teacher .* regression"):
        distill(DistillationConfig(teacher_dir, student_layers=1, task="squad/v1.1"),
                str(tmp_path / "a"))


def test_data_of_another_task_names_its_file_and_line(teachers, tmp_path):
    """A tagging teacher's student reads its training data as CoNLL: a multi-label
    file is refused at its first line, before any training."""
    labels, _ = _multilabel_files(tmp_path)
    with pytest.raises(ValueError, match=r"labels\.jsonl:1: tag .* is neither 'O' nor"):
        distill(DistillationConfig(teachers("tagging"), student_layers=1),
                str(tmp_path / "student"), changes={"task.train_data.input_path": str(labels)})
