"""Bad input at serving time, through the C++ loader: no crash, defined
outputs (truncation at seq_length) or a clear InvalidArgument; concurrent
calls give the serial answers."""

import concurrent.futures

import numpy as np
import pytest
import tensorflow as tf

from tests.serving.conftest import SEQ_LENGTH, text_array
from tests.serving.test_export_signatures import assert_same, python_outputs
from tfbert.serving import NativeLoadError, NativeSavedModel

BAD_TEXTS = ("", "   \t\n  ", "the film " * 116509, b"the \xff\xfe film \xc3", "\x00\u200b")


def _mixed_batch(count=1000, seed=0):
    rng = np.random.default_rng(seed)
    words = "the film was a delight dull boring great movie , ! ? café 東京".split()
    return text_array(*[" ".join(rng.choice(words, size=rng.integers(0, 60)))
                        for _ in range(count)])


@pytest.mark.slow
def test_bad_texts_give_defined_outputs(exports):
    exported = exports("classification")
    runner = NativeSavedModel(exported.path)
    texts = text_array(*BAD_TEXTS)
    assert len(texts[2]) > 1_000_000
    empty = text_array()
    mixed = _mixed_batch()
    single, none, many = runner.run_many([("serving_default", {"text": texts}),
                                          ("serving_default", {"text": empty}),
                                          ("serving_default", {"text": mixed})])
    assert_same(single, python_outputs(exported.endpoints["serving_default"], {"text": texts}))
    assert np.isfinite(single["logits"]).all()
    assert none["logits"].shape == (0, 3) and none["label"].shape == (0,)
    assert many["logits"].shape == (1000, 3)
    assert_same(many, python_outputs(exported.endpoints["serving_default"], {"text": mixed}))
    # The 1 MB text is truncated to seq_length: the same answer as its first words.
    packed = exported.preprocessor(tf.constant([texts[2], "the film " * SEQ_LENGTH]))
    np.testing.assert_array_equal(packed["input_word_ids"][0], packed["input_word_ids"][1])


@pytest.mark.slow
def test_bad_questions_and_contexts(exports):
    exported = exports("squad_v2")
    runner = NativeSavedModel(exported.path)
    inputs = {"question": text_array(*BAD_TEXTS), "context": text_array(*BAD_TEXTS[::-1])}
    out = runner.run("serving_default", inputs)
    assert_same(out, python_outputs(exported.endpoints["serving_default"], inputs))
    contexts = inputs["context"]
    for i, answer in enumerate(out["answer"]):
        if out["has_answer"][i]:
            assert answer == contexts[i][out["start_byte"][i]:out["end_byte"][i]]
        else:
            assert answer == b"" and out["start_byte"][i] == -1


@pytest.mark.slow
def test_malformed_requests_are_invalid_argument(exports):
    runner = NativeSavedModel(exports("classification").path)
    with pytest.raises(NativeLoadError, match=r"RUN_ERROR 3 "):  # 3 = INVALID_ARGUMENT
        runner.run("serving_default", {"text": text_array("a", "b").reshape(1, 2)})
    with pytest.raises(NativeLoadError, match=r"RUN_ERROR 3 "):
        runner.run("serve_token_ids", {"input_word_ids": np.ones([2, 5], np.int32),
                                       "input_mask": np.ones([2, 4], np.int32),
                                       "input_type_ids": np.zeros([2, 5], np.int32)})
    with pytest.raises(NativeLoadError, match=r"RUN_ERROR 3 "):
        runner.run("serve_examples", {"inputs": text_array(b"not a tf.Example")})
    with pytest.raises(NativeLoadError, match=r"RUN_ERROR 3 "):
        runner.run("serve_token_ids", {"input_word_ids": np.full([1, 5], 10_000, np.int32),
                                       "input_mask": np.ones([1, 5], np.int32),
                                       "input_type_ids": np.zeros([1, 5], np.int32)})


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["classification", "squad_v2"])
def test_eight_threads_get_the_serial_answers(exports, kind):
    loaded = tf.saved_model.load(exports(kind).path)
    serve = loaded.signatures["serving_default"]
    mixed = _mixed_batch(64, seed=1)
    if kind == "squad_v2":
        batches = [{"question": tf.constant(mixed[i:i + 8]),
                    "context": tf.constant(mixed[::-1][i:i + 8])} for i in range(0, 64, 8)]
    else:
        batches = [{"text": tf.constant(mixed[i:i + 8])} for i in range(0, 64, 8)]
    serial = [{k: v.numpy() for k, v in serve(**b).items()} for b in batches]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            futures = [pool.submit(serve, **b) for b in batches]
            for future, expected in zip(futures, serial, strict=True):
                assert_same({k: v.numpy() for k, v in future.result().items()}, expected)
