"""The QA export's in-graph span decoding gives the answers of the Python
post-processing (`tfbert.tasks.squad_postprocess`) on the real SQuAD articles.

The export reads one window (see `tfbert.serving.question_answering`); every
question whose context fits one window is compared, and they must all agree."""

import collections

import numpy as np
import pytest

import tfbert
from tests.helpers import randomize, tiny_config
from tfbert.data import squad
from tfbert.serving import NativeSavedModel, question_answering
from tfbert.serving.export import export
from tfbert.tasks.squad_postprocess import postprocess
from tfbert.text import BertPreprocessor

SEQ_LENGTH = 384


@pytest.mark.slow
def test_squad_answers_equal_python_postprocessing(shared_data, uncased_vocab, tmp_path):
    preprocessor = BertPreprocessor(uncased_vocab, seq_length=SEQ_LENGTH)
    config = tiny_config(vocab_size=30522, max_position_embeddings=SEQ_LENGTH)
    model = randomize(tfbert.BertSpanLabeler(tfbert.BertEncoder(config)), seed=11)
    path = export(str(tmp_path / "squad"), question_answering.endpoints(model, preprocessor),
                  track=[model, preprocessor], vocab_file=uncased_vocab, version=1)

    data = squad.read_squad(shared_data / "squad" / "dev-v1.1-articles-00-23.json", False)
    features = squad.squad_features(data, preprocessor.tokenizer, seq_length=SEQ_LENGTH)
    arrays = {k: features.arrays[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}
    results = []
    for start in range(0, len(arrays["input_mask"]), 256):
        out = model({k: v[start:start + 256] for k, v in arrays.items()})
        results += list(zip(np.asarray(out["start_logits"]), np.asarray(out["end_logits"]),
                            strict=True))
    predictions, _, _ = postprocess(data, features, results)

    windows = collections.Counter(int(e) for e in features.example_index)
    single = [i for i, _ in enumerate(data.examples) if windows[i] == 1]
    assert len(data.examples) == 5696 and len(single) > 5000
    requests = []
    for start in range(0, len(single), 500):
        chunk = [data.examples[i] for i in single[start:start + 500]]
        requests.append(("serving_default", {
            "question": np.array([e.question.encode() for e in chunk], dtype=object),
            "context": np.array([e.context.encode() for e in chunk], dtype=object)}))
    answers = []
    for (_, inputs), out in zip(requests, NativeSavedModel(path).run_many(requests),
                                strict=True):
        for context, answer, begin, end in zip(inputs["context"], out["answer"],
                                               out["start_byte"], out["end_byte"], strict=True):
            assert answer == context[begin:end]
            answers.append(answer.decode("utf-8"))
    expected = [predictions[data.examples[i].qid] for i in single]
    expected = ["" if text == "empty" else text for text in expected]  # no valid span
    mismatches = [(e, a) for e, a in zip(expected, answers, strict=True) if e != a]
    assert not mismatches, f"{len(mismatches)} of {len(single)} differ: {mismatches[:5]}"
