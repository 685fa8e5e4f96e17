"""Fixtures of the explain tests: one tiny SST-2 model directory, fine-tuned through
the real experiment runner (what `tfbert_finetune` runs) once per session and shared
with the CLI tests (tests/cli/conftest.py imports it)."""

import pytest

from tests.training.conftest import head_lines
from tfbert.tasks import load_config
from tfbert.training import run_experiment


@pytest.fixture(scope="session")
def sst2_model_dir(shared_data, uncased_vocab, tmp_path_factory):
    """A `tfbert_finetune` directory: bert_tiny_uncased (2 layers, hidden 128) trained
    24 steps on 300 real SST-2 sentences (`params.yaml` and checkpoints)."""
    work = tmp_path_factory.mktemp("explain_sst2")
    train = head_lines(shared_data / "glue" / "SST-2" / "train.tsv", 301, work / "train.tsv")
    dev = head_lines(shared_data / "glue" / "SST-2" / "dev.tsv", 33, work / "dev.tsv")
    override = (f"task.model=bert_tiny_uncased,task.vocab_file={uncased_vocab},"
                "task.num_train_epochs=null,task.warmup_proportion=null,"
                "trainer.train_steps=24,trainer.steps_per_loop=24,"
                "trainer.checkpoint_interval=24,trainer.optimizer.learning_rate=2e-3,"
                "trainer.optimizer.warmup_steps=1,"
                f"task.train_data.input_path={train},task.train_data.max_seq_length=32,"
                "task.train_data.global_batch_size=16,"
                f"task.validation_data.input_path={dev},"
                "task.validation_data.max_seq_length=64,task.predict_data.max_seq_length=64,"
                "task.validation_data.global_batch_size=32,runtime.seed=1")
    model_dir = str(work / "model")
    run_experiment(load_config("glue/sst2", params_override=override), model_dir, "train")
    return model_dir
