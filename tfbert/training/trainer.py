"""`Trainer`: the custom training loop that runs any `Task` on any strategy.

One code path for every strategy: a `tf.function` runs `steps_per_loop` steps per host call
(`tf.range` loop), each step a `strategy.run` of the per-replica step. Inside the step, the
forward and backward passes are one XLA-compiled function (`jit_compile=True`, int32
features, static shapes on a TPU; fine-tuning batches elsewhere come in a few lengths, one
program each); on one device the whole step, optimizer included, is one XLA program, as a
TPU runs it. (On CPUs the step runs as a TensorFlow graph by default, faster there than
XLA's CPU backend: see `runtime.jit_compile`.) The step:

1. sums each loss term's denominator over replicas (e.g. masked tokens), so
   the loss of a global batch is the same on 1 device and on 8;
2. runs `gradient_accumulation_steps` micro-batches and sums their gradients
   (the same gradient as the whole batch, with less memory);
3. sums gradients over replicas once, clips them by their global norm (the
   norm it logs) and applies the optimizer, unless the loss or that norm is
   NaN or Inf (`tfbert.training.nonfinite`: such a step changes nothing, is
   counted, and too many in a row stop the run). A corrupt TFRecord is an
   error naming the file and byte offset (`tfbert.data.tfrecord_faults`).

Checkpoints (`tfbert.training.checkpointing`) are saved every `checkpoint_interval`
steps (loops end on those steps) and on SIGTERM; a run restarted in the same `model_dir`
resumes from the latest one, as if never stopped (`tfbert.training.resume`). Under
`MultiWorkerMirroredStrategy` a worker lost fails the others (`tfbert.training.worker_loss`).
"""

import os
import threading
import time
from collections.abc import Callable

import keras
import tensorflow as tf
from absl import logging

from tfbert.configs.experiment import ExperimentConfig
from tfbert.data.pretraining_dataset import explain_data_loss, skipped_record_counts
from tfbert.data.result_files import write_eval_results
from tfbert.tasks.base import Task
from tfbert.training import preemption, strategies
from tfbert.training.checkpointing import checkpoint_manager, save_checkpoint
from tfbert.training.nonfinite import (
    apply_if_finite,
    check_nonfinite_run,
    loop_logs,
    step_is_finite,
)
from tfbert.training.optimizers import create_optimizer
from tfbert.training.resume import restore_checkpoint, run_checkpoint, skip_consumed
from tfbert.training.summaries import log_scalars, write_scalars
from tfbert.training.sums import (
    LOSS_EPSILON,
    model_inputs,
    replica_stats,
    replica_sum,
    split_batch,
    summarize,
)
from tfbert.training.worker_loss import PEER_ERRORS, lost_peer_error


