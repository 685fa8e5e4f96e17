"""The C program that loads SavedModels with TF_LoadSessionFromSavedModel, as
tensorflow_model_server does, on a real Keras 3 export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tests.helpers import random_inputs, tiny_config
from tfbert.serving import NativeLoadError, NativeSavedModel


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    config = tiny_config()
    model = tfbert.BertClassifier(tfbert.BertEncoder(config), num_classes=3)
    inputs = random_inputs(config)
    path = tmp_path_factory.mktemp("export") / "1"
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serving_default", lambda x: model(x, training=False),
        input_signature=[{k: tf.TensorSpec([None, None], tf.int32, name=k) for k in inputs}])
    archive.write_out(str(path))
    return path, model, inputs


def test_runs_signatures_like_the_model_server(export):
    path, model, inputs = export
    runner = NativeSavedModel(path)
    assert set(runner.signatures["serving_default"][0]) == set(inputs)
    expected = np.asarray(model(inputs)["logits"])
    first, second = runner.run_many([("serving_default", inputs),
                                     ("serving_default", {k: v[:1] for k, v in inputs.items()})])
    np.testing.assert_allclose(first["logits"], expected, atol=1e-5)
    np.testing.assert_allclose(second["logits"], expected[:1], atol=1e-5)


def test_errors_are_reported(export):
    path, _, inputs = export
    runner = NativeSavedModel(path)
    with pytest.raises(KeyError, match="needs inputs"):
        runner.run("serving_default", {"input_word_ids": inputs["input_word_ids"]})
    bad = dict(inputs, input_mask=inputs["input_mask"][:, :3])  # mismatched shapes
    with pytest.raises(NativeLoadError, match="RUN_ERROR"):
        runner.run("serving_default", bad)
    runner.export_dir = str(path.parent / "missing")
    with pytest.raises(NativeLoadError, match="TF_LoadSessionFromSavedModel"):
        runner.run("serving_default", inputs)


def test_op_check_passes_our_export_and_catches_round_robin_trim(export, tmp_path):
    import tensorflow_text as tf_text

    from tfbert.serving import saved_model_ops, serving_ops, unsupported_ops

    path, _, _ = export
    assert "MatMul" in saved_model_ops(path) or "BatchMatMulV2" in saved_model_ops(path)
    assert unsupported_ops(path) == []
    assert "RegexSplitWithOffsets" in serving_ops()
    assert "TFText>RoundRobinTrim" not in serving_ops()

    class Trim(tf.Module):  # the op Model Garden's BertPackInputs uses since TF Text 2.13
        @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.int32)])
        def trim(self, ids):
            return tf_text.RoundRobinTrimmer(max_seq_length=4).trim([ids])[0].flat_values

    tf.saved_model.save(Trim(), str(tmp_path / "trim"))
    assert unsupported_ops(tmp_path / "trim") == ["TFText>RoundRobinTrim"]
