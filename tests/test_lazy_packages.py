"""The lazy packages (`tfbert.lazy`): their names load on first use, whatever was imported
before, and a name shared by an export and its module stays the export."""

import importlib
import textwrap

import pytest

from tests.helpers import loaded_in_fresh_python


def _package(root, name):
    """A lazy package `name` under `root` with a module `thing` that defines `thing` (an
    export named as its module, like `tfbert.data.pretraining_dataset`) and `other`."""
    (root / name).mkdir()
    (root / name / "__init__.py").write_text(textwrap.dedent("""
        from tfbert import lazy
        __getattr__, __dir__ = lazy.exports(__name__, {"thing": ".thing", "other": ".thing"})
    """))
    (root / name / "thing.py").write_text("def thing():\n    return 1\n\nother = 2\n")


@pytest.mark.parametrize("module_first", [False, True])
def test_an_export_named_as_its_module_stays_the_export(tmp_path, monkeypatch, module_first):
    name = f"lazy_example_{int(module_first)}"
    _package(tmp_path, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    if module_first:  # as `from tfbert.data.pretraining_dataset import ...` in the trainer
        assert importlib.import_module(f"{name}.thing").other == 2
    package = importlib.import_module(name)
    assert package.thing() == 1 and package.other == 2
    assert {"other", "thing"} <= set(dir(package))
    with pytest.raises(AttributeError, match=f"module '{name}' has no attribute 'nothing'"):
        package.nothing  # noqa: B018 (the access is the test)
    # The real one, in this process where the module was imported long ago.
    from tfbert.data import pretraining_dataset
    assert callable(pretraining_dataset) and pretraining_dataset.__name__ == "pretraining_dataset"


def test_importing_the_packages_starts_no_tensorflow():
    assert loaded_in_fresh_python("import tfbert.data, tfbert.checkpoints, "
                                  "tfbert.distillation; from tfbert.data import "
                                  "feature_names") == []
    import tfbert.checkpoints
    import tfbert.data
    from tfbert.data import feature_names
    assert feature_names.__module__ == "tfbert.data.features"
    assert "read_squad" in dir(tfbert.data) and "load_model" in dir(tfbert.checkpoints)
