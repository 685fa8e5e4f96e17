"""Every signature of every export kind, loaded with TensorFlow's C++ session
loader as tensorflow_model_server loads it, gives the in-Python model's
outputs; exports use only ops the model server 2.12+ has; warmup records run."""

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from tests.serving.conftest import TAGS, text_array
from tests.serving.export_fingerprint import variables_saved_and_read
from tfbert.serving import NativeSavedModel, saved_model_ops, unsupported_ops
from tfbert.serving.export import CLASSIFY, PREDICT, REGRESS, text_example
from tfbert.serving.op_check import read_saved_model
from tfbert.serving.warmup import read_warmup_requests

KINDS = ["classification", "pair_regression", "squad_v2", "tagging", "embeddings"]
SENTENCES = ("The film was a delight!", "john smith lives in paris, france.",
             "boring", "It is not bad at all... ¿Qué? 東京 café")


def _text_requests(kind):
    if kind == "pair_regression":
        return [{"text_a": text_array(*SENTENCES), "text_b": text_array(*SENTENCES[::-1])}]
    if kind == "squad_v2":
        return [{"question": text_array("who won?", "where?", "", "why"),
                 "context": text_array("denver won the game.", SENTENCES[1], "",
                                       " ".join(SENTENCES * 4))}]
    return [{"text": text_array(*SENTENCES)}]


def python_outputs(endpoint, inputs):
    """The endpoint's function run eagerly: the in-Python model."""
    args = [tf.constant(inputs[spec.name], spec.dtype) for spec in endpoint.input_signature]
    return {key: np.asarray(value) for key, value in endpoint.fn(*args).items()}


def assert_same(actual, expected, where=""):
    assert set(actual) == set(expected), where
    for key, value in expected.items():
        got = np.asarray(actual[key])
        assert got.shape == value.shape, f"{where} {key}: {got.shape} != {value.shape}"
        if value.dtype.kind == "f":
            np.testing.assert_allclose(got, value, atol=1e-5, rtol=1e-5, err_msg=f"{where} {key}")
        else:
            np.testing.assert_array_equal(got, value, err_msg=f"{where} {key}")


def _requests(exported, kind):
    """Warmup requests of every signature plus real-text ones."""
    requests = [(name, e.warmup) for name, e in exported.endpoints.items()]
    requests += [("serving_default", r) for r in _text_requests(kind)]
    ids = exported.preprocessor(tf.constant(SENTENCES))
    requests.append(("serve_token_ids", {k: v.numpy() for k, v in ids.items()}))
    return requests


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_cpp_loader_matches_python(exports, kind):
    exported = exports(kind)
    runner = NativeSavedModel(exported.path)
    assert set(runner.signatures) - {"__saved_model_init_op"} == set(exported.endpoints)
    requests = _requests(exported, kind)
    for (name, inputs), outputs in zip(requests, runner.run_many(requests), strict=True):
        assert_same(outputs, python_outputs(exported.endpoints[name], inputs), f"{kind}/{name}")


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_only_model_server_ops(exports, kind):
    path = exports(kind).path
    assert unsupported_ops(path) == []
    ops = saved_model_ops(path)
    # The tokenizer is in the graph (TF Text ops), not outside it.
    assert "FastWordpieceTokenizeWithOffsets" in ops and "FastBertNormalize" in ops
    assert "TFText>RoundRobinTrim" not in ops
    # LayerNorm as five ops every server runs well, not the oneDNN-only batch-norm form.
    assert "Rsqrt" in ops and "FusedBatchNormV3" not in ops


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_warmup_records_run(exports, kind):
    exported = exports(kind)
    requests = read_warmup_requests(exported.path)
    assert [name for name, _ in requests] == list(exported.endpoints)
    outputs = NativeSavedModel(exported.path).run_many(requests)
    for (name, inputs), out in zip(requests, outputs, strict=True):
        assert_same(out, python_outputs(exported.endpoints[name], inputs), f"warmup {name}")


@pytest.mark.slow
@pytest.mark.parametrize("kind,traces", [("classification", 1), ("pair_regression", 1),
                                         ("squad_v2", 2), ("tagging", 1), ("embeddings", 1)])
