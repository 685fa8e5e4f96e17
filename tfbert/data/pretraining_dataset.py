"""Reading pre-training TFRecords: a `tf.data` pipeline with static shapes and int32 features.

The records are those of the original `create_pretraining_data.py` (v1 names
`input_ids`, `segment_ids`, ...) or of Model Garden's `--use_v2_feature_names`
(`input_word_ids`, `input_type_ids`); both are read. Batches come out with the
model's names: `input_word_ids`, `input_mask`, `input_type_ids`,
`masked_lm_positions`, `masked_lm_ids`, `masked_lm_weights` (float32) and
`next_sentence_labels` (`[batch]`), every integer feature as int32 (TPUs
take no int64) and every shape static (`drop_remainder=True`).

Files are checked before any training starts: an empty glob, a file without
records, a missing feature or a feature of the wrong length or type is a
`ValueError` that says which file, feature and length. A file damaged
further in (a corrupt or truncated record) stops the run with an error
naming it and the byte offset, or with `skip_corrupt_records` is read up to
the damage (`tfbert.data.tfrecord_faults`).
"""

import tensorflow as tf

from tfbert.data.features import PRETRAINING_FEATURES, pretraining_feature_spec
from tfbert.data.tfrecord_faults import locate_data_loss, readable_records, skip_counts

# Records read per file by `check_pretraining_files` (the first ones).
_RECORDS_CHECKED = 1


def expand_input_files(input_patterns, source="input_file"):
    """The sorted files that a glob, a comma list of globs or a list of them names.

    Args:
        input_patterns: str (`"a/*.tfrecord,b.tfrecord"`) or a list of str.
        source: str. What the patterns came from (a flag or config key),
            named in errors.

    Returns:
        list of str: every matching file, sorted within each pattern.

    Raises:
        ValueError: no pattern given, or a pattern matches no file.
    """
    if isinstance(input_patterns, str):
        input_patterns = [input_patterns]
    patterns = [p.strip() for item in input_patterns for p in str(item).split(",") if p.strip()]
    if not patterns:
        raise ValueError(f"{source}: no input files given")
    files = []
    for pattern in patterns:
        matched = sorted(tf.io.gfile.glob(pattern))
        if not matched:
            raise ValueError(f"{source}: no files match {pattern!r}")
        files.extend(matched)
    return files


def compression_type(path):
    """`"GZIP"` for a gzip-compressed TFRecord file (MG's `--gzip_compress`), else `""`."""
    with tf.io.gfile.GFile(path, "rb") as f:
        return "GZIP" if f.read(2) == b"\x1f\x8b" else ""


def _feature_kind(feature):
    """`(kind, length)` of a `tf.train.Feature`: kind is int64, float or bytes."""
    kind = feature.WhichOneof("kind")
    values = getattr(feature, kind).value if kind else []
    return {"int64_list": "int64", "float_list": "float", "bytes_list": "bytes"}.get(kind), len(
        values)


