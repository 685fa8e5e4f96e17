"""Hostile requests through the C++ session loader, as tensorflow_model_server
runs them (issue #25): inputs of unequal batch sizes are rejected whatever the
feed order, and a request of many questions runs its windows in chunks of a
bounded size, with the answers of one batch and a bounded peak memory."""

import re

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tests.helpers import randomize, tiny_config
from tests.serving.conftest import TAGS, VOCAB, text_array
from tests.serving.test_export_signatures import python_outputs
from tfbert.data.squad import read_squad
from tfbert.serving import (
    NativeLoadError,
    NativeSavedModel,
    classification,
    hub,
    question_answering,
)
from tfbert.serving.export import export
from tfbert.serving.warmup import read_warmup_requests
from tfbert.text import BertPreprocessor


def _unequal(inputs, odd, rows):
    """`inputs` with `odd` cut to `rows` rows, fed first and fed last."""
    short = {odd: inputs[odd][:rows]}
    rest = {key: value for key, value in inputs.items() if key != odd}
    return [{**short, **rest}, {**rest, **short}]


def _assert_rejected(runner, signature, inputs, odd):
    """The request fails with InvalidArgument naming `odd` and another input, with sizes."""
    with pytest.raises(NativeLoadError) as error:
        runner.run(signature, inputs)
    found = re.search(r"RUN_ERROR 3 assertion failed: \[inputs (\w+) and (\w+) must have the "
                      r"same batch size; got \1:\] \[(\d+)\] \[\2:\] \[(\d+)\]",
                      str(error.value))
    assert found, str(error.value)
    first, other, first_size, other_size = found.groups()
    assert odd in (first, other) and first_size != other_size
    assert (int(first_size), int(other_size)) == (len(inputs[first]), len(inputs[other]))


@pytest.fixture(scope="module")
def multilabel_pair(tmp_path_factory, preprocessor, vocab_file):
    model = randomize(tfbert.BertClassifier(tfbert.BertEncoder(tiny_config(
        vocab_size=len(VOCAB))), len(TAGS)), seed=6)
    endpoints = classification.endpoints(model, preprocessor, TAGS, pair=True,
                                         thresholds=[0.5] * len(TAGS))
    return export(str(tmp_path_factory.mktemp("multilabel_pair")), endpoints,
                  track=[model, preprocessor], vocab_file=vocab_file, version=1)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pair_regression", "squad_v2", "multilabel_pair",
                                  "hub_encoder"])
def test_unequal_batch_sizes_are_rejected_in_either_feed_order(kind, exports, multilabel_pair,
                                                                tmp_path):
    """Every signature with several inputs, from its warmup request: `context`
    or `text_b` one row short, or `input_mask` of the
    token-id signatures cut to one row (the row a broadcast would silently
    apply to all), fed first and fed last. (Every export writes its
    signatures through the same check; the token-id signatures of the
    single-text exports are the ones tested here.)

    Removing `fn = same_batch_size(...)` from `export.write_endpoints` makes
    it fail: ops deep in the graph then fail with messages that name no
    input ("Incompatible shapes"), or the request is answered.
    """
    if kind == "multilabel_pair":
        path = multilabel_pair
    elif kind == "hub_encoder":
        encoder = randomize(tfbert.BertEncoder(tiny_config()), seed=7)
        path = hub.export_encoder(str(tmp_path / "encoder"), encoder, version=1)
    else:
        path = exports(kind).path
    runner = NativeSavedModel(path)
    checked = 0
    for name, inputs in read_warmup_requests(path):
        if len(inputs) < 2:
            continue
        inputs = {key: np.asarray(value) for key, value in inputs.items()}
        odd = next(key for key in ("input_mask", "context", "text_b") if key in inputs)
        rows = 1 if odd == "input_mask" else len(inputs[odd]) - 1
        for request in _unequal(inputs, odd, rows):
            _assert_rejected(runner, name, request, odd)
            checked += 1
    assert checked >= 2