def test_the_model_is_traced_once_per_input_shape(exports, kind, traces):
    """Every signature and every length-sorted slice calls one traced model function
    (`traced_once`); SQuAD has two input shapes (windows of `seq_length`, and ids of
    any length). Traced per call, a classification export held 15 copies of the
    model in 6 functions."""
    library = read_saved_model(exports(kind).path).meta_graphs[0].graph_def.library.function
    models = [f.signature.name for f in library
              if any(node.op == "Rsqrt" for node in f.node_def)]  # the LayerNorms
    assert len(models) == traces, models


@pytest.mark.parametrize("kind", KINDS)
def test_the_export_saves_each_weight_it_reads_once(exports, kind):
    """Keras lists its variable wrappers, the signatures read the tf.Variables inside
    them: written as they come, the export held both (every weight twice, restored
    twice by the C++ loader) and the kernels the precomputed attention weights
    replace, which nothing reads."""
    saved, read = variables_saved_and_read(exports(kind).path)
    assert saved == read > 0


def _session_run(path, signature, inputs):
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
        sig = meta_graph.signature_def[signature]
        fetches = {k: v.name for k, v in sig.outputs.items()}
        feed = {sig.inputs[k].name: v for k, v in inputs.items()}
        return session.run(fetches, feed)


@pytest.mark.slow
def test_python_session_loader(exports):
    for kind in ("classification", "squad_v2"):
        exported = exports(kind)
        inputs = _text_requests(kind)[0]
        assert_same(_session_run(exported.path, "serving_default", inputs),
                    python_outputs(exported.endpoints["serving_default"], inputs), kind)


@pytest.mark.slow
def test_classification_outputs_and_serve_examples(exports):
    exported = exports("classification")
    runner = NativeSavedModel(exported.path)
    out = runner.run("serving_default", {"text": text_array(*SENTENCES)})
    np.testing.assert_allclose(out["probabilities"].sum(axis=1), 1.0, atol=1e-6)
    names = np.array([b"negative", b"neutral", b"positive"], dtype=object)
    np.testing.assert_array_equal(out["label"], names[out["label_id"]])
    np.testing.assert_array_equal(out["label_id"], out["logits"].argmax(axis=1))
    examples = text_array(*[text_example(text=s) for s in SENTENCES])
    classified = runner.run("serve_examples", {"inputs": examples})
    np.testing.assert_allclose(classified["scores"], out["probabilities"], atol=1e-6)
    assert classified["classes"].tolist() == [names.tolist()] * len(SENTENCES)
    methods = {name: sig.method_name for name, sig in
               read_saved_model(exported.path).meta_graphs[0].signature_def.items()}
    assert methods["serve_examples"] == CLASSIFY and methods["serving_default"] == PREDICT
    vocab = pathlib.Path(exported.path) / "assets" / "vocab.txt"
    assert vocab.read_text().split("\n")[5] == "the"
    # fingerprint.pb was rewritten with the method names: its checksum is current.
    from tensorflow.core.protobuf import fingerprint_pb2
    from tensorflow.python.saved_model.pywrap_saved_model import fingerprinting

    fresh = fingerprint_pb2.FingerprintDef.FromString(
        fingerprinting.CreateFingerprintDef(exported.path))
    written = tf.saved_model.experimental.read_fingerprint(exported.path)
    assert written.saved_model_checksum == fresh.saved_model_checksum


@pytest.mark.slow
def test_large_batches_run_in_sorted_slices(exports):
    """40 texts of mixed lengths (over 4 x 8 rows: `by_length` slices them) give, in their
    order, what the model gives each text alone."""
    exported = exports("classification")
    assert "InvertPermutation" in saved_model_ops(exported.path)  # by_length is in the graph
    words = " ".join(SENTENCES).split()
    texts = [" ".join(words[i % 5:i % 5 + 1 + (7 * i) % 19]) for i in range(40)]
    out = NativeSavedModel(exported.path).run("serving_default", {"text": text_array(*texts)})
    alone = [exported.model(exported.preprocessor(tf.constant([t])), training=False)["logits"]
             for t in texts]
    np.testing.assert_allclose(out["logits"], np.concatenate(alone), atol=2e-5, rtol=1e-5)
    packed = exported.preprocessor(tf.constant(texts))
    lengths = packed["input_mask"].numpy().sum(axis=1)
    assert len(set(lengths.tolist())) > 10 and lengths.max() > 3 * lengths.min()


