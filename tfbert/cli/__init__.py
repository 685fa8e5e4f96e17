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
"""

import importlib
import os
import sys

_QUIET = "TF_CPP_MIN_LOG_LEVEL" not in os.environ
if _QUIET:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


def import_tensorflow():
    """Imports TensorFlow, with file descriptor 2 on /dev/null unless the user set
    `TF_CPP_MIN_LOG_LEVEL` (or it has started already)."""
    if not _QUIET or "tensorflow" in sys.modules:
        importlib.import_module("tensorflow")
        return
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        importlib.import_module("tensorflow")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
