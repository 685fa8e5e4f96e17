"""What the fine-tuning inputs share: tokenizing many texts, packing
`[CLS] a [SEP] b [SEP]`, and turning feature arrays into a `tf.data` pipeline.

Features are built once, on the host, with `tfbert.text.BertTokenizer` run
eagerly on chunks of texts; they are kept as int32 numpy arrays `[N, seq]`
(padded with the vocab's [PAD] id, `input_mask` 0 on padding) plus
per-example values. `make_dataset` turns them into batches of int32 dicts.

Padding (`make_dataset(padding=...)`, `task.*_data.padding`):
- `"max_seq_length"`: every batch at `seq_length` (one shape: TPUs need it);
- `"batch"`: each batch cut to its longest row, rounded up to a multiple of
  `LENGTH_MULTIPLE` (16) so that a compiled step sees few shapes;
- `"bucket"`: as `"batch"`, and examples of similar length (the same multiple
  of 16) are batched together (`tf.data.Dataset.bucket_by_sequence_length`),
  so batches are little padded. Training only: it changes which
  examples share a batch (each still comes once per epoch's shuffle), never a
  result on a given batch, since padding is masked.
The SST-2 dev sentences average 25 pieces: padded to 128 a batch is 80%
padding, 32 random ones cut to their longest 55%, bucketed 23% (see
RESULTS.md for the step speed).

Example:

>>> features = {"input_word_ids": np.array([[101, 7, 102, 0], [101, 102, 0, 0]], "int32"),
...             "input_mask": np.array([[1, 1, 1, 0], [1, 1, 0, 0]], "int32"),
...             "input_type_ids": np.zeros([2, 4], "int32"),
...             "label_ids": np.array([1, 0], "int32")}
>>> batch = next(iter(make_dataset(features, batch_size=2)))
>>> batch["input_word_ids"].shape, batch["label_ids"].numpy().tolist()
(TensorShape([2, 4]), [1, 0])
"""

import time

import numpy as np
import tensorflow as tf
from absl import logging


def special_ids(tokenizer):
    """`(cls_id, sep_id, pad_id)` of a `tfbert.text.BertTokenizer`."""
    special = tokenizer.get_special_tokens_dict()
    return special["start_of_sequence_id"], special["end_of_segment_id"], special["padding_id"]


def tokenize_texts(tokenizer, texts, with_offsets=False, chunk_size=2048, what="texts"):
    """Tokenizes a list of Python strings on the host, in chunks.

    Args:
        tokenizer: a `tfbert.text.BertTokenizer`.
        texts: list of str.
        with_offsets: also return each piece's UTF-8 byte span.
        chunk_size: texts per tokenizer call.
        what: what the texts are, for the progress log.

    Returns:
        A list of int32 id arrays; with offsets, a list of `(ids, begin, end)`
        array triples (int64 byte offsets, end exclusive).
    """
    out = []
    started = last_log = time.monotonic()
    for first in range(0, len(texts), chunk_size):
        chunk = tf.constant(texts[first:first + chunk_size], tf.string)
        if with_offsets:
            ids, begin, end = tokenizer.tokenize_with_offsets(chunk)
            rows = zip(*(_rows(x) for x in (ids, begin, end)), strict=True)
        else:
            rows = _rows(tokenizer.tokenize(chunk))
        out.extend(rows)
        if time.monotonic() - last_log > 10:
            last_log = time.monotonic()
            logging.info("tokenized %d of %d %s (%.0f s)", len(out), len(texts), what,
                         last_log - started)
    return out


def _rows(ragged):
    values, splits = ragged.values.numpy(), ragged.row_splits.numpy()
    return [values[splits[i]:splits[i + 1]] for i in range(len(splits) - 1)]


def truncate_pair(tokens_a, tokens_b, max_tokens):
    """Lengths `(len_a, len_b)` after the original's pair truncation: drop the
    last piece of the longer sequence (of `b` on a tie) until both fit."""
    len_a, len_b = len(tokens_a), len(tokens_b)
    while len_a + len_b > max_tokens:
        if len_a > len_b:
            len_a -= 1
        else:
            len_b -= 1
    return len_a, len_b


