"""Steps with a NaN or Inf loss: not applied, counted, and a stop after too many in a row.

A training step whose loss or global gradient norm is not finite would
write NaN into the weights and the Adam moments, and every later step and
checkpoint would carry it. Inside the compiled step, `apply_if_finite` runs
the optimizer only when the step is finite: a skipped step changes nothing,
not the weights, not the moments, not the optimizer's iteration count (so
the learning-rate schedule does not advance either). Zeroing the gradients
instead would still decay the moments and count the step. The trainer counts
skipped steps (`nonfinite_steps` in the logs and summaries of a loop that
had any) and, after `trainer.max_nonfinite_steps` of them in a row, stops
with `NonFiniteLossError` before saving anything: the last checkpoint,
written before them, stays the latest. Default 10 in a row: one bad batch
is survived, a run whose every batch overflows stops in minutes, not
hours. The count restarts with the process.

Under float16 loss scaling the `LossScaleOptimizer` already skips steps
with overflowing gradients (and lowers its scale, which must happen), so
there only a non-finite loss counts as a skipped step.

Example:

>>> check_nonfinite_run(run=3, limit=10, step=120, latest=None)  # under the limit: nothing
"""

import tensorflow as tf
from absl import logging

from tfbert.training.sums import replica_sum, summarize


class NonFiniteLossError(RuntimeError):
    """Training stopped after `trainer.max_nonfinite_steps` non-finite steps in a row.

    Example:

    >>> try:
    ...     check_nonfinite_run(run=10, limit=10, step=500, latest="/run/ckpt-490")
    ... except NonFiniteLossError as error:
    ...     print(error)  # doctest: +ELLIPSIS
    stopped at step 500: the last 10 steps had a NaN or Inf loss ... /run/ckpt-490, is intact ...
    """


def step_is_finite(loss, scaled_norm, optimizer):
    """Whether a step may be applied: the global batch's loss (and, without loss
    scaling, the gradients' global norm) are finite; the same on every replica."""
    loss = replica_sum(loss)  # each replica holds its share of the loss
    finite = tf.math.is_finite(loss)
    if not hasattr(optimizer, "inner_optimizer"):
        finite = tf.logical_and(finite, tf.math.is_finite(scaled_norm))
    return finite


def apply_if_finite(optimizer, gradients, variables, finite):
    """`optimizer.apply(gradients, variables)` when `finite`, else nothing at all.

    As Keras' `LossScaleOptimizer` does it: a `tf.cond` in the replica
    context where the strategy needs no `merge_call`, else one in the
    cross-replica context (a `merge_call` inside a replica-context `cond`
    is not supported).
    """
    def apply(grads):
        optimizer.apply(grads, variables)  # returns None, as the skip branch

    def skip():
        return None

    if tf.__internal__.distribute.strategy_supports_no_merge_call():
        tf.cond(finite, lambda: apply(gradients), skip)
        return

    def cross_replica(distribution, grads, finite_per_replica):
        # Every replica computed the same flag from all-reduced values.
        first = distribution.experimental_local_results(finite_per_replica)[0]
        tf.cond(first, lambda: distribution.extended.call_for_each_replica(
            apply, args=(grads,)), skip)

    tf.distribute.get_replica_context().merge_call(cross_replica, args=(gradients, finite))


def loop_logs(totals, num_steps, skipped, step, run):
    """A host loop's logs: means over its applied steps (NaN if none was), and
    `nonfinite_steps` when it skipped any (also logged as a warning)."""
    logs = summarize(totals, max(num_steps - skipped, 1))
    if skipped:
        logs = logs if skipped < num_steps else {k: float("nan") for k in logs}
        logs["nonfinite_steps"] = skipped
        logging.warning("%d of %d steps up to step %d had a NaN or Inf loss or gradient norm "
                        "and were not applied (%d in a row)", skipped, num_steps, step, run)
    return logs


def check_nonfinite_run(run: int, limit: int, step: int, latest: str | None) -> None:
    """Raises `NonFiniteLossError` when `run` non-finite steps in a row reach `limit`.

    Args:
        run: int. Non-finite steps in a row, up to `step`.
        limit: int. `trainer.max_nonfinite_steps` (0: never stop).
        step: int. The global step reached.
        latest: str or None. The latest checkpoint, which the stop leaves as it is.
    """
    if not limit or run < limit:
        return
    kept = (f"the last checkpoint, {latest}, is intact and holds the weights from before "
            "them; rerun the same command to resume from it (with a lower learning rate, or "
            "after checking the data)" if latest else
            "no checkpoint was saved before them")
    raise NonFiniteLossError(
        f"stopped at step {step}: the last {run} steps had a NaN or Inf loss or gradient norm "
        f"(trainer.max_nonfinite_steps={limit}, --max_nonfinite_steps); they were not "
        f"applied and nothing was saved after them: {kept}")
