"""CoNLL-2003 named entities (and any CoNLL-style tagging data).

The file has one word per line, its tag in the last column (`EU NNP B-NP
B-ORG`), blank lines between sentences and `-DOCSTART-` lines between
documents. Tags may be IOB1 (the original CoNLL-2003 release: `I-` starts
an entity unless it follows one of the same type) or IOB2 (`B-` starts every
entity); `scheme="iob1"` converts IOB1 to IOB2 on reading, so that models
always learn IOB2. Entity-level scores (`tfbert.metrics.entity_scores`) are
the same under both schemes.

The label of a word goes on its first word piece; the other pieces (and the
special tokens, and padding) have `label_weights` 0, so the loss and the
predictions ignore them (`label_ids` is 0 there, a valid id, which keeps
TPU-friendly non-negative labels).

Whole documents (`read_conll_documents`: the text between `-DOCSTART-`
lines) are usually longer than one model input. `tagging_features(...,
doc_stride=n)` reads such a sequence in windows of `seq_length - 2` pieces
that start `n` pieces apart, and each word is labeled (in training) and
tagged (in prediction) in exactly one window: the one where its first piece
has the most context (`tfbert.data.windows`, the rule of the original SQuAD
code), so that no word is tagged twice or skipped.

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "train.txt"
>>> _ = path.write_text("-DOCSTART- -X- -X- O\\n\\nEU NNP B-NP I-ORG\\nrejects VBZ B-VP O\\n")
>>> data = read_conll(path, scheme="iob1")
>>> data.sentences[0].words, data.sentences[0].tags
(('EU', 'rejects'), ('B-ORG', 'O'))
"""

import dataclasses
import io
import itertools
import os

import numpy as np
from absl import logging

from tfbert.data import finetuning, text_files
from tfbert.data.windows import max_context_windows, window_spans


@dataclasses.dataclass(frozen=True)
class TaggedSentence:
    """Words and their tags; `line` is the file line of the first word."""

    words: tuple
    tags: tuple
    line: int = 0


@dataclasses.dataclass
class TaggingData:
    """The sequences of a tagging file, and the tag list (tag id = index).

    Attributes:
        sentences: `TaggedSentence`s: the sentences, or whole documents
            (`read_conll_documents`).
        label_names: the tags in id order.
        path: the file read.
        sentence_lengths: documents only: per document, the number of words of
            each of its sentences (`split_sentences` cuts tags back into sentences).
    """

    sentences: list
    label_names: tuple
    path: str | None = None
    sentence_lengths: list = dataclasses.field(default_factory=list)


def iob1_to_iob2(tags):
    """IOB1 -> IOB2: an `I-X` that does not continue an `X` entity becomes `B-X`."""
    out, prev = [], "O"
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return tuple(out)


def _check_tag(tag, path, line):
    if tag != "O" and (len(tag) < 3 or tag[1] != "-" or tag[0] not in "BIES"):
        raise ValueError(f"{path}:{line}: tag {tag!r} is neither 'O' nor a "
                         "B-/I-/E-/S- tag with a type (e.g. B-PER)")


def read_conll(path, scheme="iob2", label_names=None):
    """Reads a CoNLL-format tagging file.

    Args:
        path: the file (word first, tag last on each line; whitespace separated).
        scheme: the file's tags, `iob2` (kept) or `iob1` (converted to IOB2).
        label_names: the tag list in id order. None: "O", then the file's
            other tags sorted (pass the training set's `label_names` when
            reading dev and test files). A tag not in a given list is an
            error naming the line.

    Returns:
        A `TaggingData`.
    """
    sentences, _ = _read_sentences(path, scheme, label_names)
    return TaggingData(sentences, _label_names(sentences, label_names), os.fspath(path))


