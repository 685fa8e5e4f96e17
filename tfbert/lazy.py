"""Package names that load on first use: a package `__init__` lists `{name: module}`
and gets its module `__getattr__` and `__dir__` from `exports`.

Why: `import tfbert.cli.<command>` must reach the command's flags before TensorFlow
starts (a wrong flag then fails at once, and TensorFlow's start-up lines can be
hidden), and a `create_pretraining_data` worker process imports only modules
without TensorFlow. An eager `__init__` would import every module of its package.

Example:

>>> import sys, types
>>> sys.modules["example_package"] = types.ModuleType("example_package")
>>> getattr_, dir_ = exports("example_package", {"dumps": "json"})
>>> getattr_("dumps")([1])
'[1]'
"""

import importlib
import types


class _Package(types.ModuleType):
    """A lazy package. Importing a submodule sets the package's attribute of that name
    to the module; where an export has its module's name (`tfbert.data`'s function
    `pretraining_dataset`), the export keeps the name, as under an eager `__init__`."""

    def __setattr__(self, name, value):
        if (isinstance(value, types.ModuleType) and name in vars(self).get("_lazy_names", ())
                and value.__name__ == f"{self.__name__}.{name}"):
            value = getattr(value, name)
        super().__setattr__(name, value)


def exports(package, names, subpackages=()):
    """`(__getattr__, __dir__)` for `package`, whose `names` map to their modules.

    Args:
        package: the package's `__name__`.
        names: `{name: module}`, the module's name absolute or relative to `package`
            (`".features"`).
        subpackages: names of subpackages that `package.<name>` imports on first use.
    """
    module = importlib.import_module(package)
    module.__class__ = _Package
    module._lazy_names = names

    def load(name):
        if name in subpackages:
            return importlib.import_module(f"{package}.{name}")
        if name in names:
            value = getattr(importlib.import_module(names[name], package), name)
            setattr(module, name, value)  # found directly from now on
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def listing():
        return sorted({*vars(module), *names, *subpackages})

    return load, listing
