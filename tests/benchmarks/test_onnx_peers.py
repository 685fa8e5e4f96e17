"""The ONNX Runtime and OpenVINO peers of the benchmarks (`benchmarks/onnx_peers.py`) and
the exact-length texts of `benchmarks/bench_latency.py`, on a BERT-Tiny of seeded random
weights: the ONNX files compute what PyTorch computes, at any batch and length, with the
head they were given; the texts tokenize to exactly the pieces asked for."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the ONNX peers need onnxruntime (bench extra)")
pytest.importorskip("torch", reason="the ONNX export goes through PyTorch (bench extra)")

from benchmarks import bench_latency, common, onnx_peers

TEXTS = ["a gorgeous , witty , seductive movie .", "bad",
         "the acting is fine , but the plot is dull and far too long for its own good ."]


@pytest.fixture(scope="module")
def tiny_dir(shared_data, tmp_path_factory):
    return common.write_random_bert(tmp_path_factory.mktemp("tiny"), "bert_tiny")


@pytest.mark.slow
def test_onnx_encoder_equals_pytorch_at_any_shape(tiny_dir, tmp_path):
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


@pytest.mark.slow
def test_text_peers_use_the_given_head_and_agree(tiny_dir, tmp_path):
    pytest.importorskip("openvino", reason="the OpenVINO peer needs openvino (bench extra)")
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


def test_latency_texts_have_exactly_the_pieces_asked_for(tiny_dir):
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
