"""Versioned export directories as TensorFlow Serving watches them: `<base>/<version>/`.

A version is written under a temporary name beside it and renamed when
complete, so the model server (which loads numeric sub-directories only)
never sees half an export; an existing version is never overwritten. A write
that fails (a full disk) removes the partial directory and says so.
"""

import contextlib
import dataclasses
import errno
import os
import shutil
import time

import tensorflow as tf

# Errors of the disk being written (TensorFlow reports a full disk as ResourceExhausted).
_WRITE_FAILURES = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS)


@dataclasses.dataclass(frozen=True)
class PendingExport:
    """Where to write (`partial`) and where it will be once complete (`final`)."""

    version: int
    partial: str
    final: str


def next_version(export_base, version=None):
    """The version number to write: `version`, or the current Unix time."""
    version = int(time.time()) if version is None else int(version)
    if version <= 0:
        raise ValueError(f"a TF Serving version must be a positive integer, got {version}")
    if os.path.exists(os.path.join(export_base, str(version))):
        raise FileExistsError(
            f"{os.path.join(export_base, str(version))} exists; versions are never overwritten "
            "(pass another --version)")
    return version


@contextlib.contextmanager
def versioned_export(export_base, version=None):
    """Yields a `PendingExport`; renames `partial` to `final` (`<base>/<version>`)
    when the block ends without error, and deletes `partial` otherwise.

    Example:

        with versioned_export("models/sst2") as pending:
            write_saved_model(pending.partial)
        print(pending.final)
    """
    version = next_version(export_base, version)
    os.makedirs(export_base, exist_ok=True)
    pending = PendingExport(version, os.path.join(export_base, f".partial-{version}"),
                            os.path.join(export_base, str(version)))
    shutil.rmtree(pending.partial, ignore_errors=True)
    try:
        try:
            yield pending
        except (OSError, tf.errors.ResourceExhaustedError) as error:
            if isinstance(error, OSError) and error.errno not in _WRITE_FAILURES:
                raise  # e.g. a missing input file: its own message says it
            detail = getattr(error, "message", None) or error.strerror
            raise OSError(f"writing the export {pending.final} failed ({detail}); its partial "
                          f"directory was removed and the versions already in {export_base} "
                          "are untouched") from error
        if os.path.exists(pending.final):
            raise FileExistsError(f"{pending.final} appeared while exporting; not overwritten")
        os.rename(pending.partial, pending.final)
    finally:
        shutil.rmtree(pending.partial, ignore_errors=True)
