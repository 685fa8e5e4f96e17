"""An int8 export (`tfbert_export --quantize=int8`) as TF Serving loads it: TensorFlow's
C++ loader runs it, its ops are the model server's, its probabilities are the float
export's within int8's error, and without oneDNN it fails instead of answering wrongly."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import skip_without_onednn
from tests.serving.conftest import text_array
from tests.serving.export_fingerprint import variables_saved_and_read
from tfbert.layers.int8 import NEEDS_ONEDNN
from tfbert.serving import (
    NativeLoadError,
    NativeSavedModel,
    classification,
    saved_model_ops,
    unsupported_ops,
)
from tfbert.serving.export import export, int8_calibration

TEXTS = ("the film was a delight", "dull", "boring movie , not good at all !",
         "who won the game in denver ?", "john smith lives in paris , france .", "")


@pytest.fixture(scope="module")
def int8_export(exports, vocab_file, tmp_path_factory):
    skip_without_onednn()
    floats = exports("classification")
    calibration = tmp_path_factory.mktemp("calibration") / "texts.txt"
    calibration.write_text("\n".join(TEXTS * 4) + "\n", encoding="utf-8")
    model, preprocessor = floats.model, floats.preprocessor
    # New endpoints: those of the float export hold graphs traced with its variables.
    endpoints = classification.endpoints(model, preprocessor, ["negative", "neutral", "positive"])
    path = export(str(tmp_path_factory.mktemp("int8")), endpoints,
                  track=[model, preprocessor], vocab_file=vocab_file, version=1,
                  int8_calibrate=int8_calibration(model, preprocessor, str(calibration)))
    return floats.path, path


def test_int8_export_runs_in_the_model_server_loader(int8_export):
    float_path, path = int8_export
    ops = saved_model_ops(path)
    # 2 blocks x 4 products, twice: the whole-batch model call (int8 weights as graph
    # constants) and the one the four length-sorted slices share (weights from variables).
    assert ops.get("QuantizedMatMulWithBiasAndDequantize") == 2 * 2 * 4
    assert unsupported_ops(path) == []
    # No float32 kernel of the int8 products (nor any unread weight) is saved.
    saved, read = variables_saved_and_read(path)
    assert saved == read > 0
    many, few = {"text": text_array(*TEXTS * 6)}, {"text": text_array(*TEXTS)}  # 36, 6
    requests = [("serving_default", many), ("serving_default", few)]
    expected = NativeSavedModel(float_path).run_many(requests)
    got = NativeSavedModel(path).run_many(requests)
    for int8, floats in zip(got, expected, strict=True):
        assert 1e-5 < np.abs(int8["probabilities"] - floats["probabilities"]).max() < 0.05
    # The slices (variables) and the whole batch (constants) compute the same int8 products.
    np.testing.assert_allclose(got[0]["probabilities"][:len(TEXTS)], got[1]["probabilities"],
                               atol=1e-5)


def test_int8_export_without_onednn_fails_instead_of_answering(int8_export, monkeypatch):
    _, path = int8_export
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    # The graph executor reports the kernel's missing output and names the op
    # (docs/serving.md, "int8 exports").
    with pytest.raises(NativeLoadError, match="QuantizedMatMulWithBiasAndDequantize"):
        NativeSavedModel(path).run("serving_default", {"text": text_array(*TEXTS * 3)})


def test_eager_int8_without_onednn_says_why():
    # Eagerly the kernel returns an empty tensor, with no error: the block's check fails.
    code = """if True:
        import numpy as np, tfbert
        from tests.helpers import random_inputs, tiny_config
        encoder = tfbert.BertEncoder(tiny_config())
        inputs = random_inputs(tiny_config())
        with tfbert.layers.int8_blocks([encoder], lambda: encoder(inputs, training=False)):
            encoder(inputs, training=False)
    """
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"})
    assert result.returncode != 0
    assert NEEDS_ONEDNN in result.stderr


def test_calibration_file_must_hold_text(exports, tmp_path):
    floats = exports("classification")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n", encoding="utf-8")
    with pytest.raises(ValueError, match="has no text"):
        int8_calibration(floats.model, floats.preprocessor, str(empty))
