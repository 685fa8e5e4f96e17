"""tf.data, tf.function, Keras models and SavedModels; the ops in the graphs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfbert.text as text
from tests.text.util import ragged_to_list

SENTENCES = ["The quick brown fox.", "Café naïve — 中文!", "", "ΟΔΟΣ \x07bell", "Hello"]
PAIRS = ["Is it true?", "Yes it is", "", "no", "Short"]


@pytest.fixture(scope="module")
def preprocessor(uncased_vocab):
    return text.BertPreprocessor(uncased_vocab, lower_case=True, seq_length=16)


def _graph_ops(concrete_function):
    graph_def = concrete_function.graph.as_graph_def()
    functions = {f.signature.name for f in graph_def.library.function}
    ops = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        ops |= {node.op for node in function.node_def}
    return ops - functions


def assert_servable_ops(ops):
    """TF Text ops only from `TF_TEXT_OPS`, nothing forbidden, the rest core TF;
    and all of them in tensorflow_model_server 2.12-2.19 (TF 2.12.0 + TF Text 2.12.1)."""
    from tfbert.serving.op_check import serving_ops

    for op in ops:
        assert op not in text.FORBIDDEN_OPS, op
        if not hasattr(tf.raw_ops, op):
            assert op in text.TF_TEXT_OPS, f"{op} is neither core TF nor in TF_TEXT_OPS"
        assert op in serving_ops(), f"{op} is not in tensorflow_model_server 2.12"


def test_graph_ops_are_allowed(preprocessor):
    tokenizer = preprocessor.tokenizer
    string_spec = tf.TensorSpec([None], tf.string)
    functions = [
        tf.function(preprocessor.call).get_concrete_function(string_spec),
        tf.function(lambda a, b: preprocessor((a, b))).get_concrete_function(
            string_spec, string_spec),
        tf.function(lambda s: tokenizer.tokenize_with_offsets(s, words=True)).get_concrete_function(
            string_spec),
        tf.function(tokenizer.detokenize).get_concrete_function(
            tf.RaggedTensorSpec([None, None], tf.int32)),
        tf.function(text.BasicTokenizer().tokenize).get_concrete_function(string_spec),
        tf.function(text.BasicTokenizer(lower_case=False).tokenize).get_concrete_function(
            string_spec),
    ]
    all_ops = set()
    for function in functions:
        ops = _graph_ops(function)
        assert_servable_ops(ops)
        all_ops |= ops
    assert {"FastBertNormalize", "FastWordpieceTokenizeWithOffsets"} <= all_ops


def test_tf_function_with_unknown_batch(uncased_tokenizer):
    tokenize = tf.function(uncased_tokenizer.tokenize,
                           input_signature=[tf.TensorSpec([None], tf.string)])
    eager = uncased_tokenizer.tokenize(SENTENCES).to_list()
    assert tokenize(tf.constant(SENTENCES)).to_list() == eager
    assert tokenize(tf.constant(SENTENCES[:1])).to_list() == eager[:1]
    assert tokenize(tf.constant([], tf.string)).shape[0] == 0


def test_tf_data_map(uncased_tokenizer, preprocessor):
    eager = uncased_tokenizer.tokenize(SENTENCES).to_list()
    dataset = tf.data.Dataset.from_tensor_slices(SENTENCES).batch(2).map(uncased_tokenizer)
    assert [row for batch in dataset for row in batch.to_list()] == eager

    pairs = tf.data.Dataset.from_tensor_slices((SENTENCES, PAIRS)).batch(2)
    packed = pairs.map(lambda a, b: preprocessor((a, b)))
    got = np.concatenate([batch["input_word_ids"].numpy() for batch in packed])
    np.testing.assert_array_equal(got, preprocessor((SENTENCES, PAIRS))["input_word_ids"])

    unbatched = tf.data.Dataset.from_tensor_slices(SENTENCES).map(uncased_tokenizer.tokenize)
    assert [row.numpy().tolist() for row in unbatched] == eager


def test_preprocessor_outputs(preprocessor, uncased_tokenizer):
    out = preprocessor((SENTENCES, PAIRS))
    ids_a = uncased_tokenizer.tokenize(SENTENCES).to_list()
    ids_b = uncased_tokenizer.tokenize(PAIRS).to_list()
    special = preprocessor.get_special_tokens_dict()
    for i in range(len(SENTENCES)):
        a, b = list(ids_a[i]), list(ids_b[i])
        while len(a) + len(b) > 16 - 3:
            (a if len(a) > len(b) else b).pop()
        want = [special["start_of_sequence_id"], *a, special["end_of_segment_id"], *b,
                special["end_of_segment_id"]]
        row = out["input_word_ids"][i].numpy().tolist()
        assert row[:len(want)] == want and set(row[len(want):]) <= {special["padding_id"]}
        assert out["input_mask"][i].numpy().sum() == len(want)
        assert out["input_type_ids"][i].numpy().sum() == len(b) + 1


def test_tf_hub_interface(preprocessor):
    assert preprocessor.get_special_tokens_dict() == {
        "vocab_size": 30522, "start_of_sequence_id": 101, "end_of_segment_id": 102,
        "padding_id": 0, "mask_id": 103, "unk_id": 100}
    words = preprocessor.tokenize(tf.constant(["Hello wonderful world", "x"]))
    assert words.ragged_rank == 2 and words.dtype == tf.int32
    assert ragged_to_list(words) == [[[7592], [6919], [2088]], [[1060]]]
    packed = preprocessor.bert_pack_inputs([words, words], seq_length=6)
    assert packed["input_word_ids"].numpy().tolist() == [
        [101, 7592, 6919, 102, 7592, 102], [101, 1060, 102, 1060, 102, 0]]


def test_keras_functional_model_and_saving(preprocessor, tmp_path):
    inputs = keras.Input(shape=(), dtype="string")
    model = keras.Model(inputs, preprocessor(inputs))
    got = model(tf.constant(SENTENCES))
    want = preprocessor(tf.constant(SENTENCES))
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])
    model.save(tmp_path / "pre.keras")
    loaded = keras.models.load_model(tmp_path / "pre.keras")
    for key, value in loaded(tf.constant(SENTENCES)).items():
        np.testing.assert_array_equal(value, want[key])


def test_tokenizer_in_a_functional_model(uncased_tokenizer):
    inputs = keras.Input(shape=(), dtype="string")
    outputs = uncased_tokenizer(inputs)
    assert outputs.ragged and outputs.dtype == "int32"
    model = keras.Model(inputs, outputs)
    want = uncased_tokenizer.tokenize(SENTENCES).to_list()
    assert model(tf.constant(SENTENCES)).to_list() == want


def test_get_config_round_trips(preprocessor, uncased_tokenizer):
    tokenizer = text.BertTokenizer.from_config(uncased_tokenizer.get_config())
    want = uncased_tokenizer.tokenize(SENTENCES).to_list()
    assert tokenizer.tokenize(SENTENCES).to_list() == want
    clone = text.BertPreprocessor.from_config(preprocessor.get_config())
    for key, value in clone(SENTENCES).items():
        np.testing.assert_array_equal(value, preprocessor(SENTENCES)[key])
    small = text.BertTokenizer(vocabulary=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"],
                               lower_case=False)
    again = text.BertTokenizer.from_config(small.get_config())
    assert again.vocabulary == small.vocabulary and not again.lower_case


def test_saved_model_round_trip(preprocessor, tmp_path):
    class Serving(tf.Module):
        def __init__(self, pre):
            super().__init__()
            self.pre = pre

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, sentences):
            return self.pre(sentences)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string),
                                      tf.TensorSpec([None], tf.string)])
        def serve_pairs(self, a, b):
            return self.pre((a, b))

    module = Serving(preprocessor)
    path = str(tmp_path / "saved")
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve,
                                                  "pairs": module.serve_pairs})
    loaded = tf.saved_model.load(path)
    got = loaded.signatures["serving_default"](sentences=tf.constant(SENTENCES))
    for key, value in preprocessor(SENTENCES).items():
        np.testing.assert_array_equal(got[key], value)
    got = loaded.signatures["pairs"](a=tf.constant(SENTENCES), b=tf.constant(PAIRS))
    np.testing.assert_array_equal(got["input_word_ids"],
                                  preprocessor((SENTENCES, PAIRS))["input_word_ids"])

    from tensorflow.core.protobuf import saved_model_pb2
    saved = saved_model_pb2.SavedModel()
    with open(f"{path}/saved_model.pb", "rb") as f:
        saved.ParseFromString(f.read())
    ops, functions = set(), set()
    for meta_graph in saved.meta_graphs:
        ops |= {node.op for node in meta_graph.graph_def.node}
        for function in meta_graph.graph_def.library.function:
            functions.add(function.signature.name)
            ops |= {node.op for node in function.node_def}
    assert_servable_ops(ops - functions)


def test_export_archive(preprocessor, tmp_path):
    archive = keras.export.ExportArchive()
    archive.track(preprocessor)
    archive.add_endpoint("serve", lambda s: preprocessor(s),
                         input_signature=[tf.TensorSpec([None], tf.string)])
    archive.write_out(str(tmp_path / "archive"))
    loaded = tf.saved_model.load(str(tmp_path / "archive"))
    got = loaded.serve(tf.constant(SENTENCES))
    np.testing.assert_array_equal(got["input_word_ids"],
                                  preprocessor(SENTENCES)["input_word_ids"])


def test_export_runs_in_the_model_servers_loader(preprocessor, tmp_path):
    """Ops within tensorflow_model_server 2.12's, and the session-based C++
    loader (as the server loads) gives the same packed inputs."""
    from tfbert.serving import NativeSavedModel
    from tfbert.serving.op_check import unsupported_ops

    path = tmp_path / "preprocess" / "1"
    archive = keras.export.ExportArchive()
    archive.track(preprocessor)
    archive.add_endpoint(
        "serving_default", lambda a, b: preprocessor((a, b)),
        input_signature=[tf.TensorSpec([None], tf.string, name="a"),
                         tf.TensorSpec([None], tf.string, name="b")])
    archive.write_out(str(path))
    assert unsupported_ops(path) == []

    # Some rows take the exact path (Σ, §, a 300-character word, invalid UTF-8).
    first = [s.encode("utf-8") for s in SENTENCES + ["ΣΟΦΙΑ § x", "x" * 300]]
    second = [s.encode("utf-8") for s in PAIRS] + [b"bad \xff utf-8", b""]
    inputs = {"a": np.array(first, object), "b": np.array(second, object)}
    runner = NativeSavedModel(path)
    native, fast_only = runner.run_many([
        ("serving_default", inputs),
        ("serving_default", {k: v[:1] for k, v in inputs.items()}),  # no exact-path row
    ])
    want = preprocessor((tf.constant(inputs["a"]), tf.constant(inputs["b"])))
    for key, value in want.items():
        np.testing.assert_array_equal(native[key], value)
        np.testing.assert_array_equal(fast_only[key], value[:1])
