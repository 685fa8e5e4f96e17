"""`benchmarks/int8_probe.py`, whose figures decide int8's go/no-go (docs/performance.md):
its int8 product computes `x @ W + b` to within the quantization's error, and its
`Int8Block`, with every product kept in float32, is the encoder's own block."""

import numpy as np
import pytest
import tensorflow as tf

from benchmarks import int8_probe
from tests.helpers import skip_without_onednn
from tfbert import BertConfig, BertEncoder


@pytest.fixture(autouse=True)
def _needs_onednn():
    skip_without_onednn()


def _product_case(rows=64, inputs=96, outputs=80):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (rows, inputs)).astype(np.float32)
    x[:, 3] *= 6  # an outlier channel, as BERT's activations have
    kernel = rng.normal(0, 0.05, (inputs, outputs)).astype(np.float32)
    bias = rng.normal(0, 0.1, outputs).astype(np.float32)
    return x, kernel, bias, x @ kernel + bias


def test_int8_product_is_the_float_product_within_the_quantization_error():
    x, kernel, bias, expected = _product_case()
    product = int8_probe.Int8Product(tf, kernel, bias)
    # Emulated in NumPy: uint8 activations over [min, max], int8 weights over max |W|.
    low, high = x.min(), x.max()
    step = (high - low) / 255
    weight_step = np.abs(kernel).max() / 127
    emulated = (np.round((x - low) / step) * step + low) @ (
        np.round(kernel / weight_step) * weight_step) + bias
    scale = np.abs(expected).max()
    dynamic = product(tf.constant(x)).numpy()  # eager: also records x for `calibrate`
    assert np.abs(dynamic - emulated).max() < 0.01 * scale
    assert np.abs(dynamic - expected).max() < 0.05 * scale
    product.calibrate(100.0)
    assert product.range == pytest.approx((float(low), float(high)))
    assert np.abs(product(tf.constant(x)).numpy() - emulated).max() < 0.01 * scale


def test_int8_block_with_float_products_is_the_encoder_block():
    config = BertConfig(vocab_size=120, hidden_size=64, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=128)
    encoder = BertEncoder(config)
    inputs = encoder.dummy_inputs(2, 9)
    inputs["input_word_ids"] = np.arange(18, dtype=np.int32).reshape(2, 9) + 5
    inputs["input_mask"][1, 6:] = 0
    expected = encoder(inputs, training=False)
    floats = int8_probe.int8_forward(tf, encoder, int8_probe.KINDS)(inputs)
    for name in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(floats[name], expected[name], atol=2e-5, err_msg=name)
    quantized = int8_probe.int8_forward(tf, encoder, ())(inputs)["pooled_output"].numpy()
    assert not np.allclose(quantized, expected["pooled_output"], atol=1e-6)  # really int8
    assert np.abs(quantized - expected["pooled_output"]).max() < 0.1


def test_the_recorded_entry_names_its_run(tmp_path):
    from benchmarks import summaries

    (tmp_path / "params.yaml").write_text("trainer:\n  train_steps: 400\ntask:\n  "
                                          "init_checkpoint: /x/minilm/model\n")
    report = {"model": "minilm_l6", "model_dir": str(tmp_path), "rounds": 7,
              "shapes": {"32x128": {"ms": {"fp32": 480.0, "int8": 240.0},
                                    "int8_speedup": 2.0, "min_token_cosine": 0.96}},
              "dev_scores": {"fp32": {"f1": 0.83}, "int8": {"f1": 0.8288},
                             "task": "conll2003"}}
    entry = summaries.int8_probe_entry(report, "python -m benchmarks.int8_probe", "2 CPUs")
    assert entry["name"] == "int8_minilm_l6_conll2003"
    assert entry["rows"] == [["encoder 32 × 128", "480.0 ms", "240.0 ms", "2.00×",
                              "cosine ≥ 0.960"],
                             ["dev f1", "83.00", "82.88", "", "-0.12 points"]]
    assert "conll2003 from minilm/model, 400 training steps" in entry["notes"][-1]