@pytest.mark.slow
def test_pair_regression_signatures(exports):
    exported = exports("pair_regression")
    runner = NativeSavedModel(exported.path)
    inputs = _text_requests("pair_regression")[0]
    score = runner.run("serving_default", inputs)["score"]
    model_score = exported.model(exported.preprocessor((tf.constant(inputs["text_a"]),
                                                        tf.constant(inputs["text_b"]))))
    np.testing.assert_allclose(score, np.asarray(model_score["logits"])[:, 0], atol=1e-5)
    examples = text_array(*[text_example(text_a=a, text_b=b) for a, b in
                            zip(inputs["text_a"], inputs["text_b"], strict=True)])
    np.testing.assert_allclose(runner.run("serve_examples", {"inputs": examples})["outputs"],
                               score, atol=1e-6)
    methods = {name: sig.method_name for name, sig in
               read_saved_model(exported.path).meta_graphs[0].signature_def.items()}
    assert methods["serve_examples"] == REGRESS


def _reference_entities(labels, ids, begin, end, vocab):
    """The documented entity rule, in plain Python."""
    entities, previous, word_label = [], None, None
    for label, token_id, b, e in zip(labels, ids, begin, end, strict=True):
        first_piece = not vocab[token_id].startswith("##")
        if first_piece:
            word_label = label
        prefix, _, kind = TAGS[word_label].partition("-")
        kind = kind or None
        if kind is None:
            previous = None
            continue
        if kind != previous or (first_piece and prefix in "BS"):
            entities.append([kind, b, e])
        else:
            entities[-1][2] = e
        previous = kind
    return entities


@pytest.mark.slow
def test_tagging_entities_follow_the_documented_rule(exports):
    exported = exports("tagging")
    texts = ["john smith lives in paris, france.", "The films's boringed delight", "",
             "denver denver denver denver denver"]
    out = NativeSavedModel(exported.path).run("serving_default", {"text": text_array(*texts)})
    tokenizer = exported.preprocessor.tokenizer
    for i, text in enumerate(texts):
        ids, begin, end = (x[0].numpy() for x in tokenizer.tokenize_with_offsets(
            tf.constant([text])))
        n = len(ids)
        labels = out["label_ids"][i][:n]
        assert (out["label_ids"][i][n:] == -1).all()
        np.testing.assert_array_equal(out["start_byte"][i][:n], begin)
        expected = _reference_entities(labels, ids, begin, end, tokenizer.vocabulary)
        got = [[k.decode(), b, e] for k, b, e in zip(out["entity_labels"][i],
                                                       out["entity_start_byte"][i],
                                                       out["entity_end_byte"][i], strict=True)
               if k]
        assert got == expected


@pytest.mark.slow
def test_embeddings_are_mean_pooled_and_normalised(exports):
    exported = exports("embeddings")
    out = NativeSavedModel(exported.path).run("serving_default", {"text": text_array(*SENTENCES)})
    packed = exported.preprocessor(tf.constant(SENTENCES))
    sequence = np.asarray(exported.model(packed)["sequence_output"])
    mask = packed["input_mask"].numpy()[:, :, None]
    mean = (sequence * mask).sum(1) / mask.sum(1)
    np.testing.assert_allclose(out["embedding"], mean / np.linalg.norm(mean, axis=1,
                                                                       keepdims=True), atol=1e-5)


def test_versions_are_never_overwritten(exports, tmp_path):
    import os

    from tfbert.serving.export import export

    exported = exports("embeddings")
    base = os.path.dirname(exported.path)
    with pytest.raises(FileExistsError, match="never overwritten"):
        export(base, list(exported.endpoints.values()), track=[exported.model], version=1)
    assert sorted(os.listdir(base)) == ["1"]
