"""How a step's per-replica sums become a run's losses and metrics.

Losses and metrics leave each replica as sums (see `tfbert.tasks.base`); the
trainer adds them over replicas and steps, and `summarize` divides once, so
the figures are the same on one device and on many.
"""

import tensorflow as tf

LOSS_EPSILON = 1e-5  # as the original masked-LM loss: sum(w * nll) / (sum(w) + 1e-5)


def model_inputs(model, features):
    """The features that are model inputs (labels and weights are not)."""
    names = [tensor.name.split(":")[0] for tensor in model.inputs]
    return {name: features[name] for name in names}


def split_batch(features, parts):
    """`parts` equal micro-batches of a dict of `[batch, ...]` tensors (static shapes)."""
    if parts == 1:
        return [features]
    batch = next(iter(features.values())).shape[0]
    size = batch // parts
    return [{k: v[i * size:(i + 1) * size] for k, v in features.items()} for i in range(parts)]


def replica_stats(numerators, scales, metrics):
    """Per-replica shares: summed over replicas they are the global batch's values."""
    stats = {k: numerators[k] * scales[k] for k in numerators}
    stats["loss"] = tf.add_n(list(stats.values()))
    for name, (numerator, denominator) in metrics.items():
        stats[f"{name}/numerator"] = numerator
        stats[f"{name}/denominator"] = denominator
    return stats


def replica_sum(value):
    """`value` (a nest of tensors) summed over the replicas, in a replica context.

    With one replica it is `value` itself, with no `all_reduce`: in a graph, `all_reduce`
    registers a `tf.custom_gradient` that TensorFlow never frees, and with it the traced
    step and the model it captured, so a process that trains many times (restarts, a
    search, a test suite) would keep every run's model in memory.
    """
    context = tf.distribute.get_replica_context()
    if context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def summarize(totals, num_steps):
    """Means over the steps of the losses; ratios of the metric sums."""
    values = {}
    for key, value in totals.items():
        value = float(value)
        if key.endswith("/denominator"):
            continue
        if key.endswith("/numerator"):
            name = key[: -len("/numerator")]
            values[name] = value / max(float(totals[f"{name}/denominator"]), 1e-12)
        else:
            values[key] = value / num_steps
    return values
