"""`tfbert_distill` end to end: a tiny fine-tuned teacher directory in, a student model
directory out, which `tfbert_export` exports like any model of its task."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfbert.distillation import load_teacher


def _command(module, *flags):
    return subprocess.run([sys.executable, "-m", module, *flags], capture_output=True,
                          text=True, timeout=900,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


@pytest.mark.slow
def test_distill_then_export(teacher_dir, tmp_path):
    student = tmp_path / "student"
    result = _command("tfbert.cli.distill", f"--teacher_dir={teacher_dir}",
                      f"--output_dir={student}", "--student_layers=2",
                      "--init_from_teacher_layers=1,3", "--alpha=0.7", "--temperature=3",
                      "--num_train_steps=6", "--iterations_per_loop=3", "--seed=2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "accuracy=" in result.stdout
    for name in ("params.yaml", "bert_config.json", "vocab.txt", "eval_results.txt",
                 "distillation.yaml", "checkpoint"):
        assert (student / name).is_file(), name
    record = (student / "distillation.yaml").read_text()
    assert "alpha: 0.7" in record and "temperature: 3.0" in record

    exported = _command("tfbert.cli.export", "--task=glue/sst2", f"--model_dir={student}",
                        f"--model={student / 'bert_config.json'}", "--seq_length=64",
                        f"--export_dir={tmp_path / 'models'}", "--version=3")
    assert exported.returncode == 0, exported.stderr[-3000:]
    serve = tf.saved_model.load(str(tmp_path / "models" / "3")).signatures["serving_default"]
    texts = ["a quietly moving film", "the plot is a mess"]
    out = serve(text=tf.constant(texts))
    loaded = load_teacher(str(student))
    model = loaded.build_model()
    assert model.encoder.config.num_hidden_layers == 2
    expected = model(loaded.task.preprocessor()(tf.constant(texts)), training=False)["logits"]
    np.testing.assert_allclose(out["logits"].numpy(), expected.numpy(), atol=1e-5)


@pytest.mark.slow
def test_distill_errors_name_the_flag(teacher_dir, tmp_path):
    result = _command("tfbert.cli.distill", f"--teacher_dir={teacher_dir}",
                      f"--output_dir={tmp_path / 's'}", "--student_layers=2",
                      "--init_from_teacher_layers=0,9")
    assert result.returncode == 1
    assert "tfbert_distill: error: --init_from_teacher_layers: layer 9 is out of range" \
        in result.stderr
    result = _command("tfbert.cli.distill", f"--teacher_dir={tmp_path}",
                      f"--output_dir={tmp_path / 's'}", "--student_layers=2")
    assert result.returncode == 1 and "has no params.yaml" in result.stderr
    result = _command("tfbert.cli.distill", f"--teacher_dir={teacher_dir}",
                      f"--output_dir={tmp_path / 's'}", "--student_layers=2",
                      "--init_from_teacher_layers=a,b")
    assert result.returncode == 1 and "give layer numbers" in result.stderr
