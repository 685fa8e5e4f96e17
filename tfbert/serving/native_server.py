"""A long-running SavedModel server process, loaded as `tensorflow_model_server` loads it.

`native_loader.NativeSavedModel` starts a process per batch of requests. A
server under load is different: it loads once and answers many callers at
once, with every request a `TF_SessionRun` on the one session, concurrently.
`session_server.c` does that (same C API loader, same tensor encoding as
`session_runner.c`, plus a request id per frame, over the process's stdin and
stdout), and `NativeServer` is its client: any number of threads may call
`run` at the same time; a reader thread matches the answers to the callers by
id. Waits are bounded, and a server that dies fails every waiting call with
its exit status and the end of its log, instead of hanging them.
"""

import contextlib
import io
import itertools
import os
import pathlib
import struct
import subprocess
import tempfile
import threading

from tfbert.serving.native_loader import (
    NativeLoadError,
    build_binary,
    read_tensor,
    signature_tensor_names,
    tf_text_op_libraries,
    write_requests,
)

_SOURCE = pathlib.Path(__file__).with_name("session_server.c")
_HEADER = struct.Struct("<qiq")  # response: id, code, body length
_READY_ID = -1


class NativeRunError(NativeLoadError):
    """The server answered a request with an error (`code`: a TF_Code, 3 = INVALID_ARGUMENT)."""

    def __init__(self, code: int, message: str):
        super().__init__(f"RUN_ERROR {code} {message}")
        self.code, self.message = code, message


class NativeServerDiedError(NativeLoadError):
    """The server process exited (or closed its output) with requests outstanding."""


class NativeServerTimeoutError(NativeLoadError, TimeoutError):
    """No answer within the call's timeout; the server is still running."""


def build_server(cache_dir=None):
    """Compiles `session_server.c` (`native_loader.build_binary`, with `-pthread`)."""
    return build_binary(_SOURCE, "session_server", cache_dir, ("-pthread",))


class _Call:
    """One outstanding request: the caller waits on `done`."""

    __slots__ = ("body", "code", "done", "error", "keys")

    def __init__(self, keys):
        self.keys, self.done = keys, threading.Event()
        self.code, self.body, self.error = None, None, None


