"""Long texts in the exports: 200 documents of 1,000-5,000 word pieces, built
from the shared WikiText-2 text, through the tasks' Python path (features in
windows, `predict`, the combination of windows) and through the tasks'
SavedModels loaded by the C++ loader as TF Serving loads them.

- tagging (`long_text=max_context`): every word gets the tag of the Python
  path, every piece is labeled exactly once, and no word is tagged twice or
  skipped;
- classification (`long_text=mean`; `max` through the same graph function):
  the same labels, and the same probabilities up to float rounding;
- multi-label (`long_text=mean`, 60 of the documents): the same probabilities
  up to float rounding, and the same labels chosen wherever rounding cannot
  cross the threshold.

Windows of 128 positions advance by 64 pieces: a document is read in 15 to
78 windows, and most pieces are seen by two. The tiny random models depend
strongly on the position in a window (see `test_export_squad_parity.py`), so
windows disagree, and picking another window than the max-context one changes
many tags: the comparison can fail.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tests.helpers import randomize, tiny_config
from tests.serving.conftest import TAGS, VOCAB
from tfbert.configs.experiment import DataConfig
from tfbert.data import windows
from tfbert.data.conll import tags_from_logits
from tfbert.serving import NativeSavedModel, classification, tagging, unsupported_ops
from tfbert.tasks.sentence_prediction import SentencePredictionConfig, SentencePredictionTask
from tfbert.tasks.tagging import CONLL2003_TAGS, TaggingConfig, TaggingTask
from tfbert.text import BertTokenizer

SEQ_LENGTH, DOC_STRIDE = 128, 64
# The export's graph and the Python path sum the same products in different orders
# (fused ops, another LayerNorm form), so their logits differ in the last float bits,
# and a word whose two best logits are that close can get either tag. One word of
# 438,934 did on an AMD EPYC, none on an Intel Xeon.
TIE = 1e-4
NUM_DOCUMENTS, MIN_PIECES, MAX_PIECES = 200, 1000, 5000
REQUEST_SIZE = 25
CLASSES = ("business", "science", "sports")


@pytest.fixture(scope="module")
def documents(shared_data, uncased_vocab):
    """200 word lists of 1,000-5,000 pieces each: runs of the WikiText-2 words
    from random starting points (the text is read round, as it holds ~300k pieces)."""
    path = shared_data / "text" / "wikitext2_valid_pretrain_format.txt"
    words = path.read_text(encoding="utf-8").split()
    tokenizer = BertTokenizer(str(uncased_vocab))
    sizes = tokenizer.tokenize(tf.constant(words)).row_lengths().numpy()
    rng = np.random.default_rng(22)
    out = []
    for _ in range(NUM_DOCUMENTS):
        target = rng.integers(MIN_PIECES, MAX_PIECES + 1)
        start = rng.integers(len(words))
        order = np.arange(start, start + 3 * MAX_PIECES) % len(words)
        count = int(np.searchsorted(np.cumsum(sizes[order]), target)) + 1
        out.append([words[i] for i in order[:count]])
    return out


def _model(head, seed):
    config = tiny_config(vocab_size=30522, max_position_embeddings=SEQ_LENGTH, hidden_size=32,
                         num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    return randomize(head(tfbert.BertEncoder(config)), seed=seed)


def _classifier(preprocessor, documents):
    """A tiny random classifier whose classes depend on the words read.

    A random encoder's pooled output hardly varies with the text (its [CLS]
    position dominates), so every text would get the same class. The head is
    set to spread the pooled outputs of a sample of windows over the classes:
    centered on their mean, scaled to their spread.
    """
    model = _model(lambda encoder: tfbert.BertClassifier(encoder, len(CLASSES)), 22)
    words = next(w for w in model.weights if w.path == "word_embeddings/embeddings")
    words.assign(np.random.default_rng(12).normal(0.0, 0.05, words.shape).astype("float32"))
    sample = [" ".join(words_[:200]) for words_ in documents[:64]]
    pooled = model.encoder(preprocessor(tf.constant(sample)))["pooled_output"].numpy()
    kernel, bias = (next(w for w in model.weights if w.path == f"classifier/logits/{name}")
                    for name in ("kernel", "bias"))
    spread = np.random.default_rng(1).normal(0.0, 1.0, kernel.shape) / (
        (pooled - pooled.mean(0)).std() * np.sqrt(kernel.shape[0]))
    kernel.assign(spread.astype("float32"))
    bias.assign((-pooled.mean(0) @ spread).astype("float32"))
    return model


def _serve(path, key_texts):
    """`serving_default` over all texts, in requests of REQUEST_SIZE, through the C loader."""
    requests = [("serving_default", {"text": np.array([t.encode() for t in
                                                       key_texts[i:i + REQUEST_SIZE]],
                                                      dtype=object)})
                for i in range(0, len(key_texts), REQUEST_SIZE)]
    return NativeSavedModel(path).run_many(requests)


def _data_config(path):
    return DataConfig(input_path=str(path), max_seq_length=SEQ_LENGTH, global_batch_size=64)


@pytest.mark.slow
def test_tagging_export_equals_python_on_long_documents(documents, uncased_vocab, tmp_path):
    path = tmp_path / "documents.txt"
    path.write_text("".join("-DOCSTART- O\n\n" + "".join(f"{w} O\n" for w in words) + "\n"
                            for words in documents), encoding="utf-8")
    data_config = _data_config(path)
    task = TaggingTask(TaggingConfig(
        task="conll2003", vocab_file=str(uncased_vocab), label_names=list(CONLL2003_TAGS),
        long_text="max_context", doc_stride=DOC_STRIDE, documents=True,
        validation_data=data_config, predict_data=data_config))
    model = _model(lambda encoder: tfbert.BertTokenClassifier(encoder, len(CONLL2003_TAGS)), 21)

    features = task.tagging_features(data_config)
    assert len(features.windows) == NUM_DOCUMENTS
    assert features.windows.min() == 15 and features.windows.max() >= 70
    # Each word with pieces is labeled once, in one window; none is skipped.
    assert features.cut_words == 0
    assert int(features.arrays["label_weights"].sum()) == sum(len(d) for d in documents)
    # The task's Python path (`TaggingTask.predict_tags`, keeping the logits).
    logits = task.predict(model, data_config)["logits"]
    python_tags = tags_from_logits(features, logits, task.label_names)

    exported = task.export(model, str(tmp_path / "tagger"), version=1)[0]
    assert unsupported_ops(exported) == []  # only ops tensorflow_model_server has
    outputs = _serve(exported, [" ".join(words) for words in documents])
    responses = [text for batch in outputs for text in _rows(batch)]
    # Each word's top-two logit margin on the Python path: a word the two paths tag
    # differently must be a float tie (see TIE).
    margins = [np.diff(np.sort(logits[rows, positions], axis=-1)[:, -2:], axis=-1)[:, 0]
               for rows, positions in zip(features.word_rows, features.word_positions,
                                          strict=True)]
    mismatches = ties = total = first_window_differs = 0
    row = 0
    for (labels, starts), words, tags, count, margin in zip(
            responses, documents, python_tags, features.windows, margins, strict=True):
        # Every piece has one label (none skipped), and the graph read the pieces in
        # as many windows as the Python features.
        assert len(labels) == len(starts) and all(labels)
        assert MIN_PIECES <= len(starts) < MAX_PIECES + 50
        spans = windows.window_spans(len(starts), SEQ_LENGTH - 2, DOC_STRIDE)
        assert len(spans) == count
        word_starts = np.cumsum([0] + [len(w.encode()) + 1 for w in words[:-1]])
        first_piece = np.searchsorted(starts, word_starts)
        assert (starts[first_piece] == word_starts).all()
        exported_tags = [labels[i].decode() for i in first_piece]
        differ = np.array([a != b for a, b in zip(exported_tags, tags, strict=True)])
        mismatches += int(differ.sum())
        ties += int((differ & (margin < TIE)).sum())
        total += len(words)
        first_window_differs += _first_window_disagrees(
            logits[row:row + count], spans, first_piece, tags, task.label_names)
        row += count
    assert total == sum(len(d) for d in documents)
    assert mismatches == ties and mismatches <= total // 100_000, (
        f"{mismatches} of {total} words tagged differently, {ties} of them float ties")
    # The rule matters: the first window that holds a word would tag many differently.
    assert first_window_differs > total // 20, first_window_differs


def _rows(batch):
    """Per text of a response: `(labels, start bytes)` of its pieces (padding cut)."""
    for labels, starts in zip(batch["labels"], batch["start_byte"], strict=True):
        keep = starts >= 0
        yield labels[keep], starts[keep]


def _first_window_disagrees(logits, spans, first_piece, tags, label_names):
    """How many words the first window holding their first piece tags otherwise."""
    starts = np.array([start for start, _ in spans])
    ends = starts + np.array([length for _, length in spans])
    window = np.argmax((starts <= first_piece[:, None]) & (first_piece[:, None] < ends), axis=1)
    labels = np.argmax(logits[window, 1 + first_piece - starts[window]], axis=-1)
    return sum(label_names[label] != tag for label, tag in zip(labels, tags, strict=True))


@pytest.mark.slow
def test_classification_export_equals_python_on_long_documents(documents, uncased_vocab,
                                                               tmp_path):
    path = tmp_path / "documents.jsonl"
    path.write_text("".join(json.dumps({"text": " ".join(words), "label": CLASSES[i % 3]}) + "\n"
                            for i, words in enumerate(documents)), encoding="utf-8")
    data_config = _data_config(path)
    task = SentencePredictionTask(SentencePredictionConfig(
        task="classification", vocab_file=str(uncased_vocab), text_a="text",
        label_names=list(CLASSES), long_text="mean", doc_stride=DOC_STRIDE,
        validation_data=data_config, predict_data=data_config))
    model = _classifier(task.preprocessor(), documents)

    window_logits = task.predict(model, data_config)["logits"]
    logits, labels = task.text_logits(model, data_config)
    example_index = task.features(data_config, False)["example_index"]
    assert np.bincount(example_index).min() == 15 and len(logits) == NUM_DOCUMENTS
    assert labels.tolist() == [i % 3 for i in range(NUM_DOCUMENTS)]

    exported = task.export(model, str(tmp_path / "classifier"), version=1)[0]
    assert unsupported_ops(exported) == []
    outputs = _serve(exported, [" ".join(words) for words in documents])
    out = {key: np.concatenate([o[key] for o in outputs]) for key in outputs[0]}
    assert np.bincount(out["label_id"], minlength=3).min() > 20  # every class is predicted
    np.testing.assert_array_equal(out["label_id"], np.argmax(logits, -1))
    assert [x.decode() for x in out["label"]] == [CLASSES[i] for i in np.argmax(logits, -1)]
    # Equal up to float rounding: a window's last bits depend on the length it is padded
    # to (the export pads each length-sorted slice to its own longest), and the head
    # above multiplies the pooled output's spread by some 300.
    np.testing.assert_allclose(out["logits"], logits, rtol=0, atol=1e-3)
    np.testing.assert_allclose(out["probabilities"], tf.nn.softmax(logits).numpy(), rtol=0,
                               atol=1e-3)
    # Mean over windows is not the first window: the combination is what is compared.
    first = np.flatnonzero(np.diff(example_index, prepend=-1))
    assert (np.argmax(window_logits[first], -1) != out["label_id"]).sum() > 10

    # `max`, through the same graph function as the export (eagerly, on 20 documents).
    endpoint = classification.endpoints(model, task.preprocessor(), list(CLASSES),
                                        long_text="max", doc_stride=DOC_STRIDE)[0]
    graph = endpoint.fn(tf.constant([" ".join(words) for words in documents[:20]]))
    python_max = classification.combine_windows(window_logits, example_index, NUM_DOCUMENTS,
                                                "max").numpy()[:20]
    np.testing.assert_array_equal(graph["label_id"].numpy(), np.argmax(python_max, -1))
    np.testing.assert_allclose(graph["logits"].numpy(), python_max, rtol=0, atol=1e-3)


@pytest.mark.slow
def test_multilabel_export_equals_python_on_long_documents(documents, uncased_vocab, tmp_path):
    from tfbert.tasks.multilabel import MultiLabelConfig, MultiLabelTask

    path = tmp_path / "documents.jsonl"
    path.write_text("".join(json.dumps({"text": " ".join(words), "labels": [CLASSES[i % 3]]})
                            + "\n" for i, words in enumerate(documents[:60])), encoding="utf-8")
    data_config = _data_config(path)
    task = MultiLabelTask(MultiLabelConfig(
        vocab_file=str(uncased_vocab), label_names=list(CLASSES), long_text="mean",
        doc_stride=DOC_STRIDE, threshold=0.5, validation_data=data_config,
        predict_data=data_config))
    model = _classifier(task.preprocessor(), documents)
    probabilities, gold = task.probabilities(model, data_config)
    assert probabilities.shape == (60, 3) and gold.sum(1).tolist() == [1] * 60

    exported = task.export(model, str(tmp_path / "multilabel"), version=1)[0]
    outputs = _serve(exported, [" ".join(words) for words in documents[:60]])
    out = {key: np.concatenate([o[key] for o in outputs]) for key in outputs[0]}
    np.testing.assert_allclose(out["probabilities"], probabilities, rtol=0, atol=1e-3)
    chosen = probabilities > 0.5
    assert 0 < chosen.sum() < chosen.size  # some labels chosen, not all
    clear = np.abs(probabilities - 0.5) > 1e-3  # float rounding cannot cross the threshold
    exported_chosen = np.zeros_like(chosen)
    for row, ids in enumerate(out["label_ids"]):
        exported_chosen[row, ids[ids >= 0]] = True
    np.testing.assert_array_equal(exported_chosen[clear], chosen[clear])


def test_empty_and_short_texts_in_windows(preprocessor):
    """Empty requests, empty texts and texts of one window, in the windowed graphs: the
    classifier's windows of a one-window text are its truncated input, so its logits are
    those of `first`; the tagger labels every piece of a text longer than a window."""
    config = tiny_config(vocab_size=len(VOCAB))
    classifier = randomize(tfbert.BertClassifier(tfbert.BertEncoder(config), 3), seed=1)
    tagger = randomize(tfbert.BertTokenClassifier(tfbert.BertEncoder(config), len(TAGS)), seed=4)
    long_text = "john smith lives in paris , france . " * 6               # 48 pieces
    texts = tf.constant(["", "the film was a delight", long_text])
    first = classification.endpoints(classifier, preprocessor)[0].fn(texts[:2])
    for how in ("mean", "max"):
        fn = classification.endpoints(classifier, preprocessor, long_text=how,
                                      doc_stride=8)[0].fn
        assert fn(tf.constant([], tf.string))["logits"].shape == (0, 3)
        out = fn(texts)
        np.testing.assert_allclose(out["logits"][:2], first["logits"], atol=1e-6)
    fn = tagging.endpoints(tagger, preprocessor, TAGS, long_text="max_context",
                           doc_stride=8)[0].fn
    assert fn(tf.constant([], tf.string))["label_ids"].shape[0] == 0
    out = fn(texts)
    pieces = preprocessor.tokenizer.tokenize(texts).row_lengths().numpy().tolist()
    assert pieces[0] == 0 and pieces[2] > 24
    assert (out["label_ids"].numpy() >= 0).sum(axis=1).tolist() == pieces
