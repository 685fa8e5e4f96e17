"""Dynamic masking (RoBERTa-style): new masks every epoch, drawn inside `tf.data`.

Static pre-training data fixes the masks when the files are written
(`dupe_factor` copies at most). Here the masks are drawn when a batch is
read, by TF ops only (no `py_function`, so the pipeline runs wherever
`tf.data` runs, feeding TPUs included), from a stateless RNG keyed by the
seed, the input pipeline and the batch's index in the (repeated) stream:
every epoch sees other masks, and a run is reproducible.

Two sources:

* `dynamic_masking_dataset`: ordinary pre-training TFRecords (the
  original's, or `tfbert_create_pretraining_data`'s, v1 or v2 names, plain
  or GZIP). Their masks are undone first (the labels go back to their
  positions), so the segments and next-sentence labels of the files are kept
  and only the masks are new.
* `text_dynamic_masking_dataset`: raw text. Lines are tokenized in-graph and
  packed into full sequences `[CLS] ... [SEP]` that run across sentences and
  documents (RoBERTa's FULL-SENTENCES; no next-sentence task:
  `next_sentence_labels` are 0, type ids 0).

The masking follows the original's rules: `num_to_predict = min(max_pred,
max(1, round(len * rate)))` with `len` counting [CLS]/[SEP], never a special
token, positions in ascending order, and per position 80% [MASK], 10% kept,
10% a random id from the whole vocab. Whole word masking is not done here.
"""

import tensorflow as tf

from tfbert.data.features import PRETRAINING_FEATURES
from tfbert.data.pretraining_dataset import expand_input_files

_UNMASKED_FEATURES = ("input_word_ids", "input_mask", "input_type_ids", "next_sentence_labels")


def mask_batch(features, seed, max_predictions_per_seq, vocab_size, mask_id,
               special_ids, masking_rate=0.15):
    """Draws new masks for a batch of unmasked sequences.

    Args:
      features: dict with int32 `input_word_ids` and `input_mask` `[batch, seq]`
        (other entries are passed through).
      seed: int32/int64 `[2]`, the stateless RNG seed of this batch.
      max_predictions_per_seq: static P, the length of the masked-LM features.
      vocab_size: random replacements are drawn from `[0, vocab_size)`.
      mask_id: id of [MASK].
      special_ids: ids never masked ([CLS], [SEP], [PAD]).
      masking_rate: fraction of the tokens ([CLS]/[SEP] counted) to predict.

    Returns:
      The features with masked `input_word_ids` and `masked_lm_positions`,
      `masked_lm_ids` (int32 `[batch, P]`), `masked_lm_weights` (float32
      `[batch, P]`).

    Example:

    >>> ids = tf.constant([[2, 7, 8, 9, 3, 0]])
    >>> out = mask_batch({"input_word_ids": ids, "input_mask": tf.cast(ids > 0, tf.int32)},
    ...                  tf.constant([1, 2]), 2, vocab_size=10, mask_id=4, special_ids=[0, 2, 3])
    >>> out["masked_lm_weights"].numpy().tolist()  # round(5 * 0.15) = 1 prediction
    [[1.0, 0.0]]
    """
    ids = features["input_word_ids"]
    input_mask = features["input_mask"]
    seq_length = tf.shape(ids)[1]
    select_seed, decide_seed, random_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 3))

    maskable = tf.cast(input_mask, tf.bool)
    for special in special_ids:
        maskable &= ids != special
    lengths = tf.reduce_sum(tf.cast(input_mask, tf.float32), axis=1)  # [batch]
    num_to_predict = tf.minimum(
        tf.cast(tf.maximum(1.0, tf.round(lengths * masking_rate)), tf.int32),
        max_predictions_per_seq)
    num_to_predict = tf.minimum(num_to_predict,
                                tf.reduce_sum(tf.cast(maskable, tf.int32), axis=1))

    # A random order of the maskable positions: top-P of uniform scores.
    scores = tf.random.stateless_uniform(tf.shape(ids), select_seed)
    scores = tf.where(maskable, scores, -1.0)
    _, order = tf.math.top_k(scores, k=max_predictions_per_seq)  # [batch, P]
    rank = tf.range(max_predictions_per_seq)[tf.newaxis, :]
    chosen = rank < num_to_predict[:, tf.newaxis]  # [batch, P]
    positions = tf.sort(tf.where(chosen, order, seq_length), axis=1)  # chosen ones first
    positions = tf.where(chosen, positions, 0)
    labels = tf.where(chosen, tf.gather(ids, positions, batch_dims=1), 0)

    # 80% [MASK], 10% kept, 10% random word.
    decide = tf.random.stateless_uniform(tf.shape(positions), decide_seed)
    random_words = tf.random.stateless_uniform(
        tf.shape(positions), random_seed, minval=0, maxval=vocab_size, dtype=tf.int32)
    replacement = tf.where(decide < 0.8, mask_id, tf.where(decide < 0.9, labels, random_words))
    batch_index = tf.broadcast_to(tf.range(tf.shape(ids)[0])[:, tf.newaxis], tf.shape(positions))
    indices = tf.boolean_mask(tf.stack([batch_index, positions], axis=-1), chosen)
    masked_ids = tf.tensor_scatter_nd_update(ids, indices, tf.boolean_mask(replacement, chosen))

    out = dict(features)
    out.update(input_word_ids=masked_ids, masked_lm_positions=positions, masked_lm_ids=labels,
               masked_lm_weights=tf.cast(chosen, tf.float32))
    return out


