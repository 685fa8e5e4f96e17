"""Request latency: raw text -> class probabilities, batch 1 and 4, 8 to 128 pieces per text.

The requests a CPU server really gets: one or a few short texts at a time. The model is
all-MiniLM-L6-v2 with a 2-class head (the classification export of `bench_serving`),
float32 on CPU. Contestants, all with the export's head (`onnx_peers.save_head`):
- **tfbert_export**: the `tfbert_export` SavedModel in
  `tfbert.serving.native_server.NativeServer` (one worker thread): TensorFlow's C++
  loader, as `tensorflow_model_server` runs it, tokenizing in the graph.
- **tfbert_export_int8**: its `--quantize=int8` export (`bench_serving.make_export`), the
  same way.
- **tfbert_export_intra1**, **tfbert_export_int8_intra1**: the same two with one thread
  per op (`bench_serving.INTRA1`), as `tensorflow_model_server
  --tensorflow_intra_op_parallelism=1 --tensorflow_inter_op_parallelism=<CPUs>` runs them.
- **hf_torch**: HuggingFace's `BertTokenizerFast` + PyTorch
  `BertForSequenceClassification` under `torch.inference_mode()`.
- **ort_fp32**, **ort_int8**, **openvino_fp32**, **openvino_bf16**: the same tokenizer +
  ONNX Runtime (fp32, dynamic int8) or OpenVINO on an ONNX export of the same model
  (`benchmarks/onnx_peers.py`); `openvino_bf16` is OpenVINO's default on a CPU with AMX
  or AVX512-BF16 (bf16 inside, not the fp32 of the other rows), `openvino_fp32` forces f32.

Texts: words of the SST-2 dev sentences, in order, put together so that every text is
exactly N WordPiece pieces long, [CLS] and [SEP] included, under the uncased vocab
(checked with the HuggingFace tokenizer), for N in 8, 16, 32, 64, 128: no padding in a
batch, and no truncation (the export's `max_seq_length` is 128).

Measures, per shape (batch x N): p50 and p99 over `--requests` calls (after 5 untimed
ones), cycling through `DISTINCT` texts per N. Each contestant is a fresh subprocess
that runs every shape; contestants alternate within each repetition; medians over
`--repeats`. Outputs compared: the probabilities of a fixed check set (the first
`CHECK` texts of every N, one call each), max |p - tfbert_export's p| per contestant,
and the share of texts with the same argmax.

    python -m benchmarks.bench_latency --repeats=3 --record   # + results/latest.json
    python -m benchmarks.bench_latency --quick                # smoke test: a few minutes
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import bench_serving, common, onnx_peers

WORKER = "benchmarks.bench_latency"
OUT = common.OUT_DIR / "latency.json"
CONTESTANTS = ("tfbert_export", "tfbert_export_int8", "tfbert_export_intra1",
               "tfbert_export_int8_intra1", "hf_torch", "ort_fp32", "ort_int8",
               "openvino_fp32", "openvino_bf16")
LENGTHS = (8, 16, 32, 64, 128)
BATCHES = (1, 4)
DISTINCT = 32  # texts per length; requests cycle through them
CHECK = 8      # texts per length whose probabilities are compared
WARMUP = 5


# === Texts of exactly N pieces ===

def exact_texts(tokenizer, words, pieces, count, start=0):
    """`(texts, next start)`: `count` texts of `words` (taken in order from `start`,
    cycling), each exactly `pieces` WordPiece pieces with [CLS] and [SEP]. A word that
    would overshoot is skipped, so every text ends on whole words."""
    def size(text):
        return len(tokenizer(text)["input_ids"])

    texts, position = [], start
    for _ in range(count):
        chosen, used, skipped = [], 2, 0  # [CLS] and [SEP]
        while used < pieces:
            word = words[position % len(words)]
            position += 1
            # Pieces add up word by word: the basic tokenizer splits on whitespace first.
            cost = size(word) - 2
            if used + cost <= pieces:
                chosen.append(word)
                used += cost
            else:
                skipped += 1
                if skipped > len(words):
                    raise ValueError(f"no words fill a text of {pieces} pieces")
        text = " ".join(chosen)
        if size(text) != pieces:  # the check that the sum above is the tokenizer's count
            raise AssertionError(f"{text!r} has {size(text)} pieces, not {pieces}")
        texts.append(text)
    return texts, position


def build_texts(model_dir, lengths=LENGTHS, count=DISTINCT):
    """{N: [count texts of exactly N pieces]} from the SST-2 dev sentences."""
    from transformers import BertTokenizerFast

    tokenizer = BertTokenizerFast.from_pretrained(model_dir)
    words = " ".join(bench_serving.sentences()).split()
    found, start = {}, 0
    for pieces in lengths:
        found[pieces], start = exact_texts(tokenizer, words, pieces, count, start)
    return found


# === Worker: one contestant, every shape ===

def predictor(contestant, export_path, model_dir, head, onnx_dir):
    if contestant.startswith("tfbert_export"):
        return bench_serving.native_predictor(export_path,
                                              **bench_serving.threads_of(contestant))
    return onnx_peers.text_predictor(contestant, model_dir, bench_serving.SEQ_LENGTH,
                                     onnx_peers.files(onnx_dir), head)


def measure(contestant, texts, requests, predict, output_file):
    """{"b<batch>_n<N>": {p50_ms, p99_ms}}; the check set's probabilities to `output_file`."""
    checks = [predict([text]) for n in sorted(texts) for text in texts[n][:CHECK]]
    np.save(output_file, np.concatenate(checks))
    shapes = {}
    for batch in BATCHES:
        for n in sorted(texts):
            pool = texts[n]
            calls = [[pool[(i * batch + j) % len(pool)] for j in range(batch)]
                     for i in range(WARMUP + requests)]
            latencies = []
            for i, call in enumerate(calls):
                start = time.perf_counter()
                predict(call)
                if i >= WARMUP:
                    latencies.append(time.perf_counter() - start)
            shapes[f"b{batch}_n{n}"] = bench_serving.latency_ms(latencies)
    return {"contestant": contestant, "shapes": shapes, "peak_rss_mb": common.peak_rss_mb()}


