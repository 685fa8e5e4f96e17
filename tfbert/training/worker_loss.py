"""A lost worker under `MultiWorkerMirroredStrategy`: a clear error within a bound, no hang.

Every training step all-reduces the gradients, so when one worker process dies
the others cannot finish their step. TensorFlow notices: the connection to a
dead process is reset, and the coordination service that
`MultiWorkerMirroredStrategy` starts aborts the collectives of every worker
once a peer misses its heartbeats (a whole machine gone). The step then raises
`UnavailableError` (or `DeadlineExceededError`, `AbortedError`), whose text is
gRPC's ("Socket closed", "Connection reset by peer"). `lost_peer_error` turns
that into one message that says what happened and what to do: restart every
worker with the same command; they resume from the latest checkpoint. The
bound measured: docs/reliability.md, "A killed MultiWorkerMirrored worker".
"""

import tensorflow as tf

# The errors a step raises when a peer of its collectives is gone.
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
               tf.errors.AbortedError)


def lost_peer_error(error: Exception, strategy: tf.distribute.Strategy,
                    model_dir: str) -> Exception:
    """A `RuntimeError` naming the lost peer and the checkpoint in `model_dir` to resume
    from (every worker reads the chief's), for a collective that failed under
    `MultiWorkerMirroredStrategy`; else `error` itself.

    Example:

    >>> error = tf.errors.UnavailableError(None, None, "Socket closed")
    >>> lost_peer_error(error, tf.distribute.get_strategy(), "/tmp/run") is error
    True
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or \
            not isinstance(error, PEER_ERRORS):
        return error
    lines = [line.strip() for line in (getattr(error, "message", None) or str(error)).splitlines()
             if line.strip()]
    at = next((i for i, line in enumerate(lines) if "aborted by" in line), 0)
    # A line ending in ':' goes on in the next (e.g. the tasks that stopped their heartbeats).
    detail = " ".join(lines[at:at + 2]) if lines[at].endswith(":") and at + 1 < len(lines) \
        else lines[at]
    latest_checkpoint = tf.train.latest_checkpoint(model_dir)
    resume = (f"they resume from the latest checkpoint, {latest_checkpoint}" if
              latest_checkpoint else "there is no checkpoint yet: they start afresh")
    return RuntimeError(f"lost a peer worker of the MultiWorkerMirroredStrategy: a collective "
                        f"failed ({type(error).__name__}: {detail}). The run cannot go on "
                        f"without it: restart every worker with the same command; {resume}")
