"""Which optimizer each task gets by default, and the seed every fine-tuning run is
given (`FinetuningTask.prepare`). That a seed repeats a whole run is tested through
the command: tests/cli/test_finetune_seed.py."""

import pytest

from tfbert.configs.experiment import set_values
from tfbert.tasks.registry import build_task, load_config


@pytest.mark.parametrize("files", [(), ("pretrain_bert_base_phase1",),
                                   ("pretrain_bert_base_phase2",), ("pretrain_tiny",)])
def test_pretraining_keeps_the_original_adamw(files):
    assert load_config("pretraining", files).trainer.optimizer.type == "bert_adamw"


@pytest.mark.parametrize("task, files", [("glue/mrpc", ()), ("glue/mrpc", ("glue_mrpc",)),
                                         (None, ("minilm_sst2",)), ("squad/v1.1", ()),
                                         ("conll2003", ())])
def test_finetuning_defaults_to_adamw_with_bias_correction(task, files):
    assert load_config(task, files).trainer.optimizer.type == "adamw"


def _prepared(directory, **values):
    # `prepare` checks that the training file exists; with a fixed step count it does
    # not read it, so an empty file will do.
    train = directory / "train.tsv"
    train.touch()
    config = load_config("glue/mrpc", (), "task.num_train_epochs=null,trainer.train_steps=10,"
                         f"task.train_data.input_path={train}")
    config = set_values(config, values, "test")
    return build_task(config.task).prepare(config, "train")


def test_prepare_gives_every_run_a_seed_and_orders_the_data_with_it(tmp_path):
    drawn = [_prepared(tmp_path) for _ in range(2)]
    seeds = [c.runtime.seed for c in drawn]
    assert all(isinstance(s, int) and 0 <= s < 2**31 for s in seeds) and seeds[0] != seeds[1]
    assert [c.task.train_data.seed for c in drawn] == seeds
    given = _prepared(tmp_path, **{"runtime.seed": 12})
    assert (given.runtime.seed, given.task.train_data.seed) == (12, 12)
    # A data seed of its own stays; evaluation data is never shuffled, its seed stays unset.
    pinned = _prepared(tmp_path, **{"runtime.seed": 12, "task.train_data.seed": 3})
    assert (pinned.runtime.seed, pinned.task.train_data.seed) == (12, 3)
    assert pinned.task.validation_data.seed is None


def test_unknown_optimizer_names_the_key(tmp_path):
    with pytest.raises(ValueError, match=r"trainer\.optimizer\.type must be one of "
                                         r"bert_adamw, adamw, lamb, got 'adam'"):
        _prepared(tmp_path, **{"trainer.optimizer.type": "adam"})
