"""Fixtures the CLI tests share with the tests of the library they drive."""

from tests.serving.conftest import vocab_file  # noqa: F401 (a fixture: pytest finds it by name)
