"""The `tfbert_*` commands: thin absl wrappers over the library (see `common`).

TensorFlow prints start-up lines on stderr (oneDNN, CUDA, "All log messages
before absl::InitializeLog()") before a command says anything; TensorFlow 2.21
writes them while its libraries load, whatever `TF_CPP_MIN_LOG_LEVEL` says.
So a command imports TensorFlow through `import_tensorflow`, with stderr sent
to /dev/null and its log level set to errors only, and only once its flags
parsed (`common.run_command`): a wrong flag or `--help` answers at once,
without the seconds TensorFlow takes to start. The commands' modules import
the library inside their `main`. Set `TF_CPP_MIN_LOG_LEVEL` yourself
(`TF_CPP_MIN_LOG_LEVEL=0 tfbert_finetune ...`) to see everything.

Keras, which TensorFlow imports, also imports matplotlib, scikit-learn and IPython
when they are installed, for image galleries, scikit-learn wrappers and notebook
file editing that no command uses: `import_tensorflow` hides them while TensorFlow
loads (a command imports them later as usual), which shortens every command's
start (docs/performance.md).
"""

import contextlib
import importlib
import os
import sys

_QUIET = "TF_CPP_MIN_LOG_LEVEL" not in os.environ
if _QUIET:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


# Imported by Keras, when installed, for what no command uses (see the module doc).
KERAS_EXTRAS = ("matplotlib", "sklearn", "IPython")


def import_tensorflow():
    """Imports TensorFlow, with file descriptor 2 on /dev/null unless the user set
    `TF_CPP_MIN_LOG_LEVEL` (or it has started already), and without `KERAS_EXTRAS`."""
    if "tensorflow" in sys.modules:
        return
    hidden = [name for name in KERAS_EXTRAS if name not in sys.modules]
    sys.modules.update(dict.fromkeys(hidden))  # None: `import name` raises ImportError
    try:
        with _stderr_to_devnull() if _QUIET else contextlib.nullcontext():
            importlib.import_module("tensorflow")
    finally:
        for name in hidden:
            del sys.modules[name]


@contextlib.contextmanager
def _stderr_to_devnull():
    """File descriptor 2 on /dev/null (what native libraries write, too)."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
