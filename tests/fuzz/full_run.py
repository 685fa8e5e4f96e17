"""Runs every fuzz target at the full profile, one process per target.

One process per target because a full-profile process keeps Hypothesis's record
of every case it ran (gigabytes after tens of thousands of cases, given back
only at exit), and so that a failure or a hang of one target leaves the others'
counts intact. Each target's counts come from the conftest's
`TFBERT_FUZZ_REPORT`; the summary (cases, outcome, seconds, peak RSS per
target) is written to `<out>/summary.json` after every target, and each
target's pytest output to `<out>/<n>.log`. Each pytest runs with `-n 0`: the
project's two xdist workers (pyproject's `addopts`) would start two more
TensorFlow processes per target, and the peak RSS would be the idle controller's.

    python -m tests.fuzz.full_run --out=/tmp/fuzz            # the 31 targets, 2 at a time
    python -m tests.fuzz.full_run --out=/tmp/fuzz -k packer  # the ids that contain "packer"

Exits 1 when a target failed, hung past `--timeout` or ran fewer cases than the
full profile asks.
"""

import argparse
import concurrent.futures
import json
import os
import pathlib
import subprocess
import sys
import threading
import time

FULL_CASES = 10_000  # what the conftest's full profile asks of each target


def targets(keyword):
    """The node ids of the Hypothesis tests of tests/fuzz (its one plain test too: it
    runs, and reports no cases), without this tool's own test."""
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "--collect-only", "-q", "tests/fuzz"],
        capture_output=True, text=True)
    if collected.returncode:
        raise SystemExit("collecting tests/fuzz failed (run from the repository root):\n"
                         + collected.stdout[-4000:] + collected.stderr[-4000:])
    listing = collected.stdout
    ids = [line for line in listing.splitlines()
           if "::" in line and not line.startswith("tests/fuzz/test_full_run.py")]
    return [i for i in ids if keyword is None or keyword in i]


def run_target(index, node, out, profile, timeout):
    """Runs one target in its own pytest process; its summary row."""
    report = out / f"{index}.json"
    env = dict(os.environ, HYPOTHESIS_PROFILE=profile, TFBERT_FUZZ_REPORT=str(report))
    report.unlink(missing_ok=True)
    started = time.monotonic()
    with open(out / f"{index}.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider", node],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    # os.wait4 rather than Popen.wait: it also gives the target's own peak memory.
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            code = process.returncode = os.waitstatus_to_exitcode(status)
            outcome = "passed" if code == 0 else f"failed (exit {code})"
            break
        if time.monotonic() - started > timeout:
            process.kill()
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            outcome = f"stopped at the {timeout} s limit"
            break
        time.sleep(1)
    counted = json.loads(report.read_text())["targets"] if report.exists() else {}
    ran = sum(counted.values())
    if outcome == "passed" and counted and profile == "full" and ran < FULL_CASES:
        outcome = f"short: {ran} of {FULL_CASES} cases"
    return {"target": node, "cases": ran, "outcome": outcome,
            "seconds": round(time.monotonic() - started, 1),
            "peak_rss_mib": usage.ru_maxrss // 1024, "log": f"{index}.log"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the logs and summary.json")
    parser.add_argument("-k", dest="keyword",
                        help="only the targets whose node id contains this string")
    parser.add_argument("--jobs", type=int, default=2, help="targets run at once")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per target")
    parser.add_argument("--profile", default="full", choices=("full", "ci"),
                        help="the conftest's Hypothesis profile (ci: a quick check of this tool)")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    nodes = targets(args.keyword)
    if not nodes:
        parser.error(f"no fuzz target's node id contains {args.keyword!r}")
    print(f"{len(nodes)} targets, {args.jobs} at a time; logs in {out}", flush=True)
    results, lock = [], threading.Lock()

    def one(item):
        index, node = item
        result = run_target(index, node, out, args.profile, args.timeout)
        with lock:
            results.append(result)
            (out / "summary.json").write_text(json.dumps(
                sorted(results, key=lambda r: r["target"]), indent=2) + "\n")
            print(f"[{len(results)}/{len(nodes)}] {result['outcome']}: {result['cases']} cases "
                  f"in {result['seconds']:.0f} s  {node}", flush=True)

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(one, enumerate(nodes, 1)))
    bad = [r for r in results if r["outcome"] != "passed"]
    print(f"{len(results) - len(bad)} of {len(results)} targets passed", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
