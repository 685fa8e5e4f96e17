"""Fixtures of the distillation tests: the teacher is the session's tiny fine-tuned
SST-2 model (`finetuned_sst2_dir` in tests/conftest.py: 4 layers of hidden 64)."""

import pytest

from tests.training.conftest import sst2  # noqa: F401 (a fixture: pytest finds it by name)


@pytest.fixture(scope="session")
def teacher_dir(finetuned_sst2_dir):
    """The teacher's model directory."""
    return finetuned_sst2_dir
