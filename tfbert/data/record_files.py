"""Writing TFRecord files: round-robin over several files, each under a temporary
name that is renamed at the end, so a crash or a full disk leaves no file that
looks complete (`tfbert.data.pretraining_records` makes the records' bytes)."""

import contextlib
import os

import numpy as np
import tensorflow as tf


class RecordFilesWriter:
    """Writes records round-robin to TFRecord files, renamed into place on `close()`.

    Each file is written as `<name>.tmp-<pid>` and renamed when `close()`
    succeeds; `abort()` (or leaving a `with` block by an exception) deletes
    the temporary files, so no partial output is left behind.

    Args:
      output_files: list of paths (local or any `tf.io.gfile` filesystem).
      gzip: write GZIP-compressed TFRecords.

    Example:

    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "out.tfrecord")
    >>> with RecordFilesWriter([path]) as writer:
    ...     writer.write(b"abc")
    >>> [r.numpy() for r in tf.data.TFRecordDataset(path)]
    [b'abc']
    """

    def __init__(self, output_files, gzip=False):
        if not output_files:
            raise ValueError("no output file given")
        self.output_files = list(output_files)
        self._temp_files = [f"{path}.tmp-{os.getpid()}" for path in self.output_files]
        options = tf.io.TFRecordOptions(compression_type="GZIP" if gzip else "")
        self._writers = []
        try:
            for path in self._temp_files:
                parent = os.path.dirname(path)
                if parent:
                    tf.io.gfile.makedirs(parent)
                self._writers.append(tf.io.TFRecordWriter(path, options))
        except Exception:
            self.abort()
            raise
        self.num_written = np.zeros(len(self.output_files), np.int64)
        self._next = 0

    def write(self, record):
        try:
            self._writers[self._next].write(record)
        except tf.errors.OpError as error:  # a full disk: say which output, leave nothing
            self.abort()
            raise self._failed(self._next, error) from None
        self.num_written[self._next] += 1
        self._next = (self._next + 1) % len(self._writers)

    def close(self):
        """Flushes the files and renames them to their final names."""
        for index, writer in enumerate(self._writers):
            try:
                writer.close()
            except tf.errors.OpError as error:
                self.abort()
                raise self._failed(index, error) from None
        for temp, path in zip(self._temp_files, self.output_files, strict=True):
            tf.io.gfile.rename(temp, path, overwrite=True)
        self._writers = []

    def abort(self):
        """Closes and deletes the temporary files."""
        for writer in self._writers:
            with contextlib.suppress(tf.errors.OpError):  # a full disk fails the flush too
                writer.close()
        self._writers = []
        for temp in self._temp_files:
            if tf.io.gfile.exists(temp):
                tf.io.gfile.remove(temp)

    def _failed(self, index, error):
        return OSError(f"writing {self.output_files[index]} failed ({error.message}); no output "
                       "file was written (the temporary files are removed)")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False
