"""Documents, their keys, shards and seeds: the part of the Beam path that decides records.

A document's key is a keyed hash (BLAKE2b, 16 bytes) of `--random_seed` and
its text. It depends on nothing else: not on which worker read the
document, nor on how the runner split the input. From the key:

- the shard: the key's first 8 bytes, big-endian, modulo the shard count
  (a seeded hash is a global shuffle: documents of one file spread over
  all shards, and a new seed spreads them differently);
- the canonical order inside a shard: by key, then text;
- duplicates: equal texts have equal keys, so they meet in one shard, side
  by side, where `--dedup_documents` keeps the first.

Each shard then runs exactly the one-machine program with `--num_workers=1`
on its documents (in canonical order) and its own seed, `shard_seed`: an
int, so that `tfbert_create_pretraining_data --num_workers=1
--random_seed=<shard_seed>` on `shard_corpus_text(...)` writes the same
bytes. A file's end ends a document here (files are read in parallel); the
one-machine path lets a document run on into the next file, as the
original does.

Example:

>>> docs = split_documents(["a b.", "c d.", "", "", "e f."])
>>> docs
['a b.\\nc d.', 'e f.']
>>> key = document_key(12345, docs[0])
>>> len(key), 0 <= shard_of(key, 8) < 8
(16, True)
>>> shard_seed(12345, 0, 8) == shard_seed(12345, 0, 8) != shard_seed(12345, 1, 8)
True
>>> shard_corpus_text(docs)
'a b.\\nc d.\\n\\ne f.\\n'
"""

import hashlib

from tfbert.data import text_files


def split_documents(lines):
    """Documents (str, sentences joined by "\\n") of stripped lines; blank lines end them."""
    documents, current = [], []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            documents.append("\n".join(current))
            current = []
    if current:
        documents.append("\n".join(current))
    return documents


def read_bytes(path):
    import tensorflow as tf  # only where files are read: the doctests above need no TF

    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


def document_spans(data, path):
    """The documents of a corpus file's bytes, as the one-machine program splits them, each
    with the byte range it comes from.

    A document is a run of lines that are not blank after `str.strip()`; its text is those
    lines stripped and joined by "\n". Its range `[start, end)` holds exactly those lines,
    so `span_text(data[start:end])` is the text again (a UTF-8 "\n" is never part of
    another character, so the lines of the bytes are the lines of the text).

    Returns:
      `[(start, end, text)]`.

    Raises:
      ValueError: the file is binary (a NUL byte: text corpora have none),
        or not UTF-8 (naming the line).
    """
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ValueError(f"{path}, line {line}: a NUL byte at offset {nul}: a binary file, "
                         "not a text corpus (one sentence per line)")
    spans, lines, start, offset = [], [], 0, 0
    raw_lines = data.split(b"\n")
    if raw_lines[-1] == b"":
        raw_lines.pop()
    for raw in raw_lines:
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            text_files.decode_utf8(data, path)  # raises, naming the line and offset
            raise
        if line:
            if not lines:
                start = offset
            lines.append(line)
            end = offset + len(raw)
        elif lines:
            spans.append((start, end, "\n".join(lines)))
            lines = []
        offset += len(raw) + 1
    if lines:
        spans.append((start, end, "\n".join(lines)))
    return spans


def span_text(data):
    """The document text of the bytes of one span (see `document_spans`)."""
    return "\n".join(line.strip() for line in data.decode("utf-8").split("\n"))


def read_file_documents(path):
    """The documents of one corpus file, split into lines as the one-machine program does.

    Returns:
      `(documents, num_bytes)`.

    Raises:
      ValueError: see `document_spans`.
    """
    data = read_bytes(path)
    return [text for _, _, text in document_spans(data, path)], len(data)


def read_spans(path, spans):
    """The texts of `[(start, end)]` byte ranges of one file, in the given order, each read
    on its own (a shard holds a few documents of every file: the file is not read whole)."""
    import tensorflow as tf

    texts = {}
    with tf.io.gfile.GFile(path, "rb") as f:
        for start, end in sorted(set(spans)):
            f.seek(start)
            data = f.read(end - start)
            if len(data) != end - start:
                raise ValueError(f"{path} is shorter than when it was read (bytes {start}-"
                                 f"{end}): a corpus file changed while the pipeline ran")
            texts[start, end] = span_text(data)
    return [texts[span] for span in spans]


def document_key(random_seed, text):
    """16 bytes: BLAKE2b of the document's text, keyed by the seed."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16,
                           key=str(random_seed).encode("utf-8")[:64]).digest()


def shard_of(key, num_shards):
    """The shard of a document key."""
    return int.from_bytes(key[:8], "big") % num_shards


def shard_seed(random_seed, shard_index, num_shards):
    """The `--random_seed` of one shard: a 62-bit int of the flags and the shard."""
    digest = hashlib.blake2b(f"tfbert-beam:{random_seed}:{shard_index}/{num_shards}".encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 2


def canonical_order(keyed_documents, dedup=False):
    """`(key, text)` pairs in the shard's order; with `dedup`, one of each text.

    Returns:
      `(texts, num_duplicates)`: the documents, and how many equal texts
      were dropped (0 without `dedup`).
    """
    ordered = sorted(keyed_documents)
    if not dedup:
        return [text for _, text in ordered], 0
    texts, previous = [], None
    for key, text in ordered:
        if (key, text) != previous:
            texts.append(text)
        previous = (key, text)
    return texts, len(ordered) - len(texts)


def shard_corpus_text(texts):
    """The corpus file of a shard's documents: what the one-machine program reads."""
    return "".join(text + "\n\n" for text in texts)[:-1] if texts else ""
