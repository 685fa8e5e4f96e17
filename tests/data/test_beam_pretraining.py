"""The Beam path of pre-training data (tfbert.data.beam): the one-machine records, shard by shard.

Most pipelines run in this process (`direct_running_mode=in_memory`); one
runs the default DirectRunner mode, worker processes, to show that where a
shard runs does not change its file.
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

pytest.importorskip("apache_beam", reason="Apache Beam is not installed (the 'beam' extra)")

from tfbert.data import create_pretraining_data as cpd
from tfbert.data import pretraining_corpus
from tfbert.data.beam import documents as docs_lib
from tfbert.data.beam import pipeline
from tfbert.data.pretraining_instances import PretrainingDataOptions
from tfbert.text import BertTokenizer, load_vocab

IN_MEMORY = ["direct_running_mode=in_memory"]
OPTIONS = PretrainingDataOptions(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=2,
                                 do_whole_word_mask=True, random_seed=31)
NUM_DOCS = 60  # WikiText-2 valid: 60 articles, 1.1 MB, all of it


@pytest.fixture(scope="module")
def vocab(uncased_vocab):
    return load_vocab(str(uncased_vocab))


@pytest.fixture(scope="module")
def wikitext(shared_data, tmp_path_factory):
    """The documents of WikiText-2 (valid), dealt into two corpus files."""
    lines = pretraining_corpus.read_lines(
        str(shared_data / "text" / "wikitext2_valid_pretrain_format.txt"))
    texts = docs_lib.split_documents(lines)
    assert len(texts) == NUM_DOCS
    folder = tmp_path_factory.mktemp("wikitext")
    paths = []
    for k in range(2):
        path = folder / f"part-{k}.txt"
        path.write_text(docs_lib.shard_corpus_text(texts[k::2]), encoding="utf-8")
        paths.append(str(path))
    return paths, texts


def _run(tmp_path, files, vocab, options=OPTIONS, num_shards=8, beam_options=IN_MEMORY,
         name="out", **kwargs):
    prefix = str(tmp_path / name / "train")
    report, counters = pipeline.run_pipeline(files, prefix, num_shards, vocab, True, options,
                                             beam_options=beam_options, **kwargs)
    return prefix, report, counters


def _files(prefix, num_shards):
    return [pathlib.Path(pipeline.shard_file_name(prefix, k, num_shards)).read_bytes()
            for k in range(num_shards)]


def test_every_shard_equals_the_one_machine_program_on_its_documents(
        tmp_path, wikitext, vocab, uncased_vocab):
    files, texts = wikitext
    prefix, report, counters = _run(tmp_path, files, vocab)
    assert counters["documents"] == NUM_DOCS and counters["files"] == 2
    assert report["empty_shards"] == 0 and report["instances"] == counters["instances"] > 0
    outputs = _files(prefix, 8)
    # Each shard's documents, in canonical order, as a corpus file of its own.
    keyed = [(docs_lib.document_key(OPTIONS.random_seed, t), t) for t in texts]
    tokenize = pretraining_corpus.batch_tokenizer(BertTokenizer(vocabulary=vocab))
    for shard in range(8):
        shard_texts, _ = docs_lib.canonical_order(
            [kt for kt in keyed if docs_lib.shard_of(kt[0], 8) == shard])
        corpus = tmp_path / f"shard-{shard}.txt"
        corpus.write_text(docs_lib.shard_corpus_text(shard_texts), encoding="utf-8")
        seed = docs_lib.shard_seed(OPTIONS.random_seed, shard, 8)
        assert report["shard_seeds"][str(shard)] == seed
        expected = tmp_path / f"expected-{shard}.tfrecord"
        if shard == 0:  # once through the real command, as a user would check it
            result = subprocess.run(
                [sys.executable, "-m", "tfbert.cli.create_pretraining_data",
                 f"--input_file={corpus}", f"--output_file={expected}",
                 f"--vocab_file={uncased_vocab}", "--num_workers=1", f"--random_seed={seed}",
                 "--max_seq_length=64", "--max_predictions_per_seq=10", "--dupe_factor=2",
                 "--do_whole_word_mask"],
                capture_output=True, text=True, timeout=300,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
            assert result.returncode == 0, result.stderr[-2000:]
        else:  # the same program, called in this process
            options = PretrainingDataOptions(**{**OPTIONS.__dict__, "random_seed": seed,
                                                "num_workers": 1})
            cpd.create_pretraining_data([str(corpus)], [str(expected)], vocab, tokenize,
                                        options)
        assert outputs[shard] == expected.read_bytes(), f"shard {shard} differs"
    stats = json.loads(pathlib.Path(pipeline.stats_file_name(prefix)).read_text())
    # round(64 * 0.15) = 10 of 61 maskable tokens: 16.4% in full instances
    assert 0.14 < stats["masked_share"] < 0.17 and 0.4 < stats["random_next_share"] < 0.6


def test_same_seed_same_files_on_worker_processes_and_other_seed_differs(
        tmp_path, wikitext, vocab):
    files, _ = wikitext
    options = PretrainingDataOptions(max_seq_length=64, max_predictions_per_seq=10,
                                     dupe_factor=1, random_seed=5)
    first, _, _ = _run(tmp_path, files, vocab, options, num_shards=3, name="a")
    again, _, counters = _run(tmp_path, files, vocab, options, num_shards=3, name="b",
                              beam_options=["direct_num_workers=2"])  # worker processes
    assert counters["shards"] == 3
    other, _, _ = _run(tmp_path, files, vocab, PretrainingDataOptions(
        **{**options.__dict__, "random_seed": 6}), num_shards=3, name="c")
    assert _files(first, 3) == _files(again, 3)
    assert all(a != c for a, c in zip(_files(first, 3), _files(other, 3), strict=True))
    assert sorted(os.listdir(tmp_path / "b")) == [
        "train-00000-of-00003.tfrecord", "train-00001-of-00003.tfrecord",
        "train-00002-of-00003.tfrecord", "train-stats.json"]  # no temporary file left


def test_dedup_drops_repeated_documents_and_counts_them(tmp_path, wikitext, vocab):
    _, texts = wikitext
    corpus = tmp_path / "dupes.txt"
    corpus.write_text(docs_lib.shard_corpus_text(texts[:40] + texts[:10]), encoding="utf-8")
    clean = tmp_path / "clean.txt"
    clean.write_text(docs_lib.shard_corpus_text(texts[:40]), encoding="utf-8")
    deduped, report, counters = _run(tmp_path, [str(corpus)], vocab, num_shards=2, name="d",
                                     dedup=True)
    assert counters["duplicate_documents"] == report["duplicate_documents"] == 10
    reference, _, _ = _run(tmp_path, [str(clean)], vocab, num_shards=2, name="e")
    assert _files(deduped, 2) == _files(reference, 2)
    kept, _, counters = _run(tmp_path, [str(corpus)], vocab, num_shards=2, name="f")
    assert counters["duplicate_documents"] == 0 and _files(kept, 2) != _files(reference, 2)


@pytest.mark.parametrize("content, message", [
    (b"one sentence.\n\x00\x01\x02 binary\n", "line 2: a NUL byte at offset 14: a binary file"),
    (b"fine.\nbad \xff byte.\n", "line 2: not valid UTF-8"),
])
def test_unreadable_files_are_errors_naming_them_and_leave_nothing(tmp_path, vocab, content,
                                                                   message):
    good = tmp_path / "good.txt"
    good.write_text("a first sentence.\nand a second one.\n", encoding="utf-8")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(f"{bad}, {message}")):
        _run(tmp_path, [str(good), str(bad)], vocab, num_shards=2)
    assert os.listdir(tmp_path / "out") == []  # no shard, no stats, no temporary folder


def test_empty_corpus_is_an_error_and_one_sentence_documents_are_counted(tmp_path, vocab):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n   \n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no text in .*empty\.txt.*nothing was written"):
        _run(tmp_path, [str(empty)], vocab, num_shards=2)
    assert os.listdir(tmp_path / "out") == []
    corpus = tmp_path / "short.txt"
    corpus.write_text("a lone sentence here.\n\nthe first of two.\nthe second of two.\n\n"
                      "another lone one.\n", encoding="utf-8")
    _, report, counters = _run(tmp_path, [str(corpus)], vocab, num_shards=4, name="s")
    assert counters["one_sentence_documents"] == report["one_sentence_documents"] == 2
    assert report["documents"] == 3 and report["instances"] > 0
    assert report["empty_shards"] >= 1  # 4 shards, 3 documents: still 4 files
    assert len([f for f in os.listdir(tmp_path / "s") if f.endswith(".tfrecord")]) == 4


@pytest.mark.parametrize("data", [
    b"", b"\n\n", b"a\n", b"  a \n \t\n b\r\n c\n\n\nd",  # CRLF, blank-ish lines, no last \n
    b"\xef\xbb\xbfx\n\ny\n",  # a BOM stays part of the first line, as one machine reads it
    "\u2028caf\u00e9\u00a0\n\u3000\nb \u6771\u4eac".encode(),  # Unicode blanks and letters
])
def test_document_spans_are_the_one_machine_documents(data):
    """What the shuffle carries (byte ranges) reads back as the one-machine documents."""
    expected = docs_lib.split_documents(pretraining_corpus.split_lines(data.decode("utf-8")))
    spans = docs_lib.document_spans(data, "corpus.txt")
    assert [text for _, _, text in spans] == expected
    assert [docs_lib.span_text(data[start:end]) for start, end, _ in spans] == expected


def test_the_shuffle_carries_references_not_texts(wikitext):
    """A document goes through GroupByKey as (key, file index, start, end): its size does
    not depend on the text, so the runner's shuffle is not the corpus."""
    (path, _), texts = wikitext
    read = pipeline._ReadDocuments(OPTIONS.random_seed, 8)
    elements = list(read.process((0, path)))
    assert len(elements) == len(texts[0::2])
    for shard, (key, index, start, end) in elements:
        assert 0 <= shard < 8 and len(key) == 16 and index == 0 and 0 <= start < end


def test_a_corpus_file_changed_midway_is_an_error(wikitext, vocab, tmp_path):
    (path, _), _ = wikitext
    copy = tmp_path / "part.txt"
    copy.write_bytes(pathlib.Path(path).read_bytes())
    references = [ref for _, ref in pipeline._ReadDocuments(
        OPTIONS.random_seed, 1).process((0, str(copy)))]
    shard = pipeline._ShardRecords([str(copy)], vocab, True, OPTIONS, 1, False,
                                   str(tmp_path), False)
    assert len(shard._read(references)) == len(references)
    copy.write_bytes(copy.read_bytes().replace(b"the", b"teh", 1))  # same length, new text
    with pytest.raises(ValueError, match="changed while the pipeline ran"):
        shard._read(references)
    copy.write_bytes(copy.read_bytes()[:100])  # shorter
    with pytest.raises(ValueError, match="shorter than when it was read"):
        shard._read(references)