def read_conll_documents(path, scheme="iob2", label_names=None):
    """Reads a CoNLL-format file as whole documents: the sentences between two
    `-DOCSTART-` lines, one after the other (a file without them is one document).

    Tags are converted (IOB1) and checked per sentence, as `read_conll` does;
    the document keeps its sentences' lengths, so that its tags can be scored
    sentence by sentence (`split_sentences`).

    Args:
        path, scheme, label_names: as `read_conll`'s.

    Returns:
        A `TaggingData` whose `sentences` are the documents.

    Example:

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "train.txt"
    >>> _ = path.write_text("-DOCSTART- O\\n\\nEU B-ORG\\nrejects O\\n\\nIt O\\n\\n"
    ...                     "-DOCSTART- O\\n\\nPeter B-PER\\n")
    >>> data = read_conll_documents(path)
    >>> [d.words for d in data.sentences], data.sentence_lengths
    ([('EU', 'rejects', 'It'), ('Peter',)], [(2, 1), (1,)])
    """
    sentences, starts = _read_sentences(path, scheme, label_names)
    bounds = sorted({0, *starts, len(sentences)})
    documents, lengths = [], []
    for first, last in itertools.pairwise(bounds):
        if first == last:
            continue
        parts = sentences[first:last]
        documents.append(TaggedSentence(sum((p.words for p in parts), ()),
                                        sum((p.tags for p in parts), ()), parts[0].line))
        lengths.append(tuple(len(p.words) for p in parts))
    return TaggingData(documents, _label_names(sentences, label_names), os.fspath(path),
                       lengths)


def split_sentences(data, sequences):
    """Per-document sequences (tags, words) of a document `TaggingData` cut back
    into its sentences; sentence data: `sequences` as they are."""
    if not data.sentence_lengths:
        return list(sequences)
    out = []
    for lengths, sequence in zip(data.sentence_lengths, sequences, strict=True):
        bounds = np.cumsum((0, *lengths))
        out += [tuple(sequence[a:b]) for a, b in itertools.pairwise(bounds)]
    return out


def _label_names(sentences, label_names):
    """The given tag list, else "O" and the tags found, sorted by type."""
    if label_names is not None:
        return tuple(label_names)
    found = {t for s in sentences for t in s.tags} - {"O"}
    return ("O",) + tuple(sorted(found, key=lambda t: (t[2:], t)))


def _read_sentences(path, scheme, label_names):
    """`(sentences, document starts)`: the file's `TaggedSentence`s, and the
    index of the sentence after each `-DOCSTART-` line."""
    path = os.fspath(path)
    if scheme not in ("iob1", "iob2"):
        raise ValueError(f"scheme must be 'iob1' or 'iob2', got {scheme!r}")
    sentences, words, tags, lines, starts = [], [], [], [], []
    label_set = None if label_names is None else set(label_names)

    def flush():
        if words:
            converted = iob1_to_iob2(tags) if scheme == "iob1" else tuple(tags)
            for tag, line in zip(converted, lines, strict=True):
                if label_set is not None and tag not in label_set:
                    raise ValueError(f"{path}:{line}: tag {tag!r} is not in the label list "
                                     f"{list(label_names)}")
            sentences.append(TaggedSentence(tuple(words), converted, lines[0]))
            for part in (words, tags, lines):
                part.clear()

    # Universal newlines, as `open()` reads text: \r and \r\n end lines too.
    with io.StringIO(text_files.read_text(path), newline=None) as f:
        for number, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                flush()
                continue
            if fields[0] == "-DOCSTART-":
                flush()
                starts.append(len(sentences))
                continue
            if len(fields) < 2:
                raise ValueError(
                    f"{path}:{number}: expected a word and a tag, got {line.strip()!r}")
            _check_tag(fields[-1], path, number)
            words.append(fields[0])
            tags.append(fields[-1])
            lines.append(number)
    flush()
    if not sentences:
        raise ValueError(f"{path} has no sentences (empty, or only -DOCSTART- lines).")
    return sentences, starts