# === The parent ===

def compare(outputs):
    """Per contestant: max |p - tfbert_export's p| and argmax agreement on the check set."""
    reference = outputs.get("tfbert_export")
    return {} if reference is None else {
        c: bench_serving.compare(p, reference) for c, p in outputs.items()
        if c != "tfbert_export"}


def summarize_runs(runs):
    """{contestant: {shape: {p50_ms, p99_ms}}}: medians over the good runs."""
    summary = {}
    for contestant, attempts in runs.items():
        good = [r for r in attempts if "shapes" in r]
        if not good:
            summary[contestant] = {"error": attempts[-1]["error"]}
            continue
        summary[contestant] = {
            shape: {key: statistics.median(r["shapes"][shape][key] for r in good)
                    for key in ("p50_ms", "p99_ms")} for shape in good[0]["shapes"]}
    return summary


def results_entry(report, command):
    """The entry of `benchmarks/results/latest.json` (RESULTS.md is rendered from it)."""
    from benchmarks import summaries

    table = summaries.summarize_latency(report)
    header, rows = summaries.table_cells(table)
    return {"name": "latency", "title": table["title"], "date": report["date"],
            "command": command,
            "machine": common.machine_line() + ", float32; " + ", ".join(
                f"{k} {v}" for k, v in report["versions"].items() if v),
            "source": "benchmarks/out/latency.json (not committed)",
            "header": header, "rows": rows, "notes": table["notes"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200, help="timed calls per shape")
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)),
                        help="pieces per text, [CLS] and [SEP] included")
    parser.add_argument("--contestants", default=",".join(CONTESTANTS))
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 repetition, 20 requests, lengths 8 and 32")
    parser.add_argument("--record", action="store_true", help="put the table into "
                        "benchmarks/results/latest.json and re-render RESULTS.md")
    parser.add_argument("--out", default=str(OUT), help="the JSON report")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    for hidden in ("export_path", "model_dir", "head", "onnx_dir", "texts_file",
                   "output_file"):
        parser.add_argument(f"--{hidden}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.requests, args.lengths = 1, 20, "8,32"
    if args.worker:
        with open(args.texts_file, encoding="utf-8") as f:
            texts = {int(n): t for n, t in json.load(f).items()}
        predict = predictor(args.worker, args.export_path, args.model_dir, args.head,
                            args.onnx_dir)
        print(json.dumps(measure(args.worker, texts, args.requests, predict,
                                 args.output_file)))
        return

    contestants = args.contestants.split(",")
    lengths = [int(n) for n in args.lengths.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        # Exported in a subprocess: TensorFlow and PyTorch never share a process here.
        made = subprocess.run(
            [sys.executable, "-c", "import sys; from benchmarks import bench_serving as b; "
             "print(b.make_export(sys.argv[1]))", tmp], capture_output=True, text=True,
            env=common.worker_env())
        if made.returncode:
            raise RuntimeError(f"the export failed:\n{made.stderr[-3000:]}")
        export_path, model_dir, head, int8_path = made.stdout.strip().splitlines()[-1].split(
            "\t")
        onnx_dir = os.path.join(tmp, "onnx")
        onnx_peers.make_onnx_files(model_dir, onnx_dir, head)
        texts_file = os.path.join(tmp, "texts.json")
        with open(texts_file, "w", encoding="utf-8") as f:
            json.dump(build_texts(model_dir, lengths), f)
        runs = {c: [] for c in contestants}
        for repeat in range(args.repeats):
            for contestant in contestants:  # alternating within the repetition
                result = common.run_worker(WORKER, [
                    f"--worker={contestant}",
                    f"--export_path={bench_serving.export_of(contestant, export_path, int8_path)}",
                    f"--model_dir={model_dir}", f"--head={head}", f"--onnx_dir={onnx_dir}",
                    f"--texts_file={texts_file}", f"--requests={args.requests}",
                    f"--output_file={os.path.join(tmp, contestant)}.npy"])
                runs[contestant].append(result)
                shown = result.get("error", "").splitlines()[:1] or {
                    s: round(v["p50_ms"], 2) for s, v in result["shapes"].items()}
                print(f"repeat {repeat + 1}/{args.repeats} {contestant}: p50 ms {shown}",
                      flush=True)
        outputs = {c: np.load(os.path.join(tmp, f"{c}.npy")) for c in contestants
                   if os.path.exists(os.path.join(tmp, f"{c}.npy"))}
    errors = [r["error"] for attempts in runs.values() for r in attempts if "error" in r]
    report = {"benchmark": "latency", "date": datetime.date.today().isoformat(),
              "median": summarize_runs(runs), "vs_tfbert_export": compare(outputs),
              "runs": runs, "errors": errors, "repeats": args.repeats,
              "requests": args.requests, "lengths": lengths, "batches": list(BATCHES),
              "check_texts": CHECK * len(lengths), "quick": args.quick,
              "cpu_count": os.cpu_count(), "versions": onnx_peers.versions(),
              "command": " ".join(["python -m benchmarks.bench_latency", *sys.argv[1:]])}
    out = common.write_report(args.out, report)
    print(json.dumps({"median": report["median"], "vs_tfbert_export":
                      report["vs_tfbert_export"]}, indent=1))
    print(f"wrote {out}")
    if args.record:
        from benchmarks import summarize

        summarize.update_latest(summarize.LATEST, [results_entry(report, report["command"])])
        print(f"wrote {summarize.write_results()}")
    if errors:
        sys.exit(f"{len(errors)} run(s) failed; see 'errors' in {out}")


if __name__ == "__main__":
    main()
