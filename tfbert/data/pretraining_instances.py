"""Masked-LM + next-sentence pre-training instances, as the original creates them.

This is the algorithm of google-research/bert `create_pretraining_data.py`
(see `docs/pretraining_data.md`), call for call on the same
`random.Random(seed)`: `dupe_factor` passes over the (shuffled) documents,
short sequences, random next segments with the put-back of unused
sentences, random front/back truncation, masking with 80/10/10 per word
piece, whole word masking, and the final shuffle. It is kept apart from the
program around it (`tfbert.data.create_pretraining_data`: files, workers,
TFRecords), so that the part that must match the original draw for draw
reads on its own. `PretrainingDataOptions` holds the program's flags too
(workers, gzip, feature names): one value goes from the command line to every
worker.

What is faster than the original: a segment is a pair of offsets into its
document's id array (no token lists are built until the instance is
complete), and records are serialized by hand as they are made.

Example:

>>> import numpy as np
>>> from tfbert.data.document import Document
>>> vocab = Vocab(["[PAD]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(20)])
>>> docs = [Document(np.arange(4, 24, dtype=np.int32), [0, 5, 10, 15, 20])] * 2
>>> records, stats = create_shuffled_records(
...     docs, vocab, PretrainingDataOptions(max_seq_length=16, dupe_factor=1), 1)
>>> len(records) == stats.instances > 0
True
"""

import dataclasses
import random

from absl import logging

from tfbert.data import pretraining_records

CLS_TOKEN, SEP_TOKEN, MASK_TOKEN = "[CLS]", "[SEP]", "[MASK]"


def _inline_shuffle(items, rng):
    """`rng.shuffle(items)`, same draws, without a method call per element.

    `random.shuffle` swaps item i with item `_randbelow(i + 1)`, i from the
    end, and `_randbelow(n)` draws `getrandbits(n.bit_length())` until the
    value is below n. `shuffle` below checks at import that this interpreter
    agrees, and otherwise uses `rng.shuffle` itself.
    """
    getrandbits = rng.getrandbits
    for i in range(len(items) - 1, 0, -1):
        n = i + 1
        k = n.bit_length()
        j = getrandbits(k)
        while j >= n:
            j = getrandbits(k)
        items[i], items[j] = items[j], items[i]


def _choose_shuffle():
    """`_inline_shuffle` if it draws as `random.shuffle` does here, else `rng.shuffle`."""
    for seed in range(3):
        a, b = list(range(300)), list(range(300))
        rng_a, rng_b = random.Random(seed), random.Random(seed)
        rng_a.shuffle(a)
        _inline_shuffle(b, rng_b)
        if a != b or rng_a.random() != rng_b.random():
            return lambda items, rng: rng.shuffle(items)
    return _inline_shuffle


# `shuffle(items, rng)`: `rng.shuffle(items)`, same draws, inline where this Python allows.
shuffle = _choose_shuffle()