def check_pretraining_files(files, max_seq_length, max_predictions_per_seq):
    """Checks that the records hold the pre-training features with the right lengths.

    Reads the first record of every file (a cheap check before the run, not
    a full scan).

    Args:
        files: list of TFRecord paths (see `expand_input_files`).
        max_seq_length: int. Expected length of the sequence features.
        max_predictions_per_seq: int. Expected length of the masked-LM features.

    Returns:
        `(use_v2, compression)`: True for v2 feature names (`input_word_ids`),
        and the files' compression (`"GZIP"` or `""`).

    Raises:
        ValueError: a file has no records, lacks features, has a feature of
            another type or length, or mixes v1 and v2 names; the message
            names the file and the feature.
    """
    use_v2, compression = None, None
    for path in files:
        file_compression = compression_type(path)
        if compression is None:
            compression = file_compression
        elif compression != file_compression:
            raise ValueError(f"{path}: is {'gzip-compressed' if file_compression else 'plain'}, "
                             f"but {files[0]} is {'gzip-compressed' if compression else 'plain'}")
        try:
            records = list(tf.data.TFRecordDataset(path, file_compression).take(
                _RECORDS_CHECKED))
        except tf.errors.OpError as error:
            raise ValueError(f"{path}: not a readable TFRecord file ({error.message})") from None
        if not records:
            raise ValueError(f"{path}: the file contains no records")
        try:
            example = tf.train.Example.FromString(records[0].numpy())
        except Exception:  # protobuf's DecodeError
            raise ValueError(f"{path}: the records are not tf.train.Example protos") from None
        present = example.features.feature
        file_v2 = "input_word_ids" in present
        if use_v2 is None:
            use_v2 = file_v2
        elif use_v2 != file_v2:
            raise ValueError(f"{path}: uses {'v2' if file_v2 else 'v1'} feature names, but "
                             f"{files[0]} uses {'v2' if use_v2 else 'v1'} names")
        spec = pretraining_feature_spec(max_seq_length, max_predictions_per_seq, file_v2)
        missing = [name for name in spec if name not in present]
        if missing:
            raise ValueError(
                f"{path}: records lack the pre-training feature(s) {', '.join(missing)}; "
                f"found {', '.join(sorted(present)) or 'none'} (expected the features of "
                f"create_pretraining_data: {', '.join(spec)})")
        for (_, _, _, length_kind), (name, fixed) in zip(PRETRAINING_FEATURES, spec.items(),
                                                          strict=True):
            kind, length = _feature_kind(present[name])
            expected_kind = "float" if fixed.dtype == tf.float32 else "int64"
            if kind != expected_kind:
                raise ValueError(f"{path}: feature {name} holds {kind} values, expected "
                                 f"{expected_kind}")
            if length != fixed.shape[0]:
                flag = {"seq": "max_seq_length", "pred": "max_predictions_per_seq"}.get(
                    length_kind)
                hint = (f"; the data was made with {flag}={length}, but {flag} is "
                        f"{fixed.shape[0]}" if flag else "")
                raise ValueError(f"{path}: feature {name} has {length} values, expected "
                                 f"{fixed.shape[0]}{hint}")
    return bool(use_v2), compression


def explain_data_loss(input_patterns, error, source="input_file"):
    """The `CorruptTFRecordError` (a ValueError naming the file and byte offset) behind
    a `tf.errors.DataLossError` that reading `input_patterns` raised."""
    files = expand_input_files(input_patterns, source)
    return locate_data_loss(files, compression_type(files[0]), error)


def skipped_record_counts(input_patterns, source="input_file"):
    """`{"data/corrupt_files": n, "data/skipped_records": n}` of the files that
    `skip_corrupt_records` reads only up to their damage (scans are cached)."""
    files = expand_input_files(input_patterns, source)
    return {f"data/{k}": v for k, v in skip_counts(files, compression_type(files[0])).items()}


def _to_model_features(record, use_v2):
    """Renames to the model's input names, casts int64 to int32, flattens the label."""
    features = {}
    for v1, v2, _, _ in PRETRAINING_FEATURES:
        value = record[v2 if use_v2 else v1]
        if value.dtype == tf.int64:
            value = tf.cast(value, tf.int32)
        features[v2] = value
    features["next_sentence_labels"] = features["next_sentence_labels"][..., 0]  # [batch]
    return features


