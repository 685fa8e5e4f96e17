"""Google TF1 checkpoints: a real TF1-format checkpoint, written here with
`tf.compat.v1` graph-mode variables of the original names and shapes."""

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tests.helpers import random_inputs, tiny_config
from tfbert.checkpoints import load_tf1_checkpoint, read_tf1_checkpoint, save_tf1_checkpoint


def original_variable_shapes(config):
    """Names and shapes of a pre-training checkpoint, as google-research/bert writes them."""
    h, i, v = config.hidden_size, config.intermediate_size, config.vocab_size
    shapes = {
        "bert/embeddings/word_embeddings": [v, h],
        "bert/embeddings/token_type_embeddings": [config.type_vocab_size, h],
        "bert/embeddings/position_embeddings": [config.max_position_embeddings, h],
        "bert/embeddings/LayerNorm/beta": [h], "bert/embeddings/LayerNorm/gamma": [h],
        "bert/pooler/dense/kernel": [h, h], "bert/pooler/dense/bias": [h],
        "cls/predictions/transform/dense/kernel": [h, h],
        "cls/predictions/transform/dense/bias": [h],
        "cls/predictions/transform/LayerNorm/beta": [h],
        "cls/predictions/transform/LayerNorm/gamma": [h],
        "cls/predictions/output_bias": [v],
        "cls/seq_relationship/output_weights": [2, h],
        "cls/seq_relationship/output_bias": [2],
    }
    for n in range(config.num_hidden_layers):
        layer = f"bert/encoder/layer_{n}"
        for part in ("attention/self/query", "attention/self/key", "attention/self/value",
                     "attention/output/dense"):
            shapes[f"{layer}/{part}/kernel"] = [h, h]
            shapes[f"{layer}/{part}/bias"] = [h]
        shapes[f"{layer}/intermediate/dense/kernel"] = [h, i]
        shapes[f"{layer}/intermediate/dense/bias"] = [i]
        shapes[f"{layer}/output/dense/kernel"] = [i, h]
        shapes[f"{layer}/output/dense/bias"] = [h]
        for norm in ("attention/output/LayerNorm", "output/LayerNorm"):
            shapes[f"{layer}/{norm}/beta"] = [h]
            shapes[f"{layer}/{norm}/gamma"] = [h]
    return shapes


def write_original_checkpoint(prefix, shapes, seed=0):
    """A TF1 checkpoint with Adam slots and global_step, as a TF1 training run leaves it."""
    rng = np.random.default_rng(seed)
    values = {name: rng.normal(0, 0.2, shape).astype("float32") for name, shape in shapes.items()}
    graph = tf.Graph()
    with graph.as_default():
        variables = []
        for name, value in values.items():
            variables.append(tf.compat.v1.get_variable(name, initializer=value))
            for slot in ("adam_m", "adam_v"):
                variables.append(tf.compat.v1.get_variable(
                    f"{name}/{slot}", initializer=np.full(value.shape, 7.0, "float32")))
        variables.append(tf.compat.v1.train.get_or_create_global_step())
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(prefix))
    return values


@pytest.fixture()
def original(tmp_path):
    config = tiny_config()
    prefix = tmp_path / "orig" / "bert_model.ckpt"
    values = write_original_checkpoint(prefix, original_variable_shapes(config))
    return config, prefix, values


def test_loads_into_pretrainer_with_original_math(original):
    config, prefix, values = original
    model = tfbert.BertPretrainer(tfbert.BertEncoder(config))
    assert load_tf1_checkpoint(model, prefix) == []
    encoder = model.encoder
    np.testing.assert_array_equal(encoder.word_embeddings.embeddings,
                                  values["bert/embeddings/word_embeddings"])
    np.testing.assert_array_equal(
        encoder.transformer_layers[1].self_attention.value.kernel,
        values["bert/encoder/layer_1/attention/self/value/kernel"])
    np.testing.assert_array_equal(model.masked_lm.output_bias,
                                  values["cls/predictions/output_bias"])
    # NSP as the original: pooled_output @ output_weights^T + output_bias.
    inputs = random_inputs(config)
    inputs["masked_lm_positions"] = np.array([[1, 2]] * 3, "int32")
    outputs = model(inputs)
    pooled = encoder(random_inputs(config))["pooled_output"]
    expected = np.asarray(pooled) @ values["cls/seq_relationship/output_weights"].T + \
        values["cls/seq_relationship/output_bias"]
    np.testing.assert_allclose(outputs["next_sentence_logits"], expected, atol=1e-5)


def test_encoder_alone_reports_the_unused_heads(original):
    config, prefix, _ = original
    unused = load_tf1_checkpoint(tfbert.BertEncoder(config), prefix)
    assert unused and all(name.startswith("cls/") for name in unused)


def test_round_trip_gives_identical_tensors(original, tmp_path):
    config, prefix, values = original
    model = tfbert.BertPretrainer(tfbert.BertEncoder(config))
    load_tf1_checkpoint(model, prefix)
    out = save_tf1_checkpoint(model, tmp_path / "export" / "bert_model.ckpt")
    written = read_tf1_checkpoint(out)
    assert set(written) == set(values)
    for name, value in values.items():
        np.testing.assert_array_equal(written[name], value, err_msg=name)
    assert tfbert.BertConfig.from_json_file(tmp_path / "export" / "bert_config.json") == config
    # And the exported checkpoint loads back into a fresh model.
    again = tfbert.BertPretrainer(tfbert.BertEncoder(config))
    load_tf1_checkpoint(again, tmp_path / "export")
    for a, b in zip(model.weights, again.weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_missing_variable_is_named(tmp_path):
    config = tiny_config()
    shapes = original_variable_shapes(config)
    del shapes["bert/encoder/layer_1/intermediate/dense/bias"]
    write_original_checkpoint(tmp_path / "ckpt", shapes)
    with pytest.raises(ValueError, match="layer_1/intermediate/dense/bias"):
        load_tf1_checkpoint(tfbert.BertEncoder(config), tmp_path / "ckpt")


def test_wrong_shape_is_named(tmp_path):
    config = tiny_config()
    shapes = original_variable_shapes(config)
    shapes["bert/encoder/layer_0/attention/self/key/kernel"] = [64, 32]
    write_original_checkpoint(tmp_path / "ckpt", shapes)
    encoder = tfbert.BertEncoder(config)
    before = [np.asarray(w) for w in encoder.weights]
    with pytest.raises(ValueError, match=r"layer_0/attention/self/key/kernel has shape \[64, 32\]"):
        load_tf1_checkpoint(encoder, tmp_path / "ckpt")
    for a, b in zip(before, encoder.weights, strict=True):  # nothing half-loaded
        np.testing.assert_array_equal(a, b)


def test_no_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_tf1_checkpoint(tfbert.BertEncoder(tiny_config()), tmp_path / "nothing")


@pytest.mark.parametrize("make, head_names", [
    (lambda e: tfbert.BertClassifier(e, 3), ["output_weights", "output_bias"]),
    (lambda e: tfbert.BertSpanLabeler(e), ["cls/squad/output_weights", "cls/squad/output_bias"]),
])
def test_fine_tuning_heads_use_the_original_names(make, head_names, tmp_path):
    model = make(tfbert.BertEncoder(tiny_config()))
    written = read_tf1_checkpoint(save_tf1_checkpoint(model, tmp_path / "m.ckpt"))
    for name in head_names:
        assert name in written
    assert written[head_names[0]].shape[1] == 64  # stored [outputs, hidden]
