"""The `tfbert_convert_checkpoint` command, run as users run it (a subprocess)."""

import subprocess
import sys

import keras
import numpy as np

import tfbert
from tests.checkpoints.test_google_tf1 import original_variable_shapes, write_original_checkpoint
from tests.helpers import random_inputs, tiny_config
from tfbert.checkpoints import read_tf1_checkpoint


def convert(*args):
    return subprocess.run([sys.executable, "-m", "tfbert.cli.convert_checkpoint", *args],
                          capture_output=True, text=True, timeout=300)


def test_tf1_to_keras_and_back(tmp_path):
    config = tiny_config()
    values = write_original_checkpoint(tmp_path / "orig" / "bert_model.ckpt",
                                       original_variable_shapes(config))
    config.to_json_file(tmp_path / "orig" / "bert_config.json")
    result = convert(f"--tf1_checkpoint={tmp_path / 'orig' / 'bert_model.ckpt'}",
                     f"--output_path={tmp_path / 'model.keras'}")
    assert result.returncode == 0, result.stderr
    assert "BertPretrainer" in result.stdout
    model = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(model.encoder.word_embeddings.embeddings,
                                  values["bert/embeddings/word_embeddings"])

    result = convert(f"--tf1_checkpoint={tmp_path / 'orig'}", "--output_format=tf1",
                     f"--output_path={tmp_path / 'back' / 'bert_model.ckpt'}")
    assert result.returncode == 0, result.stderr
    written = read_tf1_checkpoint(tmp_path / "back" / "bert_model.ckpt")
    assert set(written) == set(values)
    for name in values:
        np.testing.assert_array_equal(written[name], values[name])


def test_hf_to_keras(tmp_path):
    encoder = tfbert.BertEncoder(tiny_config())
    hf_dir = tmp_path / "hf"
    hf_dir.mkdir()
    from safetensors.numpy import save_file

    from tfbert.checkpoints.variable_table import model_entries, relayout

    save_file({e.hf_name: np.ascontiguousarray(relayout(np.asarray(e.variable), e.hf_layout))
               for e in model_entries(encoder)}, str(hf_dir / "model.safetensors"))
    (hf_dir / "config.json").write_text(
        '{"vocab_size": 120, "hidden_size": 64, "num_hidden_layers": 2, '
        '"num_attention_heads": 4, "intermediate_size": 128, "max_position_embeddings": 32, '
        '"type_vocab_size": 2, "hidden_act": "gelu_new", "model_type": "bert"}')
    result = convert(f"--hf_model_dir={hf_dir}", f"--output_path={tmp_path / 'enc.keras'}")
    assert result.returncode == 0, result.stderr
    loaded = keras.models.load_model(tmp_path / "enc.keras")
    inputs = random_inputs(encoder.config)
    np.testing.assert_array_equal(loaded(inputs)["sequence_output"],
                                  encoder(inputs)["sequence_output"])


def test_bad_flags_are_clear(tmp_path):
    result = convert(f"--output_path={tmp_path / 'x.keras'}")
    assert result.returncode != 0
    assert "exactly one of --tf1_checkpoint and --hf_model_dir" in result.stderr
    result = convert(f"--tf1_checkpoint={tmp_path / 'missing'}",
                     f"--output_path={tmp_path / 'x.keras'}")
    assert result.returncode != 0
    assert "no checkpoint at" in result.stderr
