"""The files a run writes besides checkpoints: eval results, predictions, params.

Each is written under a temporary name and renamed, so a reader (or a run
killed while writing) never sees half a file.
"""

import os

import tensorflow as tf


def write_text(path, text):
    """Writes `text` to `path` (local or gs://) under a temporary name, then renames it."""
    tf.io.gfile.makedirs(os.path.dirname(path) or ".")
    temporary = f"{path}.tmp-{os.getpid()}"
    with tf.io.gfile.GFile(temporary, "w") as f:
        f.write(text)
    tf.io.gfile.rename(temporary, path, overwrite=True)


def write_eval_results(path, results):
    """`key = value` lines, sorted by key, as the original `eval_results.txt`."""
    write_text(path, "".join(f"{key} = {results[key]}\n" for key in sorted(results)))


def read_eval_results(path):
    """`{key: float}` of an `eval_results.txt` (`write_eval_results`' lines)."""
    results = {}
    with tf.io.gfile.GFile(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            key, separator, value = line.partition(" = ")
            try:
                results[key.strip()] = float(value)
            except ValueError:
                separator = ""
            if not separator:
                raise ValueError(f"{path}:{number}: expected `key = number`, got {line.strip()!r}")
    return results
