"""The serving soak, shortened for CI, and the failure modes of `NativeServer`.

The soak (`benchmarks/soak_serving.py`) runs the four export kinds through the
long-running C++ session server with 8 concurrent callers, comparing every
answer with the single-threaded one. Here it sends a few thousand requests in
all; the full run (200,000 per kind) is recorded in docs/reliability.md.
"""

import os
import signal
import threading
import time

import numpy as np
import pytest

from benchmarks.soak_corpus import KINDS, TextPool, make_requests
from benchmarks.soak_serving import build_export, soak_kind
from tfbert.serving.native_server import (
    NativeRunError,
    NativeServer,
    NativeServerDiedError,
    NativeServerTimeoutError,
)

REQUESTS_PER_KIND = 400
DISTINCT = 60


@pytest.fixture(scope="module")
def soak_exports(tmp_path_factory, uncased_vocab):
    base = tmp_path_factory.mktemp("soak_exports")
    return {kind: build_export(kind, base, vocab_file=uncased_vocab) for kind in KINDS}


@pytest.fixture(scope="module")
def pool(shared_data):
    return TextPool(shared_data)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_short_soak_every_answer_is_the_single_threaded_one(soak_exports, pool, kind):
    requests = make_requests(kind, pool, DISTINCT, seed=1, malformed_every=20)
    report = soak_kind(kind, soak_exports[kind], requests, REQUESTS_PER_KIND, callers=8,
                       workers=8, rss_every=50, log=lambda *a, **k: None)
    checks = report["checks"]
    assert report["answered"] == REQUESTS_PER_KIND
    assert report["wrong"] == 0, report["wrong_examples"]
    assert checks["zero_crashes"], (report["crashed"], report["exit_status"])
    # Malformed requests were answered with InvalidArgument (code 3) and the
    # server went on answering the others.
    assert report["answers_by_kind"].get("error 3", 0) > 0
    assert report["answers_by_kind"]["ok"] > REQUESTS_PER_KIND // 2
    assert report["p99_ms"] >= report["p50_ms"] > 0
    assert len(report["rss_samples"]) == 1 + REQUESTS_PER_KIND // 50


@pytest.mark.slow
def test_bad_requests_get_errors_and_the_server_keeps_serving(soak_exports):
    text = np.array([b"a fine film", b"caf\xc3\xa9 \xff"], dtype=object)
    with NativeServer(soak_exports["classification"], workers=2) as server:
        before = server.run("serving_default", {"text": text})
        with pytest.raises(NativeRunError, match=r"^RUN_ERROR 3 ") as error:
            server.run("serving_default", {"text": text.reshape(1, 2)})
        assert error.value.code == 3
        # A tensor name the graph lacks: NOT_FOUND from the server, not a crash.
        inputs, outputs = server.signatures["serving_default"]
        server.signatures["broken"] = ({"text": "no_such_op:0"}, outputs)
        with pytest.raises(NativeRunError) as error:
            server.run("broken", {"text": text})
        assert error.value.code == 5
        server.signatures["broken"] = (inputs, {"label": "no_such_op:0"})
        with pytest.raises(NativeRunError, match="no such output"):
            server.run("broken", {"text": text})
        after = server.run("serving_default", {"text": text})
        assert set(after) == set(before)
        for key in before:
            np.testing.assert_array_equal(after[key], before[key])


@pytest.mark.slow
def test_a_stopped_server_times_out_and_then_answers(soak_exports):
    text = {"text": np.array([b"the game"], dtype=object)}
    with NativeServer(soak_exports["embeddings"], workers=2) as server:
        expected = server.run("serving_default", text)
        os.kill(server.pid, signal.SIGSTOP)
        try:
            start = time.monotonic()
            with pytest.raises(NativeServerTimeoutError, match="no answer to request"):
                server.run("serving_default", text, timeout=1.0)
            assert time.monotonic() - start < 5
        finally:
            os.kill(server.pid, signal.SIGCONT)
        again = server.run("serving_default", text)
        for key in expected:
            np.testing.assert_array_equal(again[key], expected[key])


@pytest.mark.slow
def test_a_killed_server_fails_every_caller_quickly(soak_exports, pool):
    """Kills the server with SIGKILL while 8 threads are calling it: each caller
    gets `NativeServerDiedError` naming the exit status within a few seconds
    (no call hangs until its own 60 s timeout), and later calls fail at once.
    Without the reader thread's `_died` on end of output, every caller would
    wait out its timeout and the `elapsed` bound would fail."""
    requests = make_requests("classification", pool, 50, seed=2)
    server = NativeServer(soak_exports["classification"], workers=4, timeout=60).start()
    server.run(*requests[0], timeout=600)  # builds the executor once, not 8 times at once
    answered, failures, killed_at = [0], [], []
    stop = threading.Event()

    def caller(number):
        i = number
        while not stop.is_set():
            signature, inputs = requests[i % len(requests)]
            i += 8
            try:
                server.run(signature, inputs)
                answered[0] += 1
            except NativeRunError:
                pass
            except NativeServerDiedError as e:
                failures.append((time.monotonic(), str(e)))
                return

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 120
        while answered[0] < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert answered[0] >= 20, "the server answered too few requests before the kill"
        killed_at.append(time.monotonic())
        os.kill(server.pid, signal.SIGKILL)
        for thread in threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in threads), "a caller hangs"
    finally:
        stop.set()
        server.kill()
    assert len(failures) == 8
    elapsed = max(t for t, _ in failures) - killed_at[0]
    assert elapsed < 10, f"callers learned of the crash after {elapsed:.1f} s"
    assert all("exit status -9" in message for _, message in failures), failures[0][1]
    start = time.monotonic()
    with pytest.raises(NativeServerDiedError):
        server.run(*requests[0])
    assert time.monotonic() - start < 1
