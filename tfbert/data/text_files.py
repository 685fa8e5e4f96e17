"""Reading the text and JSON of input files, failing with the file and line.

Every reader of `tfbert.data` takes its text from here, so that a file that is
not UTF-8, or JSON that is malformed or nested deeper than Python's parser
recurses, is a `ValueError` naming the file and line, never a bare
`UnicodeDecodeError` or `RecursionError` from the middle of a reader.

Example:

>>> decode_utf8(b"ok\\nbad \\xff\\n", "corpus.txt")
Traceback (most recent call last):
...
ValueError: corpus.txt, line 2: not valid UTF-8 (byte 0xff at offset 7); the file must be UTF-8 text
>>> loads_json('{"a": [1, 2]}', "dev.json")
{'a': [1, 2]}
"""

import json

import tensorflow as tf


def decode_utf8(data, path):
    """`data` (bytes) as text; invalid UTF-8 is a ValueError naming its line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(
            f"{path}, line {line}: not valid UTF-8 (byte {data[e.start]:#04x} at offset "
            f"{e.start}); the file must be UTF-8 text") from None


def read_text(path, strip_bom=True):
    """The whole of a UTF-8 file (local or any `tf.io.gfile` path) as a str.

    Args:
        path: the file.
        strip_bom: drop a leading byte-order mark (GLUE's MRPC has one).
    """
    with tf.io.gfile.GFile(path, "rb") as f:
        data = f.read()
    if strip_bom and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return decode_utf8(data, path)


def loads_json(text, where):
    """`json.loads(text)`; malformed or too deeply nested JSON is a ValueError
    that starts with `where` (a file name, or `file:line`)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON (line {e.lineno}: {e.msg})") from None
    except RecursionError:
        raise ValueError(f"{where}: JSON nested too deeply to read") from None
