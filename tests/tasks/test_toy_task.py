"""Adding a task is one module plus its test: `toy_task.py`, registered from the
test's module, fine-tuned, evaluated, predicted and exported through the
unchanged `tfbert_finetune` and `tfbert_export` commands."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from tests.serving.conftest import VOCAB, text_array
from tfbert.serving import NativeSavedModel, unsupported_ops

TEXTS = ["the film was a delight", "boring", "not bad at all", "great movie",
         "john smith lives in paris", "who won the game", "it is good", "dull"]


def _command(module, *flags):
    env = {**os.environ, "TFBERT_TASK_MODULES": "tests.tasks.toy_task",
           "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-m", f"tfbert.cli.{module}", *flags], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_a_task_of_ones_own_runs_through_the_commands(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    data = tmp_path / "texts.txt"
    data.write_text("\n".join(TEXTS * 4) + "\n", encoding="utf-8")
    model_dir = tmp_path / "run"
    config = tmp_path / "bert_config.json"
    from tests.helpers import tiny_config

    tiny_config(vocab_size=len(VOCAB)).to_json_file(config)
    result = _command("finetune", "--task=toy/parity", f"--train_file={data}",
                      f"--predict_file={data}", f"--bert_config_file={config}",
                      f"--vocab_file={vocab}", "--do_train", "--do_eval", "--do_predict",
                      "--max_seq_length=16", "--train_batch_size=8", "--num_train_epochs=1",
                      f"--output_dir={model_dir}")
    assert "accuracy=" in result.stdout
    assert (model_dir / "eval_results.txt").read_text().startswith("accuracy = ")
    predicted = (model_dir / "parity.txt").read_text().split()
    assert len(predicted) == len(TEXTS) * 4 and set(predicted) <= {"even", "odd"}
    assert "task: toy/parity" in (model_dir / "params.yaml").read_text()

    _command("export", "--task=toy/parity", f"--model_dir={model_dir}", f"--model={config}",
             f"--vocab_file={vocab}", "--seq_length=16", f"--export_dir={tmp_path / 'models'}",
             "--version=1")
    path = tmp_path / "models" / "1"
    assert unsupported_ops(path) == []
    out = NativeSavedModel(path).run("serving_default", {"text": text_array(*TEXTS)})
    # The export's labels are the ones the Python predictions file has for those texts.
    assert [label.decode() for label in out["label"]] == predicted[:len(TEXTS)]
    assert np.allclose(out["probabilities"].sum(-1), 1.0, atol=1e-5)
