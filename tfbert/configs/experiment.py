"""Experiment configs: what to train, how, and where, as dataclasses loaded from YAML.

An experiment has three parts, as in Model Garden: `task` (model, data,
initial checkpoint), `trainer` (steps, loop length, checkpoints, optimizer)
and `runtime` (distribution strategy, TPU, mixed precision). Values come,
later ones winning, from the defaults (those of the original
`run_pretraining.py`), YAML files (`official_configs/experiments/*.yaml`,
read with `yaml.safe_load`), and `a.b=c,...` overrides. Unknown keys are
errors that name the key and the file.

Example:

>>> config = ExperimentConfig()
>>> config = override(config, "trainer.train_steps=10,task.train_data.global_batch_size=8")
>>> config.trainer.train_steps, config.task.train_data.global_batch_size
(10, 8)
"""

import dataclasses
import pathlib
import secrets

from absl import logging

from tfbert.configs import safe_yaml
from tfbert.configs.official import official_configs_dir
from tfbert.configs.overrides import parse_overrides

STRATEGIES = ("tpu", "mirrored", "multi_worker_mirrored", "one_device")
# `trainer.optimizer.type`: the original AdamW, AdamW with bias correction, LAMB
# (`tfbert.training.optimizers`).
OPTIMIZERS = ("bert_adamw", "adamw", "lamb")
PRECISIONS = ("float32", "bfloat16", "float16")


@dataclasses.dataclass
class DataConfig:
    """An input pipeline: TFRecord globs and their shapes.

    Args:
        input_path: str. Glob or comma list of globs.
        max_seq_length: int. Sequence length of the records.
        max_predictions_per_seq: int. Masked-LM predictions per record.
        global_batch_size: int. Batch over all replicas.
        shuffle: bool or None. None: shuffle when training.
        shuffle_buffer_size: int. Records in the shuffle buffer.
        seed: int or None. Seed of the shuffles.
        padding: str. Fine-tuning data only (pre-training records are always
            `max_seq_length` long): `"max_seq_length"`, `"batch"` (each batch cut to
            its longest row, rounded up to 16), `"bucket"` (training: examples of
            similar length batched together, then as "batch"), or `"auto"`
            ("bucket" for training). Evaluation never buckets (it keeps the file
            order): "batch", or "max_seq_length" for token-level tasks (tagging,
            SQuAD). On a TPU every batch is "max_seq_length". See
            `tfbert.data.finetuning`.
        skip_corrupt_records: bool. Pre-training TFRecords: read a file with a
            corrupt or truncated record up to it and skip the rest, logged and
            counted (summaries `data/corrupt_files`, `data/skipped_records`);
            False: such a record stops the run with an error naming the file
            and byte offset.
    """

    input_path: str = ""
    max_seq_length: int = 128
    max_predictions_per_seq: int = 20
    global_batch_size: int = 32
    shuffle: bool | None = None
    shuffle_buffer_size: int = 100
    seed: int | None = None
    padding: str = "auto"
    skip_corrupt_records: bool = False


@dataclasses.dataclass
class TaskConfig:
    """The model and its data.

    Args:
        task: str. The registered task name (see `tfbert.tasks.registry`).
        model: str. An official model config name (`bert_base_uncased`) or a
            path to a `bert_config.json` / `.yaml`.
        model_overrides: dict. `BertConfig` fields to change (e.g. dropout).
        init_checkpoint: str. A tfbert or Google TF1 checkpoint to start from.
        train_data: DataConfig.
        validation_data: DataConfig (global_batch_size 8, as the original's
            `eval_batch_size`).
    """

    task: str = "pretraining"
    model: str = "bert_base_uncased"
    model_overrides: dict = dataclasses.field(default_factory=dict)
    init_checkpoint: str = ""
    train_data: DataConfig = dataclasses.field(default_factory=DataConfig)
    validation_data: DataConfig = dataclasses.field(
        default_factory=lambda: DataConfig(global_batch_size=8))


@dataclasses.dataclass
class OptimizerConfig:
    """Optimizer, learning-rate schedule and clipping (defaults: the original AdamW).

    The defaults are those of the original `run_pretraining.py`; the
    fine-tuning tasks' defaults say `type: adamw` (see docs/finetuning.md,
    "Optimizer and seed").

    Args:
        type: str. `bert_adamw` (the original `AdamWeightDecayOptimizer`: no
            bias correction), `adamw` (with bias correction, as PyTorch's
            `AdamW` and Model Garden's) or `lamb`. The same decay exclusions,
            schedule and clipping apply to all three.
        learning_rate: float. Peak learning rate.
        warmup_steps: int. Linear warmup from 0.
        end_learning_rate: float. Polynomial decay ends here at `train_steps`.
        power: float. Power of the polynomial decay (1: linear).
        weight_decay_rate: float. Decoupled weight decay.
        beta_1, beta_2, epsilon: floats. Adam moments.
        exclude_from_weight_decay: list of regexes searched in full variable paths.
        clip_norm: float or None. Clip gradients by this global norm.
    """

    type: str = "bert_adamw"
    learning_rate: float = 5e-5
    warmup_steps: int = 10000
    end_learning_rate: float = 0.0
    power: float = 1.0
    weight_decay_rate: float = 0.01
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-6
    exclude_from_weight_decay: list = dataclasses.field(
        default_factory=lambda: ["LayerNorm", "layer_norm", "bias"])
    clip_norm: float | None = 1.0


