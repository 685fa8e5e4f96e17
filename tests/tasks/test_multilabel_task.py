"""`--task=multilabel` through the commands: fine-tune, evaluate (thresholds tuned and
saved), predict and export a tiny model; the export applies the saved thresholds and
chooses the labels the Python predictions file chose."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO_ROOT
from tests.helpers import tiny_config
from tests.serving.conftest import VOCAB, text_array
from tfbert.serving import NativeSavedModel, unsupported_ops
from tfbert.serving.export import text_example

ROWS = [("john smith lives in paris", ["PER", "LOC"]), ("the film was a delight", ["FILM"]),
        ("who won the game", []), ("great movie", ["FILM"]), ("john", ["PER"]),
        ("paris france", ["LOC"]), ("john smith at the film in paris", ["PER", "LOC", "FILM"]),
        ("it is not bad at all", [])]


def _command(module, *flags, ok=True):
    result = subprocess.run([sys.executable, "-m", f"tfbert.cli.{module}", *flags],
                            cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                            capture_output=True, text=True, timeout=400)
    assert (result.returncode == 0) == ok, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny multi-label model fine-tuned, evaluated and predicted by `tfbert_finetune`."""
    tmp = tmp_path_factory.mktemp("multilabel")
    (tmp / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    data = tmp / "train.jsonl"
    data.write_text("".join(json.dumps({"text": t, "labels": labels}) + "\n"
                            for t, labels in ROWS * 4), encoding="utf-8")
    tiny_config(vocab_size=len(VOCAB)).to_json_file(tmp / "bert_config.json")
    flags = [f"--bert_config_file={tmp / 'bert_config.json'}", f"--vocab_file={tmp / 'vocab.txt'}",
             "--max_seq_length=16"]
    result = _command("finetune", "--task=multilabel", f"--train_file={data}",
                      f"--predict_file={data}", "--do_train", "--do_eval", "--do_predict",
                      "--train_batch_size=8", "--num_train_epochs=3", "--learning_rate=1e-3",
                      f"--output_dir={tmp / 'run'}", *flags)
    return tmp, flags, result


@pytest.mark.slow
def test_evaluation_tunes_saves_and_reports_the_thresholds(run):
    tmp, _, result = run
    model_dir = tmp / "run"
    saved = json.loads((model_dir / "thresholds.json").read_text())
    assert saved["label_names"] == ["FILM", "LOC", "PER"] and saved["mode"] == "per_label"
    assert len(saved["thresholds"]) == 3 and saved["thresholds"] != [0.5] * 3
    results = dict(line.split(" = ") for line in
                   (model_dir / "eval_results.txt").read_text().splitlines())
    for key in ("micro_f1", "macro_f1", "subset_accuracy", "f1/PER", "precision/LOC",
                "recall/FILM", "micro_f1_at_0.5"):
        assert 0.0 <= float(results[key]) <= 1.0, key
    # Tuned thresholds are never worse than 0.5 on the file they were tuned on.
    assert float(results["micro_f1"]) >= float(results["micro_f1_at_0.5"]) - 0.05
    assert "micro_f1=" in result.stdout


@pytest.mark.slow
def test_the_export_chooses_the_labels_the_predictions_file_chose(run):
    tmp = run[0]
    model_dir = tmp / "run"
    predicted = (model_dir / "predicted_labels.tsv").read_text().splitlines()
    probabilities = np.loadtxt(model_dir / "test_results.tsv", ndmin=2)
    assert len(predicted) == len(ROWS) * 4 and probabilities.shape == (len(ROWS) * 4, 3)
    _command("export", "--task=multilabel", f"--model_dir={model_dir}",
             f"--model={tmp / 'bert_config.json'}", f"--vocab_file={tmp / 'vocab.txt'}",
             "--seq_length=16", f"--export_dir={tmp / 'models'}", "--version=1")
    path = tmp / "models" / "1"
    assert unsupported_ops(path) == []
    model = NativeSavedModel(path)
    texts = [text for text, _ in ROWS]
    out = model.run("serving_default", {"text": text_array(*texts)})
    assert out["probabilities"].shape == (len(ROWS), 3)
    np.testing.assert_allclose(out["probabilities"], probabilities[:len(ROWS)], atol=2e-6)
    thresholds = np.float32(json.loads((model_dir / "thresholds.json").read_text())
                            ["thresholds"])
    names = np.array(["FILM", "LOC", "PER"])
    for row in range(len(ROWS)):
        chosen = out["probabilities"][row] > thresholds
        labels = [x.decode() for x in out["labels"][row]]
        ids = out["label_ids"][row].tolist()
        k = int(chosen.sum())
        assert labels == [*names[chosen], *[""] * (3 - k)]
        assert ids == [*np.flatnonzero(chosen), *[-1] * (3 - k)]
        assert "|".join(labels[:k]) == predicted[row]
    examples = model.run("serve_examples", {"inputs": np.array(
        [text_example(text=t) for t in texts], dtype=object)})
    np.testing.assert_allclose(examples["scores"], out["probabilities"], atol=1e-6)
    assert [c.decode() for c in examples["classes"][0]] == list(names)


@pytest.mark.slow
def test_the_export_without_thresholds_uses_the_threshold_flag(run, tmp_path):
    tmp = run[0]
    # The checkpoint copied to a directory without thresholds.json.
    checkpoint = os.path.basename(tf.train.latest_checkpoint(str(tmp / "run")))
    alone = tmp_path / "alone"
    alone.mkdir()
    for name in os.listdir(tmp / "run"):
        if name.startswith(f"{checkpoint}."):
            (alone / name).write_bytes((tmp / "run" / name).read_bytes())
    _command("export", "--task=multilabel", f"--checkpoint={alone / checkpoint}",
             "--label_names=FILM,LOC,PER", "--threshold=0.0", f"--model={tmp / 'bert_config.json'}",
             f"--vocab_file={tmp / 'vocab.txt'}", "--seq_length=16",
             f"--export_dir={tmp_path / 'models'}", "--version=1")
    out = NativeSavedModel(tmp_path / "models" / "1").run("serving_default",
                                                          {"text": text_array("john")})
    assert [x.decode() for x in out["labels"][0]] == ["FILM", "LOC", "PER"]  # all over 0


@pytest.mark.slow
def test_an_unknown_label_in_the_dev_file_names_file_and_line(run, tmp_path):
    flags = run[1]
    bad = tmp_path / "dev.jsonl"
    bad.write_text('{"text": "john", "labels": ["PER"]}\n{"text": "x", "labels": ["ORG"]}\n')
    result = _command("finetune", "--task=multilabel", f"--predict_file={bad}", "--do_eval",
                      f"--output_dir={tmp_path / 'eval'}", "--params_override="
                      "{task: {label_names: [FILM, LOC, PER]}}", *flags, ok=False)
    assert "dev.jsonl:2: label 'ORG' is not in the label list ['FILM', 'LOC', 'PER']" \
        in result.stderr



@pytest.mark.slow
def test_keep_best_takes_multilabel_metrics_and_refuses_others(run, tmp_path):
    tmp, flags = run[0], run[1]
    result = _command("finetune", "--task=multilabel", f"--train_file={tmp / 'train.jsonl'}",
                      f"--predict_file={tmp / 'train.jsonl'}", "--do_train", "--do_eval",
                      "--keep_best=accuracy", f"--output_dir={tmp_path / 'best'}", *flags,
                      ok=False)
    assert "does not compute 'accuracy'; its metrics: micro_f1, macro_f1, subset_accuracy" \
        in result.stderr
    assert "f1/PER" in result.stderr