class NativeServer:
    """One SavedModel served by `session_server` (see the module docstring).

    Args:
        export_dir: the SavedModel directory (`.../<version>/`).
        workers: threads in the server that run requests concurrently.
        op_libraries: op libraries to load first (default: tensorflow_text's).
        timeout: default bound, in seconds, on one `run`.
        start_timeout: bound on loading the model in `start`.
        warmup: replay the export's `assets.extra/tf_serving_warmup_requests` in `start`,
            as `tensorflow_model_server` does before it serves a version (a failing
            warmup request fails the start, as it fails the server's load).
        intra_op_threads, inter_op_threads: the session's thread pools, as the model
            server's `--tensorflow_intra_op_parallelism` and
            `--tensorflow_inter_op_parallelism` set them (None: TensorFlow's default, the
            CPU count). One thread per op suits short requests on int8 exports
            (docs/serving.md, "Threads").

    Example:

    >>> import tempfile
    >>> class Doubler(tf.Module):
    ...     @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    ...     def double(self, x):
    ...         return {"y": 2.0 * x}
    >>> path = tempfile.mkdtemp() + "/1"
    >>> module = Doubler()
    >>> tf.saved_model.save(module, path, signatures={"serving_default": module.double})
    >>> with NativeServer(path, workers=2) as server:
    ...     server.run("serving_default", {"x": np.array([1.5, -2.0], np.float32)})["y"]
    array([ 3., -4.], dtype=float32)
    """

    def __init__(self, export_dir, workers: int = 8, op_libraries=None, timeout: float = 60.0,
                 start_timeout: float = 300.0, warmup: bool = True,
                 intra_op_threads: int | None = None, inter_op_threads: int | None = None):
        self.export_dir = str(export_dir)
        # TensorFlow sizes a session's pools from these when its config leaves them at 0,
        # as the C API's default session options do; set over the environment at `start`.
        self.thread_env = {}
        for name, variable, value in (
                ("intra_op_threads", "TF_NUM_INTRAOP_THREADS", intra_op_threads),
                ("inter_op_threads", "TF_NUM_INTEROP_THREADS", inter_op_threads)):
            if value is not None:
                if value < 1:
                    raise ValueError(f"{name} must be at least 1, got {value}")
                self.thread_env[variable] = str(value)
        self.signatures = signature_tensor_names(export_dir)
        self.workers, self.timeout, self.start_timeout = workers, timeout, start_timeout
        self.warmup = warmup
        self.op_libraries = tf_text_op_libraries() if op_libraries is None else op_libraries
        self.binary = build_server()
        self.process = None
        self._pending, self._lock, self._write_lock = {}, threading.Lock(), threading.Lock()
        self._ids, self._ready, self._dead = itertools.count(), threading.Event(), None
        self._log, self._final_log = None, ""

    # ---- lifecycle ----

    def start(self) -> "NativeServer":
        """Starts the process and waits (up to `start_timeout`) until the model is loaded."""
        if self.process is not None:
            raise NativeLoadError("the server is already started")
        # The log goes to a file: TensorFlow writes a lot to stderr, and a full
        # pipe nobody reads would stop the server.
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed by close())
            prefix="session_server-", suffix=".log")
        self.process = subprocess.Popen(
            [str(self.binary), self.export_dir, str(self.workers), *self.op_libraries],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, bufsize=0,
            env={**os.environ, **self.thread_env})
        self._reader = threading.Thread(target=self._read_responses, daemon=True,
                                        name=f"session_server-{self.process.pid}")
        self._reader.start()
        if not self._ready.wait(self.start_timeout):
            self.kill()
            raise NativeServerTimeoutError(f"{self.export_dir} did not load within "
                                      f"{self.start_timeout:g} s")
        if self._dead is not None:
            raise self._dead
        if self.warmup:
            self._replay_warmup()
        return self

    def _replay_warmup(self):
        from tfbert.serving.warmup import WARMUP_FILE, read_warmup_requests

        if not pathlib.Path(self.export_dir, WARMUP_FILE).exists():
            return
        for i, (signature, inputs) in enumerate(read_warmup_requests(self.export_dir)):
            try:
                self.run(signature, inputs, timeout=self.start_timeout)
            except NativeLoadError as error:
                self.kill()
                raise NativeLoadError(f"{self.export_dir}: warmup request {i} "
                                      f"({signature}) failed: {error}") from error

    def close(self, timeout: float = 60.0) -> int:
        """Closes the server's input (it finishes the queued requests and exits);
        returns its exit status, killing it if it does not exit within `timeout`."""
        if self.process is None:
            return 0
        with contextlib.suppress(OSError):  # already broken: the server is gone
            self.process.stdin.close()
        try:
            status = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise NativeServerTimeoutError(f"the server did not exit within {timeout:g} s of "
                                      "closing its input; killed") from None
        self._reader.join(timeout)
        self._final_log = self.log_tail()
        self._log.close()
        return status

    def kill(self):
        """Kills the process at once (the waiting calls fail with `NativeServerDiedError`)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self):
        return self.start() if self.process is None else self

    def __exit__(self, *exc):
        status = self.close()
        if status and exc[0] is None:
            raise NativeServerDiedError(f"the server exited with status {status}:\n"
                                        f"{self.log_tail()}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_bytes(self) -> int:
        """The server process's resident memory now (`VmRSS` of /proc/<pid>/status)."""
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise NativeServerDiedError(f"process {self.process.pid} has no resident memory (exited?)")

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's stderr."""
        if self._log is None or self._log.closed:
            return self._final_log
        with open(self._log.name, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    # ---- requests ----

    def run(self, signature: str, inputs: dict, timeout: float | None = None) -> dict:
        """Runs one request; returns `{output key: array}`. Safe to call from many threads.

        Raises:
            NativeRunError: the server answered with an error (it keeps serving).
            NativeServerDiedError: the process is gone.
            NativeServerTimeoutError: no answer within `timeout` (default: the server's).
        """
        buffer = io.BytesIO()
        # The request encoding of `session_runner`, written by its own code: a
        # one-request file whose leading count the frame's length replaces.
        (keys,) = write_requests(buffer, self.signatures, [(signature, inputs)])
        body = buffer.getbuffer()[4:]
        call = _Call(keys)
        with self._lock:
            if self._dead is not None:
                raise self._dead
            request_id = next(self._ids)
            self._pending[request_id] = call
        try:
            frame = memoryview(struct.pack("<qq", request_id, len(body)) + body)
            with self._write_lock:
                while frame:  # a raw pipe write may take only part of a large frame
                    frame = frame[self.process.stdin.write(frame):]
        except (OSError, ValueError):  # ValueError: stdin already closed
            self._pending.pop(request_id, None)
            raise self._died(f"writing request {request_id} failed") from None
        if not call.done.wait(self.timeout if timeout is None else timeout):
            with self._lock:
                self._pending.pop(request_id, None)
            raise NativeServerTimeoutError(f"no answer to request {request_id} within "
                                      f"{self.timeout if timeout is None else timeout:g} s")
        if call.error is not None:
            raise call.error
        if call.code:
            raise NativeRunError(call.code, call.body.decode("utf-8", "replace"))
        f = io.BytesIO(call.body)
        (count,) = struct.unpack("<i", f.read(4))
        if count != len(keys):
            raise NativeLoadError(f"expected {len(keys)} outputs, got {count}")
        return {key: read_tensor(f) for key in keys}

    def _read_exact(self, n):
        data = self.process.stdout.read(n) if n else b""
        while data is not None and len(data) < n:
            more = self.process.stdout.read(n - len(data))
            if not more:
                return None
            data += more
        return data

    def _read_responses(self):
        """The reader thread: hands each answer to its caller, until the output closes."""
        while True:
            header = self._read_exact(_HEADER.size)
            if header is None:
                break
            request_id, code, length = _HEADER.unpack(header)
            body = self._read_exact(length)
            if body is None:
                break
            if request_id == _READY_ID:
                self._ready.set()
                continue
            with self._lock:
                call = self._pending.pop(request_id, None)
            if call is not None:  # None: its caller timed out and left
                call.code, call.body = code, body
                call.done.set()
        self._died("the server closed its output")

    def _died(self, what):
        """Marks the server dead and fails every waiting call; returns the error."""
        try:
            status = self.process.wait(5)
        except subprocess.TimeoutExpired:
            status = "still running"
        with self._lock:
            if self._dead is None:
                self._dead = NativeServerDiedError(
                    f"{what}: session_server (pid {self.process.pid}, {self.export_dir}) "
                    f"exit status {status}\n{self.log_tail()}")
            pending, self._pending = self._pending, {}
        for call in pending.values():
            call.error = self._dead
            call.done.set()
        self._ready.set()
        return self._dead
