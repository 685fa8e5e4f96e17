"""Fixtures the hub tests share with the serving tests (the tiny vocab and preprocessor)."""

from tests.serving.conftest import preprocessor, vocab_file  # noqa: F401 (fixtures)
