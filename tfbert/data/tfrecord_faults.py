"""Corrupt or truncated TFRecord files: which file, at which byte, and what to skip.

TensorFlow's reader raises `DataLossError("corrupted record at 480")` when a
record's checksum does not match, or "truncated record at ..." when a file
ends inside a record; the message names neither the file (a pre-training
input interleaves several) nor how much of it was read. This module finds
the file and turns the error into `CorruptTFRecordError`: "corrupt TFRecord
<file> at byte offset <n>: <what>".

With `skip_corrupt_records` the input pipeline instead scans every file
once before training (`scan_file`, in TensorFlow's C++ reader, checksums
included) and reads a damaged file only up to its last good record: the
reader cannot find the records after a damaged one, so they are skipped
too, and counted (`FileScan.skipped_records`, by walking the record
framing in Python from the damaged record on).

TFRecord framing, per record: `uint64 length`, `uint32 masked_crc32c(length)`,
`length` bytes of data, `uint32 masked_crc32c(data)`, little-endian.

Example:

>>> masked_crc32c(b"123456789") == _mask(0xE3069283)  # the CRC-32C check value
True
"""

import dataclasses
import functools
import os
import re
import struct

import tensorflow as tf
from absl import logging

_CRC_TABLE = []
for _byte in range(256):
    _crc = _byte
    for _ in range(8):
        _crc = (_crc >> 1) ^ 0x82F63B78 if _crc & 1 else _crc >> 1
    _CRC_TABLE.append(_crc)


def _mask(crc):
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The masked CRC-32C of TFRecord framing (pure Python: only headers are checked)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return _mask(crc ^ 0xFFFFFFFF)


class CorruptTFRecordError(ValueError):
    """A TFRecord input file is damaged; the message names the file and byte offset.

    A `ValueError`, so the commands end with `<command>: error: <message>`.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "bad.tfrecord")
    >>> with tf.io.TFRecordWriter(path) as writer:
    ...     for record in (b"first", b"second"):
    ...         writer.write(record)
    >>> with open(path, "r+b") as f:  # damage the second record's data
    ...     _ = f.seek(21 + 12)  # record 0: 16 bytes of framing + 5
    ...     _ = f.write(b"X")
    >>> try:
    ...     list(tf.data.TFRecordDataset(path))
    ... except tf.errors.DataLossError as error:
    ...     print(locate_data_loss([path], "", error))  # doctest: +ELLIPSIS
    corrupt TFRecord .../bad.tfrecord at byte offset 21: a corrupted record (...
    """


@dataclasses.dataclass(frozen=True)
class FileScan:
    """What a scan of one TFRecord file found.

    Args:
        path: str. The file.
        good_records: int. Records before the damage (all of them if none).
        offset: int or None. Byte offset where the damaged record starts (for
            GZIP files: where TensorFlow's reader failed, in the uncompressed
            stream); None: the file is sound.
        what: str. What is wrong there ("" if sound).
        skipped_records: int. Records from the damaged one to the end that
            the framing still shows (at least 1 when damaged).

    Example:

    >>> FileScan("part-1.tfrecord", 4, offset=1305, what="a truncated record").describe()
    'corrupt TFRecord part-1.tfrecord at byte offset 1305: a truncated record'
    """

    path: str
    good_records: int
    offset: int | None = None
    what: str = ""
    skipped_records: int = 0

    @property
    def corrupt(self) -> bool:
        return self.offset is not None

    def describe(self) -> str:
        return f"corrupt TFRecord {self.path} at byte offset {self.offset}: {self.what}"


def _count(dataset):
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def _parse_loss(message):
    """`(offset, what)` from TensorFlow's DataLossError message, or `(None, message)`."""
    match = re.search(r"(corrupted|truncated) record at (\d+)", message)
    if not match:
        return None, message.strip()
    what = ("a truncated record (the file ends inside it)" if match.group(1) == "truncated"
            else "a corrupted record (its checksum does not match its bytes)")
    return int(match.group(2)), what


