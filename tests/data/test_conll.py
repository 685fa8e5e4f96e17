"""CoNLL-2003 reading (IOB1 and IOB2), first-piece labels with the real
tokenizer, word-level predictions, and bad input."""

import numpy as np
import pytest

from tfbert import metrics
from tfbert.data import conll, finetuning


@pytest.fixture(scope="module")
def tokenizer(uncased_vocab):
    from tfbert.text import BertTokenizer
    return BertTokenizer(uncased_vocab, lower_case=True)


def test_real_conll(shared_data):
    train = conll.read_conll(shared_data / "conll2003" / "train.txt")
    valid = conll.read_conll(shared_data / "conll2003" / "valid.txt",
                             label_names=train.label_names)
    assert len(train.sentences) == 14041 and len(valid.sentences) == 3250
    assert train.label_names == ("O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG",
                                 "B-PER", "I-PER")
    first = train.sentences[0]
    assert first.words[:3] == ("EU", "rejects", "German") and first.tags[:3] == (
        "B-ORG", "O", "B-MISC")
    assert first.line == 3


def test_iob1_is_converted_to_iob2(tmp_path):
    path = tmp_path / "iob1.txt"
    path.write_text("-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nand CC O O\nEC NNP I-NP I-ORG\n"
                    "UN NNP I-NP B-ORG\n\nPeter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\n")
    data = conll.read_conll(path, scheme="iob1")
    assert data.sentences[0].tags == ("B-ORG", "O", "B-ORG", "B-ORG")
    assert data.sentences[1].tags == ("B-PER", "I-PER")
    as_iob1 = conll.read_conll(path)
    # The entities are the same either way.
    assert [metrics.get_entities(s.tags) for s in data.sentences] == [
        metrics.get_entities(s.tags) for s in as_iob1.sentences]


def test_bad_input_names_the_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("EU B-ORG\nrejects\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: expected a word and a tag"):
        conll.read_conll(path)
    path.write_text("EU NNP ORG\n")
    with pytest.raises(ValueError, match=r"bad.txt:1: tag 'ORG' is neither 'O' nor"):
        conll.read_conll(path)
    path.write_text("EU B-ORG\n\nParis B-LOC\n")
    with pytest.raises(ValueError, match=r"bad.txt:3: tag 'B-LOC' is not in the label list"):
        conll.read_conll(path, label_names=["O", "B-ORG", "I-ORG"])
    path.write_text("-DOCSTART- -X- -X- O\n\n")
    with pytest.raises(ValueError, match="has no sentences"):
        conll.read_conll(path)


def test_first_piece_labels_and_predictions(shared_data, tokenizer):
    data = conll.read_conll(shared_data / "conll2003" / "valid.txt")
    data.sentences = data.sentences[:200]
    features = conll.tagging_features(data, tokenizer, seq_length=40)
    arrays = features.arrays
    checked = range(0, 200, 7)
    words = [w for row in checked for w in data.sentences[row].words]
    word_pieces = iter(tokenizer.tokenize(words).to_list())
    for row in checked:
        sentence = data.sentences[row]
        positions = features.word_positions[row]
        mask = arrays["input_mask"][row] == 1
        ids = arrays["input_word_ids"][row][mask]
        kept = positions >= 0
        assert ids[0] == 101 and ids[-1] == 102
        # Weight 1 exactly on the first piece of every kept word, with its tag.
        assert np.flatnonzero(arrays["label_weights"][row]).tolist() == positions[kept].tolist()
        tags = [data.label_names[i] for i in arrays["label_ids"][row][positions[kept]]]
        assert tags == [t for t, k in zip(sentence.tags, kept, strict=True) if k]
        # The pieces of a word start where its first piece is.
        for position in positions:
            pieces = next(word_pieces)
            if position >= 0:
                assert ids[position:position + len(pieces)].tolist() == pieces
    assert features.cut_words > 0  # seq_length 40 cuts the longest sentences

    # One-hot logits of the labels give back the tags (cut words become "O").
    batch = next(iter(finetuning.make_dataset(arrays, batch_size=200)))
    logits = np.eye(len(data.label_names))[batch["label_ids"].numpy()]
    predicted = conll.tags_from_logits(features, logits, data.label_names)
    gold = [s.tags for s in data.sentences]
    for tags, sentence, positions in zip(predicted, data.sentences, features.word_positions,
                                         strict=True):
        assert [t if p >= 0 else "O" for t, p in zip(sentence.tags, positions, strict=True)] \
            == list(tags)
    assert 0.9 < metrics.entity_scores(gold, predicted)["f1"] < 1.0
