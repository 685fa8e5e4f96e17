"""Small builders shared by the tests (tiny configs, random inputs)."""

import subprocess
import sys

import numpy as np

import tfbert

TINY = dict(vocab_size=120, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=128, max_position_embeddings=32, type_vocab_size=2)


def tiny_config(**changes):
    """A 2-layer, hidden-64 config for fast tests."""
    return tfbert.BertConfig(**{**TINY, **changes})


def random_inputs(config, batch=3, seq=16, seed=0, pad=True):
    """Random ids and type ids; with `pad`, each row after the first has padding at the end."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, config.vocab_size, size=(batch, seq)).astype("int32")
    types = rng.integers(0, config.type_vocab_size, size=(batch, seq)).astype("int32")
    mask = np.ones((batch, seq), "int32")
    if pad:
        for row in range(1, batch):
            length = max(2, seq - 3 * row)
            mask[row, length:] = 0
            ids[row, length:] = 0
            types[row, length:] = 0
    return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}


def randomize(model, seed=0, scale=0.5):
    """Sets every weight to random values (biases and LayerNorm too), so that
    a comparison exercises every parameter, not just the initializers' zeros and ones."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        value = rng.normal(0.0, scale / np.sqrt(shape[0] if len(shape) > 1 else 16), shape)
        if variable.path.endswith("gamma"):
            value += 1.0
        variable.assign(value.astype("float32"))
    return model


def loaded_in_fresh_python(statement, watched=("tensorflow", "keras")):
    """Which of the modules `watched` a new Python process has loaded after running
    `statement` (this process has them all, so imports are checked in a new one)."""
    code = f"import sys; {statement}; print(*[m for m in {tuple(watched)!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split()


def skip_without_onednn():
    """Skips the test where TensorFlow runs without oneDNN: its int8 product
    (`QuantizedMatMulWithBiasAndDequantize`) then returns an empty tensor."""
    import pytest
    from tensorflow.python.util import _pywrap_util_port

    if not _pywrap_util_port.IsMklEnabled():
        pytest.skip("QuantizedMatMulWithBiasAndDequantize runs only where oneDNN is on")
