"""Multi-label files: both layouts, every format, and the errors that name file and line."""

import json

import pytest

from tfbert.data.multilabel import conll_entity_types, read_multilabel_file, split_labels


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_list_column_in_tsv_csv_and_jsonl_reads_alike(tmp_path):
    tsv = _write(tmp_path, "a.tsv", "text\tlabels\nJohn in Paris\tPER|LOC\nhello\t\n"
                 "the UN\tORG\n")
    csv = _write(tmp_path, "a.csv", 'text,labels\nJohn in Paris,"[""PER"", ""LOC""]"\n'
                 "hello,[]\nthe UN,ORG\n")
    jsonl = _write(tmp_path, "a.jsonl", "\n".join(json.dumps(row) for row in [
        {"text": "John in Paris", "labels": ["PER", "LOC"]}, {"text": "hello", "labels": []},
        {"text": "the UN", "labels": "ORG"}]) + "\n")
    results = [read_multilabel_file(p, text_a="text") for p in (tsv, csv, jsonl)]
    for data in results:
        assert data.label_names == ("LOC", "ORG", "PER")
        assert [e.label for e in data.examples] == [(1, 0, 1), (0, 0, 0), (0, 1, 0)]
        assert [e.text_a for e in data.examples] == ["John in Paris", "hello", "the UN"]


def test_zero_one_columns_name_the_labels(tmp_path):
    path = _write(tmp_path, "b.csv", "text,PER,ORG\nJohn,1,0\nIBM and Ann,true,1\nnone,0,\n")
    data = read_multilabel_file(path, text_a="text", label_columns=["PER", "ORG"])
    assert data.label_names == ("PER", "ORG")
    assert [e.label for e in data.examples] == [(1, 0), (1, 1), (0, 0)]


def test_given_label_names_fix_the_order_and_pairs_read(tmp_path):
    path = _write(tmp_path, "c.tsv", "q\tp\ttags\nwho\tJohn\tPER\n")
    data = read_multilabel_file(path, text_a="q", text_b="p", label="tags",
                                label_names=["PER", "ORG"])
    assert data.examples[0].text_b == "John" and data.examples[0].label == (1, 0)


@pytest.mark.parametrize("content, kwargs, message", [
    ("text\tlabels\nok\tPER\nbad\tPER|FOO\n", {"label_names": ["PER", "ORG"]},
     r"c\.tsv:3: label 'FOO' is not in the label list \['PER', 'ORG'\]"),
    ("text\tlabels\nok\tPER\nnone\t\n", {"allow_empty": False},
     r"c\.tsv:3: empty label list"),
    ("text\tlabels\na\t\nb\t[]\n", {}, r"c\.tsv: no labels: every row's label list is empty"),
    ("text\tlabels\na\t[PER\n", {"label_names": ["PER"]}, r"c\.tsv:2: label list .* JSON"),
    ("text\tPER\na\tmaybe\n", {"label_columns": ["PER"]}, r"c\.tsv:2: column 'PER'.*0/1"),
    ("text\tlabel\na\tPER\n", {}, r"c\.tsv:1: no column 'labels'"),
])
def test_bad_rows_are_errors_naming_file_and_line(tmp_path, content, kwargs, message):
    path = _write(tmp_path, "c.tsv", content)
    with pytest.raises(ValueError, match=message):
        read_multilabel_file(path, text_a="text", **kwargs)


def test_split_labels():
    assert split_labels(' ["a", 1, true] ') == ["a", "1", "1"]
    assert split_labels("a, b ,", ",") == ["a", "b"]
    assert split_labels("") == []


def test_conll_entity_types_from_the_real_files(shared_data, tmp_path):
    out = tmp_path / "valid.jsonl"
    count = conll_entity_types(shared_data / "conll2003" / "valid.txt", out)
    assert count == 3250
    data = read_multilabel_file(out, text_a="text", label_names=["PER", "ORG", "LOC", "MISC"])
    assert len(data.examples) == 3250
    empty = sum(not any(e.label) for e in data.examples)
    assert 0 < empty < 3250  # some sentences mention no entity and keep the empty set
    first, second = (json.loads(line) for line in out.read_text().splitlines()[:2])
    assert first == {"text": "CRICKET - LEICESTERSHIRE TAKE OVER AT TOP AFTER INNINGS "
                             "VICTORY .", "labels": ["ORG"]}
    assert second == {"text": "LONDON 1996-08-30", "labels": ["LOC"]}
