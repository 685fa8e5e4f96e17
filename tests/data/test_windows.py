"""Windows over long texts (`tfbert.data.windows`): the numpy and the in-graph
forms agree; long CoNLL-2003 documents and long texts to classify are read
whole, and every word is labeled in exactly one window."""

import numpy as np
import pytest
import tensorflow as tf

from tfbert.data import conll, windows
from tfbert.data.classification import (
    ClassificationData,
    ClassificationExample,
    classification_features,
    window_features,
)


@pytest.fixture(scope="module")
def tokenizer(uncased_vocab):
    from tfbert.text import BertTokenizer
    return BertTokenizer(uncased_vocab, lower_case=True)


def test_windows_stride_and_max_context():
    assert windows.window_spans(10, 4, 2) == [(0, 4), (2, 4), (4, 4), (6, 4)]
    assert windows.window_spans(3, 4, 2) == [(0, 3)]
    assert windows.window_spans(0, 4, 2) == [(0, 0)]
    assert windows.window_spans(10, 4, 9) == [(0, 4), (4, 4), (8, 2)]  # never a gap
    best = windows.max_context_windows([(0, 4), (2, 4), (4, 4), (6, 4)], 10)
    # piece 2: window 0 gives min(2, 1), window 1 min(0, 3): window 0.
    # piece 3: window 0 min(3, 0), window 1 min(1, 2) = 1: window 1.
    assert best.tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]


def test_numpy_and_graph_windows_agree():
    """Random lengths, window sizes and strides: the same windows, and the same
    scoring window for every piece (exactly one per piece in the graph)."""
    rng = np.random.default_rng(0)
    num_pieces = rng.integers(0, 400, 300)
    max_doc = rng.integers(1, 60, 300)
    for stride in (1, 7, 32, 100):
        start, length = windows.sliding_windows(tf.constant(num_pieces, tf.int64),
                                                tf.constant(max_doc, tf.int64), stride)
        offsets = np.concatenate([[0], np.cumsum(num_pieces)[:-1]])
        pieces = windows.window_pieces(tf.constant(offsets, tf.int64), start, length)
        scored = windows.max_context(pieces, int(num_pieces.sum())).to_list()
        start, length, piece_lists = start.to_list(), length.to_list(), pieces.to_list()
        row = 0
        for text, (n, size) in enumerate(zip(num_pieces, max_doc, strict=True)):
            spans = windows.window_spans(int(n), int(size), stride)
            assert list(zip(start[text], length[text], strict=True)) == spans, (n, size, stride)
            best = windows.max_context_windows(spans, int(n))
            times = np.zeros(int(n), np.int64)
            for index, (first, count) in enumerate(spans):
                assert piece_lists[row] == list(range(offsets[text] + first,
                                                      offsets[text] + first + count))
                mask = np.array(scored[row], bool)
                local = np.arange(first, first + count)
                assert (best[local[mask]] == index).all() and (best[local[~mask]] != index).all()
                times[local[mask]] += 1
                row += 1
            assert (times == 1).all()
        assert row == len(piece_lists)


