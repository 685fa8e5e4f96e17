"""`tfbert.explain.attention_maps`: every layer's and head's attention probabilities,
from the forward pass that gives the outputs (bit-equal to a call), rows that are
distributions over the real tokens, and HuggingFace's on the real all-MiniLM-L6-v2."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

import tfbert
from tests.helpers import random_inputs, randomize, tiny_config
from tfbert.explain import attention_maps, check_layer_head


@pytest.fixture(scope="module")
def classifier():
    return randomize(tfbert.BertClassifier(tfbert.BertEncoder(tiny_config()), 3), seed=4)


def test_outputs_computed_alongside_are_bit_equal_to_a_call(classifier):
    inputs = random_inputs(classifier.encoder.config, batch=3, seq=16)
    maps = attention_maps(classifier, inputs)
    np.testing.assert_array_equal(maps.outputs["logits"], classifier(inputs)["logits"])
    encoder = classifier.encoder
    alone = attention_maps(encoder, inputs)
    called = encoder(inputs)
    for name in ("sequence_output", "pooled_output"):
        np.testing.assert_array_equal(alone.outputs[name], called[name])
    for ours, theirs in zip(alone.outputs["encoder_outputs"], called["encoder_outputs"],
                            strict=True):
        np.testing.assert_array_equal(ours, theirs)
    # The same probabilities through the task model and the encoder alone.
    for a, b in zip(maps.probs, alone.probs, strict=True):
        np.testing.assert_array_equal(a, b)


def test_rows_are_distributions_over_the_real_tokens(classifier):
    config = classifier.encoder.config
    inputs = random_inputs(config, batch=3, seq=16)  # rows 1 and 2 end in padding
    maps = attention_maps(classifier, inputs)
    assert maps.num_layers == config.num_hidden_layers
    assert maps.num_heads == config.num_attention_heads
    mask = inputs["input_mask"].astype(bool)
    for probs in maps.probs:
        assert probs.shape == (3, config.num_attention_heads, 16, 16)
        assert (probs >= 0).all()
        keys = mask[:, None, None, :]
        np.testing.assert_allclose(np.where(keys, probs, 0).sum(-1), 1.0, atol=1e-6)
        assert (probs[~np.broadcast_to(keys, probs.shape)] == 0).all()
        assert mask[1].sum() < 16 and (probs[1, :, :, mask[1].sum():] == 0).all()


def test_a_layer_or_head_that_does_not_exist_is_named(classifier):
    maps = attention_maps(classifier, random_inputs(classifier.encoder.config, batch=1))
    assert maps.head(-1, 3).shape == (16, 16)
    with pytest.raises(ValueError, match="layer 2 does not exist: the model has 2 layers"):
        maps.head(2, 0)
    with pytest.raises(ValueError, match="head 4 does not exist: the model has 4 heads"):
        check_layer_head(2, 4, 0, 4)


@pytest.mark.slow
def test_real_minilm_attention_equals_huggingface(tmp_path):
    from tfbert.checkpoints import installed_minilm_dir
    from tfbert.checkpoints.loader import load_model
    from tfbert.explain import encode_text
    from tfbert.text import BertTokenizer

    try:
        source = installed_minilm_dir()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    tokenizer = BertTokenizer(f"{source}/vocab.txt")
    long = encode_text(tokenizer, "The film was a delight, unbelievably charming!",
                       "Nobody expected it to be this good.").inputs
    short = encode_text(tokenizer, "Dull.").inputs
    seq = long["input_word_ids"].shape[1]
    inputs = {k: np.concatenate([long[k], np.pad(short[k], ((0, 0), (0, seq - short[k].shape[1])))])
              for k in long}  # the second row is padded
    np.savez(tmp_path / "inputs.npz", **inputs)
    subprocess.run([sys.executable, str(pathlib.Path(__file__).parent / "hf_attentions.py"),
                    source, str(tmp_path / "inputs.npz"), str(tmp_path / "hf.npz")],
                   check=True, timeout=300)
    theirs = np.load(tmp_path / "hf.npz")
    maps = attention_maps(load_model(source), inputs)
    assert maps.num_layers == 6 and maps.num_heads == 12
    for layer, ours in enumerate(maps.probs):
        # HuggingFace gives padded keys exp(finfo.min) = 0; the original's -10000 gives 0 too.
        np.testing.assert_allclose(ours, theirs[f"layer_{layer}"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(maps.outputs["sequence_output"], theirs["sequence_output"],
                               atol=1e-4)
