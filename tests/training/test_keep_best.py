"""Keeping the best checkpoint of a run (`tfbert.training.best_run`), through
`run_experiment` as `tfbert_finetune` runs it: a tiny BERT on real SST-2 lines,
evaluated on real dev sentences every few steps.

What is measured: `best/` holds the step whose dev accuracy is the maximum of
the evaluations the run logged, and its checkpoint scores that accuracy again
when evaluated anew; early stopping stops after `patience` evaluations without
a better value and a restarted run does not train on; a run stopped by SIGTERM
and restarted keeps its best so far and evaluates the step the stop skipped (and
the run gives the process's SIGTERM handler back when it returns);
an unknown metric fails before training, naming the task's metrics."""

import os
import signal

import pytest
import tensorflow as tf

from tfbert.checkpoints import load_model
from tfbert.data.result_files import read_eval_results
from tfbert.tasks import build_task, load_config
from tfbert.training import run_experiment
from tfbert.training.best_run import BestTracker, read_history


def test_best_tracker_higher_and_lower_is_better():
    loss = BestTracker("mse", higher_is_better=False, patience=1)
    assert [loss.update(s, {"mse": v}) for s, v in [(1, 0.5), (2, 0.4), (3, 0.45)]] == \
        [True, True, False]
    assert (loss.best, loss.best_step, loss.should_stop) == (0.4, 2, True)
    with pytest.raises(ValueError, match="the evaluation at step 4 has no 'mse'"):
        loss.update(4, {"accuracy": 1.0})
    assert BestTracker(None).update(1, {"f1": 1.0}) is False  # evaluations only: no best


def test_unknown_metric_fails_before_training(tmp_path):
    config = load_config("glue/mrpc", params_override="task.model=bert_tiny_uncased,"
                         "trainer.keep_best=f2,task.train_data.input_path=none.tsv,"
                         "task.validation_data.input_path=none.tsv")
    with pytest.raises(ValueError, match=r"--keep_best=f2 \(trainer.keep_best\): task "
                       r"glue/mrpc does not compute 'f2'; its metrics: f1, accuracy"):
        run_experiment(config, str(tmp_path / "run"), "train_and_eval")
    assert not (tmp_path / "run").exists()  # failed before anything was written
    squad = load_config("squad/v1.1", params_override="trainer.keep_best=accuracy")
    with pytest.raises(ValueError, match="its metrics: f1, exact_match"):
        run_experiment(squad, str(tmp_path / "squad"), "train")
    stsb = load_config("glue/stsb", params_override="trainer.early_stopping_patience=2")
    with pytest.raises(ValueError, match=r"--early_stopping_patience .* needs --keep_best"):
        run_experiment(stsb, str(tmp_path / "stsb"), "train")
    pretraining = load_config("pretraining", params_override="trainer.keep_best=loss")
    with pytest.raises(ValueError, match="task pretraining has no dev metrics"):
        run_experiment(pretraining, str(tmp_path / "pre"), "train")
    no_dev = load_config("glue/sst2", params_override="trainer.keep_best=accuracy,"
                         "task.train_data.input_path=train.tsv")
    with pytest.raises(ValueError, match="evaluates on dev data: give --predict_file"):
        run_experiment(no_dev, str(tmp_path / "sst2"), "train")


