"""The whole benchmark suite in one command: runs, JSON, RESULTS.md summary, charts.

Runs every `bench_*.py` in turn (each alternates tfbert with its peers in fresh
subprocesses, repeats, and writes its JSON), then

1. reads their JSON into one summary, `<out_dir>/summary.json`: per benchmark, a
   table (case, contestant, value, tfbert's speed ÷ this one's, peak memory, ...)
   and the ratios tfbert ÷ peer;
2. rewrites the generated section of RESULTS.md, between the markers
   `<!-- run_all:begin -->` and `<!-- run_all:end -->` (appended at the end the first
   time); the hand-written sections around it are left as they are;
3. draws the ratio charts (`charts.py`) into `<out_dir>/charts/`.

Modes:
- full (default): each benchmark at its own defaults (`--repeats` overrides them
  all); JSON in `benchmarks/out/`, summary in `benchmarks/RESULTS.md`. Takes hours on
  a 2-core CPU; run it on a quiet machine.
- `--quick`: a smoke test of the whole tool chain in minutes: tiny models, one
  repetition, a few steps. JSON, summary (a RESULTS.md of its own) and charts go to
  `benchmarks/out/quick/`, so smoke numbers never land in the real results.
- `--report_only`: no runs; the summary, RESULTS section and charts are made again
  from the JSON already in the output folder.

    python benchmarks/run_all.py                 # full run
    python benchmarks/run_all.py --quick         # smoke test
    python benchmarks/run_all.py --only=encoder,finetune_step --repeats=5
    python benchmarks/run_all.py --report_only   # summary + charts from existing JSON

A benchmark that fails is reported (its log is in `<out_dir>/logs/`) and the others
still run; the exit status is then 1. Every section of the summary says when its
JSON was written, so a table left from an earlier run is visible as such.
"""

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "RESULTS.md"
BEGIN, END = "<!-- run_all:begin -->", "<!-- run_all:end -->"
TITLES = {"bert_base": "BERT-Base", "bert_small": "BERT-Small", "minilm_l6": "MiniLM-L6",
          "bert_tiny": "BERT-Tiny"}
PRECISION = {"float32": "fp32", "bfloat16": "bf16"}
SPINNING = ("unset (PyTorch's OpenMP threads spin while they wait; on a machine shared with "
            "other jobs that slows PyTorch down many times)")


@dataclasses.dataclass
class Benchmark:
    """One benchmark script: its JSON name and the arguments of the quick mode."""

    name: str
    title: str
    script: str
    quick: tuple = ()

    @property
    def json_name(self):
        return f"{self.name}.json"


BENCHMARKS = (
    Benchmark("encoder", "Encoder inference", "bench_encoder.py", ("--quick",)),
    Benchmark("finetune_step", "Fine-tuning step", "bench_finetune_step.py", ("--quick",)),
    Benchmark("pretraining", "Pre-training step", "bench_pretraining.py",
              ("--repeats=1", "--loops=2", "--steps_per_loop=2",
               "--runs=tfbert/bfloat16,keras_hub/float32")),
    Benchmark("serving", "Serving: raw text → probabilities", "bench_serving.py",
              ("--repeats=1", "--latency_texts=10", "--texts=64")),
    Benchmark("tokenization", "Tokenization", "bench_tokenization.py",
              ("--repeats=1", "--passes=1")),
    Benchmark("create_pretraining_data", "Pre-training data creation",
              "bench_create_pretraining_data.py", ("--repeats=1",)),
    Benchmark("finetune_features", "Fine-tuning features", "bench_finetune_features.py",
              ("--repeats=1", "--jobs=sst2")),
)


# === Running ===

