"""Reading a pre-training corpus into documents of word-piece ids.

The corpus format of the original `create_pretraining_data.py`: one sentence
per line, a blank line (after `str.strip()`) between documents. As in the
original, a document may continue from one input file into the next, lines
without any word piece are dropped, and empty documents are removed.

Lines are tokenized in large batches by an in-graph tokenizer (any function
from a list of strings to `(flat_ids, row_lengths)`, see `batch_tokenizer`). A
document is stored compactly as one int32 array of ids plus the offsets where
its sentences start: 4 bytes per word piece instead of a Python string.
"""

import time

import numpy as np
import tensorflow as tf
from absl import logging

from tfbert.data import text_files
from tfbert.data.document import Document

TOKENIZE_BATCH_LINES = 4096


def read_lines(path):
    """The lines of a UTF-8 file, `str.strip()`ped, as the original reads them.

    Lines end at "\\n" only (like `GFile.readline`); a final "\\n" does not
    start another line.

    Raises:
      ValueError: naming the file and line of invalid UTF-8.
    """
    # The original reads the corpus with its byte-order mark, if any, as text.
    return split_lines(text_files.read_text(path, strip_bom=False))


def split_lines(text):
    """`read_lines` of a file's text (already decoded)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.strip() for line in lines]


def batch_tokenizer(tokenizer):
    """Wraps an in-graph tokenizer (strings -> RaggedTensor of ids) as `list[str] -> ids`.

    Returns:
      A function from a list of strings to `(flat_ids, row_lengths)` numpy
      arrays. It runs eagerly: wrapping it in a `tf.function` saves little
      per batch and costs seconds of tracing.
    """
    def tokenize(lines):
        ragged = tokenizer.tokenize(tf.constant(lines, tf.string))
        return (ragged.flat_values.numpy().astype(np.int32, copy=False),
                ragged.row_lengths().numpy())
    return tokenize


def read_documents(input_files, tokenize, batch_lines=TOKENIZE_BATCH_LINES,
                   progress_seconds=10.0):
    """Reads and tokenizes the corpus into documents, in the original's order.

    Args:
      input_files: list of paths, read in this order.
      tokenize: function from a list of strings to `(flat_ids, row_lengths)`,
        e.g. `batch_tokenizer(BertTokenizer(vocab_file))`.
      batch_lines: lines per call of `tokenize`.
      progress_seconds: log progress at most this often.

    Returns:
      `(documents, num_lines)`: the non-empty `Document`s, and the number of
      lines read.
    """
    return documents_from_lines(((path, read_lines(path)) for path in input_files), tokenize,
                                batch_lines, progress_seconds)


def documents_from_lines(sources, tokenize, batch_lines=TOKENIZE_BATCH_LINES,
                         progress_seconds=10.0):
    """`read_documents` on lines already read: `sources` yields `(name, lines)`.

    The Beam path (`tfbert.data.beam`) builds a shard's lines in memory and
    reads them here, so that its documents are exactly those the one-machine
    program reads from a file of the same lines.
    """
    documents = []
    current_ids, current_starts = [], [0]  # the document being read
    num_lines, last_log, start_time = 0, time.time(), time.time()

    def end_document():
        nonlocal current_ids, current_starts
        if len(current_starts) > 1:
            ids = np.concatenate(current_ids) if current_ids else np.zeros(0, np.int32)
            documents.append(Document(ids, current_starts))
        current_ids, current_starts = [], [0]

    for path, lines in sources:
        if not any(lines):
            logging.warning("%s has no text", path)
        for begin in range(0, len(lines), batch_lines):
            batch = lines[begin:begin + batch_lines]
            texts = [line for line in batch if line]
            flat, lengths = tokenize(texts) if texts else (np.zeros(0, np.int32), [])
            lengths = iter(np.asarray(lengths).tolist())
            offset = 0
            for line in batch:
                if not line:  # a blank line ends the document
                    end_document()
                    continue
                length = next(lengths)
                if length:
                    current_ids.append(flat[offset:offset + length])
                    current_starts.append(current_starts[-1] + length)
                offset += length
            num_lines += len(batch)
            if time.time() - last_log > progress_seconds:
                last_log = time.time()
                logging.info("read %d lines, %d documents (%.0f lines/s)", num_lines,
                             len(documents), num_lines / (last_log - start_time))
    end_document()
    return documents, num_lines
