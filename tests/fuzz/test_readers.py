"""Property-based tests of the file readers of `tfbert.data`.

Each test writes a generated file (arbitrary Unicode, invalid UTF-8, huge and
empty fields, wrong JSON types, deeply nested JSON) and reads it. The reader
must give the right result for a well-formed file, and for any other file
either a result or a `ValueError` whose message names the file (and, where
the fault is on a line, that line); never another exception, never a hang
(each case runs under the conftest's alarm).
"""

import csv
import io
import json
import re

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.strategies import raw_texts, texts
from tfbert.data import glue, multilabel, pretraining_corpus, squad
from tfbert.data.classification_files import read_classification_file
from tfbert.data.conll import read_conll, read_conll_documents


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz_readers")


def _write(directory, name, data):
    path = directory / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def read_or_clean_error(read, path):
    """`read()`, or None when it raised a ValueError naming `path`; any other
    exception, or a ValueError that does not say which file, fails the test."""
    try:
        return read()
    except ValueError as e:
        assert str(path) in str(e), f"the error does not name the file: {e}"
        return None


def _invalid_utf8_line(data):
    """The line of the first byte that is not UTF-8, or None."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return data.count(b"\n", 0, e.start) + 1
    return None


def _names_line(message, path, line):
    return f"{path}:{line}:" in message or f"{path}, line {line}:" in message


# ------------------------------------------------------------- hostile bytes
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts(4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts(2), inner, max_size=4),
    max_leaves=12)


def deep_json(depth):
    """JSON text nested `depth` levels (a list or an object at each level)."""
    return st.sampled_from((("[" * depth) + ("]" * depth),
                            ('{"a":' * depth) + "1" + ("}" * depth)))


hostile_lines = st.one_of(
    raw_texts(8),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8")),
    st.integers(1, 100_000).flatmap(deep_json).map(str.encode),
    st.sampled_from((b"", b"\t", b",", b'"', b'"unterminated', b"\r", b"\x00",
                     b"x" * 300_000)),
)
hostile_files = st.lists(hostile_lines, max_size=8).map(lambda lines: b"\n".join(lines))

# The readers, each on one file, with the columns and options a user gives.
READERS = {
    "glue_sst2.tsv": lambda p: glue.read_glue_file("sst2", p),
    "glue_mrpc.tsv": lambda p: glue.read_glue_file("mrpc", p),
    "glue_cola.tsv": lambda p: glue.read_glue_file("cola", p),
    "glue_stsb_test.tsv": lambda p: glue.read_glue_file("stsb", p, labeled=False),
    "classes.csv": lambda p: read_classification_file(p, text_a="text", label="label"),
    "classes.tsv": lambda p: read_classification_file(p, text_a="text", text_b="b",
                                                      label="label", skip_bad_lines=True),
    "classes.jsonl": lambda p: read_classification_file(p, text_a="text", label="label"),
    "scores.jsonl": lambda p: read_classification_file(p, text_a="text", label="label",
                                                       regression=True),
    "labels.jsonl": lambda p: multilabel.read_multilabel_file(p, text_a="text", label="labels"),
    "labels.csv": lambda p: multilabel.read_multilabel_file(p, text_a="text", label="labels"),
    "flags.tsv": lambda p: multilabel.read_multilabel_file(
        p, text_a="text", label_columns=("PER", "LOC")),
    "squad_train.json": lambda p: squad.read_squad(p, is_training=True),
    "squad_dev.json": lambda p: squad.read_squad(p, is_training=False),
    "conll.txt": lambda p: read_conll(p, scheme="iob1"),
    "conll_documents.txt": lambda p: read_conll_documents(p),
    "corpus.txt": pretraining_corpus.read_lines,
}
_HEADERS = {".tsv": b"sentence\tlabel\ttext\tb\t#1 String\t#2 String\tQuality\tPER\tLOC\n",
            ".csv": b"text,label,labels\n"}


@given(st.sampled_from(sorted(READERS)), hostile_files, st.booleans())
@example("squad_train.json", b"[" * 100_000 + b"]" * 100_000, False)
@example("classes.jsonl", b'{"text": "a", "label": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
         False)
@example("labels.csv", b'x,"' + b"[" * 50_000 + b"]" * 50_000 + b'"', True)
@example("glue_sst2.tsv", b"good\t1\nbad \xff\t0\n", True)
def test_hostile_files_give_a_result_or_a_clean_error(work, name, data, with_header):
    suffix = name[name.rfind("."):]
    if with_header:
        data = _HEADERS.get(suffix, b"") + data
    path = _write(work, name, data)
    read_or_clean_error(lambda: READERS[name](path), path)
    bad_line = _invalid_utf8_line(data)
    if bad_line is not None:  # invalid UTF-8 is always an error naming its line
        with pytest.raises(ValueError) as error:
            READERS[name](path)
        assert _names_line(str(error.value), path, bad_line), str(error.value)


# --------------------------------------------------- well-formed files, read right
_cell = texts(8).filter(lambda t: t.strip() and not re.search(r"[\t\n\r]", t))
_label = st.sampled_from(("neg", "pos", "neutral"))


@given(st.lists(st.tuples(_cell, _cell, _label), min_size=1, max_size=6),
       st.sampled_from(("csv", "tsv", "jsonl")))
def test_classification_files_read_what_was_written(work, rows, file_format):
    if file_format == "jsonl":
        data = "".join(json.dumps({"text": a, "b": b, "label": y}, ensure_ascii=False) + "\n"
                       for a, b, y in rows)
    else:
        out = io.StringIO()
        if file_format == "csv":
            writer = csv.writer(out)
        else:
            writer = csv.writer(out, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar=None,
                                quotechar=None)
        writer.writerows([("text", "b", "label"), *rows])
        data = out.getvalue()
    if file_format == "tsv" and any(c.strip() != c for row in rows for c in row[2:]):
        return
    path = _write(work, f"written.{file_format}", data)
    got = read_classification_file(path, text_a="text", text_b="b", label="label",
                                   label_names=("neg", "neutral", "pos"))
    want = [(a, b, ("neg", "neutral", "pos").index(y)) for a, b, y in rows]
    assert [(e.text_a, e.text_b, e.label) for e in got.examples] == want


@given(st.lists(st.tuples(_cell, st.lists(_label, unique=True)), min_size=1, max_size=6))
def test_multilabel_jsonl_reads_what_was_written(work, rows):
    data = "".join(json.dumps({"text": t, "labels": y}, ensure_ascii=False) + "\n"
                   for t, y in rows)
    path = _write(work, "written_labels.jsonl", data)
    names = ("neg", "neutral", "pos")
    got = multilabel.read_multilabel_file(path, text_a="text", label="labels", label_names=names)
    want = [(t, tuple(int(n in y) for n in names)) for t, y in rows]
    assert [(e.text_a, e.label) for e in got.examples] == want


_word = texts(3).map(lambda t: "".join(t.split())).filter(lambda w: w and w != "-DOCSTART-")
_tag = st.sampled_from(("O", "B-PER", "I-PER", "B-LOC", "I-LOC"))


@given(st.lists(st.lists(st.tuples(_word, _tag), min_size=1, max_size=6), min_size=1,
                max_size=5))
def test_conll_reads_what_was_written(work, sentences):
    data = "\n\n".join("\n".join(f"{w} NN {t}" for w, t in s) for s in sentences) + "\n"
    if any(ch in data for ch in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
        return  # line breaks of Python's universal newlines / str.split: not one word
    if data.startswith("\ufeff"):
        return  # a leading byte-order mark is the file's encoding mark, dropped on reading
    path = _write(work, "written_conll.txt", data)
    got = read_conll(path, scheme="iob2")
    assert [(s.words, s.tags) for s in got.sentences] == [
        (tuple(w for w, _ in s), tuple(t for _, t in s)) for s in sentences]


@given(st.lists(st.tuples(texts(12), st.booleans(), st.integers(0, 3)), min_size=1,
                max_size=5), st.booleans())
def test_squad_reads_what_was_written(work, questions, is_training):
    context = "".join(q for q, _, _ in questions) + " the answer is here."
    qas = []
    for i, (question, impossible, start) in enumerate(questions):
        answer = context[start:start + 5] or "x"
        qas.append({"id": f"q{i}", "question": question, "is_impossible": impossible,
                    "answers": [] if impossible else [{"text": answer, "answer_start": start}]})
    dataset = {"version": "v2.0",
               "data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}
    path = _write(work, "written_squad.json", json.dumps(dataset, ensure_ascii=False))
    data = read_or_clean_error(lambda: squad.read_squad(path, is_training), path)
    usable = [q for q in qas if q["is_impossible"] or squad._answer_matches(
        context, q["answers"][0]["text"], q["answers"][0]["answer_start"])]
    kept = usable if is_training else qas
    if not kept:
        assert data is None
        return
    assert [e.qid for e in data.examples] == [q["id"] for q in kept]
    assert all(e.context == context for e in data.examples)


@given(st.lists(texts(6).filter(lambda t: "\n" not in t), max_size=12))
def test_corpus_documents_are_the_originals(work, uncased_tokenizer, uncased_reference, lines):
    path = _write(work, "written_corpus.txt", "".join(line + "\n" for line in lines))
    tokenize = pretraining_corpus.batch_tokenizer(uncased_tokenizer)
    documents, num_lines = pretraining_corpus.read_documents([str(path)], tokenize,
                                                             batch_lines=4)
    want, current = [], []
    for line in [line.strip() for line in lines]:
        if not line:
            want, current = want + [current] * bool(current), []
            continue
        ids = uncased_reference.ids(line)
        if ids:
            current.append(ids)
    want += [current] * bool(current)
    got = [[doc.ids[a:b].tolist() for a, b in zip(doc.starts, doc.starts[1:], strict=False)]
           for doc in documents]
    assert got == want
    assert num_lines == len(lines)
    assert all(doc.ids.dtype == np.int32 for doc in documents)


def _maybe(strategy):
    """The right shape, or (one time in three) any JSON value in its place."""
    return st.one_of(strategy, strategy, json_values)


_answer = _maybe(st.fixed_dictionaries({"text": _maybe(texts(4)),
                                        "answer_start": _maybe(st.integers(-2, 30))}))
_qa = _maybe(st.fixed_dictionaries(
    {"id": _maybe(texts(3)), "question": _maybe(texts(6)),
     "answers": _maybe(st.lists(_answer, max_size=2))},
    optional={"is_impossible": _maybe(st.booleans())}))
_paragraph = _maybe(st.fixed_dictionaries({"context": _maybe(texts(10)),
                                           "qas": _maybe(st.lists(_qa, max_size=3))}))
_article = _maybe(st.fixed_dictionaries({"paragraphs": _maybe(st.lists(_paragraph, max_size=2))},
                                        optional={"title": _maybe(texts(3))}))
squad_json = _maybe(st.fixed_dictionaries({"data": _maybe(st.lists(_article, max_size=3))},
                                          optional={"version": _maybe(texts(2))}))


@given(squad_json, st.booleans())
def test_squad_with_wrong_json_types(work, dataset, is_training):
    path = _write(work, "typed_squad.json", json.dumps(dataset, ensure_ascii=False))
    data = read_or_clean_error(lambda: squad.read_squad(path, is_training), path)
    for e in data.examples if data else ():
        assert isinstance(e.qid, str) and isinstance(e.question, str)
        assert isinstance(e.context, str)
        assert all(isinstance(a, str) for a in e.answers)
        if e.answer_start is not None:
            assert e.context[e.answer_start:].startswith(e.answer_text) or (
                " ".join(e.answer_text.split()) in " ".join(e.context.split()))
