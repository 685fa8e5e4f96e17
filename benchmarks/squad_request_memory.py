"""Peak memory of one large SQuAD request to a question-answering export.

Exports all-MiniLM-L6-v2 as a span labeler (its head left at its initial
weights: memory does not depend on them) at `--seq_length`, sends the first
`--questions` questions of the SQuAD dev articles (real contexts) as ONE
request through the C session loader (`tfbert.serving.NativeSavedModel`, as
`tensorflow_model_server` loads it), and prints the loader process's peak
resident memory (its VmHWM, where the loader reports it, and the largest
VmRSS seen polling it every 0.2 s, which also works on a checkout whose
loader does not) and a digest of the answers (equal digests: equal answers).

    PYTHONPATH=. TFBERT_TEST_DATA=../shared/data \\
        python benchmarks/squad_request_memory.py --questions=1000 --window_batch_size=64

Without `--window_batch_size` the export's default is used; run it from a
checkout before the chunked windows to measure the unchunked peak. With
`--stop_at_gb`, the loader is killed once its resident memory passes that
(an unchunked request can take more than the machine has) and the largest
size seen is printed. Figures: docs/reliability.md, "Hostile input".
"""

import argparse
import hashlib
import os
import pathlib
import signal
import tempfile
import threading
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--seq_length", type=int, default=384)
    parser.add_argument("--window_batch_size", type=int, default=None)
    parser.add_argument("--stop_at_gb", type=float, default=None)
    parser.add_argument("--data", default=os.environ.get("TFBERT_TEST_DATA", "../shared/data"))
    args = parser.parse_args()

    import tfbert
    from tfbert.checkpoints import installed_minilm_dir, load_model
    from tfbert.data.squad import read_squad
    from tfbert.serving import NativeSavedModel, question_answering
    from tfbert.serving.export import export
    from tfbert.text import BertPreprocessor

    minilm = installed_minilm_dir()
    model = load_model(minilm, head=tfbert.BertSpanLabeler, require_head=False)
    preprocessor = BertPreprocessor(os.path.join(minilm, "vocab.txt"),
                                    seq_length=args.seq_length)
    options = {} if args.window_batch_size is None else {
        "window_batch_size": args.window_batch_size}
    endpoints = question_answering.endpoints(model, preprocessor, **options)
    examples = read_squad(pathlib.Path(args.data) / "squad" / "dev-v1.1-articles-00-23.json",
                          False).examples[:args.questions]
    inputs = {"question": np.array([e.question.encode() for e in examples], dtype=object),
              "context": np.array([e.context.encode() for e in examples], dtype=object)}
    with tempfile.TemporaryDirectory() as tmp:
        path = export(tmp, endpoints, track=[model, preprocessor],
                      vocab_file=os.path.join(minilm, "vocab.txt"), version=1)
        runner = NativeSavedModel(path)
        watch = _Watchdog(None)
        runner.run("serving_default", {k: v[:1] for k, v in inputs.items()})  # load only
        watch.stop()
        loaded = getattr(runner, "peak_rss_bytes", None)
        loaded_polled = watch.largest_kb
        watch = _Watchdog(args.stop_at_gb)
        start = time.perf_counter()
        try:
            out = runner.run_many([("serving_default", inputs)], timeout=3600)[0]
        except Exception as error:
            if not watch.killed:
                raise
            print(f"questions={len(examples)} stopped: the loader passed "
                  f"{watch.largest_kb / 2 ** 20:.1f} GB after {time.perf_counter() - start:.0f} s "
                  f"({type(error).__name__})")
            return
        finally:
            watch.stop()
        seconds = time.perf_counter() - start
    peak = getattr(runner, "peak_rss_bytes", None)
    digest = hashlib.sha256(b"\0".join(out["answer"]) + out["start_byte"].tobytes()
                            + out["end_byte"].tobytes()).hexdigest()[:16]
    print(f"questions={len(examples)} seq_length={args.seq_length} "
          f"window_batch_size={args.window_batch_size or 'default'} "
          f"peak_rss_mb={_mb(peak)} polled_max_rss_mb={watch.largest_kb / 1024:.0f} "
          f"one_question: peak_rss_mb={_mb(loaded)} polled_max_rss_mb={loaded_polled / 1024:.0f} "
          f"seconds={seconds:.0f} answers_sha256={digest}")


def _mb(value):
    return "n/a" if value is None else f"{value / 2 ** 20:.0f}"


class _Watchdog:
    """Polls this process's children's resident memory; kills those past `limit_gb`."""

    def __init__(self, limit_gb):
        self.largest_kb, self.killed, self._done = 0, False, threading.Event()
        self._limit_kb = limit_gb * 2 ** 20 if limit_gb else float("inf")
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        while not self._done.wait(0.2):
            for pid in _children():
                try:
                    with open(f"/proc/{pid}/status") as f:
                        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
                except (OSError, StopIteration):
                    continue
                self.largest_kb = max(self.largest_kb, rss)
                if rss > self._limit_kb:
                    self.killed = True
                    os.kill(pid, signal.SIGKILL)

    def stop(self):
        self._done.set()


def _children():
    pids = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            pids += [int(pid) for pid in f.read().split()]
    return pids


if __name__ == "__main__":
    main()
