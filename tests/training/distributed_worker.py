"""A training process for the distributed tests: `python -m tests.training.distributed_worker`.

Trains a tiny pre-training model for a few steps, one step per loop, without
dropout and without shuffling, and writes the per-step losses as JSON.

Arguments (positional): strategy (`one_device`, `mirrored`,
`multi_worker_mirrored`), records path, model_dir, output JSON path, and
optionally the number of logical CPU devices to create (for `mirrored`).
Multi-worker processes read `TF_CONFIG` from the environment.
"""

import json
import sys


def main(strategy_name, records, model_dir, output, logical_cpus="1", batch="8"):
    import tensorflow as tf

    cpus = int(logical_cpus)
    if cpus > 1:  # before TensorFlow initialises its devices
        tf.config.set_logical_device_configuration(
            tf.config.list_physical_devices("CPU")[0],
            [tf.config.LogicalDeviceConfiguration() for _ in range(cpus)])

    from tests.helpers import TINY
    from tfbert.configs import experiment
    from tfbert.tasks.pretraining import PretrainingTask
    from tfbert.training.strategies import create_strategy
    from tfbert.training.trainer import Trainer

    strategy = create_strategy(strategy_name)
    config = experiment.set_values(experiment.ExperimentConfig(), {
        "task.model": "bert_tiny_uncased",
        "task.model_overrides": {**TINY, "hidden_dropout_prob": 0.0,
                                 "attention_probs_dropout_prob": 0.0},
        "task.train_data.input_path": records,
        "task.train_data.max_seq_length": 16,
        "task.train_data.max_predictions_per_seq": 4,
        "task.train_data.global_batch_size": int(batch),
        "task.train_data.shuffle": False,
        "trainer.train_steps": 10,
        "trainer.steps_per_loop": 1,
        "trainer.checkpoint_interval": 5,
        "trainer.optimizer.learning_rate": 1e-3,
        "trainer.optimizer.warmup_steps": 2,
        "runtime.seed": 7,
    }, "distributed_worker").validate()
    trainer = Trainer(PretrainingTask(config.task), config, model_dir, strategy=strategy)
    history = trainer.train()
    # A global batch that the replicas cannot share is an error before training.
    odd = experiment.set_values(config, {"task.train_data.global_batch_size": 7})
    try:
        Trainer(PretrainingTask(odd.task), odd, model_dir + "_odd", strategy=strategy)
        batch_error = None
    except ValueError as error:
        batch_error = str(error)
    with open(output, "w") as f:
        json.dump({"replicas": strategy.num_replicas_in_sync, "is_chief": trainer.is_chief,
                   "batch_error": batch_error,
                   "steps": [step for step, _ in history],
                   "losses": [logs["loss"] for _, logs in history],
                   "masked_lm_losses": [logs["masked_lm_loss"] for _, logs in history]}, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
