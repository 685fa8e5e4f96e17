"""The fine-tuning tasks on the real Trainer with real data: a tiny model
trained a few steps per task, then evaluated on whole files. Checks the
plumbing end to end: features, static-shape pipelines, losses, the padded
evaluation (every example exactly once), prediction and post-processing."""

import json

import numpy as np
import pytest

from tfbert.configs.experiment import DataConfig, ExperimentConfig, OptimizerConfig, TrainerConfig
from tfbert.tasks.sentence_prediction import SentencePredictionConfig, SentencePredictionTask
from tfbert.tasks.squad import SquadConfig, SquadTask, split_articles
from tfbert.tasks.tagging import TaggingConfig, TaggingTask
from tfbert.training.trainer import Trainer


def _experiment(task_config, steps=4):
    config = ExperimentConfig(task=task_config, trainer=TrainerConfig(
        train_steps=steps, steps_per_loop=steps, checkpoint_interval=steps, validation_steps=1,
        optimizer=OptimizerConfig(learning_rate=1e-3, warmup_steps=1)))
    config.runtime.seed = 1
    return config


def _head(path, lines, out):
    out.write_text("".join(path.open(encoding="utf-8").readlines()[:lines]), encoding="utf-8")
    return str(out)


@pytest.mark.slow
def test_sentence_prediction_on_mrpc(shared_data, uncased_vocab, tmp_path):
    mrpc = shared_data / "glue" / "MRPC"
    task_config = SentencePredictionConfig(
        task="glue/mrpc", model="bert_tiny_uncased", vocab_file=str(uncased_vocab),
        train_data=DataConfig(input_path=_head(mrpc / "train.tsv", 200, tmp_path / "train.tsv"),
                              max_seq_length=48, global_batch_size=16, seed=1),
        validation_data=DataConfig(input_path=str(mrpc / "dev.tsv"), max_seq_length=48,
                                   global_batch_size=32))
    config = _experiment(task_config)
    task = SentencePredictionTask(config.task)
    trainer = Trainer(task, config, str(tmp_path / "model"))
    history = trainer.train()
    assert trainer.step == 4 and np.isfinite(history[-1][1]["loss"])
    steps = task.num_eval_steps(config.task.validation_data)
    assert steps == 13  # 408 examples in batches of 32, the last one padded
    in_loop = trainer.evaluate(steps=steps)
    metrics, predictions = task.evaluate_metrics(trainer.model)
    assert len(predictions) == 408
    # Sums over padded batches equal the metrics of all 408 predictions.
    assert in_loop["accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-6)
    assert in_loop["f1"] == pytest.approx(metrics["f1"], abs=1e-6)


@pytest.mark.slow
def test_tagging_on_conll(shared_data, uncased_vocab, tmp_path):
    valid = shared_data / "conll2003" / "valid.txt"
    train = _head(shared_data / "conll2003" / "train.txt", 1200, tmp_path / "train.txt")
    evaluation = _head(valid, 600, tmp_path / "valid.txt")
    task_config = TaggingConfig(
        model="bert_tiny_uncased", vocab_file=str(uncased_vocab),
        train_data=DataConfig(input_path=train, max_seq_length=64, global_batch_size=16),
        validation_data=DataConfig(input_path=evaluation, max_seq_length=64,
                                   global_batch_size=16))
    config = _experiment(task_config)
    task = TaggingTask(config.task)
    trainer = Trainer(task, config, str(tmp_path / "model"))
    trainer.train()
    in_loop = trainer.evaluate(steps=task.num_eval_steps(config.task.validation_data))
    scores, predicted = task.evaluate_metrics(trainer.model)
    sentences = task.read(evaluation).sentences
    assert [len(t) for t in predicted] == [len(s.words) for s in sentences]
    assert 0.0 <= scores["f1"] <= 1.0 and 0.0 < in_loop["word_accuracy"] <= 1.0


@pytest.mark.slow
def test_squad_split_by_article(shared_data, uncased_vocab, tmp_path):
    train, evaluation = tmp_path / "train.json", tmp_path / "eval.json"
    counts = split_articles(shared_data / "squad" / "dev-v1.1-articles-00-23.json", 23, train,
                            evaluation)
    assert counts == (23, 1)
    task_config = SquadConfig(
        model="bert_tiny_uncased", vocab_file=str(uncased_vocab), doc_stride=64,
        max_query_length=24,
        train_data=DataConfig(input_path=str(train), max_seq_length=128, global_batch_size=8),
        validation_data=DataConfig(input_path=str(evaluation), max_seq_length=128,
                                   global_batch_size=32))
    config = _experiment(task_config)
    task = SquadTask(config.task)
    trainer = Trainer(task, config, str(tmp_path / "model"))
    trainer.train()
    scores, predictions = task.evaluate_metrics(trainer.model, output_dir=tmp_path / "out")
    questions = sum(len(p["qas"]) for a in json.loads(evaluation.read_text())["data"]
                    for p in a["paragraphs"])
    assert scores["total"] == questions == len(predictions) and scores["missing"] == 0
    assert 0.0 <= scores["exact_match"] <= scores["f1"] <= 100.0
    written = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert written == predictions
    assert (tmp_path / "out" / "nbest_predictions.json").exists()


def test_own_classification_files(uncased_vocab, tmp_path):
    (tmp_path / "train.csv").write_text("text,tone\ngood film,pos\nbad film,neg\nfine,pos\n")
    (tmp_path / "dev.csv").write_text("text,tone\nawful,neg\nmeh,neutral\n")
    task_config = SentencePredictionConfig(
        task="classification", model="bert_tiny_uncased", vocab_file=str(uncased_vocab),
        text_a="text", label="tone",
        train_data=DataConfig(input_path=str(tmp_path / "train.csv"), max_seq_length=16,
                              global_batch_size=2),
        validation_data=DataConfig(input_path=str(tmp_path / "dev.csv"), max_seq_length=16,
                                   global_batch_size=2))
    task = SentencePredictionTask(task_config)
    # The dev file is read with the training file's labels (neg, pos): "neutral" is an error.
    with pytest.raises(ValueError, match=r"dev.csv:3: label 'neutral' is not in the label list"):
        task.features(task_config.validation_data, is_training=False)
    assert task.num_classes == 2 and task.label_names == ("neg", "pos")
    train = task.features(task_config.train_data, is_training=True)
    assert train["label_ids"].tolist() == [1, 0, 1]
    batch = next(iter(task.build_inputs(task_config.train_data, is_training=True)))
    assert tuple(batch["input_word_ids"].shape) == (2, 16)  # longest row rounded up to 16
    assert batch["is_real_example"].numpy().tolist() == [1.0, 1.0]


def test_auto_padding_per_task():  # (on a TPU "auto" is "max_seq_length": no TPU here)
    sentences = SentencePredictionTask(SentencePredictionConfig(model="bert_tiny_uncased"))
    tagging = TaggingTask(TaggingConfig(model="bert_tiny_uncased", label_names=["O", "B-X"]))
    auto = DataConfig()
    assert sentences.padding(auto, True) == "bucket" and tagging.padding(auto, True) == "bucket"
    assert sentences.padding(auto, False) == "batch"
    assert tagging.padding(auto, False) == "max_seq_length"  # predict concatenates tokens
    assert sentences.padding(DataConfig(padding="bucket"), False) == "batch"  # keeps order
    assert sentences.padding(DataConfig(padding="max_seq_length"), True) == "max_seq_length"
    assert sentences.padding(DataConfig(padding="batch"), True) == "batch"
    assert tagging.padding(DataConfig(padding="batch"), False) == "max_seq_length"
    with pytest.raises(ValueError, match="padding must be 'auto' or one of"):
        sentences.padding(DataConfig(padding="longest"), True)
