"""Exports of tiny random models (2 layers, hidden 64) with a small vocab,
built once per test session and shared by the serving tests."""

import numpy as np
import pytest

import tfbert
from tests.helpers import randomize, tiny_config
from tfbert.serving import classification, embeddings, question_answering, tagging
from tfbert.serving.export import export
from tfbert.text import BertPreprocessor

WORDS = ("the film was a delight dull boring great movie who won denver game because "
         "it is not bad good at all paris france lives in john smith . , ? !").split()
VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + ["##s", "##ing", "##ed"]
         + list("abcdefghijklmnopqrstuvwxyz") + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"])
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
SEQ_LENGTH = 24


class Exported:
    """An export with what made it: `path`, `endpoints` (their Python functions)."""

    def __init__(self, path, endpoints, model, preprocessor):
        self.path, self.endpoints = path, {e.name: e for e in endpoints}
        self.model, self.preprocessor = model, preprocessor


@pytest.fixture(scope="session")
def vocab_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="session")
def preprocessor(vocab_file):
    return BertPreprocessor(vocab_file, seq_length=SEQ_LENGTH)


def _config():
    return tiny_config(vocab_size=len(VOCAB))


def _export(base, endpoints, model, preprocessor, vocab_file):
    path = export(str(base), endpoints, track=[model, preprocessor], vocab_file=vocab_file,
                  version=1)
    return Exported(path, endpoints, model, preprocessor)


@pytest.fixture(scope="session")
def exports(tmp_path_factory, preprocessor, vocab_file):
    """`get(kind)`: the export of one kind, built on first use."""
    cache = {}
    pair = BertPreprocessor(vocab_file, seq_length=SEQ_LENGTH)

    def build(kind):
        base = tmp_path_factory.mktemp(kind)
        if kind == "classification":
            model = randomize(tfbert.BertClassifier(tfbert.BertEncoder(_config()), 3), seed=1)
            return _export(base, classification.endpoints(model, preprocessor,
                                                          ["negative", "neutral", "positive"]),
                           model, preprocessor, vocab_file)
        if kind == "pair_regression":
            model = randomize(tfbert.BertClassifier(tfbert.BertEncoder(_config()), 1), seed=2)
            return _export(base, classification.endpoints(model, pair, pair=True,
                                                          regression=True),
                           model, pair, vocab_file)
        if kind == "squad_v2":
            model = randomize(tfbert.BertSpanLabeler(tfbert.BertEncoder(_config())), seed=3)
            return _export(base, question_answering.endpoints(
                model, preprocessor, max_query_length=8, max_answer_length=5,
                version_2_with_negative=True), model, preprocessor, vocab_file)
        if kind == "tagging":
            model = randomize(tfbert.BertTokenClassifier(tfbert.BertEncoder(_config()),
                                                         len(TAGS)), seed=4)
            return _export(base, tagging.endpoints(model, preprocessor, TAGS), model,
                           preprocessor, vocab_file)
        if kind == "embeddings":
            model = randomize(tfbert.BertEncoder(_config()), seed=5)
            return _export(base, embeddings.endpoints(model, preprocessor, normalize=True),
                           model, preprocessor, vocab_file)
        raise KeyError(kind)

    def get(kind):
        if kind not in cache:
            cache[kind] = build(kind)
        return cache[kind]

    return get


def text_array(*texts):
    return np.array([t.encode("utf-8") if isinstance(t, str) else t for t in texts],
                    dtype=object)
