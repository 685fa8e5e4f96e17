"""Round trip through the reader, statistics on WikiText-2, workers, and bad input."""

import gzip

import numpy as np
import pytest
import tensorflow as tf

from tfbert.data import create_pretraining_data as cpd
from tfbert.data import pretraining_corpus, pretraining_dataset
from tfbert.data.pretraining_instances import PretrainingDataOptions, Vocab
from tfbert.text import BertTokenizer, load_vocab

CLS, SEP, MASK = 101, 102, 103


@pytest.fixture(scope="module")
def vocab(uncased_vocab):
    return load_vocab(uncased_vocab)


@pytest.fixture(scope="module")
def tokenize(vocab):
    return pretraining_corpus.batch_tokenizer(BertTokenizer(vocabulary=vocab))


def _records(path, compression=""):
    return [r.numpy() for r in tf.data.TFRecordDataset(str(path), compression)]


def _examples(records):
    """Independent decoding with the protobuf parser: {name: [n, len] array}."""
    columns = {}
    for record in records:
        for name, feature in tf.train.Example.FromString(record).features.feature.items():
            kind = feature.WhichOneof("kind")
            columns.setdefault(name, []).append(list(getattr(feature, kind).value))
    return {name: np.array(values) for name, values in columns.items()}


@pytest.fixture(scope="module")
def wikitext_run(shared_data, vocab, tokenize, tmp_path_factory):
    """WikiText-2 validation, dupe_factor=1, 2 workers, 2 output files."""
    out = tmp_path_factory.mktemp("wiki")
    files = [str(out / "wiki-0.tfrecord"), str(out / "wiki-1.tfrecord")]
    stats = cpd.create_pretraining_data(
        [str(shared_data / "text" / "wikitext2_valid_pretrain_format.txt")], files, vocab,
        tokenize, PretrainingDataOptions(dupe_factor=1, num_workers=2))
    return files, stats


def test_reader_yields_exactly_the_instances_written(wikitext_run):
    files, stats = wikitext_run
    records = _records(files[0]) + _records(files[1])
    assert len(records) == stats.instances > 2000
    expected = _examples(records)
    batches = pretraining_dataset(files, 128, 20, global_batch_size=1, is_training=False)
    got = {}
    for batch in batches.take(len(records)):
        for name, value in batch.items():
            got.setdefault(name, []).append(value.numpy()[0])
    names = {"input_word_ids": "input_ids", "input_type_ids": "segment_ids"}
    for name, values in got.items():
        np.testing.assert_array_equal(np.array(values).reshape(expected[names.get(name, name)]
                                                               .shape),
                                      expected[names.get(name, name)], err_msg=name)
    assert np.array(got["input_word_ids"]).dtype == np.int32


def test_wikitext_statistics(wikitext_run):
    files, stats = wikitext_run
    ex = _examples(_records(files[0]) + _records(files[1]))
    ids, mask, segments = ex["input_ids"], ex["input_mask"], ex["segment_ids"]
    positions, labels, weights = (ex["masked_lm_positions"], ex["masked_lm_ids"],
                                  ex["masked_lm_weights"])
    lengths = mask.sum(1)
    real = weights > 0
    # layout: [CLS] A [SEP] B [SEP], padding with literal 0
    assert (ids[:, 0] == CLS).all()
    assert (ids[np.arange(len(ids)), lengths - 1] == SEP).all()
    assert (ids * (1 - mask) == 0).all() and (segments * (1 - mask) == 0).all()
    assert lengths.max() <= 128
    # positions ascending, inside the sequence, never on [CLS]/[SEP]
    assert (real[:, :-1] >= real[:, 1:]).all()  # the real ones come first
    assert (np.diff(positions, axis=1)[real[:, 1:]] > 0).all()
    assert (positions[real] < np.repeat(lengths, real.sum(1))).all()
    assert not np.isin(labels[real], [CLS, SEP]).any()
    at = np.take_along_axis(ids, positions, axis=1)[real]
    masked_fraction = real.sum() / (lengths - 3).sum()
    as_mask = (at == MASK).mean()
    as_kept = (at == labels[real]).mean()
    print(f"masked {masked_fraction:.4f}, [MASK] {as_mask:.4f}, kept {as_kept:.4f}, "
          f"NSP random {ex['next_sentence_labels'].mean():.4f}")
    assert 0.145 < masked_fraction < 0.16
    assert 0.78 < as_mask < 0.82
    assert 0.09 < as_kept < 0.115  # 10% kept, plus random words that hit the label
    assert 0.085 < 1 - as_mask - as_kept < 0.11
    assert 0.46 < ex["next_sentence_labels"].mean() < 0.56
    # the summary says the same
    assert stats.masked == real.sum() and stats.random_next == ex["next_sentence_labels"].sum()
    assert stats.replaced_by_mask <= (at == MASK).sum() <= (stats.replaced_by_mask
                                                           + stats.replaced_by_random)


