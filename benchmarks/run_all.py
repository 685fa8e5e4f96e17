"""The whole benchmark suite in one command: runs, JSON, RESULTS.md summary, charts.

Runs every `bench_*.py` in turn (each alternates tfbert with its peers in fresh
subprocesses, repeats, and writes its JSON), then

1. reads their JSON into one summary, `<out_dir>/summary.json`: per benchmark, a
   table (case, contestant, value, tfbert's speed ÷ this one's, peak memory, ...)
   and the ratios tfbert ÷ peer (`summaries.py`);
2. puts the tables of the benchmarks it ran into the result data
   (`benchmarks/results/latest.json`) and regenerates RESULTS.md from it
   (`summarize.py`); move the entries it replaces to docs/performance_history.md;
3. draws the ratio charts (`charts.py`) into `<out_dir>/charts/`.

Modes:
- full (default): each benchmark at its own defaults (`--repeats` overrides them
  all); JSON in `benchmarks/out/`, results in `benchmarks/results/latest.json` and
  `benchmarks/RESULTS.md`. Takes hours on a 2-core CPU; run it on a quiet machine.
- `--quick`: a smoke test of the whole tool chain in minutes: tiny models, one
  repetition, a few steps. JSON, summary, a latest.json and RESULTS.md of its own, and
  charts go to `benchmarks/out/quick/`, so smoke numbers never land in the real results.
- `--report_only`: no runs; the summary, results and charts are made again from the
  JSON already in the output folder.

    python -m benchmarks.run_all                 # full run
    python -m benchmarks.run_all --quick         # smoke test
    python -m benchmarks.run_all --only=encoder,finetune_step --repeats=5
    python -m benchmarks.run_all --report_only   # summary + charts from existing JSON

A benchmark that fails is reported (its log is in `<out_dir>/logs/`) and the others
still run; the exit status is then 1. Every section of the summary says when its
JSON was written, so a table left from an earlier run is visible as such.
"""

import argparse
import contextlib
import dataclasses
import datetime
import importlib.metadata
import json
import os
import pathlib
import subprocess
import sys
import time

from benchmarks import common, summaries, summarize

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = summarize.RESULTS
LATEST = summarize.LATEST
SPINNING = ("unset (PyTorch's OpenMP threads spin while they wait; on a machine shared with "
            "other jobs that slows PyTorch down many times)")


@dataclasses.dataclass
class Benchmark:
    """One benchmark module of this package: its JSON name and the arguments of the quick
    mode."""

    name: str
    title: str
    module: str
    quick: tuple = ()

    @property
    def json_name(self):
        return f"{self.name}.json"


BENCHMARKS = (
    Benchmark("encoder", "Encoder inference", "bench_encoder", ("--quick",)),
    Benchmark("finetune_step", "Fine-tuning step", "bench_finetune_step", ("--quick",)),
    Benchmark("pretraining", "Pre-training step", "bench_pretraining",
              ("--repeats=1", "--loops=2", "--steps_per_loop=2",
               "--runs=tfbert/bfloat16,keras_hub/float32")),
    Benchmark("serving", "Serving: raw text → probabilities", "bench_serving",
              ("--repeats=1", "--latency_texts=10", "--texts=64")),
    Benchmark("latency", "Latency: raw text → probabilities, batch 1 and 4", "bench_latency",
              ("--quick",)),
    Benchmark("tokenization", "Tokenization", "bench_tokenization",
              ("--repeats=1", "--passes=1")),
    Benchmark("create_pretraining_data", "Pre-training data creation",
              "bench_create_pretraining_data", ("--repeats=1",)),
    Benchmark("finetune_features", "Fine-tuning features", "bench_finetune_features",
              ("--repeats=1", "--jobs=sst2")),
)


# === Running ===

