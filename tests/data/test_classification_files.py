"""The user's own classification files: CSV, TSV and JSON Lines, labels found
or given, and bad input named by file and line."""

import json

import pytest

from tfbert.data.classification_files import read_classification_file


def test_user_csv_tsv_jsonl(tmp_path):
    csv_path = tmp_path / "train.csv"
    csv_path.write_text('id,review,verdict\n1,"Great, really great",pos\n2,Awful,neg\n'
                        '3,"Multi\nline",pos\n')
    data = read_classification_file(csv_path, text_a="review", label="verdict")
    assert data.label_names == ("neg", "pos")
    assert [e.label for e in data.examples] == [1, 0, 1]
    assert data.examples[2].text_a == "Multi\nline"
    with pytest.raises(ValueError, match=r"train.csv:3: label 'neg' is not in the label list"):
        read_classification_file(csv_path, text_a="review", label="verdict",
                                 label_names=["pos"])
    jsonl = tmp_path / "pairs.jsonl"
    rows = [{"q": "a?", "p": "b.", "y": 0.5}, {"q": "c?", "p": "d.", "y": 3}]
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    data = read_classification_file(jsonl, text_a="q", text_b="p", label="y",
                                    regression=True)
    assert data.is_regression and [e.label for e in data.examples] == [0.5, 3.0]
    jsonl.write_text('{"q": "a?", "y": 1}\n{"y": 0}\n')
    with pytest.raises(ValueError, match=r"pairs.jsonl:2: no key 'q'"):
        read_classification_file(jsonl, text_a="q", label="y")
    data = read_classification_file(jsonl, text_a="q", label="y", label_names=[0, 1],
                                    skip_bad_lines=True)
    assert len(data.examples) == 1 and len(data.skipped) == 1
    tsv = tmp_path / "own.tsv"
    tsv.write_text('text\tlabel\n"quoted" stays\tb\n')
    data = read_classification_file(tsv, text_a="text", label_names=["a", "b"])
    assert data.examples[0].text_a == '"quoted" stays' and data.examples[0].label == 1
    (tmp_path / "x.parquet").write_text("")
    with pytest.raises(ValueError, match="unknown file format 'parquet'"):
        read_classification_file(tmp_path / "x.parquet")
