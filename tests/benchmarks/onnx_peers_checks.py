"""The checks of `test_onnx_peers.py`, run in a subprocess (PyTorch, imported after
TensorFlow in one process, crashes it): `python -m tests.benchmarks.onnx_peers_checks
CHECK TINY_DIR TMP_DIR` exits 0 when the check holds.

Usage: CHECK is `encoder`, `text_peers` or `latency_texts`.
"""

import pathlib
import sys

import numpy as np
import pytest

from benchmarks import bench_latency, onnx_peers

TEXTS = ["a gorgeous , witty , seductive movie .", "bad",
         "the acting is fine , but the plot is dull and far too long for its own good ."]


def check_encoder(tiny_dir, tmp_path):
    files = onnx_peers.make_onnx_files(tiny_dir, tmp_path / "onnx", encoder=True)
    rng = np.random.default_rng(0)
    for batch, seq in ((1, 8), (3, 40)):  # the axes are dynamic: one file, many shapes
        ids = rng.integers(1000, 30000, (batch, seq)).astype(np.int32)
        mask = np.ones_like(ids)
        mask[0, seq // 2:] = 0  # a padded row
        arrays = (ids, mask, np.zeros_like(ids))
        expected, pooled = onnx_peers.encoder_call("hf_torch", tiny_dir, arrays)()
        assert pooled.shape == (batch, 128)
        got, _ = onnx_peers.encoder_call("ort_fp32", tiny_dir, arrays, onnx_files=files)()
        assert got.shape == (batch, seq, 128)
        np.testing.assert_allclose(got, expected, atol=2e-5)
        # int8 weights: close to fp32, not equal (the quantization happened).
        int8, _ = onnx_peers.encoder_call("ort_int8", tiny_dir, arrays, onnx_files=files)()
        deviation = np.abs(int8 - expected).max()
        assert 0 < deviation < 0.2, deviation
    with pytest.raises(ValueError, match="float32 inputs only"):
        onnx_peers.encoder_call("ort_fp32", tiny_dir, arrays, "bfloat16", files)


def check_text_peers(tiny_dir, tmp_path):
    rng = np.random.default_rng(1)
    head = tmp_path / "head.npz"
    np.savez(head, kernel=rng.normal(0, 0.5, (128, 3)).astype(np.float32),
             bias=np.array([0.5, -0.5, 0.0], np.float32))
    files = onnx_peers.make_onnx_files(tiny_dir, tmp_path / "onnx", str(head))
    reference = onnx_peers.text_predictor("hf_torch", tiny_dir, 128, head=str(head))(TEXTS)
    assert reference.shape == (3, 3)  # three labels: the head of the .npz, not a new one
    np.testing.assert_allclose(reference.sum(-1), 1, rtol=1e-6)
    for contestant in ("ort_fp32", "openvino_fp32"):
        predict = onnx_peers.text_predictor(contestant, tiny_dir, 128, files)
        # In a batch (padded to the longest) and alone: the same probabilities.
        np.testing.assert_allclose(predict(TEXTS), reference, atol=1e-5)
        np.testing.assert_allclose(predict(TEXTS[1:2]), reference[1:2], atol=1e-5)
    # Pairs go in as (a, b): [CLS] a [SEP] b [SEP], token types 0 then 1.
    pairs = [(TEXTS[0], TEXTS[1]), (TEXTS[2], TEXTS[0])]
    np.testing.assert_allclose(
        onnx_peers.text_predictor("ort_fp32", tiny_dir, 128, files)(pairs),
        onnx_peers.text_predictor("hf_torch", tiny_dir, 128, head=str(head))(pairs), atol=1e-5)


def check_latency_texts(tiny_dir, tmp_path):
    from transformers import BertTokenizerFast

    texts = bench_latency.build_texts(tiny_dir, lengths=(8, 16, 128), count=5)
    tokenizer = BertTokenizerFast.from_pretrained(tiny_dir)
    for pieces, found in texts.items():
        assert len(set(found)) == 5
        for text in found:
            ids = tokenizer(text)["input_ids"]
            assert len(ids) == pieces, (pieces, text)
            assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
    with pytest.raises(ValueError, match="no words fill a text of 4 pieces"):
        bench_latency.exact_texts(tokenizer, ["zxqvbnmwk"] * 3, 4, 1)


if __name__ == "__main__":
    check, directory, tmp = sys.argv[1:]
    globals()[f"check_{check}"](directory, pathlib.Path(tmp))