class Trainer:
    """Trains and evaluates a `Task` under a `tf.distribute` strategy.

    Args:
        task: a `tfbert.tasks.Task`.
        config: a `tfbert.configs.experiment.ExperimentConfig`.
        model_dir: str. Checkpoints, summaries and `eval_results.txt` go here.
        strategy: a `tf.distribute.Strategy`, or None to create the one
            `config.runtime` names.

    Example (with pre-training TFRecords in `data/`):

        config = load_experiment(["pretrain_tiny"], "task.train_data.input_path=data/*.tfrecord,"
                                 "task.validation_data.input_path=data/*.tfrecord")
        trainer = Trainer(PretrainingTask(config.task), config, "/tmp/run")
        history = trainer.train()  # [(step, {"loss": ..., "examples_per_second": ...}), ...]
        results = trainer.evaluate()  # also written to /tmp/run/eval_results.txt
    """

    def __init__(self, task: Task, config: ExperimentConfig, model_dir: str,
                 strategy: tf.distribute.Strategy | None = None) -> None:
        self.task = task
        self.config = config
        self.model_dir = model_dir
        runtime = config.runtime
        self.strategy = strategy or strategies.create_strategy(
            runtime.distribution_strategy, runtime.tpu, runtime.tpu_zone, runtime.gcp_project,
            runtime.tpu_timeout_s)
        self.is_chief = strategies.is_chief(self.strategy)
        self._stop = threading.Event()
        strategies.check_batch_sizes(self.strategy, config)
        if runtime.seed is not None:
            keras.utils.set_random_seed(runtime.seed)
        previous_policy = keras.config.dtype_policy()
        if runtime.mixed_precision_dtype != "float32":
            keras.config.set_dtype_policy(f"mixed_{runtime.mixed_precision_dtype}")
        try:
            with self.strategy.scope():
                self.model = task.build_model()
                self.optimizer = create_optimizer(config.trainer.optimizer,
                                                  config.trainer.train_steps,
                                                  runtime.mixed_precision_dtype, clip=False)
                self.optimizer.build(self.model.trainable_variables)
                self.global_step = tf.Variable(
                    0, dtype=tf.int64, trainable=False, name="global_step",
                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
                # Non-finite steps skipped in this process, in all and in a row (not
                # checkpointed: a resumed run starts its count afresh).
                self.nonfinite_steps, self._nonfinite_run = (tf.Variable(
                    0, dtype=tf.int64, trainable=False, name=name,
                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
                    for name in ("nonfinite_steps", "nonfinite_run"))
        finally:
            keras.config.set_dtype_policy(previous_policy)
        self.checkpoint = run_checkpoint(self.model, self.optimizer, self.global_step)
        self.manager = checkpoint_manager(self.checkpoint, model_dir,
                                          config.trainer.max_to_keep, self.is_chief,
                                          step_counter=self.global_step)
        # With XLA on one device the whole step, optimizer included, is one XLA program
        # (as on a TPU); across devices the gradient all-reduce stays outside XLA and only
        # the forward and backward passes are compiled. Never nest the two compiled
        # functions: TF 2.21 then compiles the variables the inner one reads as
        # constants, and recompiles the step each time they change (every step).
        self.jit_compile = strategies.use_xla(self.strategy, runtime.jit_compile)
        if self._single_device():
            self._forward_backward = self._forward_backward_fn
            self._train_step = tf.function(self._replica_train_step, jit_compile=self.jit_compile)
        else:
            self._forward_backward = tf.function(self._forward_backward_fn,
                                                 jit_compile=self.jit_compile)
            self._train_step = self._replica_train_step
        self._forward = tf.function(self._forward_fn, jit_compile=self.jit_compile)
        self._train_loop = tf.function(self._train_loop_fn)
        self._eval_loop = tf.function(self._eval_loop_fn)
        self._train_iterator = None
        self._writers = {}

    # === Set-up ===

    def _single_device(self):
        return isinstance(self.strategy, tf.distribute.OneDeviceStrategy) or (
            self.strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy())

    def restore_or_initialize(self) -> str | None:
        """Resumes from the latest checkpoint in `model_dir`, else runs `task.initialize`.

        Returns:
            The checkpoint path restored, or None.
        """
        latest = tf.train.latest_checkpoint(self.model_dir)
        if latest:
            restore_checkpoint(self.checkpoint, latest)
            logging.info("resumed from %s at step %d", latest, int(self.global_step.numpy()))
            return latest
        restored = self.task.initialize(self.model)
        if restored:
            logging.info("initialised the %s from %s", restored, self.config.task.init_checkpoint)
        return None

    def request_stop(self, signum=None, frame=None):
        """Asks the loop to save a checkpoint and return after the current host call."""
        del frame
        logging.warning("stop requested%s: saving a checkpoint after this loop",
                        f" (signal {signum})" if signum else "")
        self._stop.set()

    def stop_on_sigterm(self):
        """`with trainer.stop_on_sigterm():` SIGTERM (preemption) saves and ends training."""
        return preemption.stop_on_sigterm(self.request_stop)

    def _writer(self, name):
        if name not in self._writers:
            self._writers[name] = (tf.summary.create_file_writer(os.path.join(self.model_dir, name))
                                   if self.is_chief else tf.summary.create_noop_writer())
        return self._writers[name]

    def _distributed_dataset(self, data_config, is_training, skip_steps=0):
        def dataset_fn(context):  # skip_steps: the data of steps already trained (resume)
            with self.strategy.scope():  # tasks may ask which strategy (TPU: static shapes)
                dataset = self.task.build_inputs(data_config, context, is_training)
            replicas = self.strategy.num_replicas_in_sync
            return skip_consumed(dataset, skip_steps, replicas, context) if skip_steps else dataset
        return strategies.distribute_datasets(self.strategy, dataset_fn)

    # === The step ===

    def _forward_backward_fn(self, features, scales):
        """Per replica, XLA: `(gradients, loss numerators, metric sums)` of one micro-batch."""
        with tf.GradientTape() as tape:
            outputs = self.model(model_inputs(self.model, features), training=True)
            numerators = self.task.loss_numerators(features, outputs)
            loss = tf.add_n([numerators[k] * scales[k] for k in sorted(numerators)])
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.model.trainable_variables)
        return gradients, numerators, self.task.metric_sums(features, outputs)

    def _forward_fn(self, features):
        outputs = self.model(model_inputs(self.model, features), training=False)
        return self.task.loss_numerators(features, outputs), self.task.metric_sums(
            features, outputs)

    def _loss_scales(self, features):
        denominators = replica_sum(self.task.loss_denominators(features))
        return {k: 1.0 / (d + LOSS_EPSILON) for k, d in denominators.items()}

    def _replica_train_step(self, features):
        scales = self._loss_scales(features)
        gradients, numerators, metrics = None, {}, {}
        for micro_batch in split_batch(features, self.config.trainer.gradient_accumulation_steps):
            grads, nums, sums = self._forward_backward(micro_batch, scales)
            gradients = grads if gradients is None else [a + b for a, b in zip(gradients, grads,
                                                                                 strict=True)]
            numerators = {k: numerators.get(k, 0.0) + v for k, v in nums.items()}
            metrics = {k: (metrics.get(k, (0.0, 0.0))[0] + n, metrics.get(k, (0.0, 0.0))[1] + d)
                       for k, (n, d) in sums.items()}
        gradients = replica_sum(gradients)
        # One global norm, logged and used for clipping. Under float16 loss scaling the
        # gradients are scaled by S: clipping them to clip_norm * S is clipping the
        # unscaled ones to clip_norm (non-finite norms make non-finite gradients, which
        # the LossScaleOptimizer skips).
        loss_scale = tf.cast(self.optimizer.scale_loss(1.0), tf.float32)
        scaled_norm = tf.linalg.global_norm(gradients)
        clip_norm = self.config.trainer.optimizer.clip_norm
        if clip_norm:
            gradients, _ = tf.clip_by_global_norm(gradients, clip_norm * loss_scale,
                                                  use_norm=scaled_norm)
        stats = replica_stats(numerators, scales, metrics)
        finite = step_is_finite(stats["loss"], scaled_norm, self.optimizer)
        apply_if_finite(self.optimizer, gradients, self.model.trainable_variables, finite)
        grad_norm = scaled_norm / loss_scale
        return stats, grad_norm, tf.cast(tf.logical_not(finite), tf.float32)

    def _replica_eval_step(self, features):
        scales = self._loss_scales(features)
        numerators, metrics = self._forward(features)
        return replica_stats(numerators, scales, metrics)

    def _reduce(self, per_replica):
        total = tf.distribute.ReduceOp.SUM
        return tf.nest.map_structure(lambda t: self.strategy.reduce(total, t, axis=None),
                                     per_replica)

    def _loop_step(self, iterator):
        """One step: its stats summed over replicas (zeros if skipped: a skipped step's
        NaN must not make the loop's mean loss NaN), grad norm, 1.0 if skipped."""
        stats, norm, bad = self.strategy.run(self._train_step, args=(next(iterator),))
        bad = self.strategy.reduce(tf.distribute.ReduceOp.MEAN, bad, axis=None)
        stats = tf.nest.map_structure(lambda t: tf.where(bad > 0, tf.zeros_like(t), t),
                                      self._reduce(stats))
        return stats, self.strategy.reduce(tf.distribute.ReduceOp.MEAN, norm, axis=None), bad

    def _train_loop_fn(self, iterator, num_steps):
        """`num_steps` steps in one host call; returns the stats summed over the applied
        steps, the last grad norm and the number of non-finite (skipped) steps."""
        totals, grad_norm, skipped = self._loop_step(iterator)
        run = tf.where(skipped > 0, tf.cast(self._nonfinite_run, tf.float32) + 1.0, 0.0)
        for _ in tf.range(num_steps - 1):
            stats, grad_norm, bad = self._loop_step(iterator)
            totals = tf.nest.map_structure(tf.add, totals, stats)
            skipped, run = skipped + bad, tf.where(bad > 0, run + 1.0, 0.0)
        self.global_step.assign_add(tf.cast(num_steps, tf.int64))
        self.nonfinite_steps.assign_add(tf.cast(skipped, tf.int64))
        self._nonfinite_run.assign(tf.cast(run, tf.int64))
        return totals, grad_norm, skipped

    def _eval_loop_fn(self, iterator, num_steps):
        totals = self._reduce(self.strategy.run(self._replica_eval_step, args=(next(iterator),)))
        for _ in tf.range(num_steps - 1):
            stats = self._reduce(self.strategy.run(self._replica_eval_step,
                                                   args=(next(iterator),)))
            totals = tf.nest.map_structure(tf.add, totals, stats)
        return totals

    # === Public API ===

    @property
    def stopped(self) -> bool:
        """Whether a stop was requested (SIGTERM): training returned early."""
        return self._stop.is_set()

    @property
    def step(self) -> int:
        return int(self.global_step.numpy())

    def learning_rate(self) -> float:
        optimizer = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        return float(optimizer.learning_rate)

    def train_loop(self, num_steps: int) -> dict[str, float]:
        """Runs `num_steps` training steps in one host call, from the current weights
        (`train` restores them first), with no logging, summaries or checkpoints.

        Returns the loop's logs, as an entry of `train`'s history.
        """
        if self._train_iterator is None:
            self._train_iterator = iter(self._distributed_dataset(  # see tfbert.training.resume
                self.config.task.train_data, True,
                self.step if self.task.resumes_data_position else 0))
        start = time.perf_counter()
        try:
            totals, grad_norm, skipped = self._train_loop(self._train_iterator,
                                                          tf.constant(num_steps, tf.int32))
        except tf.errors.DataLossError as error:  # a corrupt TFRecord: which file, where
            raise explain_data_loss(self.config.task.train_data.input_path, error) from None
        except PEER_ERRORS as error:  # a worker gone: say so, and how to resume
            raise lost_peer_error(error, self.strategy, self.model_dir) from None
        logs = loop_logs(totals, num_steps, int(skipped), self.step,
                         int(self._nonfinite_run.numpy()))
        elapsed = time.perf_counter() - start
        batch = self.config.task.train_data.global_batch_size
        logs.update(learning_rate=self.learning_rate(), grad_norm=float(grad_norm),
                    examples_per_second=batch * num_steps / elapsed)
        return logs

    def train(self, callback: Callable | None = None, callback_every: int | None = None,
              restore: bool = True) -> list[tuple[int, dict[str, float]]]:
        """Trains to `trainer.train_steps`, resuming from the latest checkpoint.

        Args:
            callback: called as `callback(step, logs)` after each host loop.
            callback_every: loops also end on multiples of this many steps.
            restore: False: the caller ran `restore_or_initialize` already.

        Returns:
            A list of `(step, logs)` per host loop: losses (mean over the
            loop), accuracies, `learning_rate`, `grad_norm`, `examples_per_second`.
        """
        trainer = self.config.trainer
        if restore:
            self.restore_or_initialize()
        history = []
        writer = self._writer("train")
        if self.config.task.train_data.skip_corrupt_records:  # counted once per run
            counts = skipped_record_counts(self.config.task.train_data.input_path)
            log_scalars("skipped corrupt TFRecords:", self.step, trainer.train_steps, counts)
            write_scalars(writer, counts, self.step)
        every = callback_every or trainer.train_steps
        while self.step < trainer.train_steps and not self._stop.is_set():
            step = self.step
            logs = self.train_loop(min(
                trainer.steps_per_loop, trainer.train_steps - step, every - step % every,
                trainer.checkpoint_interval - step % trainer.checkpoint_interval))
            step = self.step
            history.append((step, logs))
            log_scalars("train", step, trainer.train_steps, logs)
            write_scalars(writer, logs, step)
            check_nonfinite_run(int(self._nonfinite_run.numpy()),
                                trainer.max_nonfinite_steps, step, self.manager.latest_checkpoint)
            if callback:
                callback(step, logs)
            # No checkpoint during a run of skipped steps: the latest stays the last good one.
            if (step % trainer.checkpoint_interval == 0 or step == trainer.train_steps) \
                    and not int(self._nonfinite_run.numpy()):
                self.save()
        here = os.path.join(self.manager.directory, f"ckpt-{self.step}")
        if self._stop.is_set() and self.manager.latest_checkpoint != here:
            self.save()
        return history

    def save(self) -> str:
        """Saves a checkpoint of the current step (every worker must call it)."""
        path = save_checkpoint(self.manager, self.global_step)
        if not self.is_chief:
            tf.io.gfile.rmtree(self.manager.directory)
        else:
            logging.info("saved checkpoint %s", path)
        return path

    def evaluate(self, steps: int | None = None, write_results: bool = True) -> dict[str, float]:
        """Evaluates the current weights on `validation_steps` batches of `validation_data`.

        Writes `eval_results.txt` (the original keys, `key = value` lines) to
        `model_dir` and TensorBoard summaries under `model_dir/eval`.
        """
        steps = steps or self.config.trainer.validation_steps
        iterator = iter(self._distributed_dataset(self.config.task.validation_data,
                                                  is_training=False))
        try:
            totals = self._eval_loop(iterator, tf.constant(steps, tf.int32))
        except tf.errors.DataLossError as error:  # a corrupt TFRecord: which file, where
            raise explain_data_loss(self.config.task.validation_data.input_path, error) from None
        results = self.task.eval_results(summarize(totals, steps), self.step)
        log_scalars("eval", self.step, self.config.trainer.train_steps, results)
        if self.is_chief and write_results:
            write_eval_results(os.path.join(self.model_dir, "eval_results.txt"), results)
            write_scalars(self._writer("eval"), results, self.step)
        return results

    def continuous_evaluate(self) -> dict[str, float] | None:
        """Evaluates each new checkpoint in `model_dir` until one reaches `train_steps`."""
        results = None
        for path in tf.train.checkpoints_iterator(
                self.model_dir, timeout=self.config.trainer.continuous_eval_timeout):
            self.checkpoint.restore(path).expect_partial()
            results = self.evaluate()
            if self.step >= self.config.trainer.train_steps:
                break
        return results
