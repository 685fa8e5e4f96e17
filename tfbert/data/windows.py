"""Windows over a text longer than one model input, and the window that scores each piece.

A text of more word pieces than a model input holds is read as overlapping
windows, as the original `run_squad.py` reads a long context: a window holds
up to `max_pieces` pieces, the next one starts `doc_stride` pieces later
(never leaving a gap), and the last is the first to reach the end. A piece
seen by several windows is scored in the one where it has the most context:
`min(pieces left of it, pieces right of it) + 0.01 * the window's length`,
the first such window on ties (the original's `_check_is_max_context`).

SQuAD contexts, long texts to classify and long texts to tag all use this
one rule, in two forms kept side by side so that they cannot drift apart:

- `window_spans` and `max_context_windows`: numpy, for the features built on
  the host (`tfbert.data.squad`, `tfbert.data.classification`,
  `tfbert.data.conll`);
- `sliding_windows` and `max_context`: TensorFlow ops for a batch of texts at
  once, for the exports, which window inside the graph
  (`tfbert.serving.question_answering`, `tfbert.serving.classification`,
  `tfbert.serving.tagging`). `tests/data/test_windows.py` checks that both
  forms agree.

Example:

>>> spans = window_spans(10, max_pieces=4, doc_stride=2)
>>> spans
[(0, 4), (2, 4), (4, 4), (6, 4)]
>>> max_context_windows(spans, 10).tolist()
[0, 0, 0, 1, 1, 2, 2, 3, 3, 3]
"""

import numpy as np
import tensorflow as tf


def window_spans(num_pieces: int, max_pieces: int, doc_stride: int) -> list[tuple[int, int]]:
    """`[(start, length)]` of the windows over `num_pieces` pieces.

    A window holds up to `max_pieces` pieces; the next starts
    `min(max_pieces, doc_stride)` pieces later; the last is the first to reach
    the end. No pieces: one empty window.

    Args:
        num_pieces: the text's number of pieces.
        max_pieces: pieces a window holds (at least 1).
        doc_stride: how far windows advance (at least 1).
    """
    spans, start = [], 0
    while True:
        length = min(num_pieces - start, max_pieces)
        spans.append((start, length))
        if start + length >= num_pieces:
            return spans
        start += min(length, doc_stride)


def max_context_windows(spans, num_pieces: int) -> np.ndarray:
    """For each piece, the window (index into `spans`) where it has the most context.

    The score of a piece in a window is `min(left, right) + 0.01 * length`
    (float64), the first window on ties.

    Args:
        spans: `[(start, length)]` of `window_spans`.
        num_pieces: the text's number of pieces.

    Returns:
        int64 `[num_pieces]`.
    """
    best_score = np.full(num_pieces, -np.inf)
    best_span = np.zeros(num_pieces, np.int64)
    for index, (start, length) in enumerate(spans):
        positions = np.arange(start, start + length)
        score = np.minimum(positions - start, start + length - 1 - positions) + 0.01 * length
        better = score > best_score[positions]
        best_score[positions[better]] = score[better]
        best_span[positions[better]] = index
    return best_span


def sliding_windows(num_pieces, max_doc, doc_stride, max_windows=None):
    """`window_spans` of a batch of texts, in the graph.

    Args:
        num_pieces: int64 `[batch]`, each text's number of pieces.
        max_doc: int64 `[batch]` (at least 1), pieces a window holds.
        doc_stride: int, how far windows advance (at least 1).
        max_windows: int, keep at most this many windows per text; None: all.

    Returns:
        `(start, length)`: int64 RaggedTensors `[batch, (windows)]`, the
        first piece and the number of pieces of each window.

    Example:

    >>> start, length = sliding_windows(tf.constant([10, 3, 0], tf.int64),
    ...                                 tf.constant([4, 4, 4], tf.int64), doc_stride=3)
    >>> start.to_list(), length.to_list()
    ([[0, 3, 6], [0], [0]], [[4, 4, 4], [3], [0]])
    """
    num_pieces = tf.cast(num_pieces, tf.int64)
    max_doc = tf.cast(max_doc, tf.int64)
    step = tf.minimum(max_doc, doc_stride)
    later = tf.maximum(num_pieces - max_doc + step - 1, 0) // step   # windows after the first
    count = 1 + later if max_windows is None else tf.minimum(1 + later, max_windows)
    windows = tf.ragged.range(count)                                 # [batch, (windows)]
    rows = windows.value_rowids()
    start = windows.values * tf.gather(step, rows)
    length = tf.minimum(tf.gather(num_pieces, rows) - start, tf.gather(max_doc, rows))
    return windows.with_flat_values(start), windows.with_flat_values(length)


def window_pieces(row_starts, start, length, example=None):
    """The flat piece indices each window holds: int64 RaggedTensor `[windows, (length)]`.

    Args:
        row_starts: int64 `[batch]`, where each text's pieces begin in the flat
            pieces of the batch (`RaggedTensor.row_starts()`).
        start, length: `sliding_windows`' RaggedTensors `[batch, (windows)]`.
        example: int64 `[windows]`, the text of each window
            (`start.value_rowids()`, computed here when not given).

    Example:

    >>> start, length = sliding_windows(tf.constant([5, 2], tf.int64),
    ...                                 tf.constant([3, 3], tf.int64), doc_stride=2)
    >>> window_pieces(tf.constant([0, 5], tf.int64), start, length).to_list()
    [[0, 1, 2], [2, 3, 4], [5, 6]]
    """
    example = start.value_rowids() if example is None else example
    first = tf.gather(row_starts, example) + start.values
    return tf.ragged.range(first, first + length.values)


def max_context(pieces, num_pieces):
    """Which window scores each piece: `max_context_windows` in the graph.

    Args:
        pieces: int64 RaggedTensor `[windows, (pieces)]`: the piece indices
            of each window, consecutive; the windows of one text in order,
            and no index shared by two texts.
        num_pieces: int64 scalar, more than any piece index.

    Returns:
        bool RaggedTensor like `pieces`: true where the piece is scored
        (exactly one window per piece).

    Example:

    >>> windows = tf.ragged.range(tf.constant([0, 2], tf.int64), tf.constant([4, 6], tf.int64))
    >>> max_context(windows, 6).to_list()
    [[True, True, True, False], [False, True, True, True]]
    """
    window = pieces.value_rowids()
    length = tf.gather(pieces.row_lengths(), window)
    left = pieces.values - tf.gather(pieces.values, tf.gather(pieces.row_starts(), window))
    score = (tf.cast(tf.minimum(left, length - 1 - left), tf.float64)
             + 0.01 * tf.cast(length, tf.float64))
    best = tf.math.unsorted_segment_max(score, pieces.values, num_pieces)
    first = tf.math.unsorted_segment_min(
        tf.where(score == tf.gather(best, pieces.values), window, pieces.nrows()),
        pieces.values, num_pieces)
    return pieces.with_flat_values(tf.gather(first, pieces.values) == window)
