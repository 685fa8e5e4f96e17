"""Speed of fine-tuning feature building: tfbert against HuggingFace's fast tokenizer.

Two jobs, each run by both contestants from the same files:

- `squad`: SQuAD windows with training labels (`seq_length` 384,
  `doc_stride` 128, `max_query_length` 64) for
  `squad/dev-v1.1-articles-00-23.json` (5,696 questions). tfbert:
  `read_squad` + `squad_features`. HuggingFace: `BertTokenizerFast` with
  `truncation="only_second"`, `stride`, `return_overflowing_tokens`,
  `return_offsets_mapping` and the label loop of its `run_qa.py` example
  (question truncation to 64 done first, as its tokenizer cannot cut the
  question and the context at the same time).
- `sst2`: `[CLS] sentence [SEP]` features, `seq_length` 128, for the 67,349
  SST-2 training sentences. tfbert: `read_glue` + `classification_features`.
  HuggingFace: the same TSV reading + `BertTokenizerFast(sentences,
  truncation=True, max_length=128, padding="max_length")`.

Each run is a fresh subprocess; runs alternate between the contestants and
the medians of `--repeats` runs are compared. Timed: reading and feature
building (after imports and tokenizer construction, which are reported
separately as `setup_s`).

    python -m benchmarks.bench_finetune_features --repeats=3
"""

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time

from benchmarks import common

DATA = common.DATA
VOCAB = DATA / "vocab" / "bert-base-uncased-vocab.txt"
SQUAD = DATA / "squad" / "dev-v1.1-articles-00-23.json"
SST2 = DATA / "glue" / "SST-2" / "train.tsv"
SEQ, STRIDE, QUERY = 384, 128, 64


def _tfbert(job):
    start = time.perf_counter()
    from tfbert.data import glue, squad
    from tfbert.data.classification import classification_features
    from tfbert.text import BertTokenizer

    tokenizer = BertTokenizer(VOCAB, lower_case=True)
    tokenizer.tokenize(["warm up"])
    setup = time.perf_counter() - start
    start = time.perf_counter()
    if job == "squad":
        data = squad.read_squad(SQUAD, is_training=True)
        rows = len(squad.squad_features(data, tokenizer, SEQ, STRIDE, QUERY, is_training=True))
    else:
        rows = len(classification_features(glue.read_glue("sst2", SST2.parent, "train"),
                                                tokenizer, 128)["input_mask"])
    return setup, time.perf_counter() - start, rows


def _huggingface(job):
    start = time.perf_counter()
    import numpy as np
    from transformers import BertTokenizerFast

    tokenizer = BertTokenizerFast(str(VOCAB), do_lower_case=True)
    tokenizer("warm up")
    setup = time.perf_counter() - start
    start = time.perf_counter()
    if job == "sst2":
        import csv
        with open(SST2, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
        encoded = tokenizer([r[0] for r in rows], truncation=True, max_length=128,
                            padding="max_length")
        np.array(encoded["input_ids"], np.int32)
        return setup, time.perf_counter() - start, len(encoded["input_ids"])
    with open(SQUAD, encoding="utf-8") as f:
        dataset = json.load(f)
    questions, contexts, answers = [], [], []
    for article in dataset["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                questions.append(qa["question"].lstrip())
                contexts.append(paragraph["context"])
                answers.append(qa["answers"][0])
    query_ids = tokenizer(questions, add_special_tokens=False)["input_ids"]
    questions = [tokenizer.decode(ids[:QUERY]) if len(ids) > QUERY else q
                 for q, ids in zip(questions, query_ids, strict=True)]
    encoded = tokenizer(questions, contexts, truncation="only_second", max_length=SEQ,
                        stride=STRIDE, return_overflowing_tokens=True,
                        return_offsets_mapping=True, padding="max_length")
    starts, ends = [], []
    for i, offsets in enumerate(encoded["offset_mapping"]):
        answer = answers[encoded["overflow_to_sample_mapping"][i]]
        begin, end = answer["answer_start"], answer["answer_start"] + len(answer["text"])
        types = encoded.sequence_ids(i)
        first = types.index(1)
        last = len(types) - 1 - types[::-1].index(1)
        if offsets[first][0] > begin or offsets[last][1] < end:
            starts.append(0)
            ends.append(0)
            continue
        while first < len(offsets) and offsets[first][0] <= begin:
            first += 1
        while offsets[last][1] >= end:
            last -= 1
        starts.append(first - 1)
        ends.append(last + 1)
    np.array(encoded["input_ids"], np.int32)
    return setup, time.perf_counter() - start, len(encoded["input_ids"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", default="squad,sst2")
    parser.add_argument("--out", help="the JSON report",
                        default=str(common.OUT_DIR / "finetune_features.json"))
    parser.add_argument("--run", help=argparse.SUPPRESS)  # contestant:job, in a subprocess
    args = parser.parse_args()
    if args.run:
        contestant, job = args.run.split(":")
        setup, seconds, rows = (_tfbert if contestant == "tfbert" else _huggingface)(job)
        print(json.dumps({"setup_s": setup, "seconds": seconds, "rows": rows,
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                          / 1024}))
        return
    results = {}
    env = common.worker_env()
    for job in args.jobs.split(","):
        runs = {"tfbert": [], "huggingface": []}
        for _ in range(args.repeats):
            for contestant in runs:
                out = subprocess.run([sys.executable, "-m", "benchmarks.bench_finetune_features",
                                      f"--run={contestant}:{job}"],
                                     capture_output=True, text=True, env=env, check=True)
                runs[contestant].append(json.loads(out.stdout.strip().splitlines()[-1]))
        summary = {name: {"median_s": statistics.median(r["seconds"] for r in rs),
                          "median_setup_s": statistics.median(r["setup_s"] for r in rs),
                          "median_peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in rs),
                          "rows": rs[0]["rows"], "runs_s": [r["seconds"] for r in rs]}
                   for name, rs in runs.items()}
        summary["tfbert_over_huggingface_time"] = (summary["tfbert"]["median_s"]
                                                   / summary["huggingface"]["median_s"])
        results[job] = summary
        print(job, json.dumps(summary, indent=1), flush=True)
    import transformers
    results["versions"] = {"python": sys.version.split()[0], "cpus": os.cpu_count(),
                           "transformers": transformers.__version__}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_suffix(".json.tmp")
    temp.write_text(json.dumps(results, indent=1) + "\n")
    os.replace(temp, out)
    print("wrote", out)


if __name__ == "__main__":
    main()
