"""SQuAD data and post-processing with the real tokenizer and data: windows,
the max-context rule, labels from character offsets, n-best answers, v2.0
null answers, the output files, and bad answer offsets."""

import json
import pathlib

import numpy as np
import pytest

from tfbert import metrics
from tfbert.data import squad
from tfbert.tasks import squad_postprocess

DEV = "squad/dev-v1.1-articles-00-23.json"


@pytest.fixture(scope="module")
def tokenizer(uncased_vocab):
    from tfbert.text import BertTokenizer
    return BertTokenizer(uncased_vocab, lower_case=True)


def _oracle_logits(features, seq_length):
    """Logits that point at the training labels."""
    results = []
    for start, end in zip(features.arrays["start_positions"], features.arrays["end_positions"],
                          strict=True):
        start_logits, end_logits = np.full(seq_length, -5.0), np.full(seq_length, -5.0)
        start_logits[start], end_logits[end] = 5.0, 5.0
        results.append((start_logits, end_logits))
    return results


@pytest.mark.slow
def test_real_dev_labels_round_trip_to_answers(shared_data, tokenizer, tmp_path):
    data = squad.read_squad(shared_data / DEV, is_training=True)
    assert len(data.examples) == 5696 and data.skipped == []
    features = squad.squad_features(data, tokenizer, seq_length=192, doc_stride=64,
                                    max_query_length=32, is_training=True)
    arrays = features.arrays
    assert len(features) > len(data.examples)  # long contexts have several windows
    assert arrays["input_word_ids"].shape == (len(features), 192)
    # Every window: [CLS] question [SEP] context [SEP], context pieces typed 1.
    for f in range(0, len(features), 97):
        mask = arrays["input_mask"][f] == 1
        ids, types = arrays["input_word_ids"][f][mask], arrays["input_type_ids"][f][mask]
        offset, length = features.doc_offset[f], features.window_length[f]
        assert ids[0] == 101 and ids[offset - 1] == 102 and ids[-1] == 102
        assert len(ids) == offset + length + 1
        assert types.tolist() == [0] * offset + [1] * (length + 1)
    # Every context piece is scored in exactly one window.
    for example in range(0, len(data.examples), 50):
        windows = np.flatnonzero(features.example_index == example)
        scored = []
        for f in windows:
            pieces = features.context_pieces(f)
            pieces = pieces[pieces >= 0]
            scored += pieces[features.best_window[example][pieces]
                             == features.window_index[f]].tolist()
        assert sorted(scored) == list(range(len(features.piece_chars[example])))

    predictions, nbest, _ = squad_postprocess.postprocess(
        data, features, _oracle_logits(features, 192))
    scores = metrics.evaluate_v1(json.loads((shared_data / DEV).read_text()), predictions)
    # Below 100 only where annotators marked part of a word ("gold" in "golden").
    assert scores["exact_match"] > 99.0 and scores["f1"] > 99.2
    assert len(nbest[data.examples[0].qid]) >= 1
    assert abs(sum(c["probability"] for c in nbest[data.examples[0].qid]) - 1) < 1e-6


def _tiny_squad(context, answers, impossible=False):
    qas = [{"id": f"q{i}", "question": "What is it?", "is_impossible": impossible,
            "answers": [{"text": text, "answer_start": start}]} for i, (text, start) in
           enumerate(answers)]
    return {"version": "v2.0", "data": [{"title": "t", "paragraphs": [
        {"context": context, "qas": qas}]}]}


def test_labels_from_offsets_with_accents_and_windows(tokenizer):
    context = ("Zoë visited Malmö in 1998. " * 3
               + "The capital of Ísland is Reykjavík, it is cold.")
    answer = "Reykjavík"
    data = squad.parse_squad(_tiny_squad(context, [(answer, context.index(answer))]),
                             is_training=True)
    features = squad.squad_features(data, tokenizer, seq_length=24, doc_stride=6,
                                    max_query_length=8, is_training=True)
    arrays = features.arrays
    hits = np.flatnonzero(arrays["start_positions"] > 0)
    assert len(features) == 3 and len(hits) >= 1
    for f in hits:
        pieces = features.context_pieces(f)
        chars = features.piece_chars[0]
        begin = chars[pieces[arrays["start_positions"][f]], 0]
        end = chars[pieces[arrays["end_positions"][f]], 1]
        assert context[begin:end] == answer  # byte offsets mapped back to characters
    assert (arrays["is_impossible"][arrays["start_positions"] == 0] == 1).all()


