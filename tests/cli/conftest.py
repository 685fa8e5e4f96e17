"""Fixtures the CLI tests share with the tests of the library they drive."""

from tests.distillation.conftest import teacher_dir  # noqa: F401 (a fixture)
from tests.explain.conftest import sst2_model_dir  # noqa: F401 (a fixture)
from tests.serving.conftest import vocab_file  # noqa: F401 (a fixture: pytest finds it by name)
from tests.training.conftest import sst2, tiny_sst2  # noqa: F401 (fixtures)
