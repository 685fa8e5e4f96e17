"""The docstring examples of `tfbert.distillation`, run by the runner of
tests/test_docstring_examples.py (whose package list stops at the tasks)."""

import pkgutil

import pytest

import tfbert.distillation
from tests import test_docstring_examples as examples

MODULES = ["tfbert.distillation"] + [f"tfbert.distillation.{m.name}" for m in
                                     pkgutil.iter_modules(tfbert.distillation.__path__)]


@pytest.mark.parametrize("name", MODULES)
def test_distillation_docstring_examples(name):
    examples.test_docstring_examples_run(name)
