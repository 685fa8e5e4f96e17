"""`tfbert_pretrain` flags: the original names, Model Garden's, YAML experiments, overrides,
conflicts, and the TPU resolution logic."""

import pytest
from absl import flags

from tfbert.cli import pretrain
from tfbert.configs import experiment
from tfbert.training import strategies, tpu

pretrain.define_flags()  # commands define their flags lazily, in run()


def _resolve(**given):
    """`pretrain.resolve` with the flags' defaults and `given` as the command line."""
    values = {name: flags.FLAGS[name].default for name in flags.FLAGS}
    values.update(given)
    return pretrain.resolve(values, set(given))


ORIGINAL = dict(input_file="data/*.tfrecord", bert_config_file="bert_tiny_uncased",
                output_dir="/tmp/out", do_train=True)


def test_original_flags_keep_names_defaults_and_meanings():
    config, model_dir, mode = _resolve(**ORIGINAL)
    assert (model_dir, mode) == ("/tmp/out", "train")
    task, trainer = config.task, config.trainer
    assert task.model == "bert_tiny_uncased"
    assert task.train_data.input_path == task.validation_data.input_path == "data/*.tfrecord"
    # The original run_pretraining.py defaults.
    assert (task.train_data.max_seq_length, task.train_data.max_predictions_per_seq) == (128, 20)
    assert (task.train_data.global_batch_size, task.validation_data.global_batch_size) == (32, 8)
    assert (trainer.train_steps, trainer.optimizer.warmup_steps) == (100000, 10000)
    assert trainer.optimizer.learning_rate == 5e-5
    assert (trainer.checkpoint_interval, trainer.steps_per_loop, trainer.validation_steps) == (
        1000, 1000, 100)
    assert trainer.optimizer.epsilon == 1e-6 and trainer.optimizer.clip_norm == 1.0
    config, _, mode = _resolve(**ORIGINAL, do_eval=True, train_batch_size=64,
                               num_train_steps=20, iterations_per_loop=5, learning_rate=2e-5,
                               max_seq_length=512, max_predictions_per_seq=76, use_tpu=True,
                               tpu_name="my-tpu", tpu_zone="us-central1-b",
                               init_checkpoint="gs://b/phase1")
    assert mode == "train_and_eval"
    assert config.task.train_data.global_batch_size == 64
    assert (config.trainer.train_steps, config.trainer.steps_per_loop) == (20, 5)
    assert config.trainer.optimizer.learning_rate == 2e-5
    assert config.task.validation_data.max_seq_length == 512
    assert config.task.train_data.max_predictions_per_seq == 76
    assert config.task.init_checkpoint == "gs://b/phase1"
    runtime = config.runtime
    assert (runtime.distribution_strategy, runtime.tpu, runtime.tpu_zone) == (
        "tpu", "my-tpu", "us-central1-b")


def test_model_garden_flags_and_yaml_experiments():
    config, model_dir, mode = _resolve(
        tpu="my-tpu", mode="train", model_dir="gs://b/run",
        config_file=["pretrain_bert_base_phase1"],
        params_override="task.train_data.input_path=gs://b/d/*,trainer.train_steps=7")
    assert (model_dir, mode) == ("gs://b/run", "train")
    assert config.task.model == "bert_base_uncased"
    assert config.task.train_data.global_batch_size == 256
    assert config.trainer.train_steps == 7
    assert config.trainer.optimizer.learning_rate == 1e-4
    assert config.runtime.mixed_precision_dtype == "bfloat16"
    assert (config.runtime.distribution_strategy, config.runtime.tpu) == ("tpu", "my-tpu")
    # Later files win; phase 2 is seq 512 with 76 predictions.
    config, _, _ = _resolve(mode="train", model_dir="m", strategy="mirrored",
                            config_file=["pretrain_bert_base_phase1", "pretrain_bert_base_phase2"],
                            params_override="task.train_data.input_path=x")
    assert (config.task.train_data.max_seq_length,
            config.task.train_data.max_predictions_per_seq) == (512, 76)
    assert config.runtime.distribution_strategy == "mirrored"


def test_every_official_experiment_loads():
    for name in ("pretrain_bert_base_phase1", "pretrain_bert_base_phase2", "pretrain_tiny"):
        config = experiment.load_experiment([name])
        assert config.task.train_data.max_predictions_per_seq > 0


