"""`tfbert_explain` run as users run it: a subprocess on a real fine-tuned directory
(tiny SST-2), writing the pictures and the numbers; bad targets, layers and
directories end with one clear error line."""

import json
import os
import subprocess
import sys

import pytest

from tests.explain.test_explainer import _pretraining_dir


def _explain(*flags):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([sys.executable, "-m", "tfbert.cli.explain", *flags],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
def test_explain_writes_pictures_and_numbers(sst2_model_dir, tmp_path):
    out = tmp_path / "out"
    result = _explain(f"--model_dir={sst2_model_dir}", "--text=a gorgeous , witty film",
                      "--target=0", "--layer=0", "--head=1", f"--output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("attention_L0_H1.png", "attributions.png", "explanation.json",
                 "attributions.tsv", "attention.npy"):
        assert f"wrote {out / name}" in result.stdout
        assert (out / name).stat().st_size > 0
    assert (out / "attention_L0_H1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    numbers = json.loads((out / "explanation.json").read_text())
    assert numbers["target"] == "0" and numbers["completeness_error"] < 0.01
    assert "target 0: f(input) - f(baseline) =" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(("flags", "message"), [
    (["--target=positive"], "target 'positive' is not a class of the model; known: 0, 1"),
    (["--position=3"], "a position applies to tagging and SQuAD models only"),
    (["--layer=7"], "--layer=7 --head=0: layer 7 does not exist: the model has 4 layers"),
])
def test_bad_targets_and_layers_are_one_clear_error(sst2_model_dir, tmp_path, flags, message):
    result = _explain(f"--model_dir={sst2_model_dir}", "--text=fine",
                      f"--output_dir={tmp_path}", *flags)
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"tfbert_explain: error: {message}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_task_without_a_head_is_named(tmp_path):
    result = _explain(f"--model_dir={_pretraining_dir(tmp_path / 'pretrain')}", "--text=hi",
                      f"--output_dir={tmp_path / 'out'}")
    assert result.returncode == 1
    assert "tfbert_explain: error: task pretraining has no head to explain" in result.stderr
    assert not (tmp_path / "out").exists()