def test_conll_documents_tagged_once_per_word(shared_data, tokenizer):
    """All 216 documents of the CoNLL-2003 validation set at seq 128, stride 64:
    every word with pieces is labeled at its first piece in exactly one window,
    the one where it has the most context."""
    path = shared_data / "conll2003" / "valid.txt"
    documents = conll.read_conll_documents(path)
    sentences = conll.read_conll(path, label_names=documents.label_names)
    assert len(documents.sentences) == 216
    assert conll.split_sentences(documents, [d.tags for d in documents.sentences]) == [
        s.tags for s in sentences.sentences]
    assert sum(len(d.words) for d in documents.sentences) == sum(
        len(s.words) for s in sentences.sentences)

    features = conll.tagging_features(documents, tokenizer, seq_length=128, doc_stride=64)
    arrays = features.arrays
    assert int(np.sum(features.windows > 1)) == 162  # of 216: most need several windows
    assert len(arrays["input_mask"]) == features.windows.sum()
    assert arrays["example_index"].tolist() == np.repeat(np.arange(216),
                                                         features.windows).tolist()
    tag_ids = {t: i for i, t in enumerate(documents.label_names)}
    words = [w for d in documents.sentences for w in d.words]
    pieces = tokenizer.tokenize(tf.constant(words))
    first_piece = iter(np.where(pieces.row_lengths().numpy() > 0,
                                pieces.with_row_splits_dtype(tf.int64).to_tensor(-1)[:, 0], -1))
    labeled = set()
    offset = 0
    for index, document in enumerate(documents.sentences):
        rows, positions = features.word_rows[index], features.word_positions[index]
        for word, (row, position) in enumerate(zip(rows, positions, strict=True)):
            piece = next(first_piece)
            assert (row < 0) == (piece < 0)
            if row < 0:
                continue
            assert offset <= row < offset + features.windows[index]
            assert arrays["label_weights"][row, position] == 1.0
            assert arrays["label_ids"][row, position] == tag_ids[document.tags[word]]
            assert arrays["input_word_ids"][row, position] == piece
            labeled.add((row, position))
        offset += features.windows[index]
    # No weight anywhere else: each word counts once in the loss.
    assert len(labeled) == int(arrays["label_weights"].sum())
    assert features.cut_words == sum(int((r < 0).sum()) for r in features.word_rows)

    # The same sentences without windows: the labels of the original features.
    plain = conll.tagging_features(sentences, tokenizer, seq_length=128)
    assert plain.word_rows is None and plain.windows is None


def test_tags_from_window_logits_use_the_scoring_window(tmp_path):
    from tfbert.text import BertTokenizer

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\n")
    data = conll.TaggingData([conll.TaggedSentence(("a",) * 6, ("O",) * 6)], ("O", "B-X"))
    features = conll.tagging_features(data, BertTokenizer(str(vocab)), seq_length=6,
                                      doc_stride=2)
    # Windows (0, 4) and (2, 4): words 0-2 are tagged in row 0, words 3-5 in row 1.
    assert features.word_rows[0].tolist() == [0, 0, 0, 1, 1, 1]
    assert features.word_positions[0].tolist() == [1, 2, 3, 2, 3, 4]
    logits = np.zeros([2, 6, 2], np.float32)
    logits[0, :, 1] = 1.0   # row 0 says B-X everywhere, row 1 says O
    assert conll.tags_from_logits(features, logits, data.label_names) == [
        ("B-X",) * 3 + ("O",) * 3]


def test_classification_windows(tokenizer):
    texts = ["a fine film . " * 100, "dull", ""]
    data = ClassificationData([ClassificationExample(f"x:{i}", t, None, i % 2)
                               for i, t in enumerate(texts)], ("0", "1"), "x")
    first = classification_features(data, tokenizer, 32)
    features = window_features(data, tokenizer, 32, doc_stride=10)
    counts = np.bincount(features["example_index"]).tolist()
    assert counts == [len(windows.window_spans(400, 30, 10)), 1, 1]
    assert features["label_ids"].tolist() == [0] * counts[0] + [1, 0]
    starts = np.flatnonzero(np.diff(features["example_index"], prepend=-1))
    for key in ("input_word_ids", "input_mask", "input_type_ids"):
        # A text's first window is its truncation.
        np.testing.assert_array_equal(features[key][starts], first[key])
    pair = ClassificationData([ClassificationExample("x:1", "a", "b", 0)], ("0", "1"), "x")
    with pytest.raises(ValueError, match="single texts, not text pairs"):
        window_features(pair, tokenizer, 32, doc_stride=10)
    with pytest.raises(ValueError, match="doc_stride must be at least 1"):
        window_features(data, tokenizer, 32, doc_stride=0)
