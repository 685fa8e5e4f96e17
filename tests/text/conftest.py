"""Fixtures of the tfbert.text tests: tokenizers are built once per session."""

import json
import pathlib

import pytest

import tfbert.text as text
from tests.text.reference_tokenization import ReferenceTokenizer

# A 1,932-token cased vocab learned with tfbert's own vocab builder from the
# SQuAD contexts and the first 400 golden texts (cased: upper case and
# accents kept), for checking cased mode against the reference.
CASED_VOCAB = pathlib.Path(__file__).parent / "data" / "cased_vocab.txt"


@pytest.fixture(scope="session")
def golden_rows(shared_data):
    path = shared_data / "tokenization_golden" / "uncased_dev.jsonl"
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="session")
def uncased_tokenizer(uncased_vocab):
    return text.BertTokenizer(uncased_vocab, lower_case=True)


@pytest.fixture(scope="session")
def uncased_reference(uncased_vocab):
    return ReferenceTokenizer(text.load_vocab(uncased_vocab), lower_case=True)


@pytest.fixture(scope="session")
def cased_tokenizer():
    return text.BertTokenizer(CASED_VOCAB, lower_case=False)


@pytest.fixture(scope="session")
def cased_reference():
    return ReferenceTokenizer(text.load_vocab(CASED_VOCAB), lower_case=False)


@pytest.fixture(scope="session")
def squad_contexts(shared_data):
    with open(shared_data / "squad" / "dev-v1.1-articles-00-23.json", encoding="utf-8") as f:
        data = json.load(f)["data"]
    return [p["context"] for article in data for p in article["paragraphs"]]
