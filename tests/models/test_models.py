import keras
import numpy as np
import pytest

import tfbert
from tests.helpers import random_inputs, tiny_config

MODELS = {
    "pretrainer": lambda e: tfbert.BertPretrainer(e),
    "classifier": lambda e: tfbert.BertClassifier(e, num_classes=3),
    "span_labeler": lambda e: tfbert.BertSpanLabeler(e),
    "token_classifier": lambda e: tfbert.BertTokenClassifier(e, num_classes=5),
}


def model_inputs(model, config, **kwargs):
    inputs = random_inputs(config, **kwargs)
    if isinstance(model, tfbert.BertPretrainer):
        inputs["masked_lm_positions"] = np.tile(np.array([[1, 3, 0]], "int32"),
                                                (len(inputs["input_mask"]), 1))
    return inputs


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_keras_file_round_trip(kind, tmp_path):
    config = tiny_config()
    model = MODELS[kind](tfbert.BertEncoder(config))
    inputs = model_inputs(model, config)
    expected = model(inputs)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    assert loaded.encoder.config == config
    got = loaded(inputs)
    for name in expected:
        np.testing.assert_array_equal(expected[name], got[name], err_msg=name)


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_output_shapes_and_float32_logits(kind):
    config = tiny_config()
    model = MODELS[kind](tfbert.BertEncoder(config, dtype="mixed_bfloat16"))
    outputs = model(model_inputs(model, config, batch=2, seq=8))
    shapes = {
        "pretrainer": {"mlm_logits": (2, 3, 120), "next_sentence_logits": (2, 2)},
        "classifier": {"logits": (2, 3)},
        "span_labeler": {"start_logits": (2, 8), "end_logits": (2, 8)},
        "token_classifier": {"logits": (2, 8, 5)},
    }[kind]
    assert {k: tuple(v.shape) for k, v in outputs.items()} == shapes
    assert all(v.dtype.name == "float32" for v in outputs.values())


def test_classifier_trains_with_model_fit():
    config = tiny_config()
    model = tfbert.BertClassifier(tfbert.BertEncoder(config), num_classes=2)
    inputs = random_inputs(config, batch=64, seq=12, pad=False)
    labels = (inputs["input_word_ids"][:, 1] % 2).astype("int32")  # learnable from token 1
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss={"logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
                  metrics={"logits": ["accuracy"]})
    history = model.fit(inputs, {"logits": labels}, batch_size=16, epochs=12, verbose=0,
                        shuffle=True)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses


def test_pretrainer_trains_with_model_fit():
    config = tiny_config()
    model = tfbert.BertPretrainer(tfbert.BertEncoder(config))
    inputs = model_inputs(model, config, batch=32, seq=12, pad=False)
    targets = {"mlm_logits": inputs["input_word_ids"][:, [1, 3, 0]],
               "next_sentence_logits": (inputs["input_word_ids"][:, 2] % 2).astype("int32")}
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss={"mlm_logits": loss, "next_sentence_logits": loss})
    history = model.fit(inputs, targets, batch_size=8, epochs=10, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses
