"""Distribution strategies by name: TPU (through `TPUClusterResolver`), mirrored, multi-worker.

Example:

>>> strategy = create_strategy("one_device")
>>> strategy.num_replicas_in_sync
1
"""

import tensorflow as tf

from tfbert.configs.experiment import STRATEGIES


def tpu_cluster_resolver(tpu, zone=None, project=None):
    """The `TPUClusterResolver` of a TPU name or `grpc://host:port` address.

    Args:
        tpu: str. A Cloud TPU name (looked up through the Cloud TPU API), a
            `grpc://host:8470` address, or `local` for a TPU VM.
        zone: str or None. GCE zone of a named TPU.
        project: str or None. GCP project of a named TPU.

    Raises:
        RuntimeError: the name cannot be resolved (no TPU of that name is
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
        raise RuntimeError(
            f"--tpu={tpu}: no TPU of that name is reachable from this machine "
            f"(zone={zone or 'auto'}, project={project or 'auto'}; {type(error).__name__}: "
            f"{error}). On a TPU VM use --tpu=local; elsewhere give the TPU's name with "
            f"--tpu_zone/--gcp_project, or its grpc://IP:8470 address.") from error


def create_strategy(name="one_device", tpu=None, tpu_zone=None, gcp_project=None):
    """A `tf.distribute.Strategy` by name.

    Args:
        name: str. `tpu`, `mirrored` (all local GPUs, else the CPU devices),
            `multi_worker_mirrored` (workers from `TF_CONFIG`) or
            `one_device` (the first GPU, else the CPU).
        tpu, tpu_zone, gcp_project: str. For `tpu`; see `tpu_cluster_resolver`.

    Returns:
        The strategy; its scope must hold model and optimizer creation.
    """
    if name not in STRATEGIES:
        raise ValueError(f"--strategy={name!r}: expected one of {', '.join(STRATEGIES)}")
    if name == "tpu":
        resolver = tpu_cluster_resolver(tpu, tpu_zone, gcp_project)
        if tpu not in ("", "local"):
            tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
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
    return not all(tf.DeviceSpec.from_string(d).device_type == "CPU" for d in devices)


def use_xla(strategy, jit_compile=None):
    """`runtime.jit_compile`; None: XLA unless every device of `strategy` is a CPU."""
    if jit_compile is not None:
        return jit_compile
    try:
        devices = strategy.extended.worker_devices
    except RuntimeError:  # the default strategy: the first GPU if any, else the CPU
        devices = None
    return xla_by_default(devices)


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