@pytest.mark.parametrize("given, message", [
    (dict(output_dir="a", model_dir="b"), "--output_dir=a and --model_dir=b"),
    (dict(num_train_steps=10, params_override="trainer.train_steps=5"),
     "--num_train_steps=10 and --params_override trainer.train_steps=5"),
    (dict(use_tpu=True, tpu_name="t", strategy="mirrored"), "--use_tpu and --strategy=mirrored"),
    (dict(tpu="a", tpu_name="b"), "--tpu=a and --tpu_name=b"),
    (dict(tpu="a", strategy="one_device"), "--tpu=a and --strategy=one_device"),
    (dict(mode="eval"), "--do_train=True --do_eval=False and --mode=eval"),
    (dict(do_train=False, mode=None), "nothing to do"),
    (dict(input_file=None), "no training data: give --input_file"),
    (dict(output_dir=None), "give --model_dir"),
    (dict(strategy="tpu"), "--strategy=tpu needs --tpu"),
    (dict(use_tpu=True), "--use_tpu needs --tpu_name"),
])
def test_conflicts_and_missing_values_are_named(given, message):
    flagged = {**ORIGINAL, **given}
    flagged = {k: v for k, v in flagged.items() if v is not None}
    values = {name: flags.FLAGS[name].default for name in flags.FLAGS}
    values.update(flagged)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("+", r"\+")):
        pretrain.resolve(values, set(flagged))


def test_same_value_twice_is_not_a_conflict():
    config, model_dir, _ = _resolve(**ORIGINAL, model_dir="/tmp/out", learning_rate=1e-4,
                                    params_override="trainer.optimizer.learning_rate=0.0001")
    assert model_dir == "/tmp/out" and config.trainer.optimizer.learning_rate == 1e-4


def test_bad_config_values_name_the_key(tmp_path):
    with pytest.raises(ValueError, match=r"unknown key 'train_step'"):
        experiment.load_experiment([], "trainer.train_step=5")
    with pytest.raises(ValueError, match=r"runtime.distribution_strategy must be one of"):
        experiment.load_experiment([], "runtime.distribution_strategy=gpu")
    with pytest.raises(ValueError, match=r"trainer.steps_per_loop must be positive"):
        experiment.load_experiment([], "trainer.steps_per_loop=0")
    with pytest.raises(FileNotFoundError, match=r"no_such_experiment"):
        experiment.load_experiment(["no_such_experiment"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("task:\n  train_data:\n    max_seq_len: 3\n")
    with pytest.raises(ValueError, match=r"bad.yaml.task.train_data: unknown key 'max_seq_len'"):
        experiment.load_experiment([str(bad)])


def test_yaml_exponents_are_floats(tmp_path):
    path = tmp_path / "e.yaml"
    path.write_text("trainer:\n  optimizer:\n    learning_rate: 1e-4\n")
    config = experiment.load_experiment([str(path)], "{trainer: {optimizer: {epsilon: 1e-8}}}")
    assert config.trainer.optimizer.learning_rate == 1e-4
    assert config.trainer.optimizer.epsilon == 1e-8
    # Not YAML, kept as text: a glob starting with `*` (a YAML alias otherwise).
    config = experiment.load_experiment([], "task.train_data.input_path=*.tfrecord")
    assert config.task.train_data.input_path == "*.tfrecord"


def test_tpu_resolution_by_address_and_clear_error_when_unreachable():
    resolver = tpu.tpu_cluster_resolver("grpc://10.2.3.4:8470")
    assert resolver.master() == "grpc://10.2.3.4:8470"
    assert resolver.cluster_spec().as_dict() == {"worker": ["10.2.3.4:8470"]}
    # A name is looked up through the Cloud TPU API, unreachable from here.
    with pytest.raises(RuntimeError, match=r"--tpu=no-such-tpu: no TPU of that name is reachable"):
        tpu.tpu_cluster_resolver("no-such-tpu", zone="us-central1-b", project="p")
    with pytest.raises(RuntimeError, match=r"--tpu=no-such-tpu"):
        strategies.create_strategy("tpu", tpu="no-such-tpu")
    with pytest.raises(ValueError, match=r"--strategy='gpu'"):
        strategies.create_strategy("gpu")


def test_fault_flags_set_their_config_keys():
    config, _, _ = _resolve(**ORIGINAL)
    assert config.trainer.max_nonfinite_steps == 10
    assert not config.task.train_data.skip_corrupt_records
    config, _, _ = _resolve(**ORIGINAL, skip_corrupt_records=True, max_nonfinite_steps=3)
    assert config.trainer.max_nonfinite_steps == 3
    assert config.task.train_data.skip_corrupt_records
    assert config.task.validation_data.skip_corrupt_records
    with pytest.raises(ValueError, match=r"conflicting values for trainer\.max_nonfinite_steps"):
        _resolve(**ORIGINAL, max_nonfinite_steps=3,
                 params_override="trainer.max_nonfinite_steps=5")
    with pytest.raises(ValueError, match=r"trainer\.max_nonfinite_steps must be 0 or more"):
        _resolve(**ORIGINAL, max_nonfinite_steps=-1)
