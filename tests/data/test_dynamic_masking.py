"""Dynamic masking inside tf.data: rules of the original, new masks each epoch, no py_function."""

import numpy as np
import pytest
import tensorflow as tf

from tfbert.data import dynamic_masking
from tfbert.text import BertTokenizer

CLS, SEP, MASK, PAD = 101, 102, 103, 0


def _batch(seed=0, batch=64, seq=64):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(8, seq + 1, batch)
    ids = rng.integers(1000, 30000, (batch, seq)).astype(np.int32)
    mask = (np.arange(seq)[None] < lengths[:, None]).astype(np.int32)
    ids[:, 0] = CLS
    ids[np.arange(batch), lengths - 1] = SEP
    ids[np.arange(batch), lengths // 2] = SEP
    return {"input_word_ids": tf.constant(ids * mask), "input_mask": tf.constant(mask)}, lengths


def test_mask_batch_follows_the_original_rules():
    features, lengths = _batch()
    ids = features["input_word_ids"].numpy()
    kinds = np.zeros(3)
    for step in range(20):
        out = dynamic_masking.mask_batch(features, tf.constant([7, step]), 10, 30522, MASK,
                                         [CLS, SEP, PAD])
        positions = out["masked_lm_positions"].numpy()
        weights = out["masked_lm_weights"].numpy()
        labels = out["masked_lm_ids"].numpy()
        masked = out["input_word_ids"].numpy()
        real = weights > 0
        expected = np.minimum(10, np.maximum(1, np.round(lengths * 0.15))).astype(int)
        np.testing.assert_array_equal(real.sum(1), expected)
        for row in range(len(ids)):
            p = positions[row][real[row]]
            assert (np.diff(p) > 0).all() and (p < lengths[row]).all()
            assert not np.isin(ids[row, p], [CLS, SEP, PAD]).any()
            np.testing.assert_array_equal(labels[row][real[row]], ids[row, p])
            untouched = np.setdiff1d(np.arange(ids.shape[1]), p)
            np.testing.assert_array_equal(masked[row, untouched], ids[row, untouched])
            kinds += [(masked[row, p] == MASK).sum(), (masked[row, p] == ids[row, p]).sum(),
                      ((masked[row, p] != MASK) & (masked[row, p] != ids[row, p])).sum()]
        assert (positions[~real] == 0).all() and (labels[~real] == 0).all()
    fractions = kinds / kinds.sum()
    assert 0.77 < fractions[0] < 0.83 and 0.08 < fractions[1] < 0.12
    assert 0.08 < fractions[2] < 0.12


def test_unmask_restores_the_original_sequences(shared_data):
    golden = str(shared_data / "pretraining_golden" / "sample_text_seq128_seed12345.tfrecord")
    ds = dynamic_masking.dynamic_masking_dataset(
        golden, 128, 20, global_batch_size=60, vocab_size=30522, mask_id=MASK,
        special_ids=[CLS, SEP, PAD], is_training=False)
    from tfbert.data import pretraining_dataset

    static = next(iter(pretraining_dataset(golden, 128, 20, 60, is_training=False)))
    dynamic = next(iter(ds))
    original = static["input_word_ids"].numpy().copy()
    weights = static["masked_lm_weights"].numpy() > 0
    for row in range(60):
        p = static["masked_lm_positions"].numpy()[row][weights[row]]
        original[row, p] = static["masked_lm_ids"].numpy()[row][weights[row]]
    # the dynamic batch equals the original sequence everywhere but at its new masks
    dyn_pos = dynamic["masked_lm_positions"].numpy()
    dyn_real = dynamic["masked_lm_weights"].numpy() > 0
    restored = dynamic["input_word_ids"].numpy().copy()
    for row in range(60):
        p = dyn_pos[row][dyn_real[row]]
        np.testing.assert_array_equal(dynamic["masked_lm_ids"].numpy()[row][dyn_real[row]],
                                      original[row, p])
        restored[row, p] = original[row, p]
    np.testing.assert_array_equal(restored, original)
    for name in ("input_mask", "input_type_ids", "next_sentence_labels"):
        np.testing.assert_array_equal(dynamic[name], static[name])
    assert dynamic["input_word_ids"].dtype == tf.int32
    assert dynamic["masked_lm_positions"].shape == (60, 20)


def test_new_masks_every_epoch(shared_data):
    golden = str(shared_data / "pretraining_golden" / "sample_text_seq128_seed12345.tfrecord")
    ds = dynamic_masking.dynamic_masking_dataset(
        golden, 128, 20, global_batch_size=20, vocab_size=30522, mask_id=MASK,
        special_ids=[CLS, SEP, PAD], seed=5, is_training=True, shuffle_buffer_size=1)
    batches = list(ds.take(6))  # 60 records: two epochs of three batches
    for first, second in zip(batches[:3], batches[3:], strict=True):
        np.testing.assert_array_equal(dynamic_masking.unmask(first),
                                      dynamic_masking.unmask(second))
        assert not np.array_equal(first["masked_lm_positions"], second["masked_lm_positions"])
    again = next(iter(ds.take(1)))
    np.testing.assert_array_equal(again["input_word_ids"], batches[0]["input_word_ids"])


@pytest.mark.slow
def test_text_pipeline_packs_masks_and_has_no_py_function(shared_data, uncased_vocab, tmp_path):
    lines = (shared_data / "text" / "wikitext2_valid_pretrain_format.txt").read_text(
        encoding="utf-8").split("\n")[:300]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(uncased_vocab)
    expected = tokenizer.tokenize([line for line in lines if line.strip()]).flat_values.numpy()

    def dataset():
        return dynamic_masking.text_dynamic_masking_dataset(
            str(corpus), tokenizer, 64, 10, global_batch_size=16, seed=3, is_training=False)

    batches = list(dataset())
    assert len(batches) == len(expected) // 62 // 16
    ids = np.concatenate([dynamic_masking.unmask(b).numpy() for b in batches])
    assert (ids[:, 0] == CLS).all() and (ids[:, -1] == SEP).all()
    np.testing.assert_array_equal(ids[:, 1:-1].reshape(-1), expected[:ids.shape[0] * 62])
    weights = np.concatenate([b["masked_lm_weights"].numpy() for b in batches])
    assert (weights.sum(1) == 10).all()  # round(64 * 0.15) = 10
    for name, shape in [("input_word_ids", (16, 64)), ("input_type_ids", (16, 64)),
                        ("masked_lm_ids", (16, 10)), ("next_sentence_labels", (16,))]:
        assert batches[0][name].shape == shape and batches[0][name].dtype == tf.int32
    again = next(iter(dataset()))
    np.testing.assert_array_equal(again["input_word_ids"], batches[0]["input_word_ids"])
    # pure TF: no py_function anywhere in the pipeline's graph
    graph = dataset()._as_serialized_graph().numpy()
    assert b"PyFunc" not in graph and b"EagerPyFunc" not in graph
