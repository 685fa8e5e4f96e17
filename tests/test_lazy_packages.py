"""The lazy packages (`tfbert.lazy`): their names load on first use, whatever was imported
before, and a name shared by an export and its module stays the export. Each check runs
in a fresh interpreter, where the order of imports is the test's own."""

import subprocess
import sys

import pytest


def _run(code):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split()


@pytest.mark.parametrize("first", ["", "from tfbert.data.pretraining_dataset import "
                                   "expand_input_files; "])
def test_an_export_named_as_its_module_stays_the_export(first):
    """`tfbert.data.pretraining_dataset` is a function and a module; importing the module
    first (as the trainer does) must not turn the package's name into the module."""
    assert _run(first + "from tfbert.data import pretraining_dataset; "
                "import tfbert.data as data; "
                "print(callable(pretraining_dataset), data.pretraining_dataset.__name__)"
                ) == ["True", "pretraining_dataset"]


def test_names_load_on_first_use_only():
    out = _run("import sys, tfbert.data, tfbert.checkpoints; "
               "print('tensorflow' in sys.modules); "
               "from tfbert.checkpoints import load_model; from tfbert.data import read_glue; "
               "print('tensorflow' in sys.modules, load_model.__module__, read_glue.__module__, "
               "'read_squad' in dir(tfbert.data))")
    assert out == ["False", "True", "tfbert.checkpoints.loader", "tfbert.data.glue", "True"]
    with pytest.raises(AssertionError, match="has no attribute 'nothing'"):
        _run("import tfbert.data; tfbert.data.nothing")
