"""The QA export picks the answers of the Python post-processing
(`tfbert.data.squad.squad_features` + `tfbert.tasks.squad_postprocess`) on
all 5,696 questions of the real SQuAD articles, through the C++ loader.

Windows of 128 positions that advance by 64 pieces: about 4,000 questions
need several windows (up to 12) and most of their pieces are seen by two,
so the max-context rule decides often. A small random model is enough: the
test is about windows and decoding, not about answers being right."""

import collections

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tests.helpers import randomize, tiny_config
from tfbert.data import squad
from tfbert.layers import portable_layer_norm
from tfbert.serving import NativeSavedModel, question_answering
from tfbert.serving.export import export
from tfbert.tasks.squad_postprocess import postprocess
from tfbert.text import BertPreprocessor

SEQ_LENGTH, DOC_STRIDE, MAX_QUERY_LENGTH = 128, 64, 32
REQUEST_SIZE = 500


@pytest.fixture(scope="module")
def model():
    config = tiny_config(vocab_size=30522, max_position_embeddings=SEQ_LENGTH, hidden_size=32,
                         num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    model = randomize(tfbert.BertSpanLabeler(tfbert.BertEncoder(config)), seed=11)
    # randomize() scales the word embeddings by 1/sqrt(vocab size), and the
    # logits hardly depend on the words. As strong as the positions, they make
    # the windows of one context disagree: without the max-context rule 312
    # of the 5,696 answers would differ (230 with v2).
    words = next(w for w in model.weights if w.path == "word_embeddings/embeddings")
    words.assign(np.random.default_rng(12).normal(0.0, 0.05, words.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def preprocessor(uncased_vocab):
    return BertPreprocessor(uncased_vocab, seq_length=SEQ_LENGTH)


def _python_logits(model, features):
    # As the server runs it: a graph of unknown batch and length, with the exports'
    # LayerNorm. The v2 test puts one question exactly on the threshold, so the logits must
    # be equal to the last bit, and eager kernels, graphs of known shapes and graphs of
    # unknown shapes (different fusions) differ there.
    names = ("input_word_ids", "input_mask", "input_type_ids")
    arrays = {k: features.arrays[k] for k in names}
    forward = tf.function(lambda inputs: model(inputs, training=False), input_signature=[
        {k: tf.TensorSpec([None, None], tf.int32) for k in names}])
    results = []
    with portable_layer_norm():
        for start in range(0, len(features), 512):
            out = forward({k: v[start:start + 512] for k, v in arrays.items()})
            results += list(zip(np.asarray(out["start_logits"]),
                                np.asarray(out["end_logits"]), strict=True))
    return results


@pytest.fixture(scope="module")
def python_side(shared_data, model, preprocessor):
    """The SQuAD questions, their windows, and the Python answers (v1 and v2)."""
    data = squad.read_squad(shared_data / "squad" / "dev-v1.1-articles-00-23.json", False)
    features = squad.squad_features(data, preprocessor.tokenizer, seq_length=SEQ_LENGTH,
                                    doc_stride=DOC_STRIDE, max_query_length=MAX_QUERY_LENGTH)
    results = _python_logits(model, features)
    v1, nbest, _ = postprocess(data, features, results)
    _, _, null_odds = postprocess(data, features, results, version_2_with_negative=True)
    # The median null - best difference: half the questions are answered, and
    # one sits exactly on the threshold (answered: only a larger one is not).
    threshold = sorted(null_odds.values())[len(null_odds) // 2]
    v2, _, _ = postprocess(data, features, results, version_2_with_negative=True,
                           null_score_diff_threshold=threshold)
    windows = collections.Counter(int(e) for e in features.example_index)
    return {"data": data, "windows": windows, "v1": v1, "nbest": nbest, "v2": v2,
            "threshold": threshold}


def _export(tmp_path, model, preprocessor, uncased_vocab, **options):
    endpoints = question_answering.endpoints(
        model, preprocessor, max_query_length=MAX_QUERY_LENGTH, doc_stride=DOC_STRIDE,
        **options)
    return export(str(tmp_path / "squad"), endpoints, track=[model, preprocessor],
                  vocab_file=uncased_vocab, version=1)


def _serve(path, examples):
    """`serving_default` over all examples, in requests of REQUEST_SIZE: outputs
    concatenated, each answer checked to be its byte span of the context (and
    a request of no questions to give empty outputs)."""
    requests = []
    for start in range(0, len(examples), REQUEST_SIZE):
        chunk = examples[start:start + REQUEST_SIZE]
        requests.append(("serving_default", {
            "question": np.array([e.question.encode() for e in chunk], dtype=object),
            "context": np.array([e.context.encode() for e in chunk], dtype=object)}))
    empty = np.array([], dtype=object)
    requests.append(("serving_default", {"question": empty, "context": empty}))
    *outputs, none = NativeSavedModel(path).run_many(requests)
    assert {value.shape for value in none.values()} == {(0,)}
    out = {key: np.concatenate([o[key] for o in outputs]) for key in outputs[0]}
    contexts = [e.context.encode() for e in examples]
    for context, answer, begin, end in zip(contexts, out["answer"], out["start_byte"],
                                           out["end_byte"], strict=True):
        assert answer == (context[begin:end] if begin >= 0 else b"")
    out["answer"] = [a.decode("utf-8") for a in out["answer"]]
    return out


def _mismatches(expected, actual, examples):
    return [(e.qid, want, got) for e, want, got in zip(examples, expected, actual, strict=True)
            if want != got]


@pytest.mark.slow
def test_squad_answers_equal_python_postprocessing(python_side, model, preprocessor,
                                                   uncased_vocab, tmp_path):
    examples, windows = python_side["data"].examples, python_side["windows"]
    assert len(examples) == 5696
    assert sum(count > 1 for count in windows.values()) > 4000
    assert max(windows.values()) >= 10

    out = _serve(_export(tmp_path, model, preprocessor, uncased_vocab), examples)
    expected = [python_side["v1"][e.qid] for e in examples]
    expected = ["" if text == "empty" else text for text in expected]  # no valid span
    mismatches = _mismatches(expected, out["answer"], examples)
    assert not mismatches, f"{len(mismatches)} of {len(examples)} differ: {mismatches[:5]}"
    best = [next(c for c in python_side["nbest"][e.qid] if c["text"]) for e in examples]
    np.testing.assert_allclose(out["score"], [c["start_logit"] + c["end_logit"] for c in best],
                               rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_squad_v2_answers_equal_python_postprocessing(python_side, model, preprocessor,
                                                      uncased_vocab, tmp_path):
    examples = python_side["data"].examples
    out = _serve(_export(tmp_path, model, preprocessor, uncased_vocab,
                         version_2_with_negative=True,
                         null_score_diff_threshold=python_side["threshold"]), examples)
    expected = [python_side["v2"][e.qid] for e in examples]
    answered = sum(bool(text) for text in expected)
    assert 1000 < answered < len(examples) - 1000, answered
    mismatches = _mismatches(expected, out["answer"], examples)
    assert not mismatches, f"{len(mismatches)} of {len(examples)} differ: {mismatches[:5]}"
    np.testing.assert_array_equal(out["has_answer"], [bool(text) for text in expected])


def _python_answer(model, preprocessor, question, context, doc_stride):
    data = squad.parse_squad({"data": [{"paragraphs": [
        {"context": context, "qas": [{"id": "q", "question": question}]}]}]}, False)
    features = squad.squad_features(data, preprocessor.tokenizer, seq_length=SEQ_LENGTH,
                                    doc_stride=doc_stride)
    predictions, _, _ = postprocess(data, features, _python_logits(model, features))
    return predictions["q"], len(features)


def test_long_contexts_are_read_through_max_windows(model, preprocessor):
    """A context past `max_windows` windows is answered as if it ended after the last."""
    words = ("the film was a delight but game dull who won in paris france lives john smith "
             "at it is not bad good great movie city river king war music school water team "
             "year state").split()                                      # one piece each
    words = list(np.random.default_rng(0).choice(words, 400))
    question = "who won the game?"                                      # 5 pieces
    read = 50 + SEQ_LENGTH - 3 - 5                                      # in 2 windows
    answers = {}
    for max_windows in (2, None):
        endpoint = question_answering.endpoints(model, preprocessor, doc_stride=50,
                                                max_windows=max_windows)[0]
        out = endpoint.fn(tf.constant([question]), tf.constant([" ".join(words)]))
        answers[max_windows] = out["answer"].numpy()[0].decode()
    assert (answers[2], 2) == _python_answer(model, preprocessor, question,
                                             " ".join(words[:read]), 50)
    assert (answers[None], 7) == _python_answer(model, preprocessor, question, " ".join(words),
                                                50)
    assert answers[2] != answers[None]