@dataclasses.dataclass
class TaggingFeatures:
    """Model inputs of a `TaggingData`.

    Attributes:
        arrays: `input_word_ids`, `input_mask`, `input_type_ids`, `label_ids`
            int32 `[N, seq]`, `label_weights` float32 `[N, seq]`, and
            `example_index` int32 `[N]` (the sequence of each row).
        word_positions: per sequence, int `[words]`: the position of each
            word's first piece in its row, -1 for words that were cut off
            (beyond `seq_length`) or have no pieces; `tags_from_logits` gives those "O".
        cut_words: how many words were cut off or had no pieces, in all.
        word_rows: per sequence, int `[words]`: the row that tags each word
            (windows; -1 for words without pieces), or None: row = sequence.
        windows: int `[sequences]`, the rows (windows) of each sequence.
    """

    arrays: dict
    word_positions: list
    cut_words: int
    word_rows: list | None = None
    windows: np.ndarray | None = None


def tagging_features(data, tokenizer, seq_length=128, doc_stride=None):
    """Word pieces and first-piece labels for each sentence (or document).

    Args:
        data: a `TaggingData`.
        tokenizer: a `tfbert.text.BertTokenizer`.
        seq_length: the padded length.
        doc_stride: None: one row per sequence, cut at `seq_length` (the cut
            words are counted and logged). A number: every word is read, in
            windows that advance this many pieces; each word is labeled in
            the one window where its first piece has the most context, and
            has `label_weights` 0 in the others (see the module doc).

    Returns:
        A `TaggingFeatures`.

    Example:

    >>> import pathlib, tempfile
    >>> from tfbert.text import BertTokenizer
    >>> vocab = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    >>> _ = vocab.write_text("[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\n[MASK]\\na\\nb\\n")
    >>> data = TaggingData([TaggedSentence(("a", "b", "a", "b", "a"), ("O",) * 5)], ("O",))
    >>> features = tagging_features(data, BertTokenizer(str(vocab)), seq_length=5, doc_stride=2)
    >>> features.windows.tolist(), features.word_rows[0].tolist()
    ([2], [0, 0, 0, 1, 1])
    >>> features.word_positions[0].tolist()
    [1, 2, 3, 2, 3]
    """
    words = [w for s in data.sentences for w in s.words]
    pieces = finetuning.tokenize_texts(tokenizer, words, chunk_size=8192,
                                       what=f"words of {data.path}")
    if doc_stride is None:
        return _truncated_features(data, tokenizer, seq_length, pieces)
    return _window_features(data, tokenizer, seq_length, doc_stride, pieces)


def _truncated_features(data, tokenizer, seq_length, pieces):
    """One row per sequence, cut at `seq_length` (the original's features)."""
    cls_id, sep_id, pad_id = finetuning.special_ids(tokenizer)
    tag_ids = {t: i for i, t in enumerate(data.label_names)}
    writer = finetuning.FeatureWriter(len(data.sentences), seq_length, pad_id,
                                      extra_sequences=["label_ids"])
    weights = np.zeros([len(data.sentences), seq_length], np.float32)
    word_positions, cut, cut_sentences, cursor = [], 0, 0, 0
    for row, sentence in enumerate(data.sentences):
        ids, labels, positions = [], [], []
        for tag in sentence.tags:
            word = pieces[cursor]
            cursor += 1
            if len(word) == 0 or 1 + len(ids) + len(word) > seq_length - 1:
                positions.append(-1)
                continue
            positions.append(1 + len(ids))
            labels += [tag_ids[tag]] + [0] * (len(word) - 1)
            ids += list(word)
        missing = int(np.sum(np.array(positions) < 0))
        cut += missing
        cut_sentences += missing > 0
        word_ids, type_ids = finetuning.pack_segments([ids], cls_id, sep_id)
        writer.set_row(row, word_ids, type_ids, label_ids=[0] + labels)
        positions = np.array(positions, np.int64)
        weights[row, positions[positions >= 0]] = 1.0
        word_positions.append(positions)
    if cut:
        logging.warning("%s: %d words in %d sentences are beyond seq_length %d or have no word "
                        "pieces; they get no label in training and 'O' in predictions",
                        data.path, cut, cut_sentences, seq_length)
    arrays = dict(writer.arrays)
    arrays["label_weights"] = weights
    arrays["example_index"] = np.arange(len(data.sentences), dtype=np.int32)
    return TaggingFeatures(arrays, word_positions, cut)


