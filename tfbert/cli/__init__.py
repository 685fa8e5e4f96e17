"""The `tfbert_*` commands: thin absl wrappers over the library (see `common`).

TensorFlow prints start-up lines on stderr (oneDNN, CUDA, "All log messages
before absl::InitializeLog()") before a command says anything; TensorFlow 2.21
writes them while its libraries load, whatever `TF_CPP_MIN_LOG_LEVEL` says.
Python runs this file before any command's module, so here TensorFlow is
imported once with stderr sent to /dev/null and its log level set to errors
only. Set `TF_CPP_MIN_LOG_LEVEL` yourself (`TF_CPP_MIN_LOG_LEVEL=0
tfbert_finetune ...`) to see everything.
"""

import os
import sys


def _import_tensorflow_quietly():
    """Imports TensorFlow with file descriptor 2 on /dev/null, then restores it."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    _import_tensorflow_quietly()
