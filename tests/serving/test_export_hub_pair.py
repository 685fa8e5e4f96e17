"""The TF Hub-style pair: code written for TF Hub's BERT works with it, and
the model server's loader runs both SavedModels."""

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tests.helpers import randomize
from tests.serving.conftest import VOCAB, text_array
from tests.serving.test_export_signatures import SENTENCES, assert_same
from tfbert.serving import NativeSavedModel, hub, unsupported_ops
from tfbert.serving.warmup import read_warmup_requests


@pytest.fixture(scope="module")
def pair(tmp_path_factory, preprocessor):
    from tests.helpers import tiny_config

    encoder = randomize(tfbert.BertEncoder(tiny_config(vocab_size=len(VOCAB))), seed=7)
    base = tmp_path_factory.mktemp("hub")
    return (hub.export_preprocessing(str(base / "preprocess"), preprocessor, version=3),
            hub.export_encoder(str(base / "encoder"), encoder, version=3), encoder)


@pytest.mark.slow
def test_tf_hub_interface(pair, preprocessor):
    preprocess_path, encoder_path, encoder = pair
    preprocess = tf.saved_model.load(preprocess_path)
    hub_encoder = tf.saved_model.load(encoder_path)
    text = tf.constant(SENTENCES)
    packed = preprocess(text)
    for key, value in preprocessor(text).items():
        np.testing.assert_array_equal(packed[key], value)
    outputs = hub_encoder(packed)
    expected = encoder(packed)
    assert len(outputs["encoder_outputs"]) == 2
    np.testing.assert_allclose(outputs["pooled_output"], expected["pooled_output"], atol=1e-5)
    np.testing.assert_allclose(outputs["default"], expected["pooled_output"], atol=1e-5)
    np.testing.assert_allclose(outputs["sequence_output"], expected["sequence_output"],
                               atol=1e-5)
    np.testing.assert_allclose(outputs["encoder_outputs"][0], expected["encoder_outputs"][0],
                               atol=1e-5)

    # tokenize -> bert_pack_inputs(seq_length=) as in TF Hub's BERT tutorials.
    tokens = preprocess.tokenize(tf.constant(["The film.", "who won?"]))
    assert tokens.shape.rank == 3
    assert tokens.to_list() == preprocessor.tokenize(tf.constant(["The film.",
                                                                  "who won?"])).to_list()
    pair_packed = preprocess.bert_pack_inputs([tokens, tokens], seq_length=10)
    expected_pair = preprocessor.bert_pack_inputs([tokens, tokens], seq_length=10)
    for key, value in expected_pair.items():
        np.testing.assert_array_equal(pair_packed[key], value)
    one = preprocess.bert_pack_inputs([tokens.merge_dims(1, 2)], seq_length=6)
    assert one["input_word_ids"].shape == (2, 6)
    special = {k: int(v) for k, v in preprocess.get_special_tokens_dict().items()}
    assert special == preprocessor.get_special_tokens_dict()
    assert (tf.io.read_file(preprocess.vocab_file.asset_path).numpy().decode().split("\n")[:5]
            == VOCAB[:5])


@pytest.mark.slow
def test_model_server_loader_runs_the_pair(pair, preprocessor):
    preprocess_path, encoder_path, encoder = pair
    assert unsupported_ops(preprocess_path) == [] and unsupported_ops(encoder_path) == []
    packed = NativeSavedModel(preprocess_path).run("serving_default",
                                                   {"text": text_array(*SENTENCES)})
    assert_same(packed, {k: v.numpy() for k, v in preprocessor(tf.constant(SENTENCES)).items()})
    runner = NativeSavedModel(encoder_path)
    outputs = runner.run("serving_default", packed)
    expected = encoder(packed)
    assert sorted(outputs) == ["default", "encoder_outputs_0", "encoder_outputs_1",
                               "pooled_output", "sequence_output"]
    np.testing.assert_allclose(outputs["encoder_outputs_1"], expected["encoder_outputs"][1],
                               atol=1e-5)
    np.testing.assert_allclose(outputs["pooled_output"], expected["pooled_output"], atol=1e-5)
    for path in (preprocess_path, encoder_path):
        requests = read_warmup_requests(path)
        assert [name for name, _ in requests] == ["serving_default"]
        NativeSavedModel(path).run_many(requests)
