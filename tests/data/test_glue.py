"""GLUE: the real SST-2/MRPC data, every GLUE task's original format, and bad
input named by file and line."""

import pytest

from tfbert.data import glue


def test_real_sst2_and_mrpc(shared_data):
    sst2 = glue.read_glue("glue/sst2", shared_data / "glue", "train")
    assert len(sst2.examples) == 67349 and sst2.label_names == ("0", "1")
    assert sst2.examples[0].text_a.startswith("hide new secretions")
    assert sst2.examples[0].guid == "train.tsv:2"
    mrpc = glue.read_glue("MRPC", shared_data / "glue" / "MRPC", "dev")
    assert len(mrpc.examples) == 408
    first = mrpc.examples[0]
    assert first.label == 1 and first.text_b.startswith('"The foodservice pie')
    assert first.text_a.startswith("He said the foodservice")  # no BOM, no quote handling
    assert sum(e.label for e in mrpc.examples) == 279


GLUE_FILES = {
    "cola": ("gj04\t1\t\tOur friends won't buy this analysis.\n", None, 1),
    "stsb": ("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"
             "\tscore\n0\tmain\tf\t2012\t1\tnone\tnone\tA plane.\tAn air plane.\t5.000\n",
             "An air plane.", 5.0),
    "qqp": ("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t2\t3\tWhy?\tHow?\t0\n",
            "How?", 0),
    "mnli": ("index\tpromptID\tpairID\tgenre\ts1b\ts2b\ts1p\ts2p\tsentence1\tsentence2\tlabel1"
             "\tgold_label\n0\t1\t2\tg\t(\t(\t(\t(\tA man.\tA person.\tneutral\tentailment\n",
             "A person.", 1),
    "qnli": ("index\tquestion\tsentence\tlabel\n0\tWho?\tHim.\tnot_entailment\n", "Him.", 1),
    "rte": ("index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n", "B.", 0),
    "wnli": ("index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\t1\n", "B.", 1),
}


@pytest.mark.parametrize("task", sorted(GLUE_FILES))
def test_every_glue_format(tmp_path, task):
    text, text_b, label = GLUE_FILES[task]
    name = {"mnli": "dev_matched.tsv"}.get(task, "dev.tsv")
    (tmp_path / name).write_text(text)
    data = glue.read_glue(task, tmp_path, "dev")
    assert len(data.examples) == 1
    assert data.examples[0].text_b == text_b and data.examples[0].label == label
    assert data.is_regression == (task == "stsb")


def test_test_split_has_no_labels(tmp_path):
    (tmp_path / "test.tsv").write_text("index\tsentence\n0\tA fine film .\n")
    data = glue.read_glue("cola", tmp_path, "test")
    assert data.examples[0].text_a == "A fine film ." and data.examples[0].label is None


def test_glue_errors_name_file_and_line(tmp_path):
    path = tmp_path / "dev.tsv"
    path.write_text("sentence\tlabel\ngood .\t1\nbad .\t2\n")
    with pytest.raises(ValueError, match=r"dev.tsv:3: label '2' is not in the label list"):
        glue.read_glue("sst2", tmp_path, "dev")
    path.write_text("sentence\tlabel\ngood .\t1\nno label here\n")
    with pytest.raises(ValueError, match=r"dev.tsv:3: 1 fields, but column 'label' is field 2"):
        glue.read_glue("sst2", tmp_path, "dev")
    skipped = glue.read_glue("sst2", tmp_path, "dev", skip_bad_lines=True)
    assert len(skipped.examples) == 1 and len(skipped.skipped) == 1
    assert "dev.tsv:3" in skipped.skipped[0]
    path.write_text("text\tlabel\ngood .\t1\n")
    with pytest.raises(ValueError, match=r"dev.tsv:1: no column 'sentence' in the header"):
        glue.read_glue("sst2", tmp_path, "dev")
    path.write_text("")
    with pytest.raises(ValueError, match=r"is empty"):
        glue.read_glue("sst2", tmp_path, "dev")
    path.write_text("sentence\tlabel\n")
    with pytest.raises(ValueError, match=r"no examples .only a header row"):
        glue.read_glue("sst2", tmp_path, "dev")
    with pytest.raises(FileNotFoundError, match=r"no train.tsv for GLUE task 'sst2'"):
        glue.read_glue("sst2", tmp_path, "train")
    with pytest.raises(ValueError, match=r"unknown GLUE task 'nope'"):
        glue.read_glue("nope", tmp_path, "dev")

