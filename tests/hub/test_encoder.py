"""The hub pair inside Keras 3 (tiny random model): the TFSMLayer model of
docs/serving.md gives the source's outputs, `load_encoder` restores the source's
weights exactly and trains as the source does, and bad paths fail clearly."""

import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tests.helpers import randomize, tiny_config
from tests.serving.conftest import VOCAB
from tfbert.hub import export_config, load_encoder
from tfbert.serving import hub

SENTENCES = ["the film was a delight", "dull , boring .", "who won the game ?", ""]


@pytest.fixture(scope="module")
def pair(tmp_path_factory, preprocessor):
    """`(preprocess path, encoder path, source encoder)`, both exports at version 3."""
    source = randomize(tfbert.BertEncoder(tiny_config(vocab_size=len(VOCAB))), seed=11)
    base = tmp_path_factory.mktemp("hub")
    return (hub.export_preprocessing(str(base / "preprocess"), preprocessor, version=3),
            hub.export_encoder(str(base / "encoder"), source, version=3), source)


def test_keras_functional_model_of_the_pair_gives_the_source_outputs(pair, preprocessor):
    preprocess_path, encoder_path, source = pair
    # The code of docs/serving.md, "Inside Keras 3".
    text = keras.Input(shape=(), dtype="string", name="text")
    packed = keras.layers.TFSMLayer(preprocess_path, call_endpoint="serving_default")(text)
    outputs = keras.layers.TFSMLayer(encoder_path, call_endpoint="__call__")(packed)
    model = keras.Model(text, outputs)

    got = model(tf.constant(SENTENCES))
    expected = source(preprocessor(tf.constant(SENTENCES)), training=False)
    for key in ("pooled_output", "sequence_output"):
        np.testing.assert_allclose(got[key], expected[key], atol=1e-5, rtol=0)
    np.testing.assert_allclose(got["default"], expected["pooled_output"], atol=1e-5, rtol=0)
    assert len(got["encoder_outputs"]) == 2
    np.testing.assert_allclose(got["encoder_outputs"][0], expected["encoder_outputs"][0],
                               atol=1e-5, rtol=0)
    # A random encoder's outputs are far from zero: the comparison has something to compare.
    assert float(tf.reduce_max(tf.abs(expected["sequence_output"]))) > 0.1


def test_load_encoder_restores_config_and_weights_bit_for_bit(pair):
    _, encoder_path, source = pair
    assert os.path.isfile(os.path.join(encoder_path, "assets", "bert_config.json"))
    assert export_config(encoder_path) == source.config
    # The base directory of versions works too (its highest version).
    for path in (encoder_path, os.path.dirname(encoder_path)):
        encoder = load_encoder(path)
        assert isinstance(encoder, tfbert.BertEncoder) and encoder.trainable
        assert [v.path for v in encoder.trainable_variables] == \
            [v.path for v in source.trainable_variables]
        for restored, original in zip(encoder.trainable_variables, source.trainable_variables,
                                      strict=True):
            np.testing.assert_array_equal(restored.numpy(), original.numpy(),
                                          err_msg=restored.path)
    inputs = source.dummy_inputs(batch_size=2, seq_length=8)
    inputs["input_mask"][1, 5:] = 0
    got, expected = encoder(inputs, training=False), source(inputs, training=False)
    np.testing.assert_array_equal(got["sequence_output"], expected["sequence_output"])
    np.testing.assert_array_equal(got["pooled_output"], expected["pooled_output"])


def test_frozen_encoder_has_no_trainable_weights(pair):
    encoder = load_encoder(pair[1], trainable=False)
    assert not encoder.trainable and encoder.trainable_weights == []
    assert len(encoder.weights) == len(pair[2].weights)


def _train(encoder, seed=5, steps=4):
    """Per-step losses of a classifier on `encoder`, dropout on, Adam."""
    rng = np.random.default_rng(0)
    ids = rng.integers(5, len(VOCAB), size=(8, 12)).astype("int32")
    inputs = {"input_word_ids": ids, "input_mask": np.ones_like(ids),
              "input_type_ids": np.zeros_like(ids)}
    labels = np.array([0, 1] * 4, "int32")
    model = tfbert.BertClassifier(encoder, num_classes=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss={"logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    losses = []
    for step in range(steps):
        rows = slice(4 * (step % 2), 4 * (step % 2) + 4)
        logs = model.train_on_batch({k: v[rows] for k, v in inputs.items()},
                                    {"logits": labels[rows]}, return_dict=True)
        losses.append(float(logs["loss"]))
    return losses


def test_restored_encoder_trains_as_the_source(pair):
    """Same seed, same data: a head on the restored encoder and a head on a copy of the
    source's weights start bit-identical and give equal losses step by step."""
    _, encoder_path, source = pair
    keras.utils.set_random_seed(3)
    copy = tfbert.BertEncoder(source.config)
    copy.set_weights(source.get_weights())
    from_source = _train(copy)
    keras.utils.set_random_seed(3)
    from_export = _train(load_encoder(encoder_path))
    assert len(set(from_source)) > 1  # the loss moves: the steps trained something
    np.testing.assert_allclose(from_export, from_source, rtol=1e-6, atol=0)


def test_reusable_call_trains_the_encoders_own_weights(pair):
    # TF Hub users fine-tune the encoder through `__call__` (`hub.KerasLayer(
    # trainable=True)`): its gradient must reach the saved trainable weights, attention
    # kernels included (not copies laid out for serving, which no optimizer updates).
    _, encoder_path, source = pair
    loaded = tf.saved_model.load(encoder_path)
    inputs = {k: tf.constant(v) for k, v in source.dummy_inputs(2, 8).items()}
    with tf.GradientTape() as tape:
        outputs = loaded(inputs)
        loss = tf.reduce_sum(outputs["sequence_output"] ** 2) + tf.reduce_sum(
            outputs["pooled_output"])
    gradients = tape.gradient(loss, loaded.trainable_variables)
    reached = {v.name for v, g in zip(loaded.trainable_variables, gradients, strict=True)
               if g is not None}
    kernels = {v.name for v in loaded.trainable_variables
               if "self_attention" in v.name and "kernel" in v.name}
    assert len(kernels) == 4 * source.config.num_hidden_layers
    assert kernels <= reached, sorted(kernels - reached)


def test_not_an_encoder_export(pair, tmp_path):
    preprocess_path = pair[0]
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_encoder(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="is not a SavedModel"):
        load_encoder(str(tmp_path))
    with pytest.raises(ValueError, match=r"not a tfbert encoder export.*preprocessing export"):
        load_encoder(preprocess_path)


def test_old_export_without_config_says_how_to_export_again(pair, tmp_path):
    old = tmp_path / "encoder"
    shutil.copytree(pair[1], old)
    os.remove(old / "assets" / "bert_config.json")
    with pytest.raises(ValueError, match=r"no assets/bert_config.json.*older tfbert.*"
                                         r"tfbert_export --task=hub"):
        load_encoder(str(old))


def test_config_that_does_not_fit_the_weights_is_named(pair, tmp_path):
    changed = tmp_path / "encoder"
    shutil.copytree(pair[1], changed)
    config_file = changed / "assets" / "bert_config.json"
    values = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**values, "intermediate_size": 96}))
    with pytest.raises(ValueError, match=r"shaped unlike the config: "
                                         r"transformer_layer_0/intermediate/kernel \(64, 128\)"):
        load_encoder(str(changed))