def run_benchmark(benchmark, out_dir, quick, repeats, timeout, omp_wait_policy=None):
    """Runs one script, its output into `<out_dir>/logs/<name>.log`; returns a status dict."""
    logs = out_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", f"benchmarks.{benchmark.module}",
               f"--out={out_dir / benchmark.json_name}", *(benchmark.quick if quick else ())]
    if repeats:
        command.append(f"--repeats={repeats}")
    env = common.worker_env()
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
    return {"command": " ".join(["python", *command[1:]]).replace(str(REPO) + "/", ""),
            "ok": code == 0, "exit": code, "seconds": time.perf_counter() - start,
            "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "log": str(logs / f"{benchmark.name}.log")}


def collect(out_dir, statuses, mode):
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
                entry.update(summaries.SUMMARIZERS[benchmark.name](
                    json.loads(path.read_text())))
            except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
                entry.update(title=benchmark.title, error=f"cannot summarize {path.name}: "
                             f"{type(error).__name__}: {error}")
        else:
            entry.update(title=benchmark.title, error=f"not run yet: no {path.name} in {out_dir}")
        benchmarks.append(entry)
    return {"mode": mode, "date": datetime.datetime.now().isoformat(timespec="minutes"),
            "machine": common.machine(), "versions": package_versions(), "benchmarks": benchmarks}


def package_versions():
    found = {}
    for package in ("tensorflow", "tensorflow-text", "keras", "keras-hub", "torch",
                    "transformers", "tokenizers", "onnxruntime", "openvino"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[package] = importlib.metadata.version(package)
    return found


def latest_entries(summary, every):
    """The result-data entries (see `summarize.py`) of the benchmarks this run measured, or
    of every benchmark with a table when `every` (`--report_only`)."""
    machine = (common.machine_line(summary["machine"]) + "; "
               + ", ".join(f"{k} {v}" for k, v in summary["versions"].items()))
    omp = f"`OMP_WAIT_POLICY`: {summary.get('omp_wait_policy') or SPINNING}."
    entries = []
    for b in summary["benchmarks"]:
        status = b.get("status")
        if "rows" not in b or not (every or (status and status["ok"])):
            continue
        header, rows = summaries.table_cells(b)
        command = status["command"] if status else f"(not recorded: {b['json']})"
        entries.append({
            "name": b["name"], "title": b["title"], "date": b["written"], "machine": machine,
            "command": command,
            "source": f"`{summary['command']}` ({summary['mode']}), {summary['date']}",
            "header": header, "rows": rows, "notes": [*b["notes"], omp]})
    return entries


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
    parser.add_argument("--results", help="the Markdown file generated from the result "
                        "data (default: benchmarks/RESULTS.md; with --quick, "
                        "<out_dir>/RESULTS.md); the data: latest.json beside --out_dir's "
                        "quick results, else benchmarks/results/latest.json")
    parser.add_argument("--omp_wait_policy", choices=("ACTIVE", "PASSIVE"),
                        help="OMP_WAIT_POLICY for every benchmark (PyTorch's OpenMP threads). "
                        "On a machine shared with other jobs the default spinning slows "
                        "PyTorch down many times (docs/performance.md); PASSIVE avoids that. "
                        "Recorded in the summary.")
    parser.add_argument("--timeout", type=int, default=None,
                        help="seconds per benchmark (default: none; 1800 with --quick)")
    args = parser.parse_args()
    out_dir = pathlib.Path(args.out_dir or (HERE / "out" / "quick" if args.quick
                                            else HERE / "out")).resolve()
    results = pathlib.Path(args.results or (out_dir / "RESULTS.md" if args.quick else RESULTS))
    latest = out_dir / "latest.json" if args.quick else LATEST
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
            print(f"[run_all] {benchmark.name}: running benchmarks.{benchmark.module} ...",
                  flush=True)
            status = run_benchmark(benchmark, out_dir, args.quick, args.repeats, timeout,
                                   args.omp_wait_policy)
            statuses[benchmark.name] = status
            print(f"[run_all] {benchmark.name}: {'ok' if status['ok'] else 'FAILED'} in "
                  f"{status['seconds']:.0f} s (log {status['log']})", flush=True)

    summary = collect(out_dir, statuses, "quick" if args.quick else "full")
    summary["omp_wait_policy"] = args.omp_wait_policy or os.environ.get("OMP_WAIT_POLICY")
    summary["command"] = " ".join(["python -m benchmarks.run_all", *sys.argv[1:]])
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    chart_dir = out_dir / "charts"
    entries = latest_entries(summary, args.report_only)
    if entries:
        summarize.update_latest(latest, entries)
    if latest.exists():
        summarize.write_results(latest, results)
    print(f"[run_all] summary: {out_dir / 'summary.json'}; {len(entries)} table(s) into "
          f"{latest}; {results} regenerated")
    try:
        from benchmarks import charts

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
