"""A `FastBertNormalize` model that applies the original BERT's character mapping.

TF Text's `FastBertNormalize` op reads its mapping from a model buffer: a
FlatBuffer holding a darts-clone double-array trie from the UTF-8 bytes of a
code point to an entry of a pool of replacement strings (see TF Text's
`fast_bert_normalizer.h` and `darts_clone_trie_wrapper.h`). The builder TF
Text ships derives the mapping from ICU (NFKC_Casefold, controls to spaces),
which is not the original tokenizer's. This module builds the same kind of
buffer from any `{code point: replacement}` table, here the one
`unicode_tables.char_normalization` derives from Python: deletions of
controls and `Mn`, whitespace to " ", `str.lower()` + NFD.

Buffer layout (FlatBuffers, root table `FastBertNormalizerModel`):
  field 0: bool   lower_case_nfd_strip_accents (informational)
  field 1: [uint] trie_array
  field 2: int    data_for_codepoint_zero (the trie cannot hold U+0000)
  field 3: [ubyte] normalized_string_pool

Trie units (darts-clone): bit 31 marks a value unit (bits 0-30 the value);
otherwise bits 0-7 are the label, bit 8 "has a value child" and bits 10-30
the XOR offset of the children block. A value is `0x40000000 | offset << 6 |
length` into the pool; a code point without an entry is left unchanged.
"""

import collections
import functools
import struct

import flatbuffers

_DIFFERENT = 0x40000000
_MAX_LENGTH = 63          # bytes of one replacement (6 bits)
_MAX_POOL_OFFSET = (1 << 24) - 1
_LEAF = 0x80000000
_HAS_LEAF = 0x100
_MAX_OFFSET = (1 << 21) - 1  # offsets are stored in bits 10-30 (no extension bit)


def _encode_value(pool_offset, length):
    if length > _MAX_LENGTH or pool_offset > _MAX_POOL_OFFSET:
        raise ValueError("replacement too long for the FastBertNormalize model")
    return _DIFFERENT | (pool_offset << 6) | length


class _DoubleArray:
    """Greedy darts-clone double-array construction over byte-string keys."""

    def __init__(self):
        self.units = [0] * 256
        self.used = bytearray(256)
        self.used[0] = 1             # the root
        self.bases = set()
        self.first_free = 1
        # Next-fit: where the last node with about as many labels was placed,
        # so that searches do not rescan the densely packed front each time.
        self.hints = {}

    def _grow(self, size):
        while len(self.units) < size:
            self.units.extend([0] * 256)
            self.used.extend(bytes(256))

    def _find_base(self, labels):
        size_class = min(len(labels), 5)
        position = max(self.first_free, self.hints.get(size_class, 0))
        while True:
            self._grow(position + 1)
            if not self.used[position]:
                base = position ^ labels[0]
                if base not in self.bases:
                    self._grow((base | 0xFF) + 1)
                    if all(not self.used[base ^ label] for label in labels):
                        self.hints[size_class] = position
                        return base
            position += 1

    def place(self, node_id, labels, value):
        """Gives node `node_id` children with `labels` (0 = its value); returns
        the children's positions by label."""
        base = self._find_base(labels)
        offset = node_id ^ base
        if offset > _MAX_OFFSET:
            raise ValueError("normalizer trie too large")
        self.bases.add(base)
        self.units[node_id] |= offset << 10
        positions = {}
        for label in labels:
            position = base ^ label
            self.used[position] = 1
            if label == 0:
                self.units[node_id] |= _HAS_LEAF
                self.units[position] = _LEAF | value
            else:
                self.units[position] = label
                positions[label] = position
        while self.first_free < len(self.used) and self.used[self.first_free]:
            self.first_free += 1
        return positions


def build_trie(values_by_key):
    """darts-clone units for `{key bytes (non-empty, no NUL): value (< 2**31)}`."""
    tree = {}
    for key, value in values_by_key.items():
        node = tree
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value
    array = _DoubleArray()
    queue = collections.deque([(0, tree)])
    while queue:
        node_id, node = queue.popleft()
        labels = sorted(node)
        positions = array.place(node_id, labels, node.get(0, 0))
        for label in labels:
            if label:
                queue.append((positions[label], node[label]))
    return array.units


def build_model(table, lower_case):
    """Model buffer (bytes) for `FastBertNormalizer(model_buffer=...)`.

    Args:
      table: `{code point: replacement str}` for the code points to change.
      lower_case: stored as the model's informational flag.
    """
    pool = bytearray()
    where = {}
    values = {}
    zero_value = 0
    for cp, replacement in sorted(table.items()):
        if 0xD800 <= cp <= 0xDFFF:
            continue  # not encodable; such bytes never reach the fast path
        data = replacement.encode("utf-8")
        if data not in where:
            where[data] = len(pool)
            pool += data
        value = _encode_value(where[data], len(data))
        if cp == 0:
            zero_value = value
        else:
            values[chr(cp).encode("utf-8")] = value
    units = build_trie(values)

    builder = flatbuffers.Builder(4 * len(units) + len(pool) + 1024)
    pool_vector = builder.CreateByteVector(bytes(pool))
    builder.StartVector(4, len(units), 4)
    for unit in reversed(units):
        builder.PrependUint32(unit)
    trie_vector = builder.EndVector()
    builder.StartObject(4)
    builder.PrependBoolSlot(0, bool(lower_case), False)
    builder.PrependUOffsetTRelativeSlot(1, trie_vector, 0)
    builder.PrependInt32Slot(2, zero_value, 0)
    builder.PrependUOffsetTRelativeSlot(3, pool_vector, 0)
    builder.Finish(builder.EndObject())
    return bytes(builder.Output())


def lookup(model, text):
    """What the model maps one character to (a Python mirror of the kernel's
    lookup, for tests): the replacement, or None when unchanged."""
    root = struct.unpack_from("<I", model, 0)[0]
    vtable = root - struct.unpack_from("<i", model, root)[0]
    fields = [struct.unpack_from("<H", model, vtable + 4 + 2 * i)[0] for i in range(4)]

    def vector(field, item):
        at = root + fields[field]
        start = at + struct.unpack_from("<I", model, at)[0]
        count = struct.unpack_from("<I", model, start)[0]
        return struct.unpack_from(f"<{count}{item}", model, start + 4)

    units = vector(1, "I")
    pool = bytes(vector(3, "B"))
    data = text.encode("utf-8")
    if data[:1] == b"\0":
        value = struct.unpack_from("<i", model, root + fields[2])[0] if fields[2] else 0
    else:
        node, unit, value = 0, units[0], 0
        for byte in data:
            node ^= ((unit >> 10) << ((unit & 0x200) >> 6)) ^ byte
            unit = units[node] if node < len(units) else 0
            if unit & 0x800000FF != byte:
                return None
        if unit & _HAS_LEAF:
            value = units[node ^ ((unit >> 10) << ((unit & 0x200) >> 6))] & 0x7FFFFFFF
    if not value & _DIFFERENT:
        return None
    offset, length = (value & 0x3FFFFFC0) >> 6, value & 0x3F
    return pool[offset:offset + length].decode("utf-8")


@functools.cache
def original_bert_model(lower_case):
    """The model of the original tokenizer's per-character normalisation."""
    from tfbert.text import unicode_tables

    return build_model(unicode_tables.char_normalization(bool(lower_case)), lower_case)
