"""The ONNX Runtime and OpenVINO peers of the benchmarks (`benchmarks/onnx_peers.py`) and
the exact-length texts of `benchmarks/bench_latency.py`, on a BERT-Tiny of seeded random
weights: the ONNX files compute what PyTorch computes, at any batch and length, with the
head they were given; the texts tokenize to exactly the pieces asked for.

Each check runs in its own process (`onnx_peers_checks.py`): PyTorch imported into a
process that already runs TensorFlow crashes it, as the benchmarks' workers avoid too."""

import importlib.util
import os
import subprocess
import sys

import pytest

from benchmarks import common

for _package in ("onnxruntime", "torch", "transformers"):
    if importlib.util.find_spec(_package) is None:
        pytest.skip(f"the ONNX peers need {_package} (the bench extra)", allow_module_level=True)


@pytest.fixture(scope="module")
def tiny_dir(shared_data, tmp_path_factory):
    return common.write_random_bert(tmp_path_factory.mktemp("tiny"), "bert_tiny")


def _check(name, tiny_dir, tmp_path):
    result = subprocess.run([sys.executable, "-m", "tests.benchmarks.onnx_peers_checks", name,
                             str(tiny_dir), str(tmp_path)], capture_output=True, text=True,
                            timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-4000:]


@pytest.mark.slow
def test_onnx_encoder_equals_pytorch_at_any_shape(tiny_dir, tmp_path):
    _check("encoder", tiny_dir, tmp_path)


@pytest.mark.slow
def test_text_peers_use_the_given_head_and_agree(tiny_dir, tmp_path):
    if importlib.util.find_spec("openvino") is None:
        pytest.skip("the OpenVINO peer needs openvino (the bench extra)")
    _check("text_peers", tiny_dir, tmp_path)


def test_latency_texts_have_exactly_the_pieces_asked_for(tiny_dir, tmp_path):
    _check("latency_texts", tiny_dir, tmp_path)
