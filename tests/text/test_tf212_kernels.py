"""Exports run unchanged on the kernels of tensorflow_model_server 2.12-2.19.

The model server 2.12.0-2.19.1 is TensorFlow 2.12.0 with TF Text 2.12.1
compiled in. This test exports the preprocessor with the project's TF, then
loads and runs it in a Python that has exactly those versions (op libraries
loaded with `tf.load_op_library`), and compares ids, offsets and packed inputs.
It runs when TFBERT_TF212_PYTHON names such an interpreter, e.g.

    python -m venv /tmp/tf212 && /tmp/tf212/bin/pip install tensorflow-cpu==2.12.0
    /tmp/tf212/bin/pip install --no-deps tensorflow-text==2.12.1
    TFBERT_TF212_PYTHON=/tmp/tf212/bin/python pytest tests/text/test_tf212_kernels.py
"""

import base64
import json
import os
import subprocess

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfbert.text as text
from tests.text.test_parity import _random_texts

PYTHON = os.environ.get("TFBERT_TF212_PYTHON")

_RUNNER = r"""
import base64, glob, importlib.util, json, os, sys
import numpy as np
import tensorflow as tf
# The op libraries alone: tensorflow_text 2.12's Python package needs tensorflow_hub.
ops_dir = os.path.join(os.path.dirname(importlib.util.find_spec("tensorflow_text").origin),
                       "python", "ops")
for library in glob.glob(os.path.join(ops_dir, "_*.so")):
    tf.load_op_library(library)
export_dir, inputs_file, out_file = sys.argv[1:4]
data = [base64.b64decode(x) for x in json.load(open(inputs_file))]
module = tf.saved_model.load(export_dir)
batch = tf.constant(data)
out = dict(module.offsets(batch))
out.update(module.pack(batch, batch[::-1]))
np.savez(out_file, version=np.array(tf.__version__), **{k: v.numpy() for k, v in out.items()})
"""


@pytest.mark.skipif(not PYTHON, reason="set TFBERT_TF212_PYTHON to a TF 2.12.0 + TF Text 2.12.1 "
                                        "interpreter")
@pytest.mark.parametrize("lower_case", [True, False])
def test_export_on_tf212_kernels(lower_case, golden_rows, squad_contexts, uncased_vocab,
                                 tmp_path):
    from tests.text.conftest import CASED_VOCAB

    vocab = uncased_vocab if lower_case else CASED_VOCAB
    preprocessor = text.BertPreprocessor(vocab, lower_case=lower_case, seq_length=64)
    tokenizer = preprocessor.tokenizer

    def offsets(strings):
        ids, begin, end = tokenizer.tokenize_with_offsets(strings)
        return {"ids": ids.flat_values, "splits": ids.row_splits,
                "begin": begin.flat_values, "end": end.flat_values}

    archive = keras.export.ExportArchive()
    archive.track(preprocessor)
    archive.add_endpoint("offsets", offsets, input_signature=[tf.TensorSpec([None], tf.string)])
    archive.add_endpoint("pack", lambda a, b: preprocessor((a, b)),
                         input_signature=[tf.TensorSpec([None], tf.string)] * 2)
    archive.write_out(str(tmp_path / "export"))

    texts = ([row["text"] for row in golden_rows[:1500]] + squad_contexts[:200]
             + _random_texts(seed=3, count=500))
    data = [t.encode("utf-8") for t in texts] + [b"bad \xff utf-8 \xe4\xb8", b"x" * 300]
    (tmp_path / "inputs.json").write_text(json.dumps([base64.b64encode(d).decode() for d in data]))
    (tmp_path / "run.py").write_text(_RUNNER)
    result = subprocess.run(
        [PYTHON, str(tmp_path / "run.py"), str(tmp_path / "export"),
         str(tmp_path / "inputs.json"), str(tmp_path / "out.npz")],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]

    got = np.load(tmp_path / "out.npz")
    assert str(got["version"]).startswith("2.12.")
    batch = tf.constant(data)
    want = {k: v.numpy() for k, v in offsets(batch).items()}
    want.update({k: v.numpy() for k, v in preprocessor((batch, batch[::-1])).items()})
    for key, value in want.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)