@dataclasses.dataclass
class TrainerConfig:
    """The loop.

    Args:
        train_steps: int. Optimizer steps in the whole run.
        steps_per_loop: int. Steps per host call (the original `iterations_per_loop`).
        checkpoint_interval: int. Save every this many steps.
        max_to_keep: int. Checkpoints kept.
        validation_steps: int. Batches per evaluation (`max_eval_steps`).
        gradient_accumulation_steps: int. Micro-batches per step; the
            per-replica batch is split into this many.
        optimizer: OptimizerConfig.
        continuous_eval_timeout: int. Seconds `continuous_eval` waits for a
            new checkpoint.
        keep_best: str. A metric of the task's dev evaluation (`f1`, `accuracy`,
            `exact_match`, ...; `Task.metric_names`): training evaluates every
            `eval_every_steps` and keeps the checkpoint with the best value in
            `<model_dir>/best/` ("": keep none). See `tfbert.training.best_run`.
        eval_every_steps: int or None. Steps between evaluations during training
            (with `keep_best`, or alone to log them); None: each epoch.
        early_stopping_patience: int. Stop after this many evaluations in a row
            without a better `keep_best` value (0: never).
        num_restarts: int. Train this many runs from the same initial weights,
            one per seed, in `<model_dir>/run_<seed>/`, and keep the best on dev in
            `<model_dir>/best/` with a table of all (`restarts.tsv`); 0: one run
            in `model_dir`. See `tfbert.training.restarts`.
        seeds: list of int. The runs' seeds (default: 1 to `num_restarts`).
        max_nonfinite_steps: int. A step whose loss or gradient norm is NaN or
            Inf changes nothing (weights, optimizer state); after this many
            such steps in a row the run stops with an error, its last
            checkpoint intact (0: never stop). See `tfbert.training.nonfinite`.
    """

    train_steps: int = 100000
    steps_per_loop: int = 1000
    checkpoint_interval: int = 1000
    max_to_keep: int = 5
    validation_steps: int = 100
    gradient_accumulation_steps: int = 1
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    continuous_eval_timeout: int = 3600
    keep_best: str = ""
    eval_every_steps: int | None = None
    early_stopping_patience: int = 0
    num_restarts: int = 0
    seeds: list = dataclasses.field(default_factory=list)
    max_nonfinite_steps: int = 10


@dataclasses.dataclass
class RuntimeConfig:
    """Where it runs.

    Args:
        distribution_strategy: str. `tpu`, `mirrored`, `multi_worker_mirrored`
            or `one_device`.
        tpu: str. TPU name or `grpc://` address (for `tpu`).
        tpu_zone, gcp_project: str. Where to look up a TPU by name.
        tpu_timeout_s: float. Seconds the TPU connection (look-up, gRPC check,
            TensorFlow's connect and initialisation) may take before the run
            fails with a message naming the address (`tfbert.training.tpu`).
        mixed_precision_dtype: str. `float32`, `bfloat16` (TPUs) or
            `float16` (GPUs, with dynamic loss scaling).
        seed: int or None. Seeds Python, NumPy and TensorFlow (weights, dropout);
            fine-tuning also shuffles its training data with it and picks one
            when it is None (`resolve_seed`).
        jit_compile: bool or None. Compile the training and evaluation steps
            with XLA. None (auto): on TPUs and GPUs yes; on CPUs no, where
            TensorFlow's oneDNN kernels run the BERT step faster than XLA's
            CPU backend (docs/performance.md, "Training step on a CPU"). The
            step is the same function either way, and a test compiles it with
            XLA on the CPU.
    """

    distribution_strategy: str = "one_device"
    tpu: str = ""
    tpu_zone: str = ""
    gcp_project: str = ""
    tpu_timeout_s: float = 300.0
    mixed_precision_dtype: str = "float32"
    seed: int | None = None
    jit_compile: bool | None = None


