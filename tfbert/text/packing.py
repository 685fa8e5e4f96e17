"""`BertPackInputs`: segments of word-piece ids -> the encoder's int32 inputs."""

import keras
import tensorflow as tf

from tfbert.text._utils import to_tensor_or_ragged

_SPECIAL_ID_KEYS = ("start_of_sequence_id", "end_of_segment_id", "padding_id")


def truncation_lengths(lengths, budget):
    """How many tokens of each segment the original truncation keeps.

    The original `_truncate_seq_pair` removes one token at a time from the end
    of the longer segment (from the second one on a tie) until the pair
    fits. For any number of segments that is: remove from the longest, the
    later one on a tie. The result is a water level `c`: a segment keeps
    `min(length, c)` tokens, and the `r` tokens of budget left over go, one
    each, to the earliest segments longer than `c`.

    Args:
      lengths: int32 `[batch, num_segments]`.
      budget: int32 scalar, tokens allowed in all segments together.

    Returns:
      int32 `[batch, num_segments]`.
    """
    lengths = tf.convert_to_tensor(lengths, tf.int32)
    budget = tf.maximum(tf.convert_to_tensor(budget, tf.int32), 0)
    levels = tf.range(budget + 1)                                      # [L]
    # kept[b, c] = sum_i min(lengths[b, i], c)  for every level c <= budget
    kept = tf.reduce_sum(tf.minimum(lengths[:, tf.newaxis, :], levels[:, tf.newaxis]), axis=2)
    level = tf.reduce_sum(tf.cast(kept <= budget, tf.int32), axis=1) - 1   # [batch]
    level = level[:, tf.newaxis]
    base = tf.minimum(lengths, level)
    left = budget - tf.reduce_sum(base, axis=1, keepdims=True)
    above = tf.cast(lengths > level, tf.int32)
    rank_above = tf.cumsum(above, axis=1, exclusive=True)
    return base + above * tf.cast(rank_above < left, tf.int32)


def _as_segment(segment):
    """int32 RaggedTensor `[batch, (tokens)]` from rank-2 or rank-3 ragged ids."""
    segment = to_tensor_or_ragged(segment)
    if not isinstance(segment, tf.RaggedTensor):
        if segment.shape.rank != 2:
            raise ValueError(f"A segment must be [batch, (tokens)]; got shape {segment.shape}.")
        segment = tf.RaggedTensor.from_tensor(segment)
    if segment.ragged_rank > 1:
        segment = segment.merge_dims(1, -1)
    if segment.shape.rank != 2:
        raise ValueError(f"A segment must be [batch, (tokens)]; got shape {segment.shape}.")
    return tf.cast(segment, tf.int32).with_row_splits_dtype(tf.int64)


def pack_inputs(segments, seq_length, start_of_sequence_id, end_of_segment_id, padding_id):
    """`[CLS] A [SEP] B [SEP] ...`, truncated as the original, padded.

    Args:
      segments: list of int RaggedTensors `[batch, (tokens)]` or
        `[batch, (words), (tokens)]`.
      seq_length: int (at least `len(segments) + 1`) or int32 scalar Tensor
        (a value too small to hold the special tokens crops them).
      start_of_sequence_id, end_of_segment_id, padding_id: ids of [CLS],
        [SEP], [PAD].

    Returns:
      dict of int32 `[batch, seq_length]`: `input_word_ids`, `input_mask`
      (1 on real tokens), `input_type_ids` (segment i, and its [SEP], get i;
      [CLS] gets 0).
    """
    if not segments:
        raise ValueError("BertPackInputs needs at least one segment.")
    segments = [_as_segment(s) for s in segments]
    num_segments = len(segments)
    budget = tf.cast(seq_length, tf.int32) - (num_segments + 1)
    lengths = tf.stack([tf.cast(s.row_lengths(), tf.int32) for s in segments], axis=1)
    keep = truncation_lengths(lengths, budget)                       # [batch, segments]

    batch = segments[0].nrows()
    column = tf.RaggedTensor.from_row_lengths(tf.ones([batch], tf.int32),
                                              tf.ones([batch], tf.int64), validate=False)
    ids, types = [column * start_of_sequence_id], [column * 0]
    for i, segment in enumerate(segments):
        # Keep the first keep[b, i] tokens of each row (flat ops, no ragged checks).
        rows = segment.value_rowids()
        position = tf.range(tf.size(segment.values, out_type=tf.int64)) - tf.gather(
            segment.row_starts(), rows)
        limit = tf.cast(tf.gather(keep[:, i], rows), tf.int64)
        kept = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(segment.values, position < limit), tf.cast(keep[:, i], tf.int64),
            validate=False)
        ids += [kept, column * end_of_segment_id]
        types += [tf.ones_like(kept) * i, column * i]
    ids = tf.concat(ids, axis=1)
    types = tf.concat(types, axis=1)
    if isinstance(seq_length, int):
        if seq_length < num_segments + 1:
            raise ValueError(f"seq_length={seq_length} leaves no room for [CLS] and "
                             f"{num_segments} [SEP]; it must be at least {num_segments + 1}.")
        shape = [None, seq_length]  # keeps the length static
    else:
        shape = tf.stack([batch, tf.cast(seq_length, tf.int64)])
    return {
        "input_word_ids": ids.to_tensor(default_value=padding_id, shape=shape),
        "input_mask": tf.ones_like(ids).to_tensor(default_value=0, shape=shape),
        "input_type_ids": types.to_tensor(default_value=0, shape=shape),
    }


