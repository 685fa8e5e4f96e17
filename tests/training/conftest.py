"""Fixtures of the training tests: a tiny BERT's experiment on real SST-2 lines."""

import pytest

from tfbert.tasks import load_config


def head_lines(path, lines, out):
    """The first `lines` lines of `path` written to `out`; returns `out` as a str."""
    out.write_text("".join(path.open(encoding="utf-8-sig").readlines()[:lines]),
                   encoding="utf-8")
    return str(out)


@pytest.fixture(scope="module")
def sst2(shared_data, tmp_path_factory):
    """300 training and 200 dev sentences of real SST-2."""
    directory = tmp_path_factory.mktemp("sst2")
    source = shared_data / "glue" / "SST-2"
    return (head_lines(source / "train.tsv", 301, directory / "train.tsv"),
            head_lines(source / "dev.tsv", 201, directory / "dev.tsv"))


@pytest.fixture
def tiny_sst2(sst2, uncased_vocab):
    """`tiny_sst2(steps, extra_overrides)`: the experiment of a tiny BERT (2 layers,
    hidden 128) on the SST-2 lines, evaluated on the 200 dev sentences."""
    train, dev = sst2

    def experiment(steps=12, extra=""):
        override = (f"task.model=bert_tiny_uncased,task.vocab_file={uncased_vocab},"
                    "task.num_train_epochs=null,task.warmup_proportion=null,"
                    f"trainer.train_steps={steps},trainer.steps_per_loop={steps},"
                    "trainer.checkpoint_interval=6,trainer.optimizer.learning_rate=2e-3,"
                    "trainer.optimizer.warmup_steps=1,"
                    f"task.train_data.input_path={train},task.train_data.max_seq_length=32,"
                    "task.train_data.global_batch_size=16,"
                    f"task.validation_data.input_path={dev},"
                    "task.validation_data.max_seq_length=64,"
                    f"task.validation_data.global_batch_size=50,runtime.seed=1{extra}")
        return load_config("glue/sst2", params_override=override)

    return experiment
