"""Runs the `Example:` blocks of the public docstrings, so that they stay true."""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tfbert import layers

PACKAGES = ("tfbert.configs", "tfbert.layers", "tfbert.networks", "tfbert.models",
            "tfbert.checkpoints", "tfbert.text", "tfbert.data", "tfbert.metrics",
            "tfbert.serving", "tfbert.training", "tfbert.tasks", "tfbert.distillation",
            "tfbert.explain", "tfbert.hub")


def _modules():
    names = ["tfbert"]
    for package in PACKAGES:
        names.append(package)
        path = importlib.import_module(package).__path__
        names += [f"{package}.{m.name}" for m in pkgutil.iter_modules(path)]
    return names


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    globs = {**vars(module), "np": np, "tf": tf, "tfbert": tfbert,
             **{k: getattr(tfbert, k) for k in tfbert.__all__},
             **{k: getattr(layers, k) for k in layers.__all__}}
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, globs=globs):
        if test.name.split(".")[-1].startswith("_"):
            continue
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
