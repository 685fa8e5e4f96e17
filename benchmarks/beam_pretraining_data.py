"""Beam vs one-machine `tfbert_create_pretraining_data` on a >= 50 MB corpus (issue #26).

Builds the corpus under benchmarks/out/beam_corpus/ by cycling the shared
WikiText-2 text (each copy's documents get a first line "copy N." so that no
two documents are equal: equal texts would all land in one Beam shard), in
16 files. Then runs, alternately, `--num_workers=2` (one machine) and
`--runner=DirectRunner --beam_option=direct_num_workers=2` (Beam, worker
processes), each as a user runs it (a subprocess), and records the wall time
and the peak summed RSS of the command's process tree (sampled every 0.2 s
from /proc). Run it with `nice -n 15` on a shared machine.

    python -m benchmarks.beam_pretraining_data --repeats=3
    python -m benchmarks.beam_pretraining_data --memory_scaling=3   # memory vs corpus size

`--memory_scaling=F` measures instead how peak memory grows with the corpus: each path
once on the corpus and once on F times the corpus in F times the files, Beam with one
shard per file (so its shards keep their size): bounded by a shard means flat.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks import common

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _corpus(data, out, target_mb, num_files):
    folder = os.path.join(out, "beam_corpus")
    marker = os.path.join(folder, f"done-{target_mb}-{num_files}")
    if os.path.exists(marker):
        return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".txt"))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(data, "text", "wikitext2_valid_pretrain_format.txt"),
              encoding="utf-8") as f:
        documents = [d.strip() for d in f.read().split("\n\n") if d.strip()]
    files = [open(os.path.join(folder, f"part-{k:03d}.txt"), "w", encoding="utf-8")  # noqa: SIM115
             for k in range(num_files)]
    written, copy, n = 0, 0, 0
    while written < target_mb * 1e6:
        for doc in documents:
            text = f"copy {copy}.\n{doc}\n\n"
            files[n % num_files].write(text)
            written += len(text.encode("utf-8"))
            n += 1
        copy += 1
    for f in files:
        f.close()
    open(marker, "w").close()
    return sorted(f.name for f in files)


def _tree_rss(pid):
    """Summed RSS (bytes) of `pid` and its descendants."""
    children, rss = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(name))
            rss[int(name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


def _run(args, log):
    start = time.time()
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with open(log, "w") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        peak = 0
        while process.poll() is None:
            peak = max(peak, _tree_rss(process.pid))
            time.sleep(0.2)
    if process.returncode:
        raise RuntimeError(f"{' '.join(args)} failed, see {log}")
    return time.time() - start, peak / 2**20


def _commands(data, out, files, dupe_factor):
    base = [sys.executable, "-m", "tfbert.cli.create_pretraining_data",
            f"--input_file={','.join(files)}",
            f"--vocab_file={os.path.join(data, 'vocab', 'bert-base-uncased-vocab.txt')}",
            "--max_seq_length=128", "--max_predictions_per_seq=20",
            f"--dupe_factor={dupe_factor}"]
    return {"one machine, --num_workers=2": base + [
                "--num_workers=2", f"--output_file={out}/beam_bench_single/train.tfrecord"],
            "Beam DirectRunner, 2 worker processes": base + [
                "--runner=DirectRunner", "--beam_option=direct_num_workers=2",
                f"--num_shards={len(files)}", f"--output_file={out}/beam_bench_beam/train"]}


def memory_scaling(args, data, out):
    """Peak memory of each path on the corpus and on `factor` times it; the entry."""
    sizes = [(args.target_mb, args.num_files),
             (args.target_mb * args.memory_scaling, args.num_files * args.memory_scaling)]
    rows = []
    for target_mb, num_files in sizes:
        scaled = os.path.join(out, f"scaled_{target_mb}")
        files = _corpus(data, scaled, target_mb, num_files)
        mb = sum(os.path.getsize(f) for f in files) / 1e6
        for name, command in _commands(data, scaled, files, args.dupe_factor).items():
            seconds, peak = _run(command, os.path.join(scaled, "memory.log"))
            print(f"{name}: {mb:.0f} MB in {num_files} files: {seconds:.1f} s, "
                  f"peak RSS {peak:.0f} MB", flush=True)
            rows.append([name, f"{mb:.0f}", str(num_files), f"{seconds:.1f}", f"{peak:,.0f}"])
    return {"name": "beam_pretraining_memory",
            "title": "Pre-training data: peak memory against corpus size (issue #26)",
            "date": time.strftime("%Y-%m-%d"),
            "command": f"python -m benchmarks.beam_pretraining_data "
                       f"--memory_scaling={args.memory_scaling}",
            "machine": common.machine_line(),
            "source": "this run's output (not committed)",
            "header": ["path", "corpus MB", "files (Beam: shards)", "s",
                       "peak RSS MB (process tree)"],
            "rows": rows,
            "notes": ["WikiText-2 valid cycled into files of the same size; Beam writes one "
                      "shard per file, so its shards keep their size while the corpus "
                      "grows; one run each, dupe_factor 1, max_seq_length 128."]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target_mb", type=int, default=50)
    parser.add_argument("--num_files", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dupe_factor", type=int, default=1)
    parser.add_argument("--memory_scaling", type=int, default=0,
                        help="measure peak memory at 1x and this many times the corpus")
    args = parser.parse_args()
    data = os.environ.get("TFBERT_TEST_DATA", os.path.join(ROOT, "..", "shared", "data"))
    out = str(common.OUT_DIR)
    from benchmarks import summarize

    if args.memory_scaling:
        summarize.update_latest(summarize.LATEST, [memory_scaling(args, data, out)])
        print(f"wrote {summarize.write_results()}")
        return
    files = _corpus(data, out, args.target_mb, args.num_files)
    mb = sum(os.path.getsize(f) for f in files) / 1e6
    paths = _commands(data, out, files, args.dupe_factor)
    times = {name: [] for name in paths}
    peaks = {name: [] for name in paths}
    for repeat in range(args.repeats):
        for name, command in paths.items():  # alternate: load drifts on a shared machine
            seconds, peak = _run(command, os.path.join(out, f"beam_bench_{len(times[name])}.log"))
            times[name].append(seconds)
            peaks[name].append(peak)
            print(f"repeat {repeat}: {name}: {seconds:.1f} s, peak RSS {peak:.0f} MB", flush=True)
    single, beam = paths
    report = {"date": time.strftime("%Y-%m-%d"), "corpus_mb": mb, "times": times, "peaks": peaks,
              "load": os.getloadavg(), "args": vars(args)}
    with open(os.path.join(out, "beam_pretraining_data.json"), "w") as f:
        json.dump(report, f, indent=1)
    ratio = statistics.median(times[beam]) / statistics.median(times[single])
    medians = {name: statistics.median(times[name]) for name in paths}
    rows = [[name, f"{medians[name]:.1f}", f"{mb / medians[name]:.2f}",
             f"{max(peaks[name]):.0f}", "1.00" if name == single else f"{ratio:.2f}"]
            for name in paths]
    entry = {"name": "beam_pretraining_data",
             "title": f"Pre-training data, one machine vs Beam DirectRunner, {mb:.0f} MB "
                      "(issue #26)",
             "date": report["date"],
             "command": f"python -m benchmarks.beam_pretraining_data "
                        f"--repeats={args.repeats}",
             "machine": common.machine_line() + " shared with other jobs (load average "
                        f"{report['load'][0]:.1f} at the end)",
             "source": "benchmarks/out/beam_pretraining_data.json (not committed)",
             "header": ["path", "median s", "MB/s", "peak RSS MB (process tree)",
                        "time ÷ one machine"],
             "rows": rows,
             "notes": [f"WikiText-2 valid cycled into {args.num_files} files, dupe_factor "
                       f"{args.dupe_factor}, max_seq_length 128; median of {args.repeats} "
                       "alternating runs; Beam writes one shard per file."]}
    print("\n".join(" | ".join(row) for row in [entry["header"], *rows]))
    summarize.update_latest(summarize.LATEST, [entry])
    print(f"wrote {summarize.write_results()}")


if __name__ == "__main__":
    main()