@dataclasses.dataclass(frozen=True)
class PretrainingDataOptions:
    """The flags of the original program (same defaults), and the new ones.

    Args:
      max_seq_length: tokens per instance, [CLS] and [SEP]s included.
      max_predictions_per_seq: at most this many masked positions.
      masked_lm_prob: fraction of tokens to mask.
      short_seq_prob: probability of a shorter target length for a document.
      dupe_factor: passes over the documents (different masks each time).
      do_whole_word_mask: mask all word pieces of a word together.
      random_seed: seed of the one `random.Random` the algorithm uses.
      num_workers: processes; 1 = the original's exact output.
      gzip: write GZIP-compressed TFRecords.
      use_v2_feature_names: `input_word_ids`/`input_type_ids` instead of
        `input_ids`/`segment_ids`.
      feature_order: the order of the features inside each record (v1 names);
        the original's varies from run to run, see `pretraining_records`.

    Example:

    >>> PretrainingDataOptions(max_seq_length=128).max_num_tokens
    125
    """

    max_seq_length: int = 128
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    dupe_factor: int = 10
    do_whole_word_mask: bool = False
    random_seed: int = 12345
    num_workers: int = 1
    gzip: bool = False
    use_v2_feature_names: bool = False
    feature_order: tuple = pretraining_records.RECORD_ORDER

    @property
    def max_num_tokens(self):
        return self.max_seq_length - 3  # room for [CLS], [SEP], [SEP]

    def validate(self):
        """Raises ValueError, naming the flag, for values the algorithm cannot use."""
        if self.max_seq_length < 5:
            raise ValueError(f"--max_seq_length={self.max_seq_length}: must be at least 5 "
                             "([CLS] A [SEP] B [SEP] with two tokens per segment)")
        if not 1 <= self.max_predictions_per_seq <= self.max_num_tokens:
            raise ValueError(
                f"--max_predictions_per_seq={self.max_predictions_per_seq} is inconsistent with "
                f"--max_seq_length={self.max_seq_length}: it must be between 1 and "
                f"max_seq_length - 3 = {self.max_num_tokens} (the usual values are "
                "max_seq_length * masked_lm_prob: 20 for 128, 76 for 512)")
        if not 0.0 < self.masked_lm_prob <= 1.0:
            raise ValueError(f"--masked_lm_prob={self.masked_lm_prob}: must be in (0, 1]")
        if not 0.0 <= self.short_seq_prob <= 1.0:
            raise ValueError(f"--short_seq_prob={self.short_seq_prob}: must be in [0, 1]")
        if self.dupe_factor < 1:
            raise ValueError(f"--dupe_factor={self.dupe_factor}: must be at least 1")
        if self.num_workers < 1:
            raise ValueError(f"--num_workers={self.num_workers}: must be at least 1")
        expected = int(round(self.max_seq_length * self.masked_lm_prob))
        if self.max_predictions_per_seq < expected:
            logging.warning(
                "--max_predictions_per_seq=%d is below max_seq_length * masked_lm_prob = %d: "
                "long instances will have fewer than %.0f%% of their tokens masked",
                self.max_predictions_per_seq, expected, 100 * self.masked_lm_prob)


@dataclasses.dataclass
class PretrainingDataStats:
    """Counts over the instances written; `summary()` says it in words.

    Example:

    >>> stats = PretrainingDataStats(instances=2, tokens=20, maskable_tokens=14, masked=2,
    ...                              replaced_by_mask=2, random_next=1)
    >>> stats.summary().split("; ")[2]
    'masked 2 = 14.29% of non-special tokens ([MASK] 100.0%, kept 0.0%, random 0.0%)'
    """

    instances: int = 0
    tokens: int = 0             # real tokens, [CLS]/[SEP] included
    maskable_tokens: int = 0    # tokens other than [CLS]/[SEP]
    masked: int = 0             # predicted positions
    replaced_by_mask: int = 0   # ... that became [MASK]
    kept: int = 0               # ... that kept their token
    replaced_by_random: int = 0  # ... that became a random vocab word
    random_next: int = 0        # instances whose B is a random next segment
    documents: int = 0
    lines: int = 0
    seconds: float = 0.0

    def add(self, other):
        for field in dataclasses.fields(self):
            if field.name not in ("documents", "lines", "seconds"):
                setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))

    def summary(self):
        masked = max(self.masked, 1)
        return (
            f"{self.instances:,} instances from {self.documents:,} documents "
            f"({self.lines:,} lines) in {self.seconds:.1f} s "
            f"({self.instances / max(self.seconds, 1e-9):,.0f} instances/s); "
            f"{self.tokens:,} tokens, {self.tokens / max(self.instances, 1):.1f} per instance; "
            f"masked {self.masked:,} = {100 * self.masked / max(self.maskable_tokens, 1):.2f}% "
            f"of non-special tokens ([MASK] {100 * self.replaced_by_mask / masked:.1f}%, "
            f"kept {100 * self.kept / masked:.1f}%, "
            f"random {100 * self.replaced_by_random / masked:.1f}%); "
            f"next sentence: random {100 * self.random_next / max(self.instances, 1):.1f}%, "
            f"actual {100 - 100 * self.random_next / max(self.instances, 1):.1f}%")


