"""`tfbert_export` end to end: a tfbert checkpoint in, a versioned SavedModel out."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tests.helpers import randomize, skip_without_onednn, tiny_config
from tests.serving.conftest import VOCAB, text_array
from tfbert.checkpoints import training_checkpoint
from tfbert.serving import NativeSavedModel, saved_model_ops, unsupported_ops


def _export(*flags):
    return subprocess.run([sys.executable, "-m", "tfbert.cli.export", *flags],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def _classifier_flags(tmp_path, vocab_file):
    """A tiny classifier's checkpoint; `(model, the export flags but --version)`."""
    config = tiny_config(vocab_size=len(VOCAB))
    config.to_json_file(tmp_path / "bert_config.json")
    model = randomize(tfbert.BertClassifier(tfbert.BertEncoder(config), 2), seed=3)
    prefix = training_checkpoint(model).write(str(tmp_path / "run" / "ckpt-1"))
    return model, [f"--checkpoint={prefix}", f"--model={tmp_path / 'bert_config.json'}",
                   f"--vocab_file={vocab_file}", "--task=classification", "--seq_length=16",
                   "--label_names=negative,positive",
                   f"--export_dir={tmp_path / 'models' / 'sst2'}"]


@pytest.mark.slow
def test_export_cli_from_a_checkpoint(tmp_path, vocab_file):
    model, flags = _classifier_flags(tmp_path, vocab_file)
    flags.append("--version=7")
    result = _export(*flags)
    assert result.returncode == 0, result.stderr[-3000:]
    path = tmp_path / "models" / "sst2" / "7"
    assert f"exported {path}" in result.stdout
    assert unsupported_ops(path) == []
    texts = ["the film was a delight", "boring"]
    out = NativeSavedModel(path).run("serving_default", {"text": text_array(*texts)})
    preprocessor = tfbert.text.BertPreprocessor(vocab_file, seq_length=16)
    expected = np.asarray(model(preprocessor(tf.constant(texts)))["logits"])
    np.testing.assert_allclose(out["logits"], expected, atol=1e-5)
    assert set(out["label"]) <= {b"negative", b"positive"}

    again = _export(*flags)  # the same version again: refused, nothing touched
    assert again.returncode != 0 and "never overwritten" in again.stderr
    assert sorted(os.listdir(tmp_path / "models" / "sst2")) == ["7"]

    # An encoder-only checkpoint cannot become a classifier export.
    encoder_only = tf.train.Checkpoint(encoder=model.encoder).write(str(tmp_path / "enc"))
    wrong = _export(*[f for f in flags if not f.startswith(("--checkpoint", "--version"))],
                    f"--checkpoint={encoder_only}", "--version=8")
    assert wrong.returncode != 0 and "has no BertClassifier head" in wrong.stderr
    assert not (tmp_path / "models" / "sst2" / "8").exists()


@pytest.mark.slow
def test_export_cli_int8(tmp_path, vocab_file):
    skip_without_onednn()
    model, flags = _classifier_flags(tmp_path, vocab_file)
    calibration = tmp_path / "texts.txt"
    calibration.write_text("the film was a delight\nboring\nwho won the game ?\n",
                           encoding="utf-8")
    result = _export(*flags, "--version=9", "--quantize=int8",
                     f"--calibration_file={calibration}")
    assert result.returncode == 0, result.stderr[-3000:]
    path = tmp_path / "models" / "sst2" / "9"
    # 2 blocks x 4 products, in the whole-batch model call and in the slices' one.
    assert saved_model_ops(path).get("QuantizedMatMulWithBiasAndDequantize") == 2 * 2 * 4
    assert unsupported_ops(path) == []
    # 24 texts x 7 pieces, one batch (under 32 texts: no length-sorted slices): int8.
    texts = ["the film was a delight", "who won the game ?"] * 12
    out = NativeSavedModel(path).run("serving_default", {"text": text_array(*texts)})
    preprocessor = tfbert.text.BertPreprocessor(vocab_file, seq_length=16)
    expected = np.asarray(model(preprocessor(tf.constant(texts)))["logits"])
    assert 1e-4 < np.abs(out["logits"] - expected).max() < 0.1 * np.abs(expected).max()

    alone = _export(*flags, "--version=10", f"--calibration_file={calibration}")
    assert alone.returncode != 0 and "it has no use without --quantize" in alone.stderr
    hub = _export(*[f for f in flags if not f.startswith(("--task", "--label_names"))],
                  "--task=hub", "--version=11", "--quantize=int8")
    assert hub.returncode != 0 and "it has no quantized form" in hub.stderr
