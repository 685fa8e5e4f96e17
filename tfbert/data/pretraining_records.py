"""Pre-training records: `tf.train.Example` bytes written by hand, without TensorFlow.

A pre-training record is a `tf.train.Example` with the seven features of
`tfbert.data.features` (all packed int64 lists but `masked_lm_weights`, a
packed float list). The original program builds a proto per instance; this
module writes the same bytes directly, which is many times faster, and
`test_create_pretraining_golden.py` checks them against the original's files
byte for byte. The map entries come in the order the original's protobuf
library wrote them: a hash-map order, not the order of `PRETRAINING_FEATURES`,
and not even the same in every run of the original (the two golden files of
`../shared/data/pretraining_golden` differ in it). Parsers do not care;
byte-identical files do, so the order is a parameter, by default
`RECORD_ORDER`, the order of the original's non-WWM golden file.

The files are written by `tfbert.data.record_files`. This module does not
import TensorFlow: the worker processes of `create_pretraining_data
--num_workers` build their shards' records with it and nothing else.
"""

import struct

from tfbert.data.features import V1_TO_V2

# The order in which the original's golden file holds the map entries (v1 names).
RECORD_ORDER = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
                "masked_lm_weights", "next_sentence_labels", "masked_lm_ids")

_MAX_CACHED = 20_000
_ONE_FLOAT = struct.pack("<f", 1.0)
_ZERO_FLOAT = struct.pack("<f", 0.0)


def _varint(value):
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL_VARINTS = [_varint(v) for v in range(1 << 14)]


def varint(value):
    """Protobuf base-128 varint of a non-negative int."""
    return _SMALL_VARINTS[value] if value < 16384 else _varint(value)


def _field(tag, payload):
    """A length-delimited field: tag byte, length, payload."""
    return tag + varint(len(payload)) + payload


class ExampleSerializer:
    """Serialized pre-training `tf.train.Example`s, byte-identical to the original's.

    Args:
      max_seq_length: length of `input_ids`, `input_mask`, `segment_ids`.
      max_predictions_per_seq: length of the three `masked_lm_*` features.
      vocab_size: ids are below this.
      use_v2_feature_names: write `input_word_ids`/`input_type_ids`.
      feature_order: the seven v1 feature names in the order to write them.

    Example:

    >>> s = ExampleSerializer(max_seq_length=8, max_predictions_per_seq=2, vocab_size=10)
    >>> record = s.serialize([2, 5, 3, 6, 3], num_a=1, positions=[1], labels=[7],
    ...                      is_random_next=False)
    >>> tf.train.Example.FromString(record).features.feature["input_ids"].int64_list.value
    [2, 5, 3, 6, 3, 0, 0, 0]
    """

    def __init__(self, max_seq_length, max_predictions_per_seq, vocab_size,
                 use_v2_feature_names=False, feature_order=RECORD_ORDER):
        if sorted(feature_order) != sorted(RECORD_ORDER):
            raise ValueError(f"feature_order must list the seven features {RECORD_ORDER}, "
                             f"got {feature_order}")
        self.max_seq_length = max_seq_length
        self.max_predictions_per_seq = max_predictions_per_seq
        # varint bytes of every id or position that can occur
        self._varints = [varint(v) for v in range(max(vocab_size, max_seq_length) + 1)]
        # Features that depend on lengths only, built once per length.
        self._mask_features = {}  # by n
        self._segment_features = {}  # by (num_a, n), at most _MAX_CACHED
        pred = max_predictions_per_seq
        self._weight_features = [  # a packed float list: k ones, then zeros
            _field(b"\x12", _field(b"\n", _ONE_FLOAT * k + _ZERO_FLOAT * (pred - k)))
            for k in range(pred + 1)]
        self._label_features = [self._int64_feature(b"\x00"), self._int64_feature(b"\x01")]
        self._order = [RECORD_ORDER.index(name) for name in feature_order]
        names = [V1_TO_V2[n] if use_v2_feature_names else n for n in feature_order]
        # Each entry: b"\n" + len + key + b"\x12" + len(Feature), then the Feature.
        self._keys = [_field(b"\n", name.encode()) + b"\x12" for name in names]

    def _int64_feature(self, packed):
        return _field(b"\x1a", _field(b"\n", packed)) if packed else b"\x1a\x00"

    def serialize(self, input_ids, num_a, positions, labels, is_random_next):
        """One record.

        Args:
          input_ids: `[CLS] A [SEP] B [SEP]` ids (masked), unpadded.
          num_a: number of ids in A (so segment B starts at `num_a + 2`).
          positions: masked positions, ascending.
          labels: the original ids at `positions`.
          is_random_next: whether B is a random next segment.

        Returns:
          The serialized `tf.train.Example` (bytes).
        """
        seq, pred = self.max_seq_length, self.max_predictions_per_seq
        n, k = len(input_ids), len(positions)
        table = self._varints
        pad_seq, pad_pred = b"\x00" * (seq - n), b"\x00" * (pred - k)
        mask = self._mask_features.get(n)
        if mask is None:
            mask = self._mask_features[n] = self._int64_feature(b"\x01" * n + pad_seq)
        segments = self._segment_features.get((num_a, n))
        if segments is None:
            if len(self._segment_features) >= _MAX_CACHED:
                self._segment_features.clear()
            segments = self._segment_features[num_a, n] = self._int64_feature(
                b"\x00" * (num_a + 2) + b"\x01" * (n - num_a - 2) + pad_seq)
        features = (  # in RECORD_ORDER
            self._int64_feature(b"".join(map(table.__getitem__, input_ids)) + pad_seq),
            mask,
            segments,
            self._int64_feature(b"".join(map(table.__getitem__, positions)) + pad_pred),
            self._weight_features[k],
            self._label_features[bool(is_random_next)],
            self._int64_feature(b"".join(map(table.__getitem__, labels)) + pad_pred),
        )
        entries = b"".join(
            _field(b"\n", key + varint(len(feature)) + feature)
            for key, feature in zip(self._keys, map(features.__getitem__, self._order),
                                    strict=True))
        return _field(b"\n", entries)
