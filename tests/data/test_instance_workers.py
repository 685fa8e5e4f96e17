"""The worker processes of create_pretraining_data: same records, and no hang when one dies."""

import multiprocessing
import os
import signal
import threading
import time

import numpy as np
import pytest

from tests.helpers import loaded_in_fresh_python
from tfbert.data.document import Document
from tfbert.data.instance_workers import run_workers, worker_seed
from tfbert.data.pretraining_instances import (
    PretrainingDataOptions,
    Vocab,
    create_shuffled_records,
)

VOCAB = Vocab(["[PAD]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(96)])
OPTIONS = PretrainingDataOptions(max_seq_length=32, max_predictions_per_seq=5, dupe_factor=2,
                                 num_workers=2, random_seed=7)


def _shards(num_docs=40, count=2):
    rng = np.random.default_rng(0)
    docs = []
    for _ in range(num_docs):
        lengths = rng.integers(3, 12, size=6)
        docs.append(Document(rng.integers(4, 100, size=lengths.sum()).astype(np.int32),
                             [0, *np.cumsum(lengths).tolist()]))
    return [docs[k::count] for k in range(count)]


def test_spawned_workers_make_the_in_process_records():
    shards = _shards()
    results = run_workers(shards, VOCAB, OPTIONS, stall_seconds=300)
    for k, (records, stats) in enumerate(results):
        expected, expected_stats = create_shuffled_records(
            shards[k], VOCAB, OPTIONS, worker_seed(OPTIONS.random_seed, k, OPTIONS.num_workers))
        assert records == expected and len(records) > 0
        assert stats == expected_stats


def _run_in_thread(**kwargs):
    outcome = {}

    def target():
        try:
            outcome["result"] = run_workers(_shards(), VOCAB, OPTIONS, **kwargs)
        except Exception as error:  # what the test checks
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)  # a hang must not block pytest
    thread.start()
    return thread, outcome


def _worker_pid(index, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in multiprocessing.active_children():
            if child.name == f"tfbert-instances-{index}" and child.pid:
                return child.pid
        time.sleep(0.05)
    raise AssertionError(f"worker {index} never started")


def test_a_worker_starts_without_tensorflow():
    """What a spawned worker imports (`_worker_main`'s module and the modules of its
    arguments) loads no TensorFlow: starting it takes seconds and some 300 MB per
    worker, and the worker builds instances and record bytes in plain Python."""
    assert loaded_in_fresh_python(
        "import tfbert.data.instance_workers, tfbert.data.document") == []


def test_a_killed_worker_fails_the_run_within_a_bound():
    """Worker 1 is SIGKILLed while it runs; the parent must fail within 30 s, naming it.

    Remove the `if process.exitcode is not None:` branch of
    `instance_workers._check_alive` and the parent waits forever for the dead
    worker's records: the thread is still running after the bound and the test
    fails. (Before this module, `Pool.map_async(...).get()` lost the task of a
    killed worker and hung the same way.)
    """
    thread, outcome = _run_in_thread(stall_seconds=600)
    os.kill(_worker_pid(1), signal.SIGKILL)
    killed = time.monotonic()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the run still waits for a killed worker"
    assert time.monotonic() - killed < 30
    message = str(outcome["error"])
    assert "worker 1 (shard 2 of 2) was killed by signal SIGKILL" in message
    assert not [c for c in multiprocessing.active_children()
                if c.name.startswith("tfbert-instances-")]


@pytest.mark.slow
def test_a_hung_worker_fails_the_run_after_stall_seconds():
    """Worker 0 is stopped (SIGSTOP, as a hung process: alive, silent); with
    `stall_seconds=40` the parent fails within 40 s + a margin, naming it.

    Remove the `elif now - seen[k] > stall_seconds:` branch of
    `instance_workers._check_alive` and the parent waits forever.
    """
    thread, outcome = _run_in_thread(stall_seconds=40)
    os.kill(_worker_pid(0), signal.SIGSTOP)
    thread.join(timeout=90)
    assert not thread.is_alive(), "the run still waits for a hung worker"
    message = str(outcome["error"])
    assert "worker 0 (shard 1 of 2) sent no progress for 40 s" in message
