"""`--tpu` tried as a new user would, on loopback: each fault ends within its bound with a
message naming the address, and every flag, file and path is checked before any TPU is
contacted (`tfbert.training.tpu`, `tfbert.training.experiment.check_before_connecting`).

The "TPUs" are sockets and gRPC servers this test opens on 127.0.0.1 and watches: a
port that accepts and never answers, a port that refuses, a gRPC server that is not a
TPU, one whose calls never return. Each command runs as users run it (a subprocess); a
TensorFlow start takes seconds on a busy machine, so the runs go in parallel, once per
module, and each test reads its run's result. Times are measured from the moment the
command first reaches the port (its own start-up is not the connection's fault).
"""

import concurrent.futures
import socket
import subprocess
import sys
import threading
import time
from concurrent import futures

import grpc
import pytest

pytestmark = pytest.mark.slow

BOUND_S = 6  # the --tpu_timeout_s of the runs that must wait for it
MARGIN_S = 10  # after the bound: the message and the end of the process on a busy machine
NEVER_S = 240  # the subprocess limit: a run still going then has hung


class SilentPort:
    """A port that accepts connections and never sends a byte; records when each came."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.address = f"grpc://127.0.0.1:{self.server.getsockname()[1]}"
        self.connections = []  # (time.monotonic(), socket): held open, never answered
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections.append((time.monotonic(), connection))

    def first_contact(self):
        return self.connections[0][0] if self.connections else None


class RefusingPort:
    """A port bound (so no one else takes it) but not listening: connections are refused."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.address = f"grpc://127.0.0.1:{self.socket.getsockname()[1]}"


class GrpcServer:
    """A real gRPC server that is no TPU: it answers every call with UNIMPLEMENTED
    (`hang=False`), or takes every call and never returns (`hang=True`)."""

    def __init__(self, hang):
        self.calls = []  # (time.monotonic(), method)
        self.release = threading.Event()
        server = self

        class Handler(grpc.GenericRpcHandler):
            def service(self, details):
                server.calls.append((time.monotonic(), details.method))
                if not hang:
                    return None

                def never_answer(request, context):
                    server.release.wait()
                    context.abort(grpc.StatusCode.UNAVAILABLE, "test over")

                return grpc.unary_unary_rpc_method_handler(never_answer)

        self.server = grpc.server(futures.ThreadPoolExecutor(8), handlers=[Handler()])
        self.address = f"grpc://127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()

    def first_contact(self):
        return self.calls[0][0] if self.calls else None

    def stop(self):
        self.release.set()
        self.server.stop(None)


def _run(command, args):
    """`(CompletedProcess or None if it hung, seconds it ran, time.monotonic() at its end)`."""
    start = time.monotonic()
    try:
        result = subprocess.run([sys.executable, "-m", f"tfbert.cli.{command}", *args],
                                capture_output=True, text=True, timeout=NEVER_S)
    except subprocess.TimeoutExpired:
        result = None
    end = time.monotonic()
    return result, end - start, end


@pytest.fixture(scope="module")
def runs(vocab_file, tmp_path_factory):
    """`{case: (CompletedProcess, seconds, end time, the fake TPU)}` of every case."""
    work = tmp_path_factory.mktemp("tpu_flag")
    records = work / "train.tfrecord"
    records.write_bytes(b"")  # only globbed before the connection; never read here
    train = work / "train.tsv"
    train.write_text("sentence\tlabel\na fine film \t1\na dull film \t0\n", encoding="utf-8")
    blocking_file = work / "a_file"
    blocking_file.write_text("x", encoding="utf-8")

    def pretrain(tpu, *extra, model="bert_tiny_uncased", inputs=str(records), out="out"):
        return ["--do_train", f"--input_file={inputs}", f"--bert_config_file={model}",
                f"--output_dir={work / out}", f"--tpu={tpu.address}", *extra]

    def finetune(tpu, *extra, model="bert_tiny_uncased"):
        return ["--task=glue/sst2", f"--train_file={train}", f"--vocab_file={vocab_file}",
                f"--bert_config_file={model}", f"--model_dir={work / 'ft'}",
                f"--tpu={tpu.address}", *extra]

    missing = "/nonexistent/tfbert_test"
    fakes = {name: SilentPort() for name in (
        "silent", "bad_config", "bad_glob", "bad_output_dir", "finetune_bad_config",
        "finetune_missing_dev", "bad_timeout")}
    fakes.update(refused=RefusingPort(), not_a_tpu=GrpcServer(hang=False),
                 tf_hangs=GrpcServer(hang=True))
    wait = f"--tpu_timeout_s={BOUND_S}"
    # The validation cases would reach the TPU within 30 s if they got that far.
    early = "--tpu_timeout_s=30"
    jobs = {
        "silent": ("pretrain", pretrain(fakes["silent"], wait)),
        "refused": ("pretrain", pretrain(fakes["refused"])),  # the default bound, 300 s
        "not_a_tpu": ("pretrain", pretrain(fakes["not_a_tpu"])),
        "tf_hangs": ("pretrain", pretrain(fakes["tf_hangs"], wait)),
        "local": ("pretrain", ["--do_train", f"--input_file={records}",
                               "--bert_config_file=bert_tiny_uncased",
                               f"--output_dir={work / 'local'}", "--tpu=local"]),
        "bad_config": ("pretrain", pretrain(fakes["bad_config"], early,
                                            model=f"{missing}/bert_config.json")),
        "bad_glob": ("pretrain", pretrain(fakes["bad_glob"], early,
                                          inputs=f"{missing}/*.tfrecord")),
        "bad_output_dir": ("pretrain", pretrain(fakes["bad_output_dir"], early,
                                                out="a_file/out")),
        "finetune_bad_config": ("finetune", finetune(
            fakes["finetune_bad_config"], "--do_train", early,
            model=f"{missing}/bert_config.json")),
        "finetune_missing_dev": ("finetune", finetune(
            fakes["finetune_missing_dev"], "--do_train", "--do_eval", early,
            f"--predict_file={missing}/dev.tsv")),
        "bad_timeout": ("pretrain", pretrain(fakes["bad_timeout"], "--tpu_timeout_s=0")),
    }
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        done = {case: pool.submit(_run, *job) for case, job in jobs.items()}
        results = {case: (*future.result(), fakes.get(case)) for case, future in done.items()}
    for fake in fakes.values():
        if isinstance(fake, GrpcServer):
            fake.stop()
    return results


