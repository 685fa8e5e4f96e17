"""Distribution strategies by name: TPU (connected by `tfbert.training.tpu`), mirrored,
multi-worker.

Example:

>>> strategy = create_strategy("one_device")
>>> strategy.num_replicas_in_sync
1
"""

import tensorflow as tf

from tfbert.configs.experiment import STRATEGIES
from tfbert.training.tpu import DEFAULT_TIMEOUT_S, connect_tpu


def create_strategy(name="one_device", tpu=None, tpu_zone=None, gcp_project=None,
                    tpu_timeout_s=DEFAULT_TIMEOUT_S):
    """A `tf.distribute.Strategy` by name.

    Args:
        name: str. `tpu`, `mirrored` (all local GPUs, else the CPU devices),
            `multi_worker_mirrored` (workers from `TF_CONFIG`) or
            `one_device` (the first GPU, else the CPU).
        tpu, tpu_zone, gcp_project: str. For `tpu`; see `tfbert.training.tpu`.
        tpu_timeout_s: float. For `tpu`: the bound on the whole connection, in
            seconds; past it, or on a refused or silent address, an error names
            the address (`tfbert.training.tpu.connect_tpu`).

    Returns:
        The strategy; its scope must hold model and optimizer creation.
    """
    if name not in STRATEGIES:
        raise ValueError(f"--strategy={name!r}: expected one of {', '.join(STRATEGIES)}")
    if name == "tpu":
        return tf.distribute.TPUStrategy(
            connect_tpu(tpu, tpu_zone, gcp_project, tpu_timeout_s))
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored":
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")


def is_chief(strategy):
    """Whether this process writes checkpoints and summaries (the chief, or worker 0)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in ("chief", None):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def xla_by_default(devices=None):
    """Whether `runtime.jit_compile: null` compiles with XLA on these device names
    (default: every logical device): yes unless all are CPUs. On a CPU a TensorFlow graph
    runs the step faster (oneDNN's bf16 matmuls; see `runtime.jit_compile`)."""
    if devices is None:
        devices = [d.name for d in tf.config.list_logical_devices()]
    return not _all_cpus(devices)


def _all_cpus(devices):
    return all(tf.DeviceSpec.from_string(d).device_type == "CPU" for d in devices)


def use_xla(strategy, jit_compile=None):
    """`runtime.jit_compile`; None: XLA unless every device of `strategy` is a CPU."""
    if jit_compile is not None:
        return jit_compile
    try:
        devices = strategy.extended.worker_devices
    except RuntimeError:  # the default strategy: the first GPU if any, else the CPU
        devices = None
    return xla_by_default(devices)


def dataset_options():
    """The `tf.data.Options` of the trainer's datasets: no autotuning thread. An iterator
    that one was tuning inside a `tf.function` waits, when it is freed, for the thread's
    next wake-up: up to 60 s after a long run, a stall after each run and evaluation
    (docs/performance_history.md). Untuned, `AUTOTUNE` parallelism is the number of
    cores, which the short maps of these pipelines need."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def distribute_datasets(strategy, dataset_fn):
    """`strategy.distribute_datasets_from_function(dataset_fn)`, with `dataset_options()`.
    On one CPU, the dataset itself: the strategy would wrap it in a MultiDeviceIterator
    whose per-device pipeline brings back a tuned prefetch (and its stall) for nothing."""
    def untuned(context):
        return dataset_fn(context).with_options(dataset_options())

    if isinstance(strategy, tf.distribute.OneDeviceStrategy) and _all_cpus(
            strategy.extended.worker_devices):
        return untuned(tf.distribute.InputContext())
    return strategy.distribute_datasets_from_function(untuned)


def check_batch_sizes(strategy, config):
    """Raises ValueError for batches that the replicas (and micro-batches) cannot split."""
    replicas = strategy.num_replicas_in_sync
    accumulation = config.trainer.gradient_accumulation_steps
    for part, flag in (("train_data", "train_batch_size"), ("validation_data",
                                                            "eval_batch_size")):
        batch = getattr(config.task, part).global_batch_size
        if batch % replicas:
            raise ValueError(
                f"--{flag} (task.{part}.global_batch_size) = {batch} is not divisible by "
                f"the {replicas} replicas of the {type(strategy).__name__}")
    per_replica = config.task.train_data.global_batch_size // replicas
    if per_replica % accumulation:
        raise ValueError(
            f"the per-replica batch {per_replica} is not divisible by "
            f"trainer.gradient_accumulation_steps = {accumulation}")
