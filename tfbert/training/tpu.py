"""Connecting to a TPU within a bound: a wrong or silent `--tpu` ends with a message.

TensorFlow's own connection (`tf.config.experimental_connect_to_cluster`,
`tf.tpu.experimental.initialize_tpu_system`) waits without limit on a
`grpc://` address that accepts connections and never answers, and nothing in
Python can interrupt it. So `connect_tpu` first checks the address with calls
that carry their own deadline, and only then hands it to TensorFlow:

1. a TCP connect: a refused port (nothing listens) is an error at once;
2. a gRPC handshake (`grpc.channel_ready_future`): a port that accepts but
   never speaks gRPC is an error at the deadline;
3. TensorFlow's connection and TPU initialisation run in a daemon thread that
   is waited for until the deadline. Past it, `TPUConnectionTimeoutError` is raised;
   the thread stays blocked inside TensorFlow (a daemon: the process still exits),
   and the TPU cannot be used by this process any more.

`--tpu=local` on a machine whose TensorFlow has no TPU kernels (no TPU build,
no libtpu) is "no local TPU was found", not TensorFlow's
`ConfigureDistributedTPU ... no registered kernels`. The bound is one deadline
for all steps (`runtime.tpu_timeout_s`, `--tpu_timeout_s`, default 300 s: a TPU
answers its first gRPC call in well under a second and initialises in tens of
seconds, so five minutes only runs out when something is wrong).

Example:

>>> import socket
>>> with socket.socket() as free:  # a port nothing listens on
...     free.bind(("127.0.0.1", 0))
...     address = "grpc://127.0.0.1:%d" % free.getsockname()[1]
>>> try:
...     probe_grpc_address(address, 5.0)
... except TPUConnectionError as error:
...     print("connection refused" in str(error))
True
"""

import socket
import threading
import time
import urllib.parse

import grpc
import tensorflow as tf

from tfbert.configs.experiment import RuntimeConfig

DEFAULT_TIMEOUT_S = RuntimeConfig.tpu_timeout_s

_CHECK = ("Check that the TPU is READY (`gcloud compute tpus list`), that the address and port "
          "are its gRPC endpoint (port 8470), and that no firewall stands between this machine "
          "and it")


class TPUConnectionError(RuntimeError):
    """The TPU named by `--tpu` cannot be used; the message names it and what to check."""


class TPUConnectionTimeoutError(TimeoutError):
    """TensorFlow's connection to the TPU did not finish within the bound (a thread
    stays blocked in it; the process should report this and end)."""


def tpu_cluster_resolver(tpu, zone=None, project=None):
    """The `TPUClusterResolver` of a TPU name or `grpc://host:port` address.

    Args:
        tpu: str. A Cloud TPU name (looked up through the Cloud TPU API), a
            `grpc://host:8470` address, or `local` for a TPU VM.
        zone: str or None. GCE zone of a named TPU.
        project: str or None. GCP project of a named TPU.

    Raises:
        TPUConnectionError: the name cannot be resolved (no TPU of that name is
            reachable from here); the message says what was tried.
    """
    if not tpu:
        raise ValueError("--tpu: give a TPU name, a grpc://host:port address or 'local'")
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=tpu, zone=zone or None, project=project or None)
        resolver.cluster_spec()  # a name is looked up here (Cloud TPU API), if not before
        return resolver
    except Exception as error:  # the resolver raises URLError, ValueError, HttpError, ...
        raise TPUConnectionError(
            f"--tpu={tpu}: no TPU of that name is reachable from this machine "
            f"(zone={zone or 'auto'}, project={project or 'auto'}; {type(error).__name__}: "
            f"{error}). On a TPU VM use --tpu=local; elsewhere give the TPU's name with "
            f"--tpu_zone/--gcp_project, or its grpc://IP:8470 address.") from error


def _host_port(address):
    """`(host, port)` of `grpc://host:port` (or `host:port`)."""
    parsed = urllib.parse.urlsplit(address if "://" in address else f"grpc://{address}")
    try:
        port = parsed.port
    except ValueError:
        port = None
    if not parsed.hostname or port is None:
        raise TPUConnectionError(f"--tpu={address}: expected grpc://host:port "
                                 "(a TPU node listens on port 8470)")
    return parsed.hostname, port


