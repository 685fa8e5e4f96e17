"""`tfbert_extend_vocab` end to end, and an export of the extended model that
tokenizes an added word as one id."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tests.checkpoints.test_extend_vocab import VOCAB, WORDS, _tf1_source, _write_vocab
from tests.helpers import randomize, tiny_config
from tfbert.checkpoints import training_checkpoint
from tfbert.serving.native_loader import NativeSavedModel


def _command(module, *flags):
    return subprocess.run([sys.executable, "-m", module, *flags], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def _words_file(tmp_path, words):
    path = tmp_path / "words.txt"
    path.write_text("".join(w + "\n" for w in words), encoding="utf-8")
    return path


def test_tf1_directory_with_summary(tmp_path):
    _, source, _ = _tf1_source(tmp_path)
    words = _words_file(tmp_path, ["# domain words"] + WORDS)
    result = _command("tfbert.cli.extend_vocab", f"--input={source}",
                      f"--words_file={words}", f"--output_dir={tmp_path / 'out'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (f"3 word(s) added: 2 [unusedN] slot(s) filled, 1 row(s) appended; vocab "
            f"{len(VOCAB)} -> {len(VOCAB) + 1}") in result.stdout
    assert f"tf1 checkpoint -> {tmp_path / 'out' / 'bert_model.ckpt'}" in result.stdout
    assert sorted(os.listdir(tmp_path / "out")) == [
        "bert_config.json", "bert_model.ckpt.data-00000-of-00001", "bert_model.ckpt.index",
        "checkpoint", "vocab.txt"]
    assert "grew bert/embeddings/word_embeddings" in result.stderr
    assert "grew cls/predictions/output_bias" in result.stderr


def test_bad_word_names_file_and_line(tmp_path):
    _, source, _ = _tf1_source(tmp_path)
    words = _words_file(tmp_path, ["genomics", "gene therapy"])
    result = _command("tfbert.cli.extend_vocab", f"--input={source}",
                      f"--words_file={words}", f"--output_dir={tmp_path / 'out'}")
    assert result.returncode == 1
    assert (f"tfbert_extend_vocab: error: word 'gene therapy' ({words}:2) contains whitespace"
            in result.stderr)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_export_of_the_extended_model_carries_the_new_vocab(tmp_path):
    """tfbert checkpoint -> tfbert_extend_vocab -> tfbert_export --task=hub: the
    exported preprocessor emits an added word as one id, and the encoder export
    accepts the new ids."""
    config = tiny_config(vocab_size=len(VOCAB))
    model = randomize(tfbert.BertClassifier(tfbert.BertEncoder(config), 2), seed=4)
    prefix = training_checkpoint(model).write(str(tmp_path / "run" / "ckpt-3"))
    vocab_file = _write_vocab(tmp_path / "vocab")
    config.to_json_file(tmp_path / "bert_config.json")

    missing = _command("tfbert.cli.extend_vocab", f"--input={prefix}",
                       f"--words_file={_words_file(tmp_path, WORDS)}",
                       f"--output_dir={tmp_path / 'x'}")
    assert missing.returncode == 1 and "give --vocab_file" in missing.stderr

    out = tmp_path / "extended"
    result = _command("tfbert.cli.extend_vocab", f"--input={prefix}",
                      f"--vocab_file={vocab_file}", f"--model={tmp_path / 'bert_config.json'}",
                      f"--words_file={_words_file(tmp_path, WORDS)}", f"--output_dir={out}")
    assert result.returncode == 0, result.stderr[-3000:]

    # The vocab and config beside the extended checkpoint are found by the export.
    export = _command("tfbert.cli.export", "--task=hub", f"--checkpoint={out / 'ckpt-3'}",
                      f"--model={out / 'bert_config.json'}", "--seq_length=16",
                      f"--export_dir={tmp_path / 'hub'}", "--version=1")
    assert export.returncode == 0, export.stderr[-3000:]
    preprocess = tf.saved_model.load(str(tmp_path / "hub" / "preprocess" / "1"))
    tokens = preprocess.tokenize(tf.constant(["the Genomics film", "filming genes!"]))
    assert tokens.to_list() == [[[7], [1], [9]], [[len(VOCAB)], [6], [15]]]
    encoder = tf.saved_model.load(str(tmp_path / "hub" / "encoder" / "1"))
    inputs = preprocess(tf.constant(["the Genomics film", "filming genes!"]))
    pooled = encoder(inputs)["pooled_output"].numpy()
    assert pooled.shape == (2, config.hidden_size) and np.isfinite(pooled).all()

    # The same through TensorFlow's C++ loader, as the model server loads the pair.
    texts = np.array([b"the Genomics film", b"filming genes!"], dtype=object)
    packed = NativeSavedModel(tmp_path / "hub" / "preprocess" / "1").run(
        "serving_default", {"text": texts})
    for key, value in inputs.items():
        np.testing.assert_array_equal(packed[key], value.numpy(), err_msg=key)
    assert packed["input_word_ids"][1, 1] == len(VOCAB)  # "filming": the added word, one id
    served = NativeSavedModel(tmp_path / "hub" / "encoder" / "1").run(
        "serving_default", {key: packed[key] for key in inputs})
    np.testing.assert_allclose(served["pooled_output"], pooled, atol=1e-5, rtol=0)
