"""Classification features and their tf.data pipeline, on real GLUE data
with the real tokenizer."""

import numpy as np
import pytest

from tfbert.data import classification, finetuning, glue


@pytest.fixture(scope="module")
def tokenizer(uncased_vocab):
    from tfbert.text import BertTokenizer
    return BertTokenizer(uncased_vocab, lower_case=True)


def test_truncate_pair_like_the_original():
    assert finetuning.truncate_pair([0] * 10, [0] * 3, 8) == (5, 3)
    assert finetuning.truncate_pair([0] * 5, [0] * 5, 7) == (4, 3)
    assert finetuning.truncate_pair([0] * 2, [0] * 3, 8) == (2, 3)


def test_features_and_dataset_on_real_mrpc(shared_data, tokenizer):
    data = glue.read_glue("mrpc", shared_data / "glue", "dev")
    data.examples = data.examples[:40]
    features = classification.classification_features(data, tokenizer, seq_length=48)
    ids, mask, types = (features[k] for k in ("input_word_ids", "input_mask", "input_type_ids"))
    assert ids.shape == (40, 48) and ids.dtype == np.int32
    first = ids[0][mask[0] == 1]
    a = tokenizer.tokenize([data.examples[0].text_a]).to_list()[0]
    b = tokenizer.tokenize([data.examples[0].text_b]).to_list()[0]
    assert first.tolist() == [101] + a + [102] + b + [102]  # fits in 48
    assert types[0][mask[0] == 1].tolist() == [0] * (len(a) + 2) + [1] * (len(b) + 1)
    lengths = mask.sum(axis=1)
    assert lengths.max() == 48  # some pairs were truncated
    row = int(np.argmax(lengths == 48))
    assert ids[row, 47] == 102 and (types[row] == 1).sum() >= 1
    assert features["label_ids"].tolist() == [e.label for e in data.examples]

    batches = list(finetuning.make_dataset(features, batch_size=16))
    assert [b["input_word_ids"].shape[0] for b in batches] == [16, 16, 8]
    for start, batch in zip(range(0, 40, 16), batches, strict=True):
        longest = lengths[start:start + 16].max()
        assert batch["input_word_ids"].shape[1] == longest  # padded to the batch's longest
        np.testing.assert_array_equal(batch["input_word_ids"], ids[start:start + 16, :longest])
    static = list(finetuning.make_dataset(features, batch_size=16, padding="max_seq_length",
                                          drop_remainder=True))
    assert [tuple(b["input_mask"].shape) for b in static] == [(16, 48), (16, 48)]
    shuffled = next(iter(finetuning.make_dataset(features, batch_size=40, shuffle=True, seed=1)))
    order = shuffled["example_index"].numpy()
    assert sorted(order.tolist()) == list(range(40)) and order.tolist() != list(range(40))
    np.testing.assert_array_equal(shuffled["label_ids"], features["label_ids"][order])


def test_length_bucketing_on_real_sst2(shared_data, tokenizer):
    data = glue.read_glue("sst2", shared_data / "glue", "dev")
    data.examples = data.examples[:320]
    features = classification.classification_features(data, tokenizer, seq_length=128)
    features["example_index"] = np.arange(320, dtype=np.int32)
    lengths = features["input_mask"].sum(axis=1)

    def batches(padding):
        dataset = finetuning.make_dataset(features, batch_size=16, shuffle=True, repeat=True,
                                          seed=3, drop_remainder=True, padding=padding)
        return list(dataset.take(80))  # 1,280 examples: 4 epochs

    def filled(batches):  # real tokens / batch cells
        return (sum(int(b["input_mask"].numpy().sum()) for b in batches)
                / sum(b["input_mask"].numpy().size for b in batches))

    bucketed = batches("bucket")
    seen = np.zeros(320, int)
    for batch in bucketed:
        rows = batch["example_index"].numpy()
        seen[rows] += 1
        width = batch["input_word_ids"].shape[1]
        assert batch["input_word_ids"].shape[0] == 16 and width % 16 == 0
        assert set(-(-lengths[rows] // 16) * 16) == {width}  # one bucket, cut to its length
        np.testing.assert_array_equal(batch["input_word_ids"],
                                      features["input_word_ids"][rows, :width])
        np.testing.assert_array_equal(batch["label_ids"], features["label_ids"][rows])
    # Every example about once per epoch; a rare length waits until its bucket fills.
    assert seen.min() >= 1 and seen.max() <= 5 and np.median(seen) == 4
    by_batch, fixed = filled(batches("batch")), filled(batches("max_seq_length"))
    assert fixed < 0.2 < by_batch < 0.6 < filled(bucketed)
    with pytest.raises(ValueError, match="padding must be one of"):
        finetuning.make_dataset(features, batch_size=16, padding="longest")