class FeatureWriter:
    """Fills fixed-size `[N, seq_length]` int32 arrays row by row.

    Args:
        num_rows: N.
        seq_length: the padded length.
        pad_id: the [PAD] id for `input_word_ids`.
        extra_sequences: names of more `[N, seq]` arrays (e.g. label ids).
    """

    def __init__(self, num_rows, seq_length, pad_id, extra_sequences=()):
        self.seq_length = seq_length
        self.arrays = {"input_word_ids": np.full([num_rows, seq_length], pad_id, np.int32),
                       "input_mask": np.zeros([num_rows, seq_length], np.int32),
                       "input_type_ids": np.zeros([num_rows, seq_length], np.int32)}
        for name in extra_sequences:
            self.arrays[name] = np.zeros([num_rows, seq_length], np.int32)

    def set_row(self, row, word_ids, type_ids, **sequences):
        length = len(word_ids)
        if length > self.seq_length:
            raise ValueError(f"row {row}: {length} tokens exceed seq_length {self.seq_length}")
        self.arrays["input_word_ids"][row, :length] = word_ids
        self.arrays["input_mask"][row, :length] = 1
        self.arrays["input_type_ids"][row, :length] = type_ids
        for name, values in sequences.items():
            self.arrays[name][row, :len(values)] = values


def pack_segments(segments, cls_id, sep_id):
    """`[CLS] s1 [SEP] s2 [SEP] ...`: `(word_ids, type_ids)` int32 arrays."""
    word_ids, type_ids = [np.array([cls_id], np.int32)], [np.zeros([1], np.int32)]
    for type_id, segment in enumerate(segments):
        word_ids += [np.asarray(segment, np.int32), np.array([sep_id], np.int32)]
        type_ids.append(np.full([len(segment) + 1], type_id, np.int32))
    return np.concatenate(word_ids), np.concatenate(type_ids)


# Trimmed batches are rounded up to a multiple of this, so that a jit-compiled
# step sees at most seq_length / 16 shapes (each new shape is a new XLA program).
LENGTH_MULTIPLE = 16


PADDINGS = ("max_seq_length", "batch", "bucket")


def make_dataset(features, batch_size, shuffle=False, repeat=False, seed=None,
                 drop_remainder=False, padding="batch", shuffle_buffer=None):
    """A `tf.data.Dataset` of batches from feature arrays.

    Args:
        features: `{name: numpy array}`, all with the same first dimension N;
            int arrays `[N, seq]` (with `input_mask` among them) are the
            sequences, others are per example (labels, ids).
        batch_size: examples per batch.
        shuffle: shuffle the examples (each epoch anew).
        repeat: repeat forever (training).
        seed: shuffling seed.
        drop_remainder: drop a last, smaller batch (fixed batch size).
        padding: `"max_seq_length"`, `"batch"` or `"bucket"` (see the module doc).
        shuffle_buffer: default: all N examples.

    Returns:
        A dataset of dicts of tensors; int64 arrays become int32.
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}; got {padding!r}")
    if "input_mask" not in features:
        raise ValueError(f"features need an 'input_mask'; got {sorted(features)}")
    num = len(features["input_mask"])
    seq_length = features["input_mask"].shape[1]
    arrays = {}
    for name, array in features.items():
        array = np.asarray(array)
        if len(array) != num:
            raise ValueError(f"feature {name!r} has {len(array)} rows, input_mask has {num}")
        if array.dtype == np.int64:
            array = array.astype(np.int32)
        arrays[name] = array
    sequence_keys = [n for n, a in arrays.items() if a.ndim == 2 and a.shape[1] == seq_length]
    dataset = tf.data.Dataset.from_tensor_slices(arrays)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer or num, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    if padding == "bucket":
        # Bucket i holds lengths 16i+1 .. 16(i+1): the length its batches are cut to.
        boundaries = list(range(LENGTH_MULTIPLE + 1, seq_length + 1, LENGTH_MULTIPLE))
        dataset = dataset.bucket_by_sequence_length(
            lambda example: tf.reduce_sum(example["input_mask"]), boundaries,
            [batch_size] * (len(boundaries) + 1), no_padding=True,
            drop_remainder=drop_remainder)
    else:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if padding != "max_seq_length":
        def trim(batch):
            length = tf.reduce_max(tf.reduce_sum(batch["input_mask"], axis=1))
            length = tf.minimum(-(-length // LENGTH_MULTIPLE) * LENGTH_MULTIPLE, seq_length)
            return {name: (value[:, :length] if name in sequence_keys else value)
                    for name, value in batch.items()}
        dataset = dataset.map(trim, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