def unmask(features):
    """Puts the `masked_lm_ids` back at their positions: the sequences before masking."""
    ids = features["input_word_ids"]
    real = features["masked_lm_weights"] > 0
    positions = features["masked_lm_positions"]
    batch_index = tf.broadcast_to(tf.range(tf.shape(ids)[0])[:, tf.newaxis], tf.shape(positions))
    indices = tf.boolean_mask(tf.stack([batch_index, positions], axis=-1), real)
    return tf.tensor_scatter_nd_update(ids, indices,
                                       tf.boolean_mask(features["masked_lm_ids"], real))


def _per_pipeline(global_batch_size, input_context):
    """`(batch_size, num_pipelines, pipeline_id)` of this input pipeline."""
    if input_context is None:
        return global_batch_size, 1, 0
    return (input_context.get_per_replica_batch_size(global_batch_size),
            input_context.num_input_pipelines, input_context.input_pipeline_id)


def _pipeline_records(files, pipelines, pipeline_id, is_training, read, shuffle_seed=False):
    """The records one input pipeline reads: whole files of its own when there are
    at least as many files as pipelines, else every n-th record of all. `read` maps
    the dataset of file names to their records; training repeats the files, in an
    order shuffled with `shuffle_seed` unless it is False."""
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if pipelines > 1 and len(files) >= pipelines:
        dataset = dataset.shard(pipelines, pipeline_id)
        pipelines = 1
    if is_training:
        if shuffle_seed is not False:
            dataset = dataset.shuffle(len(files), seed=shuffle_seed)
        dataset = dataset.repeat()
    dataset = read(dataset)
    return dataset.shard(pipelines, pipeline_id) if pipelines > 1 else dataset


def _masked_stream(dataset, seed, pipeline_id, mask_kwargs):
    """Masks each batch with the seed `(seed, input pipeline, batch index)`."""
    base = tf.random.experimental.stateless_fold_in(
        tf.constant([seed, 0], tf.int64), pipeline_id)

    def mask(index, features):
        return mask_batch(features, tf.random.experimental.stateless_fold_in(base, index),
                          **mask_kwargs)
    return dataset.enumerate().map(mask, num_parallel_calls=tf.data.AUTOTUNE)


def dynamic_masking_dataset(input_patterns, max_seq_length, max_predictions_per_seq,
                            global_batch_size, vocab_size, mask_id, special_ids,
                            masking_rate=0.15, seed=0, is_training=True, input_context=None,
                            shuffle_buffer_size=1000, compression_type=None):
    """Batches of pre-training records with new masks every epoch.

    Args:
      input_patterns: globs or comma lists of pre-training TFRecord files.
      max_seq_length: length of the sequences in the files.
      max_predictions_per_seq: P of the output (may differ from the files').
      global_batch_size: batch over all replicas.
      vocab_size, mask_id, special_ids: see `mask_batch` (e.g. from
        `tfbert.text.special_tokens_dict`).
      masking_rate: fraction of tokens to predict.
      seed: seed of the masks (and of the shuffle).
      is_training: repeat and shuffle.
      input_context: a `tf.distribute.InputContext`: each pipeline reads its
        own files (or every n-th record) and batches its share.
      shuffle_buffer_size: records in the shuffle buffer.
      compression_type: None (guess from the ".gz" suffix), "", or "GZIP".

    Returns:
      A `tf.data.Dataset` of the model's features (int32, static shapes),
      as `tfbert.data.pretraining_dataset` gives.

    Example:

    >>> ds = dynamic_masking_dataset("data/*.tfrecord", 128, 20, 32, vocab_size=30522,
    ...                              mask_id=103, special_ids=[0, 101, 102])  # doctest: +SKIP
    """
    files = expand_input_files(input_patterns)
    if compression_type is None:
        compression_type = "GZIP" if files[0].endswith(".gz") else ""
    first = next(iter(tf.data.TFRecordDataset(files[0], compression_type).take(1)), None)
    if first is None:
        raise ValueError(f"{files[0]}: the file contains no records")
    use_v2 = "input_word_ids" in tf.train.Example.FromString(first.numpy()).features.feature
    names = {v1: v2 if use_v2 else v1 for v1, v2, _, _ in PRETRAINING_FEATURES}
    spec = {}  # the masked-LM features of any length (they are only undone)
    for v1, _, dtype, length in PRETRAINING_FEATURES:
        dtype = tf.as_dtype(dtype)
        spec[names[v1]] = (tf.io.VarLenFeature(dtype) if length == "pred" else
                           tf.io.FixedLenFeature([max_seq_length if length == "seq" else length],
                                                 dtype))
    batch_size, pipelines, pipeline_id = _per_pipeline(global_batch_size, input_context)

    dataset = _pipeline_records(files, pipelines, pipeline_id, is_training, lambda f: f.interleave(
        lambda name: tf.data.TFRecordDataset(name, compression_type),
        cycle_length=min(4, len(files)), num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=not is_training), shuffle_seed=seed)
    if is_training:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed)
    dataset = dataset.batch(batch_size, drop_remainder=True)

    def parse(records):
        parsed = tf.io.parse_example(records, spec)
        features = {}
        for v1, v2, _, _ in PRETRAINING_FEATURES:
            value = parsed[names[v1]]
            if isinstance(value, tf.SparseTensor):
                value = tf.sparse.to_dense(value)
            features[v2] = tf.cast(value, tf.int32) if value.dtype == tf.int64 else value
        features["input_word_ids"] = unmask(features)
        features["next_sentence_labels"] = features["next_sentence_labels"][:, 0]
        return {name: features[name] for name in _UNMASKED_FEATURES}

    dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = _masked_stream(dataset, seed, pipeline_id, dict(
        max_predictions_per_seq=max_predictions_per_seq, vocab_size=vocab_size,
        mask_id=mask_id, special_ids=special_ids, masking_rate=masking_rate))
    return dataset.prefetch(tf.data.AUTOTUNE)


