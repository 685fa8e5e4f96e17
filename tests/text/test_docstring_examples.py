"""Runs the `Example:` blocks of tfbert.text's docstrings, so that they stay true."""

import doctest
import importlib
import pkgutil

import pytest

import tfbert.text


def _modules():
    names = ["tfbert.text"]
    names += [f"tfbert.text.{m.name}" for m in pkgutil.iter_modules(tfbert.text.__path__)]
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, globs=dict(vars(module))):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