def _record_start(path, index):
    """The byte offset of record `index` (0-based) of an uncompressed file, from the
    framing of the records before it (TensorFlow names where its checksum failed:
    the start of a record's header or of its data)."""
    offset = 0
    with open(path, "rb") as f:
        for _ in range(index):
            f.seek(offset)
            offset += 16 + struct.unpack("<Q", f.read(8))[0]
    return offset


def _framed_records_from(path, offset):
    """Records whose framing is intact from `offset` on (uncompressed files), >= 1."""
    count, size = 0, os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(offset)
        while offset + 12 <= size:
            header = f.read(12)
            length_bytes, crc = header[:8], struct.unpack("<I", header[8:])[0]
            length = struct.unpack("<Q", length_bytes)[0]
            if masked_crc32c(length_bytes) != crc or offset + 16 + length > size:
                break
            count += 1
            offset += 16 + length
            f.seek(offset)
    return max(count, 1)


@functools.cache
def _scan(path, compression, size, mtime):
    del size, mtime  # the cache key: a rewritten file is scanned again
    try:
        return FileScan(path, _count(tf.data.TFRecordDataset(path, compression)))
    except tf.errors.DataLossError as error:
        offset, what = _parse_loss(error.message)
    good = _count(tf.data.TFRecordDataset(path, compression).ignore_errors())
    if compression or offset is None:  # GZIP: the offset in the uncompressed stream
        return FileScan(path, good, offset if offset is not None else -1, what, 1)
    start = _record_start(path, good)
    return FileScan(path, good, start, what, _framed_records_from(path, start))


def scan_file(path: str, compression: str = "") -> FileScan:
    """Reads a whole TFRecord file (checksums included) and says where it is damaged.

    Scans are cached per file, size and modification time.

    Args:
        path: str. A TFRecord file.
        compression: `""` or `"GZIP"`.

    Returns:
        A `FileScan`.
    """
    stat = tf.io.gfile.stat(path)
    return _scan(path, compression, stat.length, stat.mtime_nsec)


def readable_records(files, compression, source="input_file"):
    """Scans `files`; logs each damaged one; returns `{path: good records}` of those.

    The input pipeline reads a damaged file only up to its last good record.
    """
    damaged = {}
    for path in files:
        scan = scan_file(path, compression)
        if scan.corrupt:
            logging.warning("%s: skipping %s from there to the end (%d records read, "
                            "%d skipped)", source, scan.describe(), scan.good_records,
                            scan.skipped_records)
            damaged[path] = scan.good_records
    return damaged


def skip_counts(files, compression) -> dict[str, int]:
    """`{"corrupt_files": n, "skipped_records": n}` of `files` (cached scans)."""
    scans = [scan_file(path, compression) for path in files]
    return {"corrupt_files": sum(s.corrupt for s in scans),
            "skipped_records": sum(s.skipped_records for s in scans)}


def locate_data_loss(files, compression, error) -> ValueError:
    """The `CorruptTFRecordError` behind a `DataLossError` raised while reading `files`.

    TensorFlow's message gives the byte offset but not the file; this scans
    the candidates (files long enough to hold that offset) until one is
    damaged there.

    Args:
        files: the TFRecord files the failing pipeline reads.
        compression: `""` or `"GZIP"`.
        error: the `tf.errors.DataLossError`.

    Returns:
        A `CorruptTFRecordError` to raise (a plain description of TensorFlow's
        message, with the files, when no file is found damaged).
    """
    offset, what = _parse_loss(error.message)
    damaged = None
    for path in dict.fromkeys(files):
        if not compression and offset is not None and tf.io.gfile.stat(path).length <= offset:
            continue
        scan = scan_file(path, compression)
        here = offset is not None and scan.corrupt and 0 <= offset - scan.offset <= 12
        if scan.corrupt and (damaged is None or here):
            damaged = scan
            if here:
                break
    hint = "; --skip_corrupt_records reads such files up to the damage and skips the rest"
    if damaged is None:
        return CorruptTFRecordError(f"corrupt TFRecord input ({what}) in one of "
                                    f"{', '.join(files)}{hint}")
    return CorruptTFRecordError(f"{damaged.describe()} (after {damaged.good_records} good "
                                f"records){hint}")
