"""Long texts through the tasks (`task.long_text`): a tiny model trained a few
steps through `run_experiment` on windows, then evaluated, predicted and
exported per text; `first` keeps the original features; bad settings fail
with messages that name the setting and the task."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tfbert.tasks import build_task, load_config
from tfbert.tasks.sentence_prediction import SentencePredictionConfig, SentencePredictionTask
from tfbert.tasks.tagging import TaggingConfig, TaggingTask
from tfbert.training import run_experiment


def _override(**values):
    return ",".join(f"{key}={value}" for key, value in values.items())


def _tiny(vocab, train, evaluation, seq_length=32, steps=3):
    return {"task.model": "bert_tiny_uncased", "task.vocab_file": vocab,
            "task.num_train_epochs": "null", "task.warmup_proportion": "null",
            "trainer.train_steps": steps, "trainer.steps_per_loop": steps,
            "trainer.checkpoint_interval": steps, "trainer.optimizer.warmup_steps": 1,
            "task.train_data.input_path": train, "task.train_data.max_seq_length": seq_length,
            "task.train_data.global_batch_size": 8, "task.validation_data.input_path": evaluation,
            "task.validation_data.max_seq_length": seq_length,
            "task.predict_data.max_seq_length": seq_length, "runtime.seed": 1}


@pytest.mark.slow
def test_classification_mean_of_windows(shared_data, uncased_vocab, tmp_path):
    lines = (shared_data / "text" / "wikitext2_valid_pretrain_format.txt").read_text(
        encoding="utf-8").split("\n\n")
    rows = [{"text": " ".join(text.split()[:300]), "label": ["a", "b"][i % 2]}
            for i, text in enumerate(lines[:24])]
    path = tmp_path / "texts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    values = _tiny(str(uncased_vocab), str(path), str(path))
    values.update({"task.text_a": "text", "task.long_text": "mean", "task.doc_stride": 16})
    config = load_config("classification", params_override=_override(**values))
    results = run_experiment(config, str(tmp_path / "model"), "train_and_eval")
    assert 0.0 <= results["accuracy"] <= 1.0

    task = build_task(config.task)
    features = task.features(config.task.validation_data, False)
    windows = np.bincount(features["example_index"])
    assert len(windows) == 24 and windows.max() > 5       # long texts, in windows
    assert (features["label_ids"] == np.repeat([i % 2 for i in range(24)], windows)).all()

    # Predictions: one row per text (its windows' logits averaged), not per window.
    predictions = run_experiment(config, str(tmp_path / "model"), "predict")
    probabilities = np.loadtxt(predictions, ndmin=2)
    assert probabilities.shape == (24, 2)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-5)


def test_combine_windows_is_the_exports(uncased_vocab):
    """The task's combination is `serving.classification.combine_windows`."""
    task = SentencePredictionTask(SentencePredictionConfig(
        task="classification", vocab_file=str(uncased_vocab), long_text="max",
        label_names=["a", "b"]))
    logits = np.array([[1.0, 2.0], [3.0, -1.0], [0.0, 0.5]], np.float32)
    np.testing.assert_array_equal(task.combine_windows(logits, np.array([0, 0, 1])),
                                  [[3.0, 2.0], [0.0, 0.5]])
    first = SentencePredictionTask(SentencePredictionConfig(
        task="classification", vocab_file=str(uncased_vocab), label_names=["a", "b"]))
    assert first.combine_windows(logits, np.arange(3)) is logits


@pytest.mark.slow
def test_tagging_documents_in_windows(shared_data, uncased_vocab, tmp_path):
    source = (shared_data / "conll2003" / "valid.txt").read_text(encoding="utf-8")
    head = "-DOCSTART-".join(source.split("-DOCSTART-")[:4])        # 3 documents
    path = tmp_path / "valid.txt"
    path.write_text(head, encoding="utf-8")
    values = _tiny(str(uncased_vocab), str(path), str(path), seq_length=64)
    values.update({"task.long_text": "max_context", "task.doc_stride": 32,
                   "task.documents": "true"})
    config = load_config("conll2003", params_override=_override(**values))
    results = run_experiment(config, str(tmp_path / "model"), "train_and_eval")
    assert results["multi_window_share"] == 1.0 and 0.0 <= results["f1"] <= 1.0

    # Predictions are written sentence by sentence, one line per word, as for sentences.
    written = run_experiment(config, str(tmp_path / "model"), "predict")
    with open(written, encoding="utf-8") as f:
        sentences = [block.splitlines() for block in f.read().split("\n\n") if block]
    gold = [s for s in TaggingTask(TaggingConfig(task="conll2003")).read(str(path)).sentences]
    assert [len(s) for s in sentences] == [len(s.words) for s in gold]
    assert [line.split()[0] for line in sentences[0]] == list(gold[0].words)

    # The export tags every piece of a whole document.
    task = build_task(config.task)
    model = task.build_model()
    endpoint = task.export_endpoints(model, task.preprocessor())[0]
    document = " ".join(w for s in task.read(str(path)).sentences[:1] for w in s.words)
    out = endpoint.fn(tf.constant([document]))
    pieces = task.tokenizer.tokenize(tf.constant([document])).row_lengths().numpy()[0]
    assert pieces > 64 and int(tf.reduce_sum(tf.cast(out["label_ids"] >= 0, tf.int32))) == pieces


def test_bad_long_text_settings(uncased_vocab):
    def task(name, **values):
        return build_task(load_config(name, params_override=_override(
            **{"task.vocab_file": str(uncased_vocab), **values})).task)

    with pytest.raises(ValueError, match=r"task classification: task.long_text / "
                       r"task.doc_stride \(--long_text, --doc_stride\): long_text must be one "
                       r"of first, mean, max; got 'max_context'"):
        task("classification", **{"task.long_text": "max_context"})
    with pytest.raises(ValueError, match=r"task conll2003: .*long_text must be one of first, "
                       r"max_context for tagging"):
        task("conll2003", **{"task.long_text": "mean"})
    with pytest.raises(ValueError, match=r"task glue/mrpc: .*text pairs are truncated"):
        task("glue/mrpc", **{"task.long_text": "mean"})
    with pytest.raises(ValueError, match="doc_stride must be at least 1; got 0"):
        task("glue/sst2", **{"task.long_text": "max", "task.doc_stride": 0})
    with pytest.raises(ValueError, match="unknown key 'long_text'"):
        task("squad/v1.1", **{"task.long_text": "mean"})
