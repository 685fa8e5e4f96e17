"""Speed of `tfbert_create_pretraining_data` against the original algorithm in pure Python.

The reference is `tests/data/reference_pretraining.py` (the original
program's algorithm on token strings, `tf.train.Example` records) with
`tests/text/reference_tokenization.py` (the original tokenizer in plain
Python); tfbert runs `create_pretraining_data` with the in-graph
`BertTokenizer`, on 1 worker (byte-identical mode) and on N workers.

Each run is a fresh subprocess (so its peak memory is its own), runs
alternate between the contestants, and the medians of `--repeats` runs are
compared. Timed: reading, tokenizing, creating, writing (the whole program
after imports). Timed separately (`setup_s`), as a cost per process that a
large corpus amortizes: the reference's vocab loading; tfbert's vocab
loading, tokenizer construction and first tokenizer call.

    python -m benchmarks.bench_create_pretraining_data \
        --corpus=../shared/data/text/wikitext2_valid_pretrain_format.txt --repeats=3
"""

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks import common

DATA = common.DATA
FLAGS = dict(max_seq_length=128, max_predictions_per_seq=20, masked_lm_prob=0.15,
             short_seq_prob=0.1, dupe_factor=1, do_whole_word_mask=False, random_seed=12345)


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 + resource.getrusage(
        resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_one(contestant, corpus, vocab_file, out_dir):
    """Runs one contestant in this process; returns its measurements."""
    import tensorflow as tf

    rss_after_import = _peak_rss_mb()
    out = os.path.join(out_dir, f"{contestant}.tfrecord")
    if contestant == "reference":
        from tests.data import reference_pretraining
        from tests.text.reference_tokenization import ReferenceTokenizer

        start = time.perf_counter()
        with open(vocab_file, encoding="utf-8") as f:
            vocab = [line.strip() for line in f]
        tokenizer = ReferenceTokenizer(vocab)
        setup = time.perf_counter() - start
        rss_after_setup = _peak_rss_mb()
        start = time.perf_counter()
        examples = reference_pretraining.create_examples([corpus], tokenizer, vocab, **FLAGS)
        with tf.io.TFRecordWriter(out) as writer:
            for example in examples:
                writer.write(example.SerializeToString())
        seconds, instances = time.perf_counter() - start, len(examples)
    else:
        from tfbert.data import create_pretraining_data as cpd
        from tfbert.data import pretraining_corpus
        from tfbert.data.pretraining_instances import PretrainingDataOptions
        from tfbert.text import BertTokenizer, load_vocab

        workers = int(contestant.split("_")[1])
        start = time.perf_counter()
        vocab = load_vocab(vocab_file)
        tokenize = pretraining_corpus.batch_tokenizer(BertTokenizer(vocabulary=vocab))
        tokenize(["warm up"])  # the first eager call builds the ops' kernels
        setup = time.perf_counter() - start
        rss_after_setup = _peak_rss_mb()
        start = time.perf_counter()
        stats = cpd.create_pretraining_data(
            [corpus], [out], vocab, tokenize,
            PretrainingDataOptions(num_workers=workers, **FLAGS))
        seconds, instances = time.perf_counter() - start, stats.instances
    return dict(contestant=contestant, seconds=seconds, setup_s=setup, instances=instances,
                instances_per_s=instances / seconds, peak_rss_mb=_peak_rss_mb(),
                rss_after_import_mb=rss_after_import, rss_after_setup_mb=rss_after_setup)


def _examples(path):
    import tensorflow as tf

    return [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(DATA / "text" /
                                                "wikitext2_valid_pretrain_format.txt"))
    parser.add_argument("--vocab_file", default=str(DATA / "vocab" /
                                                    "bert-base-uncased-vocab.txt"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--out", default=str(common.OUT_DIR / "create_pretraining_data.json"))
    parser.add_argument("--run_one", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one:
        print(json.dumps(run_one(args.run_one, args.corpus, args.vocab_file, args.tmp)))
        return

    contestants = ["reference", "tfbert_1"] + ([f"tfbert_{args.workers}"]
                                               if args.workers > 1 else [])
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for contestant in contestants:  # alternating
                result = subprocess.run(
                    [sys.executable, "-m", "benchmarks.bench_create_pretraining_data",
                     f"--run_one={contestant}",
                     f"--corpus={args.corpus}", f"--vocab_file={args.vocab_file}",
                     f"--tmp={tmp}"], capture_output=True, text=True, check=True,
                    env=common.worker_env())
                run = json.loads(result.stdout.strip().splitlines()[-1])
                run["repeat"] = repeat
                runs.append(run)
                print(f"{contestant:>10}: {run['seconds']:.3f} s, "
                      f"{run['instances_per_s']:,.0f} instances/s, "
                      f"peak RSS {run['peak_rss_mb']:.0f} MB", flush=True)
        same = _examples(os.path.join(tmp, "reference.tfrecord")) == _examples(
            os.path.join(tmp, "tfbert_1.tfrecord"))

    summary = {}
    for contestant in contestants:
        mine = [r for r in runs if r["contestant"] == contestant]
        summary[contestant] = {
            key: statistics.median(r[key] for r in mine)
            for key in ("seconds", "setup_s", "instances", "instances_per_s", "peak_rss_mb",
                        "rss_after_import_mb", "rss_after_setup_mb")}
    reference = summary["reference"]["instances_per_s"]
    for contestant in contestants:
        s = summary[contestant]
        s["speedup"] = s["instances_per_s"] / reference
        s["speedup_with_setup"] = ((summary["reference"]["seconds"] +
                                    summary["reference"]["setup_s"]) /
                                   (s["seconds"] + s["setup_s"]))
    report = dict(corpus=args.corpus, flags=FLAGS, cpus=os.cpu_count(), repeats=args.repeats,
                  reference_and_tfbert_1_same_examples=same, summary=summary, runs=runs)
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps({"same_examples": same, **summary}, indent=2))


if __name__ == "__main__":
    main()