class Vocab:
    """What the algorithm needs of the vocabulary, from its list of tokens.

    Args:
      tokens: the vocab as a list of tokens (line number = id).
      name: how error messages name it (e.g. `--vocab_file=...`).

    Raises:
      ValueError: when [CLS], [SEP] or [MASK] is missing.

    Example:

    >>> vocab = Vocab(["[PAD]", "[CLS]", "[SEP]", "[MASK]", "play", "##ing", "play"])
    >>> vocab.mask_id, vocab.random_word_ids, vocab.is_continuation[5]
    (3, [0, 1, 2, 3, 6, 5], True)
    """

    def __init__(self, tokens, name="the vocabulary"):
        ids = {token: index for index, token in enumerate(tokens)}  # last line wins
        missing = [t for t in (CLS_TOKEN, SEP_TOKEN, MASK_TOKEN) if t not in ids]
        if missing:
            raise ValueError(f"{name} lacks {', '.join(missing)}: pre-training data needs "
                             f"{CLS_TOKEN}, {SEP_TOKEN} and {MASK_TOKEN} (one token per line)")
        self.size = len(tokens)
        self.cls_id, self.sep_id, self.mask_id = (ids[CLS_TOKEN], ids[SEP_TOKEN],
                                                  ids[MASK_TOKEN])
        # The original draws random words from `list(vocab.keys())` of an
        # OrderedDict: each distinct token once, at its first line, with the
        # id of its last line.
        self.random_word_ids = [ids[token] for token in dict.fromkeys(tokens)]
        self.is_continuation = [token.startswith("##") for token in tokens]