def test_bad_offsets_are_counted_and_skipped(tokenizer, tmp_path):
    context = "Denver won Super Bowl 50 in Santa Clara."
    raw = _tiny_squad(context, [("Denver", 0), ("Santa Clara", 3), ("Super Bowl", 11)])
    data = squad.parse_squad(raw, is_training=True)
    assert [e.qid for e in data.examples] == ["q0", "q2"]
    assert len(data.skipped) == 1 and "question q1: answer 'Santa Clara' not found at offset 3" \
        in data.skipped[0]
    # Evaluation keeps every question: offsets are not used.
    assert len(squad.parse_squad(raw, is_training=False).examples) == 3
    empty = tmp_path / "empty.json"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"empty.json is empty"):
        squad.read_squad(empty, is_training=False)
    empty.write_text('{"data": [], "version": "1.1"}')
    with pytest.raises(ValueError, match=r"has no questions"):
        squad.read_squad(empty, is_training=False)
    empty.write_text("[1, 2")
    with pytest.raises(ValueError, match=r"not valid JSON"):
        squad.read_squad(empty, is_training=False)


def test_v2_null_answers_and_output_files(tokenizer, tmp_path):
    context = "Denver won Super Bowl 50 in Santa Clara."
    data = squad.parse_squad(_tiny_squad(context, [("Denver", 0), ("Santa Clara", 28)]),
                             is_training=False)
    features = squad.squad_features(data, tokenizer, seq_length=32, max_query_length=8)
    assert len(features) == 2
    results = {}
    for f in range(2):
        pieces = features.context_pieces(f)
        chars = features.piece_chars[f]
        target = ("Denver", "Santa Clara")[f]
        begin = context.index(target)
        start = int(np.flatnonzero((pieces >= 0) & (chars[np.maximum(pieces, 0), 0] == begin))[0])
        end = start + len(tokenizer.tokenize([target]).to_list()[0]) - 1
        start_logits, end_logits = np.zeros(32), np.zeros(32)
        start_logits[start], end_logits[end] = 4.0, 3.0
        # The null answer: 2 + 2 = 4 for q0 (below 7), 6 + 6 = 12 for q1 (above 7).
        start_logits[0] = end_logits[0] = 2.0 if f == 0 else 6.0
        results[int(features.arrays["unique_ids"][f])] = (start_logits, end_logits[:20])
    predictions, nbest, null_odds = squad_postprocess.postprocess(
        data, features, results, version_2_with_negative=True)
    assert predictions == {"q0": "Denver", "q1": ""}
    assert null_odds == pytest.approx({"q0": -3.0, "q1": 5.0})
    assert "" in [c["text"] for c in nbest["q1"]]
    lenient, _, _ = squad_postprocess.postprocess(
        data, features, results, version_2_with_negative=True, null_score_diff_threshold=6.0)
    assert lenient == {"q0": "Denver", "q1": "Santa Clara"}
    v1, _, odds = squad_postprocess.postprocess(data, features, results, max_answer_length=1)
    assert v1 == {"q0": "Denver", "q1": "Santa"} and odds == {}

    paths = squad_postprocess.write_predictions(tmp_path / "out", predictions, nbest, null_odds)
    assert sorted(p.rsplit("/", 1)[1] for p in paths.values()) == [
        "nbest_predictions.json", "null_odds.json", "predictions.json"]
    assert json.loads(pathlib.Path(paths["predictions"]).read_text()) == predictions
    assert not list((tmp_path / "out").glob("*.tmp-*"))
    with pytest.raises(ValueError, match=r"no logits for 1 of 2 windows"):
        squad_postprocess.postprocess(data, features, {1000000000: results[1000000000]})