def _run(tmp_path, vocab, tokenize, text, name="out.tfrecord", **options):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / name
    stats = cpd.create_pretraining_data(
        [str(corpus)], [str(out)], vocab, tokenize,
        PretrainingDataOptions(**{"dupe_factor": 2, **options}))
    return out, stats


def test_workers_are_deterministic_for_seed_and_count(shared_data, vocab, tokenize, tmp_path):
    text = (shared_data / "text" / "wikitext2_valid_pretrain_format.txt").read_text(
        encoding="utf-8").split("\n")
    text = "\n".join(text[:1500]) + "\n"
    runs = {}
    for key, workers, seed in [("a", 2, 1), ("b", 2, 1), ("c", 3, 1), ("d", 2, 2)]:
        out, _stats = _run(tmp_path, vocab, tokenize, text, f"{key}.tfrecord",
                          num_workers=workers, random_seed=seed)
        runs[key] = out.read_bytes()
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"] and runs["a"] != runs["d"]


def test_gzip_and_v2_names(vocab, tokenize, tmp_path):
    text = "The cat sat on the mat.\nIt was happy.\n\nDogs bark loudly.\nBirds sing.\n"
    plain, _ = _run(tmp_path, vocab, tokenize, text, "plain.tfrecord")
    zipped, _ = _run(tmp_path, vocab, tokenize, text, "zipped.tfrecord.gz", gzip=True,
                     use_v2_feature_names=True)
    with gzip.open(zipped) as f:
        assert f.read()  # a real GZIP file
    a, b = _examples(_records(plain)), _examples(_records(zipped, "GZIP"))
    np.testing.assert_array_equal(a["input_ids"], b["input_word_ids"])
    np.testing.assert_array_equal(a["segment_ids"], b["input_type_ids"])
    assert "input_ids" not in b


def test_one_document_warns_and_works(vocab, tokenize, tmp_path, caplog):
    text = "".join(f"Sentence number {i} of a file without blank lines.\n" for i in range(50))
    out, stats = _run(tmp_path, vocab, tokenize, text)
    assert stats.documents == 1 and stats.instances == len(_records(out)) > 0
    assert "single document" in caplog.text


@pytest.mark.parametrize("text, message", [
    ("", "no text"),
    ("\n\n   \n", "no text"),
    (b"good line\nbad \xff byte\n", r"corpus\.txt, line 2: not valid UTF-8"),
])
def test_bad_corpus_leaves_no_output(vocab, tokenize, tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        _run(tmp_path, vocab, tokenize, text)
    assert [p.name for p in tmp_path.iterdir()] == ["corpus.txt"]


@pytest.mark.parametrize("options, message", [
    (dict(max_seq_length=128, max_predictions_per_seq=200), "--max_predictions_per_seq=200"),
    (dict(max_seq_length=4), "--max_seq_length=4"),
    (dict(max_predictions_per_seq=0), "--max_predictions_per_seq=0"),
    (dict(masked_lm_prob=0.0), "--masked_lm_prob"),
    (dict(dupe_factor=0), "--dupe_factor"),
])
def test_bad_options(vocab, tokenize, tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        _run(tmp_path, vocab, tokenize, "Hello world.\nMore words.\n", **options)
    assert not list(tmp_path.glob("out*"))


def test_vocab_without_special_tokens(vocab, tokenize, tmp_path):
    broken = [t if t not in ("[MASK]", "[SEP]") else f"x{t}" for t in vocab]
    with pytest.raises(ValueError, match=r"lacks \[SEP\], \[MASK\]"):
        Vocab(broken, "--vocab_file=v.txt")


def test_crash_while_writing_leaves_no_file(tmp_path):
    from tfbert.data.record_files import RecordFilesWriter

    out = tmp_path / "out.tfrecord"
    with pytest.raises(RuntimeError), RecordFilesWriter([str(out)]) as writer:
        writer.write(b"x")
        raise RuntimeError("crash")
    assert not list(tmp_path.iterdir())