@keras.saving.register_keras_serializable(package="tfbert")
class BertPackInputs(keras.layers.Layer):
    """Packs one or more segments of ids into BERT's fixed-length inputs.

    `[CLS] A [SEP]` or `[CLS] A [SEP] B [SEP] ...`, truncated the way the
    original fine-tuning code truncates a pair (the longer segment loses
    tokens from its end first), padded with [PAD] to `seq_length`. Core TF
    ops only (no `tensorflow_text.RoundRobinTrimmer`, whose C++ op is missing
    from TF Serving 2.12-2.19).

    Args:
      seq_length: length of the packed sequences.
      special_tokens_dict: dict with `start_of_sequence_id`,
        `end_of_segment_id`, `padding_id` (e.g. from
        `BertTokenizer.get_special_tokens_dict()`); or pass the three ids.
      start_of_sequence_id: id of [CLS].
      end_of_segment_id: id of [SEP].
      padding_id: id of [PAD].
      **kwargs: passed to `keras.layers.Layer`.

    Example:

    >>> import tensorflow as tf
    >>> pack = BertPackInputs(8, start_of_sequence_id=101, end_of_segment_id=102,
    ...                       padding_id=0)
    >>> a = tf.ragged.constant([[7, 8, 9, 10, 11]])
    >>> b = tf.ragged.constant([[20, 21]])
    >>> out = pack([a, b])
    >>> out["input_word_ids"].numpy().tolist()
    [[101, 7, 8, 9, 102, 20, 21, 102]]
    >>> out["input_type_ids"].numpy().tolist()
    [[0, 0, 0, 0, 0, 1, 1, 1]]
    """

    def __init__(self, seq_length, special_tokens_dict=None, start_of_sequence_id=None,
                 end_of_segment_id=None, padding_id=None, **kwargs):
        super().__init__(**kwargs)
        given = {"start_of_sequence_id": start_of_sequence_id,
                 "end_of_segment_id": end_of_segment_id, "padding_id": padding_id}
        if special_tokens_dict is not None:
            for key in _SPECIAL_ID_KEYS:
                if given[key] is None:
                    if key not in special_tokens_dict:
                        raise ValueError(f"special_tokens_dict lacks {key!r}.")
                    given[key] = special_tokens_dict[key]
        missing = [key for key, value in given.items() if value is None]
        if missing:
            raise ValueError(
                f"BertPackInputs needs {', '.join(missing)} (or a special_tokens_dict).")
        self.seq_length = int(seq_length)
        self.start_of_sequence_id = int(given["start_of_sequence_id"])
        self.end_of_segment_id = int(given["end_of_segment_id"])
        self.padding_id = int(given["padding_id"])
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

    def call(self, inputs, seq_length=None):
        """Packs `inputs`, one ragged segment or a list/tuple of them.

        Args:
          inputs: RaggedTensor `[batch, (tokens)]` (or `[batch, (words),
            (tokens)]`), or a list of them, one per segment.
          seq_length: overrides the layer's `seq_length` (int or int32 scalar).
        """
        segments = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        return pack_inputs(
            segments, self.seq_length if seq_length is None else seq_length,
            self.start_of_sequence_id, self.end_of_segment_id, self.padding_id)

    def get_config(self):
        config = super().get_config()
        config.update({
            "seq_length": self.seq_length,
            "start_of_sequence_id": self.start_of_sequence_id,
            "end_of_segment_id": self.end_of_segment_id,
            "padding_id": self.padding_id,
        })
        return config