class InstanceMaker:
    """The original's `create_instances_from_document` and masking, on id arrays.

    Args:
      documents: list of `tfbert.data.document.Document` (already shuffled).
      vocab: a `Vocab`.
      options: `PretrainingDataOptions`.
      rng: the `random.Random` to draw from (shared with the caller).

    Example:

    >>> import numpy as np
    >>> from tfbert.data.document import Document
    >>> vocab = Vocab(["[PAD]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(20)])
    >>> docs = [Document(np.arange(4, 24, dtype=np.int32), [0, 5, 10, 15, 20])]
    >>> maker = InstanceMaker(docs, vocab, PretrainingDataOptions(max_seq_length=16),
    ...                       random.Random(1))
    >>> len(maker.instances_from_document(0)) > 0
    True
    """

    def __init__(self, documents, vocab, options, rng):
        self.documents = documents
        self.vocab = vocab
        self.options = options
        self.rng = rng
        self.stats = PretrainingDataStats()

    def instances_from_document(self, index):
        """Instances of one document: list of `(input_ids, num_a, positions, labels, is_random)`."""
        rng, docs, opts = self.rng, self.documents, self.options
        max_num_tokens = opts.max_num_tokens
        doc = docs[index]
        starts, num_sentences = doc.starts, doc.num_sentences
        target = max_num_tokens
        if rng.random() < opts.short_seq_prob:
            target = rng.randint(2, max_num_tokens)

        instances = []
        chunk_begin, current_length = 0, 0  # the chunk is sentences chunk_begin..i
        i = 0
        while i < num_sentences:
            current_length += starts[i + 1] - starts[i]
            if i == num_sentences - 1 or current_length >= target:
                chunk_size = i - chunk_begin + 1
                a_end = rng.randint(1, chunk_size - 1) if chunk_size >= 2 else 1
                a_lo, a_hi = starts[chunk_begin], starts[chunk_begin + a_end]
                if chunk_size == 1 or rng.random() < 0.5:
                    is_random = True
                    target_b = target - (a_hi - a_lo)
                    for _ in range(10):
                        b_index = rng.randint(0, len(docs) - 1)
                        if b_index != index:
                            break
                    b_doc = docs[b_index]
                    b_starts = b_doc.starts
                    j = rng.randint(0, b_doc.num_sentences - 1)
                    b_lo = b_starts[j]
                    while b_starts[j + 1] - b_lo < target_b and j + 1 < b_doc.num_sentences:
                        j += 1
                    b_hi = b_starts[j + 1]
                    i -= chunk_size - a_end  # put the unused sentences back
                else:
                    is_random = False
                    b_doc, b_lo, b_hi = doc, a_hi, starts[i + 1]
                # truncate_seq_pair: trim the longer segment (B on ties) at a random end
                while (a_hi - a_lo) + (b_hi - b_lo) > max_num_tokens:
                    if a_hi - a_lo > b_hi - b_lo:
                        if rng.random() < 0.5:
                            a_lo += 1
                        else:
                            a_hi -= 1
                    elif rng.random() < 0.5:
                        b_lo += 1
                    else:
                        b_hi -= 1
                segment_a = doc.ids[a_lo:a_hi].tolist()
                segment_b = b_doc.ids[b_lo:b_hi].tolist()
                instances.append(self._mask(segment_a, segment_b, is_random))
                chunk_begin, current_length = i + 1, 0
            i += 1
        return instances

    def _mask(self, segment_a, segment_b, is_random):
        """The original's `create_masked_lm_predictions` on `[CLS] A [SEP] B [SEP]`."""
        rng, vocab, opts, stats = self.rng, self.vocab, self.options, self.stats
        num_a = len(segment_a)
        tokens = [vocab.cls_id, *segment_a, vocab.sep_id, *segment_b, vocab.sep_id]
        num_tokens = len(tokens)
        candidates = [*range(1, num_a + 1), *range(num_a + 2, num_tokens - 1)]
        num_to_predict = min(opts.max_predictions_per_seq,
                             max(1, int(round(num_tokens * opts.masked_lm_prob))))
        if opts.do_whole_word_mask:
            # A "##" piece joins the group before it (across the middle [SEP], as
            # in the original).
            groups = []
            continuation = vocab.is_continuation
            for position in candidates:
                if groups and continuation[tokens[position]]:
                    groups[-1].append(position)
                else:
                    groups.append([position])
            shuffle(groups, rng)
            chosen = []
            for group in groups:
                if len(chosen) >= num_to_predict:
                    break
                if len(chosen) + len(group) <= num_to_predict:
                    chosen.extend(group)
        else:
            shuffle(candidates, rng)  # same draws as shuffling one-element groups
            chosen = candidates[:num_to_predict]

        output = list(tokens)
        random_ids = vocab.random_word_ids
        for position in chosen:
            if rng.random() < 0.8:
                output[position] = vocab.mask_id
                stats.replaced_by_mask += 1
            elif rng.random() < 0.5:
                stats.kept += 1
            else:
                output[position] = random_ids[rng.randint(0, len(random_ids) - 1)]
                stats.replaced_by_random += 1
        chosen.sort()
        stats.instances += 1
        stats.tokens += num_tokens
        stats.maskable_tokens += num_tokens - 3
        stats.masked += len(chosen)
        stats.random_next += is_random
        return output, num_a, chosen, [tokens[p] for p in chosen], is_random


def create_shuffled_records(documents, vocab, options, seed, progress=None):
    """The original's instance loop on `documents`: serialized records, shuffled.

    Args:
      documents: list of `tfbert.data.document.Document`, in the order to visit.
      vocab: a `Vocab`.
      options: `PretrainingDataOptions`.
      seed: a `random.Random` to draw from (shared with the caller), or a
        seed for a new one.
      progress: called with the number of records made after each document.

    Returns:
      `(records, stats)`: serialized `tf.train.Example`s, `PretrainingDataStats`.
    """
    rng = random.Random(seed) if not isinstance(seed, random.Random) else seed
    maker = InstanceMaker(documents, vocab, options, rng)
    serializer = pretraining_records.ExampleSerializer(
        options.max_seq_length, options.max_predictions_per_seq, vocab.size,
        options.use_v2_feature_names, options.feature_order)
    records = []
    for _ in range(options.dupe_factor):
        for index in range(len(documents)):
            for instance in maker.instances_from_document(index):
                records.append(serializer.serialize(*instance))
            if progress is not None:
                progress(len(records))
    shuffle(records, rng)
    return records, maker.stats