def text_dynamic_masking_dataset(input_patterns, tokenizer, max_seq_length,
                                 max_predictions_per_seq, global_batch_size, masking_rate=0.15,
                                 seed=0, is_training=True, input_context=None,
                                 shuffle_buffer_size=1000, lines_per_batch=256):
    """Batches of packed raw text with new masks every epoch, all in `tf.data`.

    Non-blank lines are tokenized in-graph, their word pieces concatenated
    and cut into `[CLS] <max_seq_length - 2 pieces> [SEP]` sequences (the
    remainder at the end of the input is dropped). There is no second
    segment: `input_type_ids` and `next_sentence_labels` are 0.

    Args:
      input_patterns: globs or comma lists of text files.
      tokenizer: a `tfbert.text.BertTokenizer`.
      max_seq_length, max_predictions_per_seq, global_batch_size, masking_rate,
        seed, is_training, input_context, shuffle_buffer_size: as in
        `dynamic_masking_dataset`.
      lines_per_batch: lines tokenized per call.

    Returns:
      A `tf.data.Dataset` of the model's features (int32, static shapes).

    Example:

    >>> from tfbert.text import BertTokenizer
    >>> ds = text_dynamic_masking_dataset("corpus/*.txt", BertTokenizer("vocab.txt"),
    ...                                   128, 20, global_batch_size=32)  # doctest: +SKIP
    """
    files = expand_input_files(input_patterns)
    special = tokenizer.get_special_tokens_dict()
    cls_id, sep_id = special["start_of_sequence_id"], special["end_of_segment_id"]
    batch_size, pipelines, pipeline_id = _per_pipeline(global_batch_size, input_context)

    dataset = _pipeline_records(files, pipelines, pipeline_id, is_training,
                                lambda f: f.flat_map(tf.data.TextLineDataset))
    dataset = dataset.filter(lambda line: tf.strings.length(tf.strings.strip(line)) > 0)
    dataset = dataset.batch(lines_per_batch)
    dataset = dataset.map(lambda lines: tokenizer.tokenize(lines).flat_values,
                          num_parallel_calls=tf.data.AUTOTUNE)
    body = max_seq_length - 2
    dataset = dataset.rebatch(body, drop_remainder=True)  # [seq - 2] word pieces

    def pack(pieces):
        ids = tf.concat([[cls_id], tf.cast(pieces, tf.int32), [sep_id]], axis=0)
        ids = tf.ensure_shape(ids, [max_seq_length])
        zeros = tf.zeros([max_seq_length], tf.int32)
        return {"input_word_ids": ids, "input_mask": tf.ones_like(ids), "input_type_ids": zeros,
                "next_sentence_labels": tf.constant(0, tf.int32)}

    dataset = dataset.map(pack, num_parallel_calls=tf.data.AUTOTUNE)
    if is_training:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    dataset = _masked_stream(dataset, seed, pipeline_id, dict(
        max_predictions_per_seq=max_predictions_per_seq, vocab_size=special["vocab_size"],
        mask_id=special["mask_id"], special_ids=[cls_id, sep_id, special["padding_id"]],
        masking_rate=masking_rate))
    return dataset.prefetch(tf.data.AUTOTUNE)