def pretraining_dataset(input_patterns, max_seq_length, max_predictions_per_seq,
                        global_batch_size, is_training=True, input_context=None,
                        shuffle=None, shuffle_buffer_size=100, seed=None,
                        source="input_file", skip_corrupt_records=False):
    """A `tf.data.Dataset` of pre-training batches from TFRecord files.

    As the original `run_pretraining.py`: for training, the file list is
    repeated and shuffled, files are interleaved (4 at a time) and records
    shuffled in a buffer; evaluation reads the files in order, repeated.
    Gzip-compressed files (Model Garden's `--gzip_compress`) are read too.
    Under `tf.distribute` (an `input_context`), each input pipeline reads its
    own files (or, with fewer files than pipelines, every n-th record) and
    batches `global_batch_size / replicas`.

    Args:
        input_patterns: str or list: globs, comma lists of globs.
        max_seq_length: int. Length of `input_word_ids` etc. in the files.
        max_predictions_per_seq: int. Length of the masked-LM features.
        global_batch_size: int. Batch over all replicas.
        is_training: bool. Repeat, interleave and shuffle.
        input_context: a `tf.distribute.InputContext`, or None.
        shuffle: bool or None. Shuffle (None: `is_training`). Without
            shuffling, the records are read in file order.
        shuffle_buffer_size: int. Records in the shuffle buffer.
        seed: int or None. Seed of the shuffles.
        source: str. Name of the flag or config key, used in error messages.
        skip_corrupt_records: bool. Scan every file first and read a damaged
            one only up to its last good record (logged; see
            `tfbert.data.tfrecord_faults`). False: a damaged record is a
            `DataLossError` when it is reached.

    Returns:
        A repeated `tf.data.Dataset` of dicts of `[batch, ...]` tensors.

    Example:

    >>> import os, tempfile
    >>> features = {name: tf.train.Feature(float_list=tf.train.FloatList(value=[1.0] * 2))
    ...             if spec.dtype == tf.float32 else
    ...             tf.train.Feature(int64_list=tf.train.Int64List(value=[1] * spec.shape[0]))
    ...             for name, spec in pretraining_feature_spec(8, 2).items()}
    >>> path = os.path.join(tempfile.mkdtemp(), "data.tfrecord")
    >>> with tf.io.TFRecordWriter(path) as writer:
    ...     writer.write(tf.train.Example(features=tf.train.Features(
    ...         feature=features)).SerializeToString())
    >>> batch = next(iter(pretraining_dataset(path, 8, 2, global_batch_size=4)))
    >>> batch["input_word_ids"].shape, batch["input_word_ids"].dtype
    (TensorShape([4, 8]), tf.int32)
    """
    files = expand_input_files(input_patterns, source)
    use_v2, compression = check_pretraining_files(files, max_seq_length, max_predictions_per_seq)
    read = lambda path: tf.data.TFRecordDataset(path, compression)  # noqa: E731
    slices = files
    if skip_corrupt_records:
        damaged = readable_records(files, compression, source)
        if damaged and not any(damaged.get(path, 1) for path in files):
            raise ValueError(f"{source}: every file is damaged before its first record")
        # take(-1) reads a whole file; a damaged one ends before its damage.
        slices = (files, tf.constant([damaged.get(path, -1) for path in files], tf.int64))
        read = lambda path, limit: tf.data.TFRecordDataset(  # noqa: E731
            path, compression).take(limit)
    if shuffle is None:
        shuffle = is_training
    batch_size = global_batch_size
    pipelines, pipeline_id = 1, 0
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(global_batch_size)
        pipelines, pipeline_id = input_context.num_input_pipelines, input_context.input_pipeline_id

    shard_files = pipelines > 1 and len(files) >= pipelines
    dataset = tf.data.Dataset.from_tensor_slices(slices)
    if shard_files:
        dataset = dataset.shard(pipelines, pipeline_id)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed)
    dataset = dataset.repeat()
    if shuffle:
        cycle = min(4, len(files))
        dataset = dataset.interleave(read, cycle_length=cycle,
                                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    else:
        dataset = dataset.flat_map(read)
    if pipelines > 1 and not shard_files:
        dataset = dataset.shard(pipelines, pipeline_id)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed)

    spec = pretraining_feature_spec(max_seq_length, max_predictions_per_seq, use_v2)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    dataset = dataset.map(lambda records: _to_model_features(
        tf.io.parse_example(records, spec), use_v2), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
