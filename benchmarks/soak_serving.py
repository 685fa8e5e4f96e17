"""Serving soak: each export kind under 8 concurrent callers, every answer checked.

For each export kind (classification, squad, tagging, embeddings) this builds a
text-in SavedModel with tfbert's own export path, loads it in
`tfbert.serving.native_server.NativeServer` (TensorFlow's session loader, as
`tensorflow_model_server` loads it, with a pool of threads running requests
concurrently on the one session), and then:

1. computes the expected answer of each distinct request (`--distinct`, from
   `soak_corpus`) single-threaded: a server with one worker, one request at a
   time; an error answer (malformed request) is expected too, by its code;
2. sends `--requests` requests drawn from them from `--callers` threads, and
   compares every answer with the expected one, exactly (bit for bit: a
   session computes the same batch the same way whatever runs beside it;
   the report also gives the largest float difference seen);
3. records errors by kind, latency p50/p99, and the server's resident memory
   every `--rss_every` requests; memory is flat when the mean of the last
   tenth of the samples after warm-up is within 5% of the first tenth's.

The model is a random-weight 2-layer, hidden-64 BERT with the real 30,522-piece
uncased vocab: the work per request is then mostly the in-graph tokenization,
packing and decoding the soak is about, and 200,000 requests per kind fit in
hours on a 2-core CPU; all-MiniLM-L6-v2 would be about 30 times the compute per
request. The weights are drawn with `initializer_range=0.5` so that different
inputs give clearly different answers.

    python -m benchmarks.soak_serving --requests=200000          # the full soak
    python -m benchmarks.soak_serving --requests=2000 --distinct=300 --kinds=tagging

Writes `benchmarks/out/soak_serving.json` and prints a summary; exits 1 if any
check fails (a wrong answer, a crash, an unexpected error, memory not flat).
"""

import argparse
import collections
import contextlib
import json
import os
import pathlib
import threading
import time

import numpy as np

from benchmarks.common import OUT_DIR, VOCAB
from benchmarks.soak_corpus import KINDS, TextPool, make_requests

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
SEQ_LENGTH = 128
RSS_DRIFT_LIMIT = 0.05


def build_export(kind, base_dir, vocab_file=VOCAB, seed=0):
    """Writes (once) a tiny random-weight export of `kind` under `base_dir/kind`."""
    import keras

    import tfbert
    from tfbert.serving import classification, embeddings, question_answering, tagging
    from tfbert.serving.export import export
    from tfbert.text import BertPreprocessor

    base = pathlib.Path(base_dir) / kind
    if (base / "1" / "saved_model.pb").exists():
        return base / "1"
    keras.utils.set_random_seed(seed)
    config = tfbert.BertConfig(vocab_size=30522, hidden_size=64, num_hidden_layers=2,
                               num_attention_heads=4, intermediate_size=128,
                               max_position_embeddings=SEQ_LENGTH, initializer_range=0.5)
    preprocessor = BertPreprocessor(str(vocab_file), seq_length=SEQ_LENGTH)
    encoder = tfbert.BertEncoder(config)
    if kind == "classification":
        model = tfbert.BertClassifier(encoder, 3)
        endpoints = classification.endpoints(model, preprocessor,
                                             ["negative", "neutral", "positive"])
    elif kind == "squad":
        model = tfbert.BertSpanLabeler(encoder)
        endpoints = question_answering.endpoints(model, preprocessor, max_query_length=32,
                                                 doc_stride=64, version_2_with_negative=True)
    elif kind == "tagging":
        model = tfbert.BertTokenClassifier(encoder, len(TAGS))
        endpoints = tagging.endpoints(model, preprocessor, TAGS)
    elif kind == "embeddings":
        model = encoder
        endpoints = embeddings.endpoints(encoder, preprocessor, normalize=True)
    else:
        raise ValueError(f"unknown export kind {kind!r}; expected one of {KINDS}")
    return pathlib.Path(export(str(base), endpoints, track=[model, preprocessor],
                               vocab_file=str(vocab_file), version=1))


def expected_answers(export_path, requests):
    """Each request's answer single-threaded: `{"outputs": dict}` or `{"code": int}`."""
    from tfbert.serving.native_server import NativeRunError, NativeServer

    answers = []
    with NativeServer(export_path, workers=1) as server:
        for signature, inputs in requests:
            try:
                answers.append({"outputs": server.run(signature, inputs)})
            except NativeRunError as e:
                answers.append({"code": e.code, "message": e.message})
    return answers