@pytest.mark.slow
def test_chunked_windows_give_the_answers_of_one_batch(exports, vocab_file, tmp_path):
    """Windows run `window_batch_size` at a time give the answers, bytes and
    scores that one batch of all windows gives, in Python and through the
    C++ loader."""
    exported = exports("squad_v2")
    model, preprocessor = exported.model, exported.preprocessor
    words = "the film was a delight who won denver game because it is not bad good".split()
    rng = np.random.default_rng(3)
    contexts = [" ".join(rng.choice(words, size=n)) for n in (5, 70, 0, 120, 40)]
    inputs = {"question": text_array("who won", "what is good", "why", "", "the film"),
              "context": text_array(*contexts)}
    # Windows of at most 24 - 3 - 1 pieces: more than 3 chunks of 3 windows.
    pieces = preprocessor.tokenizer.tokenize(tf.constant(inputs["context"])).row_lengths()
    assert int(tf.reduce_sum(pieces)) > 3 * 3 * 20

    def endpoint(size):
        return question_answering.endpoints(model, preprocessor, max_query_length=8,
                                            max_answer_length=5, version_2_with_negative=True,
                                            window_batch_size=size)[0]

    one_batch = python_outputs(endpoint(10 ** 6), inputs)
    assert one_batch["has_answer"].any()
    chunked = endpoint(3)
    path = export(str(tmp_path / "chunked"), [chunked], track=[model, preprocessor],
                  vocab_file=vocab_file, version=1)
    for outputs in (python_outputs(chunked, inputs),
                    NativeSavedModel(path).run("serving_default", inputs)):
        for key in ("answer", "start_byte", "end_byte", "has_answer"):
            np.testing.assert_array_equal(outputs[key], one_batch[key], err_msg=key)
        np.testing.assert_allclose(outputs["score"], one_batch["score"], rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="window_batch_size must be at least 1"):
        endpoint(0)


MEMORY_SEQ_LENGTH, MEMORY_QUESTIONS = 128, 300


@pytest.mark.slow
def test_a_large_request_has_a_bounded_peak_memory(shared_data, uncased_vocab, tmp_path):
    """One request of 300 real SQuAD questions (about 800 windows of 128
    positions): with the windows run 16 at a time, the loader's peak memory
    grows by a small bound over a one-question request; as one batch it grows
    several times more (figures for the real all-MiniLM-L6-v2 export:
    docs/reliability.md, "Hostile input").

    Removing the `in_chunks(...)` call from `question_answering.endpoints`
    (the model then runs `model(windows["packed"])`, all windows at once)
    makes it fail: the chunked export's growth is that of one batch.
    """
    config = tiny_config(vocab_size=30522, max_position_embeddings=MEMORY_SEQ_LENGTH,
                         num_attention_heads=8)
    model = randomize(tfbert.BertSpanLabeler(tfbert.BertEncoder(config)), seed=8)
    preprocessor = BertPreprocessor(uncased_vocab, seq_length=MEMORY_SEQ_LENGTH)
    examples = read_squad(shared_data / "squad" / "dev-v1.1-articles-00-23.json",
                          False).examples[:MEMORY_QUESTIONS]
    request = {"question": text_array(*[e.question for e in examples]),
               "context": text_array(*[e.context for e in examples])}
    growth, answers = {}, {}
    for size in (16, 10 ** 6):
        endpoints = question_answering.endpoints(model, preprocessor, window_batch_size=size)
        path = export(str(tmp_path / str(size)), endpoints, track=[model, preprocessor],
                      vocab_file=str(uncased_vocab), version=1)
        runner = NativeSavedModel(path)
        runner.run("serving_default", {key: value[:1] for key, value in request.items()})
        small = runner.peak_rss_bytes
        answers[size] = runner.run("serving_default", request)["answer"]
        growth[size] = (runner.peak_rss_bytes - small) / 2 ** 20
    np.testing.assert_array_equal(answers[16], answers[10 ** 6])
    assert growth[10 ** 6] > 200, growth                   # the request is large
    assert growth[16] < 60 and growth[16] < growth[10 ** 6] / 4, growth
