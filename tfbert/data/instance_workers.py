"""Worker processes for `create_pretraining_data --num_workers=N`: spawned, watched, bounded.

Each shard of documents runs in its own process, started with the "spawn"
method: a fresh interpreter, never a fork of this one. The calling process
has TensorFlow loaded (the corpus is tokenized in-graph), and TensorFlow
runs threads; a fork copies their locks but not the threads that would
release them, so a forked child can wait on a futex forever (it did, once,
in `test_workers_are_deterministic_for_seed_and_count`).

The parent never waits blindly: workers send a heartbeat with their count
of instances, and the parent fails with an error that names the worker and
its shard when one dies (any exit without a result: killed, out of memory,
a crash) or sends nothing for `stall_seconds` (hung). The other workers are
killed then; nothing is written. Each shard's seed depends only on the
flags (`worker_seed`), so where a shard runs does not change the records.

Example:

>>> worker_seed(12345, 0, 4)
'tfbert:12345:0/4'
"""

import multiprocessing
import queue as queue_lib
import signal
import time
import traceback

from absl import logging

from tfbert.data.pretraining_instances import create_shuffled_records

# Seconds between the parent's checks of its workers (exit codes, stalls).
_POLL_SECONDS = 1.0


def worker_seed(random_seed, shard_index, num_workers):
    """The seed of one worker: a function of the flags only."""
    return f"tfbert:{random_seed}:{shard_index}/{num_workers}"


def _worker_main(shard_index, documents, vocab, options, seed, beat_seconds, messages):
    """In the worker process: the shard's records, with heartbeats, onto `messages`."""
    last = [time.monotonic()]

    def progress(num_records):
        now = time.monotonic()
        if now - last[0] >= beat_seconds:
            last[0] = now
            messages.put(("beat", shard_index, num_records))

    messages.put(("beat", shard_index, 0))
    try:
        result = create_shuffled_records(documents, vocab, options, seed, progress)
    except BaseException:  # the parent re-raises it with the worker's name
        messages.put(("error", shard_index, traceback.format_exc()))
        return
    messages.put(("done", shard_index, result))


def _describe_exit(code):
    if code is not None and code < 0:
        try:
            return f"was killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code} before sending its records"


def run_workers(shards, vocab, options, progress_seconds=10.0, stall_seconds=600.0):
    """Runs `create_shuffled_records` on each shard in its own spawned process.

    Args:
      shards: list of lists of `Document`s, one per worker.
      vocab: a `Vocab`.
      options: `PretrainingDataOptions` (`random_seed`, `num_workers` make the seeds).
      progress_seconds: log the workers' instance counts at most this often.
      stall_seconds: a worker that sends no heartbeat for this long (while
        starting or creating instances) is taken as hung.

    Returns:
      One `(records, stats)` per shard, in shard order.

    Raises:
      RuntimeError: a worker died, hung or raised; the message names the
        worker, its shard and the cause.
    """
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    count = len(shards)
    beat_seconds = min(progress_seconds, stall_seconds / 10)
    processes = [
        context.Process(target=_worker_main, name=f"tfbert-instances-{k}", daemon=True,
                        args=(k, shard, vocab, options,
                              worker_seed(options.random_seed, k, options.num_workers),
                              beat_seconds, messages))
        for k, shard in enumerate(shards)]
    results, counts = {}, [0] * count
    try:
        for process in processes:
            process.start()
        seen = [time.monotonic()] * count
        last_log = time.monotonic()
        while len(results) < count:
            try:
                kind, k, payload = messages.get(timeout=_POLL_SECONDS)
            except queue_lib.Empty:
                kind = None
            now = time.monotonic()
            if kind == "beat":
                seen[k], counts[k] = now, payload
            elif kind == "done":
                results[k] = payload
            elif kind == "error":
                raise RuntimeError(f"{_name(k, count)} failed:\n{payload}")
            if kind is None:
                _check_alive(processes, results, seen, now, stall_seconds, messages)
            if now - last_log > progress_seconds:
                last_log = now
                logging.info("workers: created %d instances (%s)", sum(counts),
                             ", ".join(map(str, counts)))
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
            if process.pid is not None:
                process.join()
        messages.close()
    return [results[k] for k in range(count)]


def _name(k, count):
    return f"create_pretraining_data worker {k} (shard {k + 1} of {count})"


def _check_alive(processes, results, seen, now, stall_seconds, messages):
    """Raises for a worker that is gone without its result, or silent too long."""
    count = len(processes)
    for k, process in enumerate(processes):
        if k in results:
            continue
        if process.exitcode is not None:
            # Its last messages may still be in the pipe: give them a moment.
            deadline = time.monotonic() + 5 * _POLL_SECONDS
            while k not in results and time.monotonic() < deadline:
                try:
                    kind, j, payload = messages.get(timeout=_POLL_SECONDS)
                except queue_lib.Empty:
                    continue
                if kind == "done":
                    results[j] = payload
                elif kind == "error":
                    raise RuntimeError(f"{_name(j, count)} failed:\n{payload}")
            if k not in results:
                raise RuntimeError(f"{_name(k, count)} {_describe_exit(process.exitcode)}; "
                                   "no output was written")
        elif now - seen[k] > stall_seconds:
            raise RuntimeError(f"{_name(k, count)} sent no progress for {stall_seconds:.0f} s "
                               "and is taken as hung; no output was written")