def compare(outputs, expected):
    """`(same, largest float difference)`: same keys, shapes, dtypes and values, exactly."""
    if set(outputs) != set(expected):
        return False, float("inf")
    same, diff = True, 0.0
    for key, want in expected.items():
        got = outputs[key]
        if got.shape != want.shape or got.dtype != want.dtype:
            return False, float("inf")
        if want.dtype.kind == "f" and want.size:
            diff = max(diff, float(np.nanmax(np.abs(got.astype(np.float64) - want))))
        if not np.array_equal(got, want, equal_nan=want.dtype.kind == "f"):
            same = False
    return same, diff


class Soak:
    """`callers` threads sending `total` requests drawn from `requests` to `server`."""

    def __init__(self, server, requests, answers, total, callers=8, rss_every=1000, seed=0,
                 log=print):
        self.server, self.requests, self.answers, self.log = server, requests, answers, log
        self.total, self.callers, self.rss_every, self.seed = total, callers, rss_every, seed
        self.lock = threading.Lock()
        self.sent = 0
        self.done = 0
        self.latencies = np.zeros(total, np.float64)
        self.errors = collections.Counter()  # what was answered, by kind
        self.wrong = []
        self.max_float_diff = 0.0
        self.rss = []  # (requests done, bytes)
        self.crashed = None

    def _next(self):
        with self.lock:
            if self.sent >= self.total or self.crashed:
                return None
            self.sent += 1
            return self.sent - 1

    def _record(self, slot, index, kind, same, diff, latency):
        with self.lock:
            self.latencies[slot] = latency
            self.errors[kind] += 1
            self.max_float_diff = max(self.max_float_diff, diff)
            if not same and len(self.wrong) < 20:
                self.wrong.append({"request": index, "answer": kind})
            elif not same:
                self.wrong.append(None)
            self.done += 1
            done = self.done
            sample = done % self.rss_every == 0
        if sample:
            rss = self.server.rss_bytes()
            self.rss.append((done, rss))
            if done % max(self.total // 10, 1) < self.rss_every:  # about every tenth
                self.log(f"  {done}/{self.total} answered, {len(self.wrong)} wrong, "
                         f"RSS {rss / 2**20:.1f} MiB", flush=True)

    def _caller(self, number):
        from tfbert.serving.native_server import (
            NativeRunError,
            NativeServerDiedError,
            NativeServerTimeoutError,
        )

        rng = np.random.default_rng([self.seed, number])
        while (slot := self._next()) is not None:
            index = int(rng.integers(len(self.requests)))
            signature, inputs = self.requests[index]
            expected = self.answers[index]
            start = time.perf_counter()
            try:
                outputs = self.server.run(signature, inputs)
                same, diff = (compare(outputs, expected["outputs"]) if "outputs" in expected
                              else (False, 0.0))
                kind = "ok"
            except NativeRunError as e:
                same, diff = expected.get("code") == e.code, 0.0
                kind = f"error {e.code}"
            except NativeServerTimeoutError:
                same, diff, kind = False, 0.0, "timeout"
            except NativeServerDiedError as e:
                with self.lock:
                    self.crashed = str(e)
                return
            self._record(slot, index, kind, bool(same), diff, time.perf_counter() - start)

    def run(self):
        self.rss.append((0, self.server.rss_bytes()))
        start = time.perf_counter()
        threads = [threading.Thread(target=self._caller, args=(i,)) for i in range(self.callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.seconds = time.perf_counter() - start
        return self


def rss_flatness(samples, total, warmup_fraction):
    """Mean RSS of the first and last tenth of the samples taken after warm-up."""
    # Callers append samples as they pass each mark, not always in order.
    after = [rss for done, rss in sorted(samples) if done >= warmup_fraction * total]
    tenth = max(1, len(after) // 10)
    if len(after) < 2:
        return None, None, None
    first, last = float(np.mean(after[:tenth])), float(np.mean(after[-tenth:]))
    return first, last, last / first - 1.0


def warm_up(server, requests, answers):
    """One request per signature, alone, before the callers start, as TF Serving's
    warmup records do: the session builds its executor for a signature on the
    first run of it, and 8 first runs at once would each build one."""
    from tfbert.serving.native_server import NativeRunError

    for signature in sorted({signature for signature, _ in requests}):
        inputs = next(i for (s, i), a in zip(requests, answers, strict=True)
                      if s == signature and ("outputs" in a or s != "serving_default"))
        with contextlib.suppress(NativeRunError):  # a malformed one still builds the executor
            server.run(signature, inputs, timeout=max(server.timeout, 600))


def soak_kind(kind, export_path, requests, total, callers=8, workers=8, rss_every=1000,
              warmup_fraction=0.1, seed=0, log=print, timeout=120.0):
    """Runs the soak of one export; returns its report (a JSON-able dict)."""
    from tfbert.serving.native_server import NativeServer

    start = time.perf_counter()
    answers = expected_answers(export_path, requests)
    expected_seconds = time.perf_counter() - start
    log(f"[{kind}] {len(answers)} expected answers single-threaded in {expected_seconds:.0f} s",
        flush=True)
    server = NativeServer(export_path, workers=workers, timeout=timeout).start()
    try:
        warm_up(server, requests, answers)
        soak = Soak(server, requests, answers, total, callers, rss_every, seed, log).run()
        status = server.close(timeout=600) if not soak.crashed else None
    finally:
        server.kill()
    answered = soak.done
    latencies = soak.latencies[:answered] * 1000.0
    first, last, drift = rss_flatness(soak.rss, total, warmup_fraction)
    wrong = len(soak.wrong)
    report = {
        "kind": kind, "export": str(export_path), "requests": total, "answered": answered,
        "callers": callers, "workers": workers, "distinct_requests": len(requests),
        "expected_errors_distinct": sum("code" in a for a in answers),
        "answers_by_kind": dict(soak.errors), "wrong": wrong, "wrong_examples":
            [w for w in soak.wrong if w][:20], "max_float_diff": soak.max_float_diff,
        "crashed": soak.crashed, "exit_status": status,
        "p50_ms": float(np.percentile(latencies, 50)) if answered else None,
        "p99_ms": float(np.percentile(latencies, 99)) if answered else None,
        "requests_per_s": answered / soak.seconds, "seconds": soak.seconds,
        "rss_samples": sorted(soak.rss), "rss_every": rss_every, "warmup_fraction": warmup_fraction,
        "rss_first_tenth": first, "rss_last_tenth": last, "rss_drift": drift,
    }
    report["checks"] = {
        "all_answered": answered == total, "zero_wrong": wrong == 0,
        "zero_crashes": soak.crashed is None and status == 0,
        "rss_flat": drift is not None and abs(drift) <= RSS_DRIFT_LIMIT,
    }
    return report


def summary_line(r):
    mib = 1 / 2**20
    rss = (f"{r['rss_first_tenth'] * mib:.1f}/{r['rss_last_tenth'] * mib:.1f} MiB "
           f"({r['rss_drift']:+.2%})" if r["rss_drift"] is not None else "n/a")
    errors = ", ".join(f"{k}: {n}" for k, n in sorted(r["answers_by_kind"].items()))
    return (f"{r['kind']:<15} {r['answered']:>8}/{r['requests']} answered, wrong {r['wrong']}, "
            f"crashes {0 if r['checks']['zero_crashes'] else 1}, [{errors}], "
            f"p50/p99 {r['p50_ms']:.2f}/{r['p99_ms']:.2f} ms, {r['requests_per_s']:.0f} req/s, "
            f"RSS {rss}, checks {'PASS' if all(r['checks'].values()) else 'FAIL'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--requests", type=int, default=200_000, help="per export kind")
    parser.add_argument("--distinct", type=int, default=2000, help="distinct requests per kind")
    parser.add_argument("--callers", type=int, default=8)
    parser.add_argument("--workers", type=int, default=8, help="server threads")
    parser.add_argument("--rss_every", type=int, default=1000)
    parser.add_argument("--warmup_fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds one request may take before it counts as a timeout")
    parser.add_argument("--export_dir", default=str(OUT_DIR / "soak_exports"))
    parser.add_argument("--out", default=str(OUT_DIR / "soak_serving.json"))
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    for kind in kinds:
        if kind not in KINDS:
            parser.error(f"--kinds: unknown kind {kind!r}; expected some of {','.join(KINDS)}")
    pool = TextPool(seed=args.seed)
    reports = []
    for kind in kinds:
        path = build_export(kind, args.export_dir, seed=args.seed)
        requests = make_requests(kind, pool, args.distinct, seed=args.seed)
        reports.append(soak_kind(kind, path, requests, args.requests, args.callers,
                                 args.workers, args.rss_every, args.warmup_fraction, args.seed,
                                 timeout=args.timeout))
        print(summary_line(reports[-1]), flush=True)
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump({"argv": vars(args), "reports": reports}, f, indent=1)
    print(f"report: {args.out}")
    return 0 if all(all(r["checks"].values()) for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