def run_benchmark(benchmark, out_dir, quick, repeats, timeout, omp_wait_policy=None):
    """Runs one script, its output into `<out_dir>/logs/<name>.log`; returns a status dict."""
    logs = out_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(HERE / benchmark.script),
               f"--out={out_dir / benchmark.json_name}", *(benchmark.quick if quick else ())]
    if repeats:
        command.append(f"--repeats={repeats}")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    if omp_wait_policy:
        env["OMP_WAIT_POLICY"] = omp_wait_policy
    load_before = os.getloadavg()
    start = time.perf_counter()
    with open(logs / f"{benchmark.name}.log", "w", encoding="utf-8") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        try:
            code = subprocess.run(command, cwd=REPO, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = f"timed out after {timeout} s"
    return {"command": " ".join(command[1:]).replace(str(REPO) + "/", ""),
            "ok": code == 0, "exit": code, "seconds": time.perf_counter() - start,
            "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "log": str(logs / f"{benchmark.name}.log")}


# === Summaries: each benchmark's JSON as rows, columns and ratios ===

def _table(title, metric, rows, ratios, columns=(), notes=(), ratio_header="tfbert ÷ this"):
    return {"title": title, "metric": metric, "rows": rows, "ratios": ratios,
            "columns": [list(c) for c in columns], "notes": list(notes),
            "ratio_header": ratio_header}


def _peer_ratios(rows, ours="tfbert"):
    return [{"group": r["case"], "peer": r["contestant"], "ratio": r["ratio"]}
            for r in rows if r["contestant"] != ours and r.get("ratio") is not None]


def _gflops(value):
    return None if value is None else value / 1e9


def summarize_encoder(report):
    rows, notes = [], []
    for model, by_precision in report["results"].items():
        for precision, table in by_precision.items():
            case = f"{TITLES.get(model, model)} {PRECISION.get(precision, precision)}"
            for contestant, r in table.items():
                deviation = report.get("bf16_deviation", {}).get(model, {}).get(contestant)
                versus = report.get("fp32_vs_tfbert", {}).get(model, {}).get(contestant)
                rows.append({
                    "case": case, "contestant": contestant, "value": r.get("tokens_per_s"),
                    "ratio": r.get("tfbert_ratio"), "error": r.get("error"),
                    "fraction_of_peak": r.get("fraction_of_peak"),
                    "fraction_of_interleaved_peak": r.get("fraction_of_interleaved_peak"),
                    "peak_rss_mb": r.get("peak_rss_mb"),
                    "bf16_max_abs": deviation["max_abs"] if deviation and precision ==
                    "bfloat16" else None,
                    "bf16_mean_rel": deviation["mean_rel"] if deviation and precision ==
                    "bfloat16" else None,
                    "fp32_vs_tfbert": versus["max_abs"] if versus and precision ==
                    "float32" else None})
            alone = report.get("matmuls_alone", {}).get(model, {}).get(precision)
            if alone:
                rows.append({"case": case, "contestant": "matmuls alone (ceiling)",
                             "value": alone.get("tokens_per_s"), "error": alone.get("error"),
                             **{key: alone.get(key) for key in (
                                 "fraction_of_peak", "fraction_of_interleaved_peak",
                                 "peak_rss_mb")}})
    for dtype, runs in _matmul_modes(report).items():
        notes.append(f"TensorFlow {dtype} matmul ({report.get('matmul_size', 2048)}² chains): "
                     + ", ".join(f"{mode} {value:,.0f} GFLOP/s" for mode, value in runs.items())
                     + "; the fraction of peak uses the faster.")
    notes.append("Matmuls alone (ceiling): the encoder's matmuls in its shapes and order, "
                 "nothing else, as a TensorFlow graph with the weights as constants: no "
                 "implementation passes it.")
    notes.append("Fraction of interleaved peak (TensorFlow contestants): per timed batch, its "
                 "FLOP/s ÷ those of a matmul chain timed right after it in the same process "
                 "(the peak of this VM moves between processes); median over batches and runs.")
    notes.append("bf16 vs fp32: |sequence_output(bf16) − sequence_output(fp32)| of the same "
                 "contestant, max and mean ÷ mean |fp32|; fp32 vs tfbert: max |Δ| of a peer's "
                 "fp32 output from tfbert's (same weights, same inputs).")
    return _table(
        f"Encoder inference, batch {report['batch']} × seq {report['seq']} (tokens/s)",
        "tokens/s", rows, _peer_ratios(rows),
        [("fraction_of_peak", "fraction of matmul peak", "{:.3f}"),
         ("fraction_of_interleaved_peak", "fraction of interleaved peak", "{:.3f}"),
         ("peak_rss_mb", "peak RSS MB", "{:,.0f}"),
         ("bf16_max_abs", "bf16 vs fp32 max abs", "{:.3g}"),
         ("bf16_mean_rel", "bf16 vs fp32 mean rel", "{:.2g}"),
         ("fp32_vs_tfbert", "fp32 vs tfbert max abs", "{:.2g}")],
        notes + _errors(report))


def _errors(report):
    return [f"{len(report['errors'])} run(s) failed: see `errors` in the JSON"] \
        if report.get("errors") else []


def _matmul_modes(report):
    """{dtype: {mode: GFLOP/s}}, medians over the matmul runs."""
    import statistics

    found = {}
    for run in report.get("matmul_runs", []):
        for dtype, modes in run.get("matmul", {}).items():
            for mode, value in modes.items():
                if mode != "peak":
                    found.setdefault(dtype, {}).setdefault(mode, []).append(value / 1e9)
    return {d: {m: statistics.median(v) for m, v in modes.items()} for d, modes in found.items()}


def summarize_finetune_step(report):
    rows = []
    for model, by_precision in report["results"].items():
        for precision, table in by_precision.items():
            case = f"{TITLES.get(model, model)} {PRECISION.get(precision, precision)}"
            for contestant, r in table.items():
                rows.append({"case": case, "contestant": contestant,
                             "value": r.get("examples_per_s"), "ratio": r.get("tfbert_ratio"),
                             "error": r.get("error"), "fraction_of_peak": r.get("fraction_of_peak"),
                             "gflops": _gflops(r.get("achieved_flops")),
                             "last_loss": (r.get("last_loss") or [None])[-1],
                             "peak_rss_mb": r.get("peak_rss_mb")})
    notes = [f"TensorFlow {d} matmul peak {v / 1e9:,.0f} GFLOP/s."
             for d, v in report.get("matmul_peak_flops", {}).items() if v]
    notes.append("Each contestant pads as its library's fine-tuning path does by default: "
                 "tfbert buckets by length (each batch cut to its longest row), keras_hub and "
                 "hf_torch pad to 128, hf_torch_longest pads each batch to its longest. "
                 "GFLOP/s and fractions count every step at 128 positions.")
    return _table(
        f"Fine-tuning step, SST-2 classification, batch {report['batch']}, texts ≤ "
        f"{report['seq']} pieces (examples/s)", "examples/s", rows,
        _peer_ratios([r for r in rows if not r["contestant"].startswith("tfbert_")]),
        [("gflops", "achieved GFLOP/s", "{:,.1f}"),
         ("fraction_of_peak", "fraction of matmul peak", "{:.3f}"),
         ("last_loss", "last loss", "{:.3f}"), ("peak_rss_mb", "peak RSS MB", "{:,.0f}")],
        notes + _errors(report))


def summarize_pretraining(report):
    shape = report["shape"]
    case = (f"{shape['num_layers']}L/{shape['hidden']}H MLM+NSP, b{shape['batch']} "
            f"s{shape['seq']}")
    rows = [{"case": case, "contestant": name, "value": value,
             "ratio": report.get("ratio_to_tfbert", {}).get(name),
             "gflops": _gflops(report.get("achieved_flops", {}).get(name)),
             "fraction_of_peak": report.get("fraction_of_peak", {}).get(name),
             "peak_rss_mb": report.get("peak_rss_mb", {}).get(name)}
            for name, value in report["median_examples_per_second"].items()]
    return _table(
        "Pre-training step (examples/s)", "examples/s", rows,
        _peer_ratios([r for r in rows if not r["contestant"].startswith("tfbert")]),
        [("gflops", "achieved GFLOP/s", "{:,.1f}"),
         ("fraction_of_peak", "fraction of matmul peak", "{:.3f}"),
         ("peak_rss_mb", "peak RSS MB", "{:,.0f}")],
        [", ".join(f"TensorFlow {p} matmul peak {v / 1e9:,.0f} GFLOP/s"
                   for p, v in report["matmul_peak_flops"].items())
         + f"; {report['repeats']} repetition(s) × {report['loops']} loops of "
         f"{report['steps_per_loop']} steps"
         + (", TensorFlow runs alternating loop by loop in one process (ratios: medians of "
            "the loop-by-loop ratios)" if report.get("interleaved") else "")
         + ". Ratios: tfbert's fastest configuration "
         f"({report.get('tfbert_best')}) ÷ each; vs the faster peer "
         f"({report.get('faster_peer')}): {report.get('tfbert_vs_faster_peer') or 0:.2f}×."])


def summarize_serving(report):
    median = report["median"]
    contestants = [c for c in median if c != "ratios"]
    ours = median.get("tfbert_export", {})
    rows = []
    for c in contestants:
        m = median[c]
        rows.append({"case": "text → probabilities", "contestant": c,
                     "value": m["texts_per_s_batch32"],
                     "ratio": ours["texts_per_s_batch32"] / m["texts_per_s_batch32"]
                     if ours else None,
                     "p50_ms": m.get("p50_ms"), "p99_ms": m.get("p99_ms"),
                     "p50_ratio": m["p50_ms"] / ours["p50_ms"] if ours else None,
                     "peak_rss_mb": m.get("peak_rss_mb")})
    ratios = [{"group": "throughput, batch 32", "peer": r["contestant"], "ratio": r["ratio"]}
              for r in rows if r["contestant"] != "tfbert_export"]
    ratios += [{"group": "p50 latency, batch 1", "peer": r["contestant"],
                "ratio": r["p50_ratio"]} for r in rows if r["contestant"] != "tfbert_export"]
    return _table(
        "Serving: raw text → probabilities, MiniLM-L6 (texts/s at batch 32)", "texts/s",
        rows, ratios,
        [("p50_ms", "p50 ms, batch 1", "{:.1f}"), ("p99_ms", "p99 ms, batch 1", "{:.1f}"),
         ("p50_ratio", "p50: this ÷ tfbert", "{:.2f}"),
         ("peak_rss_mb", "peak RSS MB", "{:,.0f}")],
        [f"{report['repeats']} repetition(s); latency over {report['latency_texts']} texts."])


def summarize_tokenization(report):
    rows = [{"case": "SQuAD dev contexts", "contestant": name, "value": r["mb_per_s"],
             "ratio": r["tfbert_speed_ratio"], "texts_per_s": r["texts_per_s"],
             "identical": r["identical_to_original_share"]}
            for name, r in report["results"].items()]
    ratios = [{"group": "tokenize (ids)", "peer": r["contestant"], "ratio": r["ratio"]}
              for r in rows if not r["contestant"].startswith("tfbert")]
    return _table(
        f"Tokenization, {report['megabytes']:.2f} MB in batches of {report['batch_size']} "
        "(MB/s)", "MB/s", rows, ratios,
        [("texts_per_s", "texts/s", "{:,.0f}"), ("identical", "ids = original", "{:.2%}")],
        ["One process for all tokenizers (no per-contestant memory); rows starting with "
         "tfbert are tfbert variants."])


def summarize_create_pretraining_data(report):
    summary = report["summary"]
    reference = summary["reference"]["instances_per_s"]
    rows = [{"case": "WikiText-2 valid", "contestant": name, "value": s["instances_per_s"],
             "ratio": s["instances_per_s"] / reference, "seconds": s["seconds"],
             "setup_s": s["setup_s"], "with_setup": s.get("speedup_with_setup"),
             "peak_rss_mb": s.get("peak_rss_mb")} for name, s in summary.items()]
    ratios = [{"group": name.replace("tfbert_", "") + " worker(s)",
               "peer": "reference (pure Python)", "ratio": r["ratio"]}
              for name, r in zip(summary, rows, strict=True) if name != "reference"]
    return _table(
        "Pre-training data creation (instances/s)", "instances/s", rows, ratios,
        [("seconds", "seconds", "{:.2f}"), ("setup_s", "setup s", "{:.2f}"),
         ("with_setup", "÷ reference, setup included", "{:.2f}"),
         ("peak_rss_mb", "peak RSS MB", "{:,.0f}")],
        [f"Same examples as the reference (1 worker): "
         f"{report.get('reference_and_tfbert_1_same_examples')}."],
        ratio_header="this ÷ reference")


def summarize_finetune_features(report):
    rows, ratios = [], []
    for job, s in report.items():
        if job == "versions" or not isinstance(s, dict) or "tfbert" not in s:
            continue
        for name in ("tfbert", "huggingface"):
            r = s[name]
            rows.append({"case": job, "contestant": name, "value": r["rows"] / r["median_s"],
                         "ratio": r["median_s"] / s["tfbert"]["median_s"],
                         "seconds": r["median_s"], "setup_s": r.get("median_setup_s"),
                         "peak_rss_mb": r.get("median_peak_rss_mb")})
        ratios.append({"group": job, "peer": "huggingface", "ratio": rows[-1]["ratio"]})
    return _table(
        "Fine-tuning features (rows/s)", "rows/s", rows, ratios,
        [("seconds", "seconds", "{:.2f}"), ("setup_s", "setup s", "{:.2f}"),
         ("peak_rss_mb", "peak RSS MB", "{:,.0f}")])


SUMMARIZERS = {"encoder": summarize_encoder, "finetune_step": summarize_finetune_step,
               "pretraining": summarize_pretraining, "serving": summarize_serving,
               "tokenization": summarize_tokenization,
               "create_pretraining_data": summarize_create_pretraining_data,
               "finetune_features": summarize_finetune_features}


def summarize(out_dir, statuses, mode):
    """The summary of every benchmark whose JSON is in `out_dir`."""
    benchmarks = []
    for benchmark in BENCHMARKS:
        path = out_dir / benchmark.json_name
        entry = {"name": benchmark.name, "json": str(path), "status": statuses.get(
            benchmark.name)}
        if path.exists():
            entry["written"] = datetime.datetime.fromtimestamp(path.stat().st_mtime).isoformat(
                timespec="minutes")
            try:
                entry.update(SUMMARIZERS[benchmark.name](json.loads(path.read_text())))
            except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
                entry.update(title=benchmark.title, error=f"cannot summarize {path.name}: "
                             f"{type(error).__name__}: {error}")
        else:
            entry.update(title=benchmark.title, error=f"not run yet: no {path.name} in {out_dir}")
        benchmarks.append(entry)
    return {"mode": mode, "date": datetime.datetime.now().isoformat(timespec="minutes"),
            "machine": machine(), "versions": package_versions(), "benchmarks": benchmarks}


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), "")
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpus": os.cpu_count(), "cpu": model, "memory_gib": round(memory, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def package_versions():
    found = {}
    for package in ("tensorflow", "tensorflow-text", "keras", "keras-hub", "torch",
                    "transformers", "tokenizers"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


# === RESULTS.md ===

def _number(value):
    """A measurement with about 3-4 significant digits, thousands separated."""
    if value is None:
        return "—"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if magnitude >= 10 else f"{value:.2f}" if magnitude >= 1 \
        else f"{value:.3g}"


def _format(value, spec):
    if value is None:
        return "—"
    try:
        return spec.format(value)
    except (TypeError, ValueError):
        return str(value)


def markdown(summary, chart_dir):
    """The generated section, markers included."""
    m = summary["machine"]
    omp = summary.get("omp_wait_policy")
    lines = [
        BEGIN,
        "## Latest `run_all` summary (generated)",
        "",
        f"Written by `{summary['command']}` on {summary['date']}; the next "
        "run replaces everything between the `run_all` markers, so write analysis in the "
        "sections above. Machine: "
        f"{m['cpus']} CPUs ({m['cpu'] or 'unknown'}), {m['memory_gib']} GiB. Versions: "
        + ", ".join(f"{k} {v}" for k, v in summary["versions"].items()) + ".",
        "",
        "Each benchmark runs every contestant in a fresh process, alternating within each "
        "repetition; values are medians over the repetitions. **tfbert ÷ this** is tfbert's "
        "speed over that contestant's (above 1: tfbert is faster). Peak RSS is each "
        f"subprocess's `ru_maxrss`. Charts of the ratios: `{chart_dir}/<benchmark>.png` and "
        "`overview.png` (not committed: git ignores `benchmarks/out/`). "
        f"`OMP_WAIT_POLICY`: {omp or SPINNING}.",
    ]
    for b in summary["benchmarks"]:
        lines += ["", f"### {b['title']}", ""]
        status = b.get("status")
        where = (f"`{pathlib.Path(b['json']).name}` written {b['written']}" if "written" in b
                 else f"no `{pathlib.Path(b['json']).name}`")
        if status:
            load = (f"load average {status['load_average_before'][0]:.1f} → "
                    f"{status['load_average_after'][0]:.1f}")
            state = "ok" if status["ok"] else f"**FAILED** (exit {status['exit']}; see its log)"
            lines.append(f"Run: `{status['command']}` — {state}, {status['seconds']:.0f} s, "
                         f"{load}; {where}.")
        else:
            lines.append(f"Not run by this `run_all`; {where}.")
        if "error" in b and "rows" not in b:
            if "written" in b:
                lines += ["", b["error"]]
            continue
        columns = b["columns"]
        header = ["case", "contestant", b["metric"], b["ratio_header"]] + [c[1] for c in columns]
        lines += ["", "| " + " | ".join(header) + " |",
                  "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|"]
        for r in b["rows"]:
            if r.get("error"):
                cells = [r["case"], r["contestant"], "failed: " +
                         r["error"].splitlines()[0][:80]] + [""] * (len(header) - 3)
            else:
                cells = [r["case"], r["contestant"], _number(r["value"]),
                         _format(r.get("ratio"), "{:.2f}×")]
                cells += [_format(r.get(key), spec) for key, _, spec in columns]
            lines.append("| " + " | ".join(cells) + " |")
        for note in b["notes"]:
            lines += ["", note]
    lines += ["", END]
    return "\n".join(lines) + "\n"


def update_results(path, section):
    """Replaces the text between the markers (inclusive) with `section`, or appends it."""
    path = pathlib.Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    begin, end = text.find(BEGIN), text.find(END)
    if begin >= 0 and end > begin:
        text = text[:begin] + section.rstrip("\n") + text[end + len(END):]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section
    temporary = path.with_suffix(".md.tmp")
    temporary.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    temporary.replace(path)


# === Main ===

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test in minutes")
    parser.add_argument("--only", help="comma list of benchmarks to run: " +
                        ", ".join(b.name for b in BENCHMARKS))
    parser.add_argument("--skip", default="", help="comma list of benchmarks not to run")
    parser.add_argument("--repeats", type=int, help="override every benchmark's repetitions")
    parser.add_argument("--report_only", action="store_true",
                        help="no runs: summary, RESULTS section and charts from existing JSON")
    parser.add_argument("--out_dir", help="JSON, logs, summary and charts (default: "
                        "benchmarks/out, or benchmarks/out/quick with --quick)")
    parser.add_argument("--results", help="the Markdown file whose generated section is "
                        "rewritten (default: benchmarks/RESULTS.md; with --quick, "
                        "<out_dir>/RESULTS.md)")
    parser.add_argument("--omp_wait_policy", choices=("ACTIVE", "PASSIVE"),
                        help="OMP_WAIT_POLICY for every benchmark (PyTorch's OpenMP threads). "
                        "On a machine shared with other jobs the default spinning costs "
                        "PyTorch up to 50x; PASSIVE avoids that. Recorded in the summary.")
    parser.add_argument("--timeout", type=int, default=None,
                        help="seconds per benchmark (default: none; 1800 with --quick)")
    args = parser.parse_args()
    out_dir = pathlib.Path(args.out_dir or (HERE / "out" / "quick" if args.quick
                                            else HERE / "out")).resolve()
    results = pathlib.Path(args.results or (out_dir / "RESULTS.md" if args.quick else RESULTS))
    timeout = args.timeout or (1800 if args.quick else None)
    names = {b.name for b in BENCHMARKS}
    selected = set(args.only.split(",")) if args.only else set(names)
    selected -= set(filter(None, args.skip.split(",")))
    if selected - names:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(selected - names))}")

    statuses = {}
    if not args.report_only:
        out_dir.mkdir(parents=True, exist_ok=True)
        for benchmark in BENCHMARKS:
            if benchmark.name not in selected:
                continue
            print(f"[run_all] {benchmark.name}: running {benchmark.script} ...", flush=True)
            status = run_benchmark(benchmark, out_dir, args.quick, args.repeats, timeout,
                                   args.omp_wait_policy)
            statuses[benchmark.name] = status
            print(f"[run_all] {benchmark.name}: {'ok' if status['ok'] else 'FAILED'} in "
                  f"{status['seconds']:.0f} s (log {status['log']})", flush=True)

    summary = summarize(out_dir, statuses, "quick" if args.quick else "full")
    summary["omp_wait_policy"] = args.omp_wait_policy or os.environ.get("OMP_WAIT_POLICY")
    summary["command"] = " ".join(["python benchmarks/run_all.py", *sys.argv[1:]])
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    chart_dir = out_dir / "charts"
    try:
        shown_dir = str(chart_dir.relative_to(REPO))
    except ValueError:
        shown_dir = str(chart_dir)
    update_results(results, markdown(summary, shown_dir))
    print(f"[run_all] summary: {out_dir / 'summary.json'}; generated section of {results}")
    try:
        import charts

        for path in charts.draw_all(summary, chart_dir):
            print(f"[run_all] chart: {path}")
    except ImportError as error:
        print(f"[run_all] no charts ({error}): pip install -e '.[bench]'")
    for b in summary["benchmarks"]:
        ratios = ", ".join(f"{r['group']} vs {r['peer']} {r['ratio']:.2f}×"
                           for r in b.get("ratios", []) if r.get("ratio") is not None)
        print(f"[run_all] {b['name']}: {b.get('error') or ratios}")
    failed = [name for name, s in statuses.items() if not s["ok"]]
    if failed:
        sys.exit(f"[run_all] failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
