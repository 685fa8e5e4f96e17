import importlib.util
import json
import pathlib
import subprocess
import sys

import keras
import keras_hub
import numpy as np
import pytest

import tfbert
from tests.helpers import random_inputs, randomize, tiny_config


@pytest.mark.parametrize("name, params", [
    ("bert_tiny_uncased", 4_385_920), ("bert_mini_uncased", 11_170_560),
    ("bert_small_uncased", 28_763_648), ("bert_medium_uncased", 41_373_184),
])
def test_parameter_counts_match_the_released_models(name, params):
    assert tfbert.BertEncoder(tfbert.model_config(name)).count_params() == params


@pytest.mark.slow
def test_bert_base_parameter_counts():
    encoder = tfbert.BertEncoder(tfbert.model_config("bert_base_uncased"))
    assert encoder.count_params() == 109_482_240
    assert tfbert.BertPretrainer(encoder).count_params() == 110_106_428


def test_outputs_and_names():
    config = tiny_config()
    encoder = tfbert.BertEncoder(config)
    outputs = encoder(random_inputs(config))
    assert set(outputs) == {"sequence_output", "pooled_output", "encoder_outputs"}
    assert outputs["sequence_output"].shape == (3, 16, 64)
    assert outputs["pooled_output"].shape == (3, 64)
    assert len(outputs["encoder_outputs"]) == 2
    np.testing.assert_array_equal(outputs["encoder_outputs"][-1], outputs["sequence_output"])
    assert sorted(i.name for i in keras.tree.flatten(encoder.inputs)) == sorted([
        "input_word_ids", "input_mask", "input_type_ids"])


def _keras_hub_backbone(config, encoder):
    """A keras-hub BertBackbone of the same size holding `encoder`'s weights."""
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=config.vocab_size, num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads, hidden_dim=config.hidden_size,
        intermediate_dim=config.intermediate_size, dropout=0.0,
        max_sequence_length=config.max_position_embeddings, num_segments=config.type_vocab_size)
    heads, size = config.num_attention_heads, config.head_size
    ours = {v.path: np.asarray(v) for v in encoder.weights}
    rename = {"token_embedding": "word_embeddings", "segment_embedding": "type_embeddings",
              "pooled_dense": "pooler_transform", "self_attention_layer/": "self_attention/",
              "self_attention_layer_norm": "attention_layer_norm",
              "feedforward_layer_norm": "output_layer_norm",
              "feedforward_intermediate_dense": "intermediate",
              "feedforward_output_dense": "output"}
    for variable in backbone.weights:
        path = variable.path
        for theirs, mine in rename.items():
            path = path.replace(theirs, mine)
        value = ours[path]
        if "attention_output/kernel" in path:
            value = value.reshape(heads, size, -1)
        elif "self_attention/" in path and path.endswith("kernel"):
            value = value.reshape(-1, heads, size)
        elif "self_attention/" in path and "attention_output" not in path:
            value = value.reshape(heads, size)
        variable.assign(value)
    return backbone


def test_matches_keras_hub_bert_backbone_with_padding():
    config = tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    encoder = randomize(tfbert.BertEncoder(config))
    backbone = _keras_hub_backbone(config, encoder)
    inputs = random_inputs(config, batch=4, seq=20)
    ours = encoder(inputs)
    theirs = backbone({"token_ids": inputs["input_word_ids"],
                       "segment_ids": inputs["input_type_ids"],
                       "padding_mask": inputs["input_mask"]})
    mask = inputs["input_mask"][..., None]
    # keras-hub masks with -1e9 where the original adds -10000; real tokens agree.
    np.testing.assert_allclose(np.asarray(ours["sequence_output"]) * mask,
                               np.asarray(theirs["sequence_output"]) * mask, atol=1e-5)
    np.testing.assert_allclose(ours["pooled_output"], theirs["pooled_output"], atol=1e-5)


@pytest.mark.slow
def test_matches_huggingface_bert_model_with_padding(tmp_path):
    if not all(importlib.util.find_spec(m) for m in ("torch", "transformers")):
        pytest.skip("the HuggingFace comparison needs torch and transformers")
    from tfbert.checkpoints import bert_encoder_from_huggingface

    config = tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    hf_config = {**config.to_dict(), "hidden_act": "gelu_new"}  # HF's name for the tanh GELU
    (tmp_path / "config.json").write_text(json.dumps(hf_config))
    inputs = random_inputs(config, batch=4, seq=20)
    np.savez(tmp_path / "inputs.npz", **inputs)
    # PyTorch and TensorFlow in one process crash at import: HF runs in its own.
    subprocess.run([sys.executable, str(pathlib.Path(__file__).parent / "hf_reference.py"),
                    str(tmp_path / "config.json"), str(tmp_path / "inputs.npz"),
                    str(tmp_path / "hf")], check=True, timeout=300)
    theirs = np.load(tmp_path / "hf" / "outputs.npz")
    encoder = bert_encoder_from_huggingface(tmp_path / "hf")
    assert encoder.config.hidden_act == "gelu"
    ours = encoder(inputs)
    np.testing.assert_allclose(ours["sequence_output"], theirs["sequence_output"], atol=1e-5)
    np.testing.assert_allclose(ours["pooled_output"], theirs["pooled_output"], atol=1e-5)
    # The same weights from pytorch_model.bin (torch.load with weights_only=True).
    (tmp_path / "hf" / "model.safetensors").unlink()
    from_bin = bert_encoder_from_huggingface(tmp_path / "hf")(inputs)
    np.testing.assert_array_equal(from_bin["sequence_output"], ours["sequence_output"])


def test_too_long_input_is_a_clear_error():
    config = tiny_config(max_position_embeddings=16)
    encoder = tfbert.BertEncoder(config)
    with pytest.raises(Exception, match="longer than max_position_embeddings=16"):
        encoder(random_inputs(config, seq=17))
    static = tfbert.BertEncoder(config, seq_length=16)
    assert static(random_inputs(config, seq=16))["sequence_output"].shape == (3, 16, 64)


def test_one_hot_embeddings_give_the_same_outputs():
    config = tiny_config()
    gather = tfbert.BertEncoder(config)
    one_hot = tfbert.BertEncoder(config, use_one_hot_embeddings=True)
    one_hot.set_weights(gather.get_weights())
    inputs = random_inputs(config)
    np.testing.assert_allclose(gather(inputs)["sequence_output"],
                               one_hot(inputs)["sequence_output"], atol=1e-5)


@pytest.mark.parametrize("policy, atol", [("mixed_bfloat16", 0.1), ("mixed_float16", 0.02)])
def test_mixed_precision_keeps_variables_float32(policy, atol):
    config = tiny_config(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    reference = tfbert.BertEncoder(config)
    mixed = tfbert.BertEncoder(config, dtype=policy)
    mixed.set_weights(reference.get_weights())
    assert all(v.dtype == "float32" for v in mixed.weights)
    inputs = random_inputs(config)
    out = mixed(inputs)
    assert out["sequence_output"].dtype.name == policy.split("_")[1]
    ln = mixed.transformer_layers[0].output_layer_norm
    assert ln.dtype_policy.name == policy  # Keras computes LayerNorm in float32 internally
    np.testing.assert_allclose(np.asarray(out["sequence_output"], "float32"),
                               reference(inputs)["sequence_output"], atol=atol)