def _failed_with(run, *expected):
    """The run's stderr, after checking it ended (exit 1, no traceback) saying `expected`."""
    result = run[0]
    assert result is not None, f"still running after {NEVER_S} s: the command hung"
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    for text in expected:
        assert text in result.stderr, result.stderr[-3000:]
    return result.stderr


def _ended_within_bound(run):
    """Seconds from the command's first contact with the fake TPU to its end."""
    _, _, end, fake = run
    assert fake.first_contact() is not None, "the command never reached the port"
    waited = end - fake.first_contact()
    assert BOUND_S - 1 <= waited <= BOUND_S + MARGIN_S, waited
    return waited


def test_port_that_accepts_and_never_answers_ends_at_the_bound(runs):
    """Without the gRPC handshake check (`grpc.channel_ready_future(channel).result(...)`
    in `probe_grpc_address`) TensorFlow's connect is reached: the message is another (and
    with `_bounded` removed too, the command waits forever, as in the issue)."""
    run = runs["silent"]
    _failed_with(run, f"tfbert_pretrain: error: --tpu={run[3].address}",
                 f"accepts connections but no gRPC server answered within "
                 f"--tpu_timeout_s={BOUND_S} s", "gcloud compute tpus list")
    _ended_within_bound(run)


def test_refused_port_fails_at_once(runs):
    """Without the TCP connect (`socket.create_connection(...)` in `probe_grpc_address`)
    the gRPC check retries a refused port until the default bound of 300 s: the run is
    stopped at NEVER_S and this fails."""
    run = runs["refused"]
    _failed_with(run, f"--tpu={run[3].address}: nothing accepts connections",
                 "connection refused", "port 8470")


def test_grpc_server_that_is_no_tpu_is_named(runs):
    """Without the `except tf.errors.OpError` in `connect_tpu`, TensorFlow's
    UnimplementedError is no user error: a traceback, and this fails."""
    run = runs["not_a_tpu"]
    _failed_with(run, f"--tpu={run[3].address}: {run[3].address} answers gRPC but "
                 "TensorFlow could not use it as a TPU", "UnimplementedError")
    assert any("WorkerService" in method for _, method in run[3].calls)


def test_tensorflow_connect_that_never_returns_ends_at_the_bound(runs):
    """A gRPC server takes TensorFlow's first call and never answers it: TensorFlow waits
    forever there. Calling `connect()` directly instead of `_bounded(connect, ...)` in
    `connect_tpu` hangs the run (stopped at NEVER_S)."""
    run = runs["tf_hangs"]
    _failed_with(run, f"--tpu={run[3].address}: TensorFlow's connection to {run[3].address} "
                 f"did not finish within --tpu_timeout_s={BOUND_S} s")
    _ended_within_bound(run)


def test_local_without_a_tpu_says_so(runs):
    """Without the `has_tpu_kernels()` check in `connect_tpu`, initialisation fails and the
    detail is TensorFlow's NotFoundError (`test_local_initialisation_error_is_translated`),
    not "no TPU kernels": this fails."""
    _failed_with(runs["local"], "tfbert_pretrain: error: --tpu=local: no local TPU was found "
                 "on this machine (this TensorFlow has no TPU kernels)")


def test_local_initialisation_error_is_translated(monkeypatch):
    """Without the `tpu == "local"` branch of the `except tf.errors.OpError` in
    `connect_tpu`, the error names a gRPC address instead: this fails."""
    from tfbert.training import tpu

    monkeypatch.setattr(tpu, "has_tpu_kernels", lambda: True)
    with pytest.raises(tpu.TPUConnectionError, match=r"--tpu=local: no local TPU was found "
                       r"on this machine \(NotFoundError"):
        tpu.connect_tpu("local", timeout_s=60)


@pytest.mark.parametrize("case,expected", [
    ("bad_config", "/nonexistent/tfbert_test/bert_config.json"),
    ("bad_glob", "no files match '/nonexistent/tfbert_test/*.tfrecord'"),
    ("bad_output_dir", "cannot create the output directory"),
    ("finetune_bad_config", "/nonexistent/tfbert_test/bert_config.json"),
    ("finetune_missing_dev", "/nonexistent/tfbert_test/dev.tsv: no such file or directory"),
])
def test_flags_files_and_paths_are_checked_before_the_tpu_is_contacted(runs, case, expected):
    """Each run names a port that accepts and never answers (bound 30 s), and one wrong
    file or path. The error names it and the port never saw a connection. Removing
    `check_before_connecting(...)` from `run_experiment` makes the TPU come first: the
    port is contacted and the message is the TPU's."""
    run = runs[case]
    command = "tfbert_finetune" if case.startswith("finetune") else "tfbert_pretrain"
    _failed_with(run, f"{command}: error:", expected)
    assert run[3].first_contact() is None, "the TPU was contacted before the check"


def test_timeout_flag_must_be_positive(runs):
    run = runs["bad_timeout"]
    _failed_with(run, "--tpu_timeout_s=0: give a positive number of seconds")
    assert run[3].first_contact() is None
