"""Regression tests for what the property-based reader tests (tests/fuzz) found:
invalid UTF-8, JSON nested past Python's recursion limit and SQuAD JSON of the
wrong types used to escape the readers as `UnicodeDecodeError`,
`RecursionError`, `AttributeError` or `TypeError` without the file's name;
each is now a `ValueError` naming the file (and line)."""

import json

import pytest

from tfbert.data import glue, multilabel, pretraining_corpus, squad
from tfbert.data.classification_files import read_classification_file
from tfbert.data.conll import read_conll

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("name, data, read", [
    ("dev.tsv", b"sentence\tlabel\nbad \xff\t0\ngood\t1\n",
     lambda p: glue.read_glue_file("sst2", p)),
    ("train.csv", b"text,label\n\xc3(,b\nok,a\n",
     lambda p: read_classification_file(p, text_a="text", label="label")),
    ("train.jsonl", b'{"text": "a", "label": "x"}\n{"text": "\xed\xa0\x80"}\n',
     lambda p: read_classification_file(p, text_a="text", label="label")),
    ("train.txt", b"EU B-ORG\n\xff O\n", read_conll),
    ("train.json", b'{"data": []\n\xf0\x9f}', lambda p: squad.read_squad(p, True)),
    ("corpus.txt", b"ok\n\x80\n", pretraining_corpus.read_lines),
])
def test_invalid_utf8_names_file_and_line(tmp_path, name, data, read):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=rf"{path}, line 2: not valid UTF-8"):
        read(path)


def test_deep_json_is_a_clean_error(tmp_path):
    rows = tmp_path / "train.jsonl"
    rows.write_text('{"text": "a", "label": "x"}\n' + DEEP + "\n")
    with pytest.raises(ValueError, match=rf"{rows}:2: JSON nested too deeply"):
        read_classification_file(rows, text_a="text", label="label")
    cells = tmp_path / "labels.csv"
    cells.write_text(f'text,labels\na,"{DEEP}"\n')
    with pytest.raises(ValueError, match=rf"{cells}:2: label list .* nested too deeply"):
        multilabel.read_multilabel_file(cells, text_a="text", label="labels", label_names=["x"])
    squad_file = tmp_path / "dev.json"
    squad_file.write_text(DEEP)
    with pytest.raises(ValueError, match=rf"{squad_file}: JSON nested too deeply"):
        squad.read_squad(squad_file, is_training=False)


@pytest.mark.parametrize("dataset, message", [
    ({"data": [None]}, r"data\[0\]: expected an object, got null"),
    ({"data": [{"paragraphs": {"context": "x"}}]}, r"data\[0\]\.paragraphs must be a list"),
    ({"data": [{"paragraphs": [{"context": 7, "qas": []}]}]},
     r"paragraphs\[0\]\.context must be a string, not an integer"),
    ({"data": [{"paragraphs": [{"context": "c", "qas": [["q"]]}]}]},
     r"qas\[0\]: expected an object, got a list"),
    ({"data": [{"paragraphs": [{"context": "c", "qas": [
        {"id": "q", "question": "?", "answers": [{"text": "c", "answer_start": "0"}]}]}]}]},
     r"answers\[0\]\.answer_start must be an integer, not a string"),
    ({"data": [{"paragraphs": [{"context": "c", "qas": [
        {"id": "q", "question": "?", "answers": [{"text": "c", "answer_start": True}]}]}]}]},
     r"answer_start must be an integer, not true or false"),
    ({"data": [{"paragraphs": [{"context": "c", "qas": [{"id": None, "question": "?"}]}]}]},
     r"qas\[0\]\.id must be a string or an integer, not null"),
])
def test_squad_of_wrong_types_is_a_clean_error(tmp_path, dataset, message):
    path = tmp_path / "train.json"
    path.write_text(json.dumps(dataset))
    with pytest.raises(ValueError, match=rf"{path}: .*{message}"):
        squad.read_squad(path, is_training=True)
