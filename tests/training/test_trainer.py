"""The training loop in one process: XLA, accumulation, checkpoints, eval output, summaries."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TINY
from tests.training.records import tiny_pretraining_values, write_records
from tfbert.checkpoints import restore_encoder, save_tf1_checkpoint
from tfbert.configs import experiment
from tfbert.networks import BertEncoder
from tfbert.tasks.pretraining import PretrainingTask
from tfbert.training.summaries import read_scalars
from tfbert.training.trainer import Trainer

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    return write_records(tmp_path_factory.mktemp("data") / "train.tfrecord", 64)


def _config(records, **changes):
    values = tiny_pretraining_values(records, **{
        "task.validation_data.global_batch_size": 8, "trainer.train_steps": 4,
        "trainer.steps_per_loop": 2, "trainer.checkpoint_interval": 2,
        "trainer.validation_steps": 2, **changes})
    return experiment.set_values(experiment.ExperimentConfig(), values, "test").validate()


def _trainer(records, model_dir, **changes):
    config = _config(records, **changes)
    return Trainer(PretrainingTask(config.task), config, str(model_dir))


def _weights(model):
    return [v.numpy() for v in model.trainable_variables]


@pytest.mark.slow
def test_full_train_step_compiles_with_xla(records, tmp_path):
    # No warmup: the original schedule gives step 0 a learning rate of 0.
    trainer = _trainer(records, tmp_path, **{"task.model_overrides": TINY,
                                             "trainer.optimizer.warmup_steps": 0})
    features = next(iter(trainer.task.build_inputs(trainer.config.task.train_data)))
    assert all(v.dtype in (tf.int32, tf.float32) for v in features.values())
    before = _weights(trainer.model)
    # The whole per-replica step (forward, backward, clipping, optimizer) as one XLA program,
    # as a TPU runs it.
    step = tf.function(trainer._replica_train_step, jit_compile=True)
    hlo = step.experimental_get_compiler_ir(features)(stage="hlo")
    assert "HloModule" in hlo and "dot(" in hlo
    stats, grad_norm, skipped = step(features)
    assert np.isfinite(float(stats["loss"])) and float(grad_norm) > 0 and float(skipped) == 0
    assert int(trainer.optimizer.iterations.numpy()) == 1
    assert any(not np.array_equal(a, b) for a, b in zip(before, _weights(trainer.model),
                                                       strict=True))
    # The loop compiles the same step with XLA where runtime.jit_compile says so (auto:
    # not on CPUs, where TensorFlow's own kernels are faster).
    assert trainer.jit_compile is False and not trainer._train_step._jit_compile
    xla = _trainer(records, tmp_path / "xla", **{"runtime.jit_compile": True})
    assert xla._train_step._jit_compile and xla._forward._jit_compile


@pytest.mark.slow
def test_gradient_accumulation_is_the_full_batch_gradient(records, tmp_path):
    whole = _trainer(records, tmp_path / "a", **{"trainer.train_steps": 2})
    whole.train()
    split = _trainer(records, tmp_path / "b", **{"trainer.train_steps": 2,
                                                 "trainer.gradient_accumulation_steps": 4})
    split.train()
    for a, b in zip(_weights(whole.model), _weights(split.model), strict=True):
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=1e-4)


@pytest.mark.slow
def test_checkpoints_eval_results_summaries_and_resume(records, tmp_path):
    first = _trainer(records, tmp_path)
    history = first.train()
    assert [step for step, _ in history] == [2, 4]
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-4")
    saved = _weights(first.model)

    # eval_results.txt with the original keys, and TensorBoard scalars per loop.
    results = first.evaluate()
    lines = (tmp_path / "eval_results.txt").read_text().splitlines()
    assert [line.split(" = ")[0] for line in lines] == [
        "global_step", "loss", "masked_lm_accuracy", "masked_lm_loss",
        "next_sentence_accuracy", "next_sentence_loss"]
    assert results["global_step"] == 4
    assert results["loss"] == pytest.approx(results["masked_lm_loss"]
                                            + results["next_sentence_loss"], rel=1e-5)
    assert 0.0 <= results["masked_lm_accuracy"] <= 1.0
    train = read_scalars(tmp_path / "train")
    for tag in ("loss", "masked_lm_loss", "next_sentence_loss", "masked_lm_accuracy",
                "next_sentence_accuracy", "learning_rate", "grad_norm", "examples_per_second"):
        assert [step for step, _ in train[tag]] == [2, 4], tag
    assert read_scalars(tmp_path / "eval")["masked_lm_accuracy"][0][0] == 4

    # A new process (here: a new trainer, another seed) resumes model, optimizer and step.
    second = _trainer(records, tmp_path, **{"trainer.train_steps": 6, "runtime.seed": 99})
    assert second.restore_or_initialize().endswith("ckpt-4")
    assert second.step == 4 and int(second.optimizer.iterations.numpy()) == 4
    for a, b in zip(saved, _weights(second.model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [step for step, _ in second.train()] == [6]

    # continuous_eval evaluates the checkpoints there, up to the last one.
    watcher = _trainer(records, tmp_path, **{"trainer.train_steps": 6,
                                             "trainer.continuous_eval_timeout": 1})
    assert watcher.continuous_evaluate()["global_step"] == 6

    # The encoder alone restores from a training checkpoint (for fine-tuning).
    encoder = BertEncoder(second.model.encoder.config)
    encoder(encoder.dummy_inputs(1, 8))
    assert restore_encoder(encoder, str(tmp_path)).endswith("ckpt-6")
    for a, b in zip(_weights(second.model.encoder), _weights(encoder), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_init_checkpoint_from_google_tf1_and_tfbert(records, tmp_path):
    source = _trainer(records, tmp_path / "source", **{"trainer.train_steps": 2})
    source.train()
    prefix = save_tf1_checkpoint(source.model, str(tmp_path / "tf1" / "bert_model.ckpt"))
    for init in (prefix, str(tmp_path / "source")):
        target = _trainer(records, tmp_path / f"target{len(init)}",
                          **{"task.init_checkpoint": init, "runtime.seed": 5})
        assert target.restore_or_initialize() is None  # nothing to resume: initialised
        assert target.step == 0
        for a, b in zip(_weights(source.model), _weights(target.model), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_mixed_precision_trains(records, tmp_path, dtype):
    trainer = _trainer(records, tmp_path, **{"runtime.mixed_precision_dtype": dtype,
                                             "trainer.train_steps": 2})
    assert trainer.model.encoder.transformer_layers[0].compute_dtype == dtype
    assert trainer.model.trainable_variables[0].dtype == "float32"
    (_, logs), = trainer.train()
    assert np.isfinite(logs["loss"]) and logs["grad_norm"] > 0


def test_bad_input_fails_before_any_step(records, tmp_path):
    trainer = _trainer(records, tmp_path, **{"task.train_data.max_seq_length": 128})
    with pytest.raises(ValueError, match=r"max_seq_length=16, but max_seq_length is 128"):
        trainer.train()
    assert trainer.step == 0 and tf.train.latest_checkpoint(str(tmp_path)) is None
    with pytest.raises(ValueError, match=r"per-replica batch 8 is not divisible by "
                                         r"trainer.gradient_accumulation_steps = 3"):
        _trainer(records, tmp_path, **{"trainer.gradient_accumulation_steps": 3})


@pytest.mark.slow
def test_train_step_compiles_once(uncased_vocab, tmp_path):
    """Weights, optimizer slots and dropout seeds change every step; none of them may be
    compiled into the XLA program as a constant (TF 2.21 does that to the variables of a
    compiled function nested in another, then recompiles every step)."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.training.compile_count_worker", str(uncased_vocab),
         str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "train step compilations: 1\n" in result.stdout, result.stdout


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_pretraining_nll_equals_the_fused_kernel(jit_compile):
    """The masked-LM loss's own cross-entropy: values and gradients of TF's fused kernel."""
    from tfbert.tasks.pretraining import _nll

    rng = np.random.default_rng(0)
    logits = tf.constant(rng.normal(size=(3, 4, 50)).astype("float32") * 8)
    labels = tf.constant(rng.integers(0, 50, (3, 4)).astype("int32"))
    weights = tf.constant(rng.uniform(size=(3, 4)).astype("float32"))

    @tf.function(jit_compile=jit_compile)
    def both(logits):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(logits)
            ours = _nll(logits, labels)
            fused = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            ours_sum, fused_sum = tf.reduce_sum(ours * weights), tf.reduce_sum(fused * weights)
        return ours, fused, tape.gradient(ours_sum, logits), tape.gradient(fused_sum, logits)

    ours, fused, ours_grad, fused_grad = both(logits)
    assert ours.shape == (3, 4)
    np.testing.assert_allclose(ours.numpy(), fused.numpy(), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(ours_grad.numpy(), fused_grad.numpy(), atol=1e-6)


def test_pretraining_hits_are_argmax_hits_and_count_ties():
    """Masked-LM accuracy from the row maximum: `argmax == label` where no class ties
    with the label for the maximum; a label tied for the maximum counts."""
    from tfbert.tasks.pretraining import _hits

    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 5, 40)).astype("float32")
    labels = rng.integers(0, 40, (3, 5)).astype("int32")
    labels[0, :2] = logits[0, :2].argmax(-1)  # some hits
    expected = (logits.argmax(-1) == labels).astype("float32")
    np.testing.assert_array_equal(_hits(tf.constant(logits), tf.constant(labels)).numpy(),
                                  expected)
    tied = np.zeros((2, 4), "float32")
    tied[0, 1] = tied[0, 3] = 1.0  # argmax is 1; label 3 ties with it
    tied[1, 2] = 1.0
    np.testing.assert_array_equal(_hits(tf.constant(tied), tf.constant([3, 0])).numpy(), [1, 0])


def test_one_cpu_trains_from_the_dataset_itself_untuned(records, tmp_path):
    """On one CPU the trainer iterates its dataset itself, with tf.data's autotuner off.
    An iterator that the autotuner was tuning inside a `tf.function` waits, when freed,
    for the tuner's next wake-up: up to 60 s after a long run, which stalled every
    restart and evaluation (`tfbert.training.strategies.distribute_datasets`)."""
    from tfbert.training.strategies import distribute_datasets

    trainer = _trainer(records, tmp_path, **{"task.model_overrides": TINY})
    trainer.train_loop(2)
    iterator = trainer._train_iterator
    assert isinstance(iterator, tf.data.Iterator), type(iterator)  # no MultiDeviceIterator
    assert iterator._dataset.options().autotune.enabled is False
    # Other strategies still distribute it, untuned too.
    mirrored = distribute_datasets(tf.distribute.MirroredStrategy(["/cpu:0"]),
                                   lambda context: tf.data.Dataset.range(4))
    assert not isinstance(mirrored, tf.data.Dataset)
    assert [d.options().autotune.enabled for d in mirrored._datasets] == [False]
