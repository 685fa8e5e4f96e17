"""Real pre-training TFRecords for the training tests.

`write_records` writes `tf.train.Example`s with the original feature names
(or the v2 names) from a seeded RNG, for the mechanics of the loop (same
math on every strategy, resuming, bad input). Learning is tested on records
made from real text with `tfbert.data.create_pretraining_data`.
"""

import pathlib

import numpy as np
import tensorflow as tf

from tests.helpers import TINY


def _int64(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _float(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def make_example(rng, seq_length, max_predictions, vocab_size, use_v2=False, drop=(),
                 lengths=None):
    """One serialized record; `drop` leaves features out, `lengths` changes their lengths."""
    length = int(rng.integers(seq_length // 2, seq_length + 1))
    ids = np.zeros(seq_length, np.int64)
    ids[:length] = rng.integers(5, vocab_size, size=length)
    ids[0], ids[length - 1] = 1, 2
    mask = (np.arange(seq_length) < length).astype(np.int64)
    segments = np.zeros(seq_length, np.int64)
    segments[length // 2:length] = 1
    num_predictions = int(rng.integers(1, max_predictions + 1))
    positions = np.sort(rng.choice(np.arange(1, length - 1), size=min(num_predictions, length - 2),
                                   replace=False))
    labels = np.zeros(max_predictions, np.int64)
    padded_positions = np.zeros(max_predictions, np.int64)
    weights = np.zeros(max_predictions, np.float32)
    for i, position in enumerate(positions):
        labels[i] = ids[position]
        ids[position] = 3  # [MASK]
        padded_positions[i] = position
        weights[i] = 1.0
    next_label = int(rng.integers(0, 2))
    values = {"input_ids": ids, "input_mask": mask, "segment_ids": segments,
              "masked_lm_positions": padded_positions, "masked_lm_ids": labels,
              "masked_lm_weights": weights, "next_sentence_labels": [next_label]}
    features = {}
    for name, value in values.items():
        if name in drop:
            continue
        if lengths and name in lengths:
            value = np.resize(value, lengths[name])
        key = {"input_ids": "input_word_ids", "segment_ids": "input_type_ids"}.get(name, name) \
            if use_v2 else name
        features[key] = _float(value) if name == "masked_lm_weights" else _int64(value)
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def write_records(path, num_records=64, seq_length=16, max_predictions=4, vocab_size=120,
                  seed=0, **kwargs):
    """Writes `num_records` random records to the TFRecord file `path`; returns `path`."""
    rng = np.random.default_rng(seed)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for _ in range(num_records):
            writer.write(make_example(rng, seq_length, max_predictions, vocab_size, **kwargs))
    return str(path)


def wikitext_records(shared_data, vocab_file, output_path, max_seq_length=128,
                     max_predictions_per_seq=20, dupe_factor=1, seed=12345):
    """Pre-training records from WikiText-2 (valid), made by `tfbert.data.create_pretraining_data`.

    Returns:
        `(path, number of records)`.
    """
    from tfbert.data import create_pretraining_data as cpd
    from tfbert.data import pretraining_corpus
    from tfbert.data.pretraining_instances import PretrainingDataOptions
    from tfbert.text.tokenizer import BertTokenizer
    from tfbert.text.vocab import load_vocab

    options = PretrainingDataOptions(
        max_seq_length=max_seq_length, max_predictions_per_seq=max_predictions_per_seq,
        dupe_factor=dupe_factor, random_seed=seed, num_workers=1)
    vocab = load_vocab(vocab_file)
    tokenize = pretraining_corpus.batch_tokenizer(BertTokenizer(vocabulary=vocab))
    stats = cpd.create_pretraining_data(
        [str(shared_data / "text" / "wikitext2_valid_pretrain_format.txt")], [str(output_path)],
        vocab, tokenize, options)
    return str(output_path), stats.instances


def write_with_tfbert(path, records):
    """Writes serialized records with tfbert's own writer; returns `path` as a str."""
    from tfbert.data.record_files import RecordFilesWriter

    with RecordFilesWriter([str(path)]) as writer:
        for record in records:
            writer.write(record)
    return str(path)


def nan_weight_records(num_good, num_nan, seed=0, **kwargs):
    """`num_good` records, then `num_nan` whose first `masked_lm_weights` is NaN: a
    masked-LM loss over them is NaN, as with real data gone bad."""
    rng = np.random.default_rng(seed)
    records = [make_example(rng, 16, 4, 120, **kwargs) for _ in range(num_good + num_nan)]
    for i in range(num_good, len(records)):
        example = tf.train.Example.FromString(records[i])
        example.features.feature["masked_lm_weights"].float_list.value[0] = float("nan")
        records[i] = example.SerializeToString()
    return records


def record_offsets(path):
    """The byte offset of each record of an uncompressed TFRecord file."""
    data, offsets, offset = pathlib.Path(path).read_bytes(), [], 0
    while offset < len(data):
        offsets.append(offset)
        offset += 16 + int.from_bytes(data[offset:offset + 8], "little")
    return offsets


def flip_byte(path, offset):
    """Flips the bits of one byte of a file (a checksum will not match)."""
    data = bytearray(pathlib.Path(path).read_bytes())
    data[offset] ^= 0xFF
    pathlib.Path(path).write_bytes(bytes(data))


NO_DROPOUT = {**TINY, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}


def tiny_pretraining_values(path, **changes):
    """`set_values` overrides of a tiny, dropout-free, unshuffled pre-training run on the
    records at `path` (seq 16, 4 predictions, batch 8, lr 1e-3, seed 3), plus `changes`."""
    return {
        "task.model": "bert_tiny_uncased", "task.model_overrides": NO_DROPOUT,
        "task.train_data.input_path": path, "task.validation_data.input_path": path,
        "task.train_data.max_seq_length": 16, "task.train_data.max_predictions_per_seq": 4,
        "task.validation_data.max_seq_length": 16,
        "task.validation_data.max_predictions_per_seq": 4,
        "task.train_data.global_batch_size": 8, "task.train_data.shuffle": False,
        "trainer.optimizer.learning_rate": 1e-3, "trainer.optimizer.warmup_steps": 1,
        "runtime.seed": 3, **changes}
