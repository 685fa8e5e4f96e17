"""GLUE and user classification files: the real SST-2/MRPC data, every GLUE
task's original format, the user's CSV/TSV/JSONL, bad input, and the
tf.data pipeline with the real tokenizer."""

import json

import numpy as np
import pytest

from tfbert.data import finetuning, glue


@pytest.fixture(scope="module")
def tokenizer(uncased_vocab):
    from tfbert.text import BertTokenizer
    return BertTokenizer(uncased_vocab, lower_case=True)


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
    with pytest.raises(ValueError, match="is empty"):
        glue.read_glue("sst2", tmp_path, "dev")
    path.write_text("sentence\tlabel\n")
    with pytest.raises(ValueError, match="no examples .only a header row"):
        glue.read_glue("sst2", tmp_path, "dev")
    with pytest.raises(FileNotFoundError, match="no train.tsv for GLUE task 'sst2'"):
        glue.read_glue("sst2", tmp_path, "train")
    with pytest.raises(ValueError, match="unknown GLUE task 'nope'"):
        glue.read_glue("nope", tmp_path, "dev")


def test_user_csv_tsv_jsonl(tmp_path):
    csv_path = tmp_path / "train.csv"
    csv_path.write_text('id,review,verdict\n1,"Great, really great",pos\n2,Awful,neg\n'
                        '3,"Multi\nline",pos\n')
    data = glue.read_classification_file(csv_path, text_a="review", label="verdict")
    assert data.label_names == ("neg", "pos")
    assert [e.label for e in data.examples] == [1, 0, 1]
    assert data.examples[2].text_a == "Multi\nline"
    with pytest.raises(ValueError, match=r"train.csv:3: label 'neg' is not in the label list"):
        glue.read_classification_file(csv_path, text_a="review", label="verdict",
                                      label_names=["pos"])
    jsonl = tmp_path / "pairs.jsonl"
    rows = [{"q": "a?", "p": "b.", "y": 0.5}, {"q": "c?", "p": "d.", "y": 3}]
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    data = glue.read_classification_file(jsonl, text_a="q", text_b="p", label="y",
                                         regression=True)
    assert data.is_regression and [e.label for e in data.examples] == [0.5, 3.0]
    jsonl.write_text('{"q": "a?", "y": 1}\n{"y": 0}\n')
    with pytest.raises(ValueError, match=r"pairs.jsonl:2: no key 'q'"):
        glue.read_classification_file(jsonl, text_a="q", label="y")
    data = glue.read_classification_file(jsonl, text_a="q", label="y", label_names=[0, 1],
                                         skip_bad_lines=True)
    assert len(data.examples) == 1 and len(data.skipped) == 1
    tsv = tmp_path / "own.tsv"
    tsv.write_text('text\tlabel\n"quoted" stays\tb\n')
    data = glue.read_classification_file(tsv, text_a="text", label_names=["a", "b"])
    assert data.examples[0].text_a == '"quoted" stays' and data.examples[0].label == 1
    (tmp_path / "x.parquet").write_text("")
    with pytest.raises(ValueError, match="unknown file format 'parquet'"):
        glue.read_classification_file(tmp_path / "x.parquet")


def test_truncate_pair_like_the_original():
    assert finetuning.truncate_pair([0] * 10, [0] * 3, 8) == (5, 3)
    assert finetuning.truncate_pair([0] * 5, [0] * 5, 7) == (4, 3)
    assert finetuning.truncate_pair([0] * 2, [0] * 3, 8) == (2, 3)


def test_features_and_dataset_on_real_mrpc(shared_data, tokenizer):
    data = glue.read_glue("mrpc", shared_data / "glue", "dev")
    data.examples = data.examples[:40]
    features = glue.classification_features(data, tokenizer, seq_length=48)
    ids, mask, types = (features[k] for k in ("input_word_ids", "input_mask", "input_type_ids"))
    assert ids.shape == (40, 48) and ids.dtype == np.int32
    first = ids[0][mask[0] == 1]
    a = tokenizer.tokenize([data.examples[0].text_a]).to_list()[0]
    b = tokenizer.tokenize([data.examples[0].text_b]).to_list()[0]
    assert first.tolist() == [101] + a + [102] + b + [102]  # fits in 48
    assert types[0][mask[0] == 1].tolist() == [0] * (len(a) + 2) + [1] * (len(b) + 1)
    lengths = mask.sum(axis=1)
    assert lengths.max() == 48  # some pairs were truncated
    row = int(np.argmax(lengths == 48))
    assert ids[row, 47] == 102 and (types[row] == 1).sum() >= 1
    assert features["label_ids"].tolist() == [e.label for e in data.examples]

    batches = list(finetuning.make_dataset(features, batch_size=16))
    assert [b["input_word_ids"].shape[0] for b in batches] == [16, 16, 8]
    for start, batch in zip(range(0, 40, 16), batches, strict=True):
        longest = lengths[start:start + 16].max()
        assert batch["input_word_ids"].shape[1] == longest  # padded to the batch's longest
        np.testing.assert_array_equal(batch["input_word_ids"], ids[start:start + 16, :longest])
    static = list(finetuning.make_dataset(features, batch_size=16, padding="max_seq_length",
                                          drop_remainder=True))
    assert [tuple(b["input_mask"].shape) for b in static] == [(16, 48), (16, 48)]
    shuffled = next(iter(finetuning.make_dataset(features, batch_size=40, shuffle=True, seed=1)))
    order = shuffled["example_index"].numpy()
    assert sorted(order.tolist()) == list(range(40)) and order.tolist() != list(range(40))
    np.testing.assert_array_equal(shuffled["label_ids"], features["label_ids"][order])


def test_length_bucketing_on_real_sst2(shared_data, tokenizer):
    data = glue.read_glue("sst2", shared_data / "glue", "dev")
    data.examples = data.examples[:320]
    features = glue.classification_features(data, tokenizer, seq_length=128)
    features["example_index"] = np.arange(320, dtype=np.int32)
    lengths = features["input_mask"].sum(axis=1)

    def batches(padding):
        dataset = finetuning.make_dataset(features, batch_size=16, shuffle=True, repeat=True,
                                          seed=3, drop_remainder=True, padding=padding)
        return list(dataset.take(80))  # 1,280 examples: 4 epochs

    def filled(batches):  # real tokens / batch cells
        return (sum(int(b["input_mask"].numpy().sum()) for b in batches)
                / sum(b["input_mask"].numpy().size for b in batches))

    bucketed = batches("bucket")
    seen = np.zeros(320, int)
    for batch in bucketed:
        rows = batch["example_index"].numpy()
        seen[rows] += 1
        width = batch["input_word_ids"].shape[1]
        assert batch["input_word_ids"].shape[0] == 16 and width % 16 == 0
        assert set(-(-lengths[rows] // 16) * 16) == {width}  # one bucket, cut to its length
        np.testing.assert_array_equal(batch["input_word_ids"],
                                      features["input_word_ids"][rows, :width])
        np.testing.assert_array_equal(batch["label_ids"], features["label_ids"][rows])
    # Every example about once per epoch; a rare length waits until its bucket fills.
    assert seen.min() >= 1 and seen.max() <= 5 and np.median(seen) == 4
    by_batch, fixed = filled(batches("batch")), filled(batches("max_seq_length"))
    assert fixed < 0.2 < by_batch < 0.6 < filled(bucketed)
    with pytest.raises(ValueError, match="padding must be one of"):
        finetuning.make_dataset(features, batch_size=16, padding="longest")
