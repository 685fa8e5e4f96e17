"""Fixtures of the distillation tests: a tiny teacher fine-tuned on real SST-2 lines."""

import pytest

from tests.training.conftest import sst2  # noqa: F401 (a fixture: pytest finds it by name)
from tfbert.configs.bert_config import BertConfig
from tfbert.tasks import load_config

# The teacher: 4 layers of hidden 64 on the uncased vocab; students take 2 of its layers.
TEACHER = dict(vocab_size=30522, hidden_size=64, num_hidden_layers=4, num_attention_heads=2,
               intermediate_size=128, max_position_embeddings=128, type_vocab_size=2)


@pytest.fixture(scope="module")
def teacher_dir(sst2, uncased_vocab, tmp_path_factory):  # noqa: F811 (the fixture above)
    """A model directory of `glue/sst2` that `run_experiment` wrote: a 4-layer teacher
    fine-tuned 60 steps on 300 SST-2 sentences, evaluated on 200."""
    from tfbert.training.experiment import run_experiment

    train, dev = sst2
    root = tmp_path_factory.mktemp("teacher")
    BertConfig(**TEACHER).to_json_file(root / "bert_config.json")
    override = (f"task.model={root / 'bert_config.json'},task.vocab_file={uncased_vocab},"
                "task.num_train_epochs=null,task.warmup_proportion=null,"
                "trainer.train_steps=60,trainer.steps_per_loop=30,"
                "trainer.checkpoint_interval=60,trainer.optimizer.learning_rate=2e-3,"
                "trainer.optimizer.warmup_steps=5,"
                f"task.train_data.input_path={train},task.train_data.max_seq_length=32,"
                "task.train_data.global_batch_size=16,"
                f"task.validation_data.input_path={dev},task.validation_data.max_seq_length=64,"
                "task.validation_data.global_batch_size=50,"
                "task.predict_data.max_seq_length=64,runtime.seed=1")
    model_dir = root / "run"
    run_experiment(load_config("glue/sst2", params_override=override), str(model_dir),
                   "train_and_eval")
    return str(model_dir)
