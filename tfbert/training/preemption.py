"""SIGTERM, a preemption notice, as a request to stop training, for the length of a run."""

import contextlib
import signal
import threading


@contextlib.contextmanager
def stop_on_sigterm(request_stop):
    """Within it, SIGTERM calls `request_stop(signum, frame)` (a `Trainer` then saves a
    checkpoint and returns). On exit the previous handler is back: a finished run must
    neither swallow the process's next SIGTERM nor keep its trainer, model and traced
    graphs alive through the handler. Python runs signal handlers in the main thread only,
    so in any other thread this does nothing.

    Example:

    >>> import os, signal, threading
    >>> stop, before = threading.Event(), signal.getsignal(signal.SIGTERM)
    >>> with stop_on_sigterm(lambda signum, frame: stop.set()):
    ...     os.kill(os.getpid(), signal.SIGTERM)
    >>> stop.is_set(), signal.getsignal(signal.SIGTERM) is before
    (True, True)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, request_stop)
    try:
        yield
    finally:
        # None: a handler set outside Python, which Python cannot set again.
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
