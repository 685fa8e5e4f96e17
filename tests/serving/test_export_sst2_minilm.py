"""End to end with a real model: all-MiniLM-L6-v2 fine-tuned briefly on SST-2
by the Trainer, exported from its training directory, answers the raw dev
sentences through the C++ loader with the Python model's labels."""

import csv

import numpy as np
import pytest
import tensorflow as tf

from tests.tasks.test_finetuning_tasks import _experiment, _head
from tfbert.checkpoints import latest_weights, load_model
from tfbert.configs.experiment import DataConfig, OptimizerConfig
from tfbert.serving import NativeSavedModel, unsupported_ops
from tfbert.tasks.sentence_prediction import SentencePredictionConfig, SentencePredictionTask
from tfbert.training.trainer import Trainer


@pytest.mark.slow
def test_exported_minilm_sst2_gives_python_labels_on_all_dev(shared_data, tmp_path):
    from tfbert.checkpoints.huggingface import installed_minilm_dir

    minilm = installed_minilm_dir()
    sst2 = shared_data / "glue" / "SST-2"
    task_config = SentencePredictionConfig(
        task="glue/sst2", init_checkpoint=minilm,
        train_data=DataConfig(input_path=_head(sst2 / "train.tsv", 769, tmp_path / "train.tsv"),
                              max_seq_length=32, global_batch_size=32, seed=1),
        validation_data=DataConfig(input_path=str(sst2 / "dev.tsv"), max_seq_length=64,
                                   global_batch_size=64))
    config = _experiment(task_config, steps=24)
    config.trainer.optimizer = OptimizerConfig(learning_rate=5e-5, warmup_steps=2)
    task = SentencePredictionTask(config.task)
    trainer = Trainer(task, config, str(tmp_path / "model"))
    trainer.train()
    metrics, python_labels = task.evaluate_metrics(trainer.model)

    # Export from the training directory, as tfbert_export --model_dir does.
    task.bert_config().to_json_file(tmp_path / "bert_config.json")
    export_task = SentencePredictionTask(SentencePredictionConfig(
        task="classification", init_checkpoint=minilm, label_names=["negative", "positive"],
        predict_data=DataConfig(max_seq_length=64)))
    model = load_model(latest_weights(str(tmp_path / "model")), head=export_task.build_head,
                       config=str(tmp_path / "bert_config.json"))
    [path] = export_task.export(model, str(tmp_path / "models" / "sst2"), version=1)
    assert unsupported_ops(path) == []

    with open(sst2 / "dev.tsv", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    sentences = np.array([row[0].encode("utf-8") for row in rows], dtype=object)
    gold = np.array([int(row[1]) for row in rows])
    assert len(sentences) == 872
    requests = [("serving_default", {"text": sentences[i:i + 128]}) for i in range(0, 872, 128)]
    outputs = NativeSavedModel(path).run_many(requests)
    label_id = np.concatenate([out["label_id"] for out in outputs])
    label = np.concatenate([out["label"] for out in outputs])
    np.testing.assert_array_equal(label_id, python_labels)
    np.testing.assert_array_equal(label, np.array([b"negative", b"positive"])[label_id])
    accuracy = float((label_id == gold).mean())
    assert accuracy == pytest.approx(metrics["accuracy"]) and accuracy > 0.70
    # The probabilities agree with the restored Python model's, too.
    probabilities = np.concatenate([out["probabilities"] for out in outputs])
    features = task.features(config.task.validation_data, False)
    logits = model({k: features[k][:64] for k in ("input_word_ids", "input_mask",
                                                    "input_type_ids")})["logits"]
    np.testing.assert_allclose(probabilities[:64], tf.nn.softmax(logits).numpy(), atol=1e-5)
    print(f"SST-2 dev: {accuracy:.4f} accuracy from the export, 872/872 labels as Python")