@dataclasses.dataclass
class ExperimentConfig:
    """A whole experiment: `task`, `trainer`, `runtime`."""

    task: TaskConfig = dataclasses.field(default_factory=TaskConfig)
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)
    runtime: RuntimeConfig = dataclasses.field(default_factory=RuntimeConfig)

    def validate(self):
        """Raises ValueError for values that cannot work, naming the key."""
        checks = [
            (self.runtime.distribution_strategy in STRATEGIES, "runtime.distribution_strategy",
             f"one of {', '.join(STRATEGIES)}"),
            (self.trainer.optimizer.type in OPTIMIZERS, "trainer.optimizer.type",
             f"one of {', '.join(OPTIMIZERS)}"),
            (self.runtime.mixed_precision_dtype in PRECISIONS, "runtime.mixed_precision_dtype",
             f"one of {', '.join(PRECISIONS)}"),
        ]
        for key in ("train_steps", "steps_per_loop", "checkpoint_interval", "max_to_keep",
                    "validation_steps", "gradient_accumulation_steps"):
            checks.append((getattr(self.trainer, key) > 0, f"trainer.{key}", "positive"))
        checks.append((self.runtime.tpu_timeout_s > 0, "runtime.tpu_timeout_s", "positive"))
        for key in ("early_stopping_patience", "num_restarts", "max_nonfinite_steps"):
            checks.append((getattr(self.trainer, key) >= 0, f"trainer.{key}", "0 or more"))
        checks.append((self.trainer.eval_every_steps is None or self.trainer.eval_every_steps > 0,
                       "trainer.eval_every_steps", "positive (or null: each epoch)"))
        for part in ("train_data", "validation_data"):
            data = getattr(self.task, part)
            for key in ("max_seq_length", "max_predictions_per_seq", "global_batch_size"):
                checks.append((getattr(data, key) > 0, f"task.{part}.{key}", "positive"))
        for ok, key, expected in checks:
            if not ok:
                raise ValueError(f"{key} must be {expected}, got {_get(self, key)!r}")
        return self


def _get(config, dotted):
    for part in dotted.split("."):
        config = getattr(config, part)
    return config


def _merge(config, values, where):
    """A copy of dataclass `config` with the nested dict `values` merged in."""
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(config)}
    changes = {}
    for key, value in values.items():
        if key not in fields:
            raise ValueError(f"{where}: unknown key {key!r}; known: {', '.join(fields)}")
        current = getattr(config, key)
        if dataclasses.is_dataclass(current):
            changes[key] = _merge(current, value or {}, f"{where}.{key}")
        elif isinstance(current, dict):
            changes[key] = {**current, **(value or {})}
        elif isinstance(value, dict):
            raise ValueError(f"{where}.{key} is the value {current!r}, not a section with "
                             f"key(s) {', '.join(map(str, value))}")
        else:
            changes[key] = value
    return dataclasses.replace(config, **changes)


def find_experiment_file(name_or_path):
    """A path, or the name of a file in `official_configs/experiments/` (with or without .yaml)."""
    path = pathlib.Path(name_or_path)
    if path.is_file():
        return path
    for candidate in (official_configs_dir() / "experiments" / name_or_path,
                      official_configs_dir() / "experiments" / f"{name_or_path}.yaml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"config file {name_or_path!r} not found (neither a file nor a name "
                            f"in {official_configs_dir() / 'experiments'})")


def load_yaml(config, path):
    """`config` with the YAML file at `path` merged in."""
    path = find_experiment_file(path)
    with open(path, encoding="utf-8") as f:
        values = safe_yaml.load(f, str(path)) or {}
    return _merge(config, values, str(path))


def set_values(config, values, where="--params_override"):
    """`config` with `{dotted key: value}` set (e.g. `{"trainer.train_steps": 10}`)."""
    nested = {}
    for key, value in values.items():
        parts = key.split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _float_fields(_merge(config, nested, where))


def override(config, params_override):
    """`config` with `--params_override` (`a.b=c,d.e=f` or a YAML mapping) applied."""
    return set_values(config, parse_overrides(params_override))


def _float_fields(config):
    """Coerces YAML's `1e-4`-as-string and ints into the float fields."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            _float_fields(value)
        elif "float" in str(field.type) and isinstance(value, (int, str)) and value is not None \
                and not isinstance(value, bool):
            try:
                setattr(config, field.name, float(value))
            except ValueError:
                raise ValueError(f"{field.name}: {value!r} is not a number") from None
    return config


def load_experiment(config_files=(), params_override=""):
    """An `ExperimentConfig` from YAML files (in order) and overrides, validated."""
    config = ExperimentConfig()
    for path in config_files or ():
        config = load_yaml(config, path)
    config = override(config, params_override)
    return _float_fields(config).validate()


def resolve_seed(config):
    """`config` with a `runtime.seed`, and the training data shuffled with it.

    A config without a seed gets a new random one (logged), so that `params.yaml`
    holds the seed of every run and any run can be repeated. Where
    `task.train_data.seed` is unset it becomes `runtime.seed`: data order,
    dropout and initial weights then all follow the one seed.

    Example:

    >>> config = resolve_seed(override(ExperimentConfig(), "runtime.seed=7"))
    >>> config.runtime.seed, config.task.train_data.seed, config.task.validation_data.seed
    (7, 7, None)
    """
    changes = {}
    seed = config.runtime.seed
    if seed is None:
        seed = changes["runtime.seed"] = secrets.randbelow(2**31)
        logging.info("no seed given: using runtime.seed=%d (--seed=%d repeats this run)",
                     seed, seed)
    if config.task.train_data.seed is None:
        changes["task.train_data.seed"] = seed
    return set_values(config, changes, "runtime.seed") if changes else config


def to_dict(config):
    """The config as a plain nested dict (for logging and `params.yaml`)."""
    return dataclasses.asdict(config)