def probe_grpc_address(address: str, timeout_s: float, bound_s: float | None = None) -> None:
    """Checks that a gRPC server answers at `address` within `timeout_s` seconds.

    Args:
        address: str. `grpc://host:port`.
        timeout_s: float. The most seconds the check may take.
        bound_s: float or None. The `--tpu_timeout_s` that messages name
            (default: `timeout_s`).

    Raises:
        TPUConnectionError: the host is unknown, the port refuses, or no TCP
            connection or gRPC handshake completes in time; the message names
            the address and what to check.
    """
    host, port = _host_port(address)
    bound = f"--tpu_timeout_s={timeout_s if bound_s is None else bound_s:g} s"
    start = time.monotonic()
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except ConnectionRefusedError:
        raise TPUConnectionError(
            f"--tpu={address}: nothing accepts connections at {host}:{port} (connection "
            f"refused). {_CHECK}.") from None
    except socket.gaierror as error:
        raise TPUConnectionError(f"--tpu={address}: unknown host {host!r} ({error}). "
                                 f"{_CHECK}.") from None
    except OSError as error:  # a timeout, an unreachable network
        raise TPUConnectionError(
            f"--tpu={address}: no TCP connection to {host}:{port} within {bound} "
            f"({error or type(error).__name__}). {_CHECK}.") from None
    # A listening port is not yet a TPU: a gRPC server answers the HTTP/2 handshake.
    remaining = max(0.0, timeout_s - (time.monotonic() - start))
    channel = grpc.insecure_channel(f"{host}:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=remaining)
    except grpc.FutureTimeoutError:
        raise TPUConnectionError(
            f"--tpu={address}: {host}:{port} accepts connections but no gRPC server answered "
            f"within {bound}. {_CHECK}; or raise --tpu_timeout_s."
        ) from None
    finally:
        channel.close()


def has_tpu_kernels() -> bool:
    """Whether this TensorFlow can run TPU system ops (a TPU build with libtpu loaded)."""
    try:
        from tensorflow.python.framework import kernels
    except ImportError:  # the private module moved: let initialisation tell
        return True
    return bool(kernels.get_registered_kernels_for_op("ConfigureDistributedTPU").kernel)


def _no_local_tpu(detail):
    return TPUConnectionError(
        "--tpu=local: no local TPU was found on this machine "
        f"({detail}). --tpu=local is for a Cloud TPU VM with a TPU build of TensorFlow "
        "(libtpu); for a TPU elsewhere give its name or grpc://IP:8470 address; without a "
        "TPU leave out --tpu / --use_tpu.")


def _bounded(function, timeout_s, describe):
    """`function()` in a daemon thread, waited for at most `timeout_s` seconds.

    TensorFlow's connection blocks in C++ where Python cannot interrupt it; a
    thread is the one way to stop waiting. Its errors are raised here."""
    outcome = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="tfbert-tpu-connect", daemon=True)
    thread.start()
    thread.join(max(0.0, timeout_s))
    if thread.is_alive():
        raise TPUConnectionTimeoutError(describe())
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def connect_tpu(tpu: str, zone: str | None = None, project: str | None = None,
                timeout_s: float = DEFAULT_TIMEOUT_S):
    """Resolves, checks, connects and initialises the TPU `tpu`, all within `timeout_s`.

    Args:
        tpu: str. A TPU name, `grpc://host:port` or `local`.
        zone, project: str or None. Where to look up a TPU name.
        timeout_s: float. The bound on the whole connection, in seconds.

    Returns:
        The initialised `TPUClusterResolver` (for `tf.distribute.TPUStrategy`).

    Raises:
        TPUConnectionError: no TPU there (refused, unknown, not a TPU, no local
            TPU); the message names the address and what to check.
        TPUConnectionTimeoutError: no answer within `timeout_s`.
    """
    if timeout_s <= 0:
        raise ValueError(f"--tpu_timeout_s={timeout_s:g}: give a positive number of seconds")
    deadline = time.monotonic() + timeout_s

    def left():
        return deadline - time.monotonic()

    def late(step):
        return lambda: (f"--tpu={tpu}: {step} did not finish within --tpu_timeout_s="
                        f"{timeout_s:g} s. {_CHECK}; that the TPU is not held by another job "
                        "and runs a TensorFlow version that matches this one "
                        f"({tf.__version__}); or raise --tpu_timeout_s.")

    resolver = _bounded(lambda: tpu_cluster_resolver(tpu, zone, project), left(),
                        late("looking up the TPU"))
    if tpu == "local":
        if not has_tpu_kernels():
            raise _no_local_tpu("this TensorFlow has no TPU kernels")
    else:
        probe_grpc_address(resolver.master(), left(), timeout_s)

    def connect():
        if tpu != "local":
            tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)

    try:
        _bounded(connect, left(), late(f"TensorFlow's connection to {resolver.master() or tpu}"))
    except tf.errors.OpError as error:
        if tpu == "local":
            raise _no_local_tpu(f"{type(error).__name__}: {error.message.splitlines()[0]}") \
                from error
        raise TPUConnectionError(
            f"--tpu={tpu}: {resolver.master()} answers gRPC but TensorFlow could not use it as "
            f"a TPU ({type(error).__name__}: {error.message.splitlines()[0]}). {_CHECK}."
        ) from error
    return resolver