@pytest.mark.slow
def test_keep_best_keeps_the_best_evaluation(tiny_sst2, tmp_path):
    model_dir = tmp_path / "run"
    config = tiny_sst2(extra=",trainer.keep_best=accuracy,"
                       "trainer.eval_every_steps=2")
    final = run_experiment(config, str(model_dir), "train_and_eval")
    history = read_history(str(model_dir / "eval_history.tsv"))
    assert [row["global_step"] for row in history] == [2, 4, 6, 8, 10, 12]
    accuracies = [row["accuracy"] for row in history]
    assert len(set(accuracies)) > 1, "the evaluations must differ for the choice to matter"
    kept = read_eval_results(str(model_dir / "best" / "eval_results.txt"))
    assert kept["accuracy"] == max(accuracies)
    assert kept["global_step"] == history[accuracies.index(max(accuracies))]["global_step"]
    assert final == {**history[-1], "global_step": 12}  # the final scores, not re-evaluated
    assert read_eval_results(str(model_dir / "eval_results.txt"))["global_step"] == 12
    assert (model_dir / "best" / "params.yaml").exists()
    assert not (model_dir / "best.tmp").exists() and not (model_dir / "best.old").exists()

    # The kept checkpoint, loaded as any tfbert checkpoint, scores the kept accuracy again.
    task = build_task(config.task)
    model = load_model(str(model_dir / "best"), head=task.build_head,
                       config="bert_tiny_uncased")
    assert task.evaluate(model)["accuracy"] == pytest.approx(kept["accuracy"], abs=1e-9)
    # `eval` of the same config scores best/, not the last checkpoint.
    assert run_experiment(config, str(model_dir), "eval")["accuracy"] == pytest.approx(
        kept["accuracy"], abs=1e-9)


@pytest.mark.slow
def test_early_stopping_stops_and_stays_stopped(tiny_sst2, tmp_path, caplog):
    # Learning rate 0: every evaluation scores the same, none is better than the first.
    model_dir = tmp_path / "run"
    config = tiny_sst2(steps=40, extra=",trainer.keep_best=accuracy,"
                       "trainer.eval_every_steps=2,trainer.early_stopping_patience=2,"
                       "trainer.optimizer.learning_rate=0.0")
    with caplog.at_level("INFO", logger="absl"):
        run_experiment(config, str(model_dir), "train")
    assert "early stopping at step 6: accuracy did not improve in 2 evaluations" in caplog.text
    assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-6")  # saved at the stop
    assert [r["global_step"] for r in read_history(str(model_dir / "eval_history.tsv"))] == \
        [2, 4, 6]
    assert read_eval_results(str(model_dir / "best" / "eval_results.txt"))["global_step"] == 2
    caplog.clear()
    with caplog.at_level("INFO", logger="absl"):
        run_experiment(config, str(model_dir), "train")  # the same command again
    assert "the run stopped at step 6 already" in caplog.text
    assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-6")


@pytest.mark.slow
def test_resumed_run_keeps_its_best(tiny_sst2, tmp_path):
    model_dir = tmp_path / "run"
    config = tiny_sst2(extra=",trainer.keep_best=accuracy,"
                       "trainer.eval_every_steps=2,trainer.steps_per_loop=1")

    def preempt(step, logs):
        if step == 8:  # a SIGTERM in the loop that ends on an evaluation step
            os.kill(os.getpid(), signal.SIGTERM)

    def before(signum, frame):  # the process's own handler, which the run must give back
        raise AssertionError("SIGTERM reached the handler the run replaced")

    previous = signal.signal(signal.SIGTERM, before)
    try:
        run_experiment(config, str(model_dir), "train_and_eval", callback=preempt)
        # Left installed, the run's handler (a method of its trainer) would swallow the
        # process's next SIGTERM and keep the trainer and its model alive.
        assert signal.getsignal(signal.SIGTERM) is before
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-8")
    before = read_history(str(model_dir / "eval_history.tsv"))
    assert [r["global_step"] for r in before] == [2, 4, 6]  # step 8's evaluation skipped
    best_before = read_eval_results(str(model_dir / "best" / "eval_results.txt"))

    run_experiment(config, str(model_dir), "train_and_eval")  # resumes at step 8
    history = read_history(str(model_dir / "eval_history.tsv"))
    assert history[:3] == before
    assert [r["global_step"] for r in history] == [2, 4, 6, 8, 10, 12]
    kept = read_eval_results(str(model_dir / "best" / "eval_results.txt"))
    assert kept["accuracy"] == max(r["accuracy"] for r in history) >= best_before["accuracy"]
