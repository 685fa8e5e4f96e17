"""Property-based tests of every signature of every export kind.

Tiny exports (2 layers, hidden 64, the small vocab of tests/serving) of each
kind - classification, pair classification, pair regression, SQuAD v2.0,
tagging, embeddings, multi-label - are loaded once with
`tf.saved_model.load` and fed generated batches: arbitrary strings and bytes
(invalid UTF-8, huge and empty texts) to the text signatures, serialized
`tf.Example`s and arbitrary bytes to `serve_examples`, arbitrary int ids to
`serve_token_ids`. Each call answers (one finite row per input) or fails
with `InvalidArgumentError` (what TF Serving turns into a 400), never
another error; the same input twice gives the same answer.
"""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import tfbert
from tests.fuzz.conftest import PROFILE
from tests.fuzz.strategies import raw_texts
from tests.helpers import randomize
from tests.serving.conftest import VOCAB, _config, _export
from tfbert.serving import classification
from tfbert.serving.export import text_example

BUILT = {"classification", "pair_regression", "squad_v2", "tagging", "embeddings"}
KINDS = sorted(BUILT | {"pair_classification", "multilabel"})
text_batches = st.lists(raw_texts(12), max_size=5)
# 17 targets on 7 exports: CI runs a few cases of each (the full profile runs them all).
few = settings(max_examples=8) if PROFILE == "ci" else settings()


@pytest.fixture(scope="module")
def signatures(exports, preprocessor, vocab_file, tmp_path_factory):
    """`get(kind)`: the loaded signatures of the export of `kind`, built on first use."""
    loaded = {}

    def build(kind):
        if kind in BUILT:
            return exports(kind)
        base = tmp_path_factory.mktemp(kind)
        if kind == "pair_classification":
            model = randomize(tfbert.BertClassifier(tfbert.BertEncoder(_config()), 3), seed=6)
            endpoints = classification.endpoints(model, preprocessor, ["a", "b", "c"], pair=True)
        else:
            model = randomize(tfbert.BertClassifier(tfbert.BertEncoder(_config()), 4), seed=7)
            endpoints = classification.endpoints(model, preprocessor, ["w", "x", "y", "z"],
                                                 thresholds=[0.5, 0.3, 0.7, 0.5])
        return _export(base, endpoints, model, preprocessor, vocab_file)

    def get(kind):
        if kind not in loaded:
            loaded[kind] = tf.saved_model.load(build(kind).path).signatures
        return loaded[kind]

    return get


@pytest.fixture
def loaded(signatures, kind):
    """The signatures of this test's kind, built before the first case (a build can
    take longer than the per-case alarm on a busy machine)."""
    return signatures(kind)


def _call(signature, inputs):
    """The signature's outputs as numpy arrays, or None for an InvalidArgumentError."""
    try:
        return {k: v.numpy() for k, v in signature(**inputs).items()}
    except tf.errors.InvalidArgumentError:
        return None
    except UnicodeDecodeError:
        # TensorFlow's Python binding cannot raise an error whose message is not UTF-8
        # (`parse_example` quotes the bad request's bytes); the runtime's status is
        # INVALID_ARGUMENT, as `test_bad_example_bytes_are_invalid_argument` checks
        # through the model server's C++ loader.
        return None


def _answers_the_same_twice(signature, inputs, batch):
    first, second = _call(signature, inputs), _call(signature, inputs)
    assert (first is None) == (second is None)
    if first is None:
        return
    assert set(first) == set(second)
    for key, value in first.items():
        assert value.shape[:1] == (batch,), f"{key}: {value.shape} for {batch} inputs"
        np.testing.assert_array_equal(value, second[key], err_msg=key)
        if value.dtype.kind == "f":
            assert np.isfinite(value).all(), key


@pytest.mark.parametrize("kind", KINDS)
@few
@given(data=st.data())
def test_text_signature_answers_any_strings(loaded, kind, data):
    signature = loaded["serving_default"]
    names = sorted(signature.structured_input_signature[1])
    batch = data.draw(text_batches)
    inputs = {names[0]: tf.constant(batch, tf.string)}
    for name in names[1:]:  # a pair: the second texts, as many
        other = data.draw(st.lists(raw_texts(12), min_size=len(batch), max_size=len(batch)))
        inputs[name] = tf.constant(other, tf.string)
    _answers_the_same_twice(signature, inputs, len(batch))


@pytest.mark.parametrize("kind", ["classification", "pair_regression", "multilabel"])
@few
@given(data=st.data())
def test_example_signature_answers_any_bytes(loaded, kind, data):
    signature = loaded["serve_examples"]
    keys = ("text_a", "text_b") if kind.startswith("pair") else ("text",)
    good = st.builds(lambda texts: text_example(**dict(zip(keys, texts, strict=True))),
                     st.lists(raw_texts(6), min_size=len(keys), max_size=len(keys)))
    batch = data.draw(st.lists(st.one_of(good, st.binary(max_size=64)), max_size=5))
    _answers_the_same_twice(signature, {"inputs": tf.constant(batch, tf.string)}, len(batch))


@pytest.mark.parametrize("kind", KINDS)
@few
@given(data=st.data())
def test_token_id_signature_answers_any_ids(loaded, kind, data):
    signature = loaded.get("serve_token_ids")
    if signature is None:
        pytest.skip(f"the {kind} export has no serve_token_ids")
    batch, length = data.draw(st.integers(0, 4)), data.draw(st.integers(1, 30))
    ids = data.draw(st.lists(st.integers(-3, len(VOCAB) + 3), min_size=batch * length,
                             max_size=batch * length))
    mask = data.draw(st.lists(st.integers(0, 1), min_size=batch * length,
                              max_size=batch * length))
    types = data.draw(st.lists(st.integers(0, 2), min_size=batch * length,
                               max_size=batch * length))
    inputs = {name: tf.constant(np.array(values, np.int32).reshape(batch, length))
              for name, values in (("input_word_ids", ids), ("input_mask", mask),
                                   ("input_type_ids", types))}
    _answers_the_same_twice(signature, inputs, batch)


@pytest.mark.slow
def test_bad_example_bytes_are_invalid_argument(signatures, exports):
    """The request that Python cannot raise as an error (see `_call`) is INVALID_ARGUMENT
    (3) in the C++ session loader that tensorflow_model_server uses."""
    from tfbert.serving import NativeLoadError, NativeSavedModel

    signature = signatures("classification")["serve_examples"]
    with pytest.raises(UnicodeDecodeError):
        signature(inputs=tf.constant([b"\x80"]))
    runner = NativeSavedModel(exports("classification").path)
    with pytest.raises(NativeLoadError, match=r"RUN_ERROR 3 "):
        runner.run("serve_examples", {"inputs": np.array([b"\x80"], dtype=object)})
