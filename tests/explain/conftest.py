"""Fixtures of the explain tests: the model explained is the session's tiny fine-tuned
SST-2 model (`finetuned_sst2_dir` in tests/conftest.py), shared with the CLI and
distillation tests (tests/cli/conftest.py imports this fixture)."""

import pytest


@pytest.fixture(scope="session")
def sst2_model_dir(finetuned_sst2_dir):
    """A `tfbert_finetune` directory of `glue/sst2` (4 layers, hidden 64)."""
    return finetuned_sst2_dir