def _window_features(data, tokenizer, seq_length, doc_stride, pieces):
    """Every sequence in windows; each word labeled in its max-context window."""
    if doc_stride < 1:
        raise ValueError(f"doc_stride must be at least 1; got {doc_stride}")
    cls_id, sep_id, pad_id = finetuning.special_ids(tokenizer)
    tag_ids = {t: i for i, t in enumerate(data.label_names)}
    rows, labels, word_rows, word_positions, windows = [], [], [], [], []
    cursor = no_pieces = 0
    for sentence in data.sentences:
        word_pieces = pieces[cursor:cursor + len(sentence.words)]
        cursor += len(sentence.words)
        sizes = np.array([len(p) for p in word_pieces], np.int64)
        first = np.cumsum(sizes) - sizes                   # each word's first piece
        ids = np.concatenate([np.zeros([0], np.int32), *word_pieces])
        spans = window_spans(len(ids), seq_length - 2, doc_stride)
        best = max_context_windows(spans, len(ids))
        has_pieces = sizes > 0
        window = np.full(len(sizes), -1, np.int64)
        window[has_pieces] = best[first[has_pieces]]
        starts = np.array([start for start, _ in spans], np.int64)
        position = np.where(has_pieces, 1 + first - starts[np.maximum(window, 0)], -1)
        word_rows.append(np.where(has_pieces, len(rows) + window, -1))
        word_positions.append(position)
        tags = np.array([tag_ids[t] for t in sentence.tags], np.int32)
        for index, (start, length) in enumerate(spans):
            rows.append(finetuning.pack_segments([ids[start:start + length]], cls_id, sep_id))
            mine = window == index
            labels.append((position[mine], tags[mine]))
        windows.append(len(spans))
        no_pieces += int(np.sum(~has_pieces))
    writer = finetuning.FeatureWriter(len(rows), seq_length, pad_id,
                                      extra_sequences=["label_ids"])
    weights = np.zeros([len(rows), seq_length], np.float32)
    for row, ((word_ids, type_ids), (positions, tags)) in enumerate(zip(rows, labels,
                                                                         strict=True)):
        writer.set_row(row, word_ids, type_ids)
        writer.arrays["label_ids"][row, positions] = tags
        weights[row, positions] = 1.0
    windows = np.array(windows, np.int64)
    logging.info("%s: %d windows of %d pieces (stride %d) for %d sequences, %d of them (%.1f%%) "
                 "longer than one window", data.path, len(rows), seq_length - 2, doc_stride,
                 len(windows), np.sum(windows > 1), 100.0 * np.mean(windows > 1))
    if no_pieces:
        logging.warning("%s: %d words have no word pieces; they get no label in training and "
                        "'O' in predictions", data.path, no_pieces)
    arrays = dict(writer.arrays)
    arrays["label_weights"] = weights
    arrays["example_index"] = np.repeat(np.arange(len(windows), dtype=np.int32), windows)
    return TaggingFeatures(arrays, word_positions, no_pieces, word_rows, windows)


def tags_from_logits(features, logits, label_names):
    """Word-level tags from token logits.

    Args:
        features: the `TaggingFeatures`.
        logits: float `[N, seq, num_labels]` (seq may be shorter, as with
            padding to the batch's longest row), in feature order.
        label_names: the tag list.

    Returns:
        A list of tag tuples, one per sequence ("O" for cut-off words).
    """
    num_rows = len(features.arrays["input_mask"])
    if len(logits) != num_rows:
        raise ValueError(f"{len(logits)} rows of logits for {num_rows} feature rows.")
    out = []
    for index, positions in enumerate(features.word_positions):
        rows = (np.full(len(positions), index) if features.word_rows is None
                else features.word_rows[index])
        valid = (rows >= 0) & (positions >= 0) & (positions < np.shape(logits)[1])
        best = np.argmax(np.asarray(logits[rows[valid], positions[valid]]), axis=-1)
        tags = np.full(len(positions), "O", dtype=object)
        tags[valid] = [label_names[b] for b in best]
        out.append(tuple(tags))
    return out
