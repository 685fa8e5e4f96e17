"""Domain vocabulary: words added to a vocab and to TF1, tfbert and HuggingFace checkpoints.

Real parts throughout: TF1 checkpoints written by `tf.compat.v1` as the
original code writes them (with Adam slots), tfbert training checkpoints with
an optimizer that has taken a step, a HuggingFace directory written by
`transformers` itself, the real all-MiniLM-L6-v2, and the golden tokenization
of the original `FullTokenizer`.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import tfbert
from tests.checkpoints.test_google_tf1 import original_variable_shapes, write_original_checkpoint
from tests.helpers import random_inputs, randomize, tiny_config
from tests.text.reference_tokenization import ReferenceTokenizer
from tfbert.checkpoints import (
    extend_vocab,
    installed_minilm_dir,
    load_model,
    plan_vocab_extension,
    read_tf1_checkpoint,
    read_words_file,
    training_checkpoint,
)
from tfbert.text import BertTokenizer, load_vocab

# A small uncased vocab with two [unusedN] slots (ids 1 and 6).
VOCAB = (["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused1]"]
         + "the a film gene is good , . !".split()
         + ["##s", "##om", "##ics", "##ing", "##ed"] + list("abcdefghijklmnopqrstuvwxyz")
         + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"])
SLOTS = (1, 6)
# Three words: two fill the slots, one is appended.
WORDS = ["Genomics", "genes", "filming"]


def _write_vocab(directory, vocab=VOCAB):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    return path


def _old_ids(config, seed=0):
    """Inputs of old tokens only: never a filled [unusedN] slot (no text yields one)."""
    inputs = random_inputs(config, batch=3, seq=16, seed=seed)
    ids = inputs["input_word_ids"]
    inputs["input_word_ids"] = np.where(np.isin(ids, SLOTS), 7, ids).astype("int32")
    return inputs


def _check_table(old, new, plan):
    """Old rows unchanged (slots aside), new rows the mean of the word's pieces."""
    assert new.shape[0] == len(plan.vocab) == old.shape[0] + plan.rows_appended
    kept = [i for i in range(old.shape[0]) if i not in plan.ids]
    np.testing.assert_array_equal(new[kept], old[kept])
    for word_id, pieces in zip(plan.ids, plan.pieces, strict=True):
        mean = old[list(pieces)].astype(np.float64).mean(axis=0).astype(old.dtype)
        np.testing.assert_array_equal(new[word_id], mean)


# ------------------------------------------------------------------- the plan
def test_slots_first_in_order_then_appended():
    plan = plan_vocab_extension(VOCAB, WORDS)
    assert plan.words == ("genomics", "genes", "filming")
    assert plan.ids == (1, 6, len(VOCAB))
    assert plan.vocab[1] == "genomics" and plan.vocab[6] == "genes"
    assert plan.vocab[len(VOCAB):] == ("filming",)
    assert (plan.slots_filled, plan.rows_appended) == (2, 1)
    ids = {token: i for i, token in enumerate(VOCAB)}
    assert plan.pieces[0] == tuple(ids[p] for p in ["g", "##e", "##n", "##om", "##ics"])
    assert plan.pieces[1] == (ids["gene"], ids["##s"])
    assert plan.pieces[2] == (ids["film"], ids["##ing"])
    # Everything but the slots keeps its id.
    assert [t for i, t in enumerate(plan.vocab[:len(VOCAB)]) if i not in SLOTS] == [
        t for i, t in enumerate(VOCAB) if i not in SLOTS]


def test_grow_bias_and_table():
    plan = plan_vocab_extension(VOCAB, WORDS)
    rng = np.random.default_rng(0)
    table = rng.normal(size=(len(VOCAB), 4)).astype("float32")
    _check_table(table, plan.grow(table), plan)
    bias = rng.normal(size=len(VOCAB)).astype("float32")
    _check_table(bias, plan.grow(bias), plan)
    with pytest.raises(ValueError, match=r"shape \[5, 4\].*must match"):
        plan.grow(table[:5])


def test_words_are_normalised_as_the_tokenizer_does():
    vocab = VOCAB + ["Gene"]
    assert plan_vocab_extension(VOCAB, ["CAFÉ"]).words == ("cafe",)
    cased = plan_vocab_extension(vocab, ["CAFÉ", "films\u00ad"], lower_case=False)
    # Cased: case and accents stay; the soft hyphen (Cf) is deleted as the original deletes it.
    assert cased.words == ("CAFÉ", "films")
    with pytest.raises(ValueError, match="'Gene' is already in the vocab"):
        plan_vocab_extension(vocab, ["Gene"], lower_case=False)


BAD_WORDS = [
    ("", "empty word ''"),
    ("gene therapy", "contains whitespace"),
    ("gene\ttherapy", "contains whitespace"),
    ("gene\u3000x", "contains whitespace"),
    ("Gene", "is already in the vocab as 'gene'"),
    ("e-mail", r"can never be one piece: the basic tokenizer splits it into \['e', '-', 'mail'\]"),
    ("##ing", "can never be one piece"),
    ("[unused9]", "can never be one piece"),
    ("東京", "can never be one piece"),
    ("\u200b", "nothing but characters the tokenizer deletes"),
    ("x" * 201, "over 200 characters"),
]


def test_bad_words_are_named():
    for word, message in BAD_WORDS:  # one test: each case builds the tokenizers anew
        with pytest.raises(ValueError, match=message) as error:
            plan_vocab_extension(VOCAB, ["genomics", word], where=["w.txt:1", "w.txt:2"])
        assert f"{word!r} (w.txt:2)" in str(error.value)


def test_a_word_given_twice_is_named():
    with pytest.raises(ValueError, match=r"'Genomics' \(w.txt:2\) is given twice"):
        plan_vocab_extension(VOCAB, ["genomics", "Genomics"], where=["w.txt:1", "w.txt:2"])


def test_words_file(tmp_path):
    path = tmp_path / "words.txt"
    path.write_bytes(b"# domain words\nGenomics\r\ngenes\n\nfilming \n")
    words, places = read_words_file(path)
    assert words == ["Genomics", "genes", "", "filming "]
    assert places == [f"{path}:2", f"{path}:3", f"{path}:4", f"{path}:5"]
    with pytest.raises(ValueError, match=f"{path}:4"):
        plan_vocab_extension(VOCAB, words, where=places)
    path.write_bytes(b"genes\n\xff\n")
    with pytest.raises(ValueError, match=f"{path}:2: not UTF-8"):
        read_words_file(path)


# ------------------------------------------------------ the golden tokenization
@pytest.mark.slow
def test_golden_tokenization_kept_apart_from_the_added_words(shared_data, uncased_vocab):
    """bert-base-uncased + 997 words (994 fill every [unusedN] slot, 3 are appended).

    Every golden text whose words do not begin with an added word gets the
    golden ids; every text equals the original algorithm run with the new
    vocab; an added word is one piece wherever it occurs."""
    with open(shared_data / "tokenization_golden" / "uncased_dev.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    vocab = load_vocab(uncased_vocab)
    domain = ["Huguenot", "ctenophore", "bskyb", "westinghouse", "Melanchthon", "cydippid"]
    fillers = [f"qqfiller{n:04d}" for n in range(991)]
    plan = plan_vocab_extension(vocab, domain[:3] + fillers + domain[3:])
    assert (plan.slots_filled, plan.rows_appended) == (994, 3)
    assert plan.ids[:3] == (1, 2, 3) and plan.ids[-3:] == (30522, 30523, 30524)
    added = dict(zip(plan.words, plan.ids, strict=True))

    texts = [row["text"] for row in rows]
    tokenizer = BertTokenizer(vocabulary=list(plan.vocab), lower_case=True)
    got = [ids for start in range(0, len(texts), 512)
           for ids in tokenizer.tokenize(texts[start:start + 512]).to_list()]
    reference = ReferenceTokenizer(list(plan.vocab), lower_case=True)
    unaffected = affected = one_piece = 0
    for text, row, ids in zip(texts, rows, got, strict=True):
        assert ids == reference.ids(text), text[:120]
        words = reference.words(text)
        if any(word.startswith(tuple(added)) for word in words):
            affected += 1
            grouped = [[reference.vocab[p] for p in pieces]
                       for pieces in reference.tokenize_words(text)]
            for word, pieces in zip(words, grouped, strict=True):
                if word in added:
                    assert pieces == [added[word]], (word, text[:120])
                    one_piece += 1
        else:
            unaffected += 1
            assert ids == row["ids"], text[:120]
    assert unaffected > 7500 and affected > 100 and one_piece > 200
    assert unaffected + affected == len(rows) == 8006


# -------------------------------------------------------------- Google TF1
def _tf1_source(tmp_path, with_heads=True):
    config = tiny_config(vocab_size=len(VOCAB))
    shapes = original_variable_shapes(config)
    if not with_heads:  # a fine-tuned classifier: run_classifier.py's head instead
        shapes = {k: v for k, v in shapes.items() if not k.startswith("cls/")}
        shapes.update({"output_weights": [3, config.hidden_size], "output_bias": [3]})
    source = tmp_path / "google"
    write_original_checkpoint(source / "bert_model.ckpt", shapes, seed=1)
    config.to_json_file(source / "bert_config.json")
    return config, source, _write_vocab(source)


@pytest.mark.slow
def test_tf1_pretraining_checkpoint(tmp_path):
    config, source, vocab_file = _tf1_source(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in source.iterdir()}
    out = extend_vocab(source / "bert_model.ckpt", vocab_file, WORDS, tmp_path / "out")
    plan = out.extension
    assert out.kind == "tf1" and out.path == str(tmp_path / "out" / "bert_model.ckpt")
    assert out.tables == ("bert/embeddings/word_embeddings", "cls/predictions/output_bias")
    assert {p: p.stat().st_mtime_ns for p in source.iterdir()} == before  # never in place
    assert load_vocab(out.vocab_file) == list(plan.vocab)
    new_config = tfbert.BertConfig.from_json_file(out.config_file)
    assert new_config == config.replace(vocab_size=len(VOCAB) + 1)

    old, new = read_tf1_checkpoint(source), read_tf1_checkpoint(tmp_path / "out")
    assert set(new) == set(old)  # Adam slots and global_step were left out of both reads
    names = tf.train.list_variables(out.path)
    assert not [n for n, _ in names if n.endswith(("adam_m", "adam_v"))]
    for name, value in old.items():
        if name in out.tables:
            _check_table(value, new[name], plan)
        else:
            np.testing.assert_array_equal(new[name], value, err_msg=name)

    # The directory loads (checkpoint file, config beside it); old text, same outputs.
    before_model = load_model(source, head=tfbert.BertPretrainer)
    after_model = load_model(tmp_path / "out", head=tfbert.BertPretrainer)
    inputs = _old_ids(config)
    inputs["masked_lm_positions"] = np.array([[1, 2]] * 3, "int32")
    a, b = before_model(inputs), after_model(inputs)
    assert b["mlm_logits"].shape[-1] == len(VOCAB) + 1
    keep = [i for i in range(len(VOCAB)) if i not in SLOTS]
    np.testing.assert_allclose(np.asarray(b["mlm_logits"])[..., keep],
                               np.asarray(a["mlm_logits"])[..., keep], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(b["next_sentence_logits"], a["next_sentence_logits"])

    with pytest.raises(ValueError, match="is not empty"):
        extend_vocab(source, vocab_file, ["other"], tmp_path / "out")


def test_tf1_fine_tuned_classifier_head_unchanged(tmp_path):
    _, source, vocab_file = _tf1_source(tmp_path, with_heads=False)
    out = extend_vocab(source, vocab_file, WORDS, tmp_path / "out")
    assert out.tables == ("bert/embeddings/word_embeddings",)
    old, new = read_tf1_checkpoint(source), read_tf1_checkpoint(out.path)
    for name in ("output_weights", "output_bias"):
        np.testing.assert_array_equal(new[name], old[name])
    assert load_model(out.path).word_embeddings.embeddings.shape[0] == len(VOCAB) + 1


# ------------------------------------------------------------------- tfbert
def _tfbert_run(tmp_path, head, seed=2):
    """A training checkpoint whose optimizer has taken a step (so it holds moments)."""
    config = tiny_config(vocab_size=len(VOCAB))
    model = randomize(head(tfbert.BertEncoder(config)), seed=seed)
    optimizer = tf.keras.optimizers.Adam(1e-3)
    optimizer.apply_gradients([(tf.ones_like(v), v) for v in model.trainable_variables])
    prefix = training_checkpoint(model, optimizer).write(str(tmp_path / "run" / "ckpt-5"))
    assert any(n.startswith("optimizer/") for n, _ in tf.train.list_variables(prefix))
    return config, model, prefix


@pytest.mark.slow
@pytest.mark.parametrize("head, table", [
    (lambda e: tfbert.BertClassifier(e, 2), None),
    (tfbert.BertPretrainer, "model/masked_lm/output_bias/.ATTRIBUTES/VARIABLE_VALUE"),
])
def test_tfbert_checkpoint(tmp_path, head, table):
    config, model, prefix = _tfbert_run(tmp_path, head)
    vocab_file = _write_vocab(tmp_path)
    with pytest.raises(ValueError, match=r"no bert_config\.json beside the checkpoint"):
        extend_vocab(prefix, vocab_file, WORDS, tmp_path / "no_config")
    config_file = tmp_path / "bert_config.json"
    config.to_json_file(config_file)
    out = extend_vocab(tmp_path / "run", vocab_file, WORDS, tmp_path / "out",
                       config=str(config_file))
    assert out.kind == "tfbert" and out.path == str(tmp_path / "out" / "ckpt-5")
    word_table = "encoder/word_embeddings/embeddings/.ATTRIBUTES/VARIABLE_VALUE"
    assert out.tables == tuple(sorted(t for t in (word_table, table) if t))
    # The optimizer's own variables (moments, step) are gone; the model's stay, even
    # those stored under an `optimizer/_trainable_variables/...` name.
    names = [n for n, _ in tf.train.list_variables(out.path)]
    assert len(names) == len(model.weights) + 1  # + the object graph
    assert not [n for n in names if "iteration" in n or "/_variables/" in n]

    extended = load_model(tmp_path / "out", head=head, config=out.config_file)
    assert extended.encoder.config.vocab_size == len(VOCAB) + 1
    _check_table(model.encoder.word_embeddings.embeddings.numpy(),
                 extended.encoder.word_embeddings.embeddings.numpy(), out.extension)
    old_weights = {v.path: v.numpy() for v in model.weights}
    for variable in extended.weights:  # heads and every other weight: unchanged
        if "word_embeddings" in variable.path or "output_bias" in variable.path:
            continue
        np.testing.assert_array_equal(variable.numpy(), old_weights[variable.path],
                                      err_msg=variable.path)
    if table:
        _check_table(model.masked_lm.output_bias.numpy(),
                     extended.masked_lm.output_bias.numpy(), out.extension)
    inputs = _old_ids(config)
    np.testing.assert_array_equal(extended.encoder(inputs)["sequence_output"],
                                  model.encoder(inputs)["sequence_output"])


# -------------------------------------------------------------- HuggingFace
def _hf_worker(*args):
    worker = os.path.join(os.path.dirname(__file__), "hf_vocab_worker.py")
    result = subprocess.run([sys.executable, worker, *map(str, args)], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_huggingface_directory_loads_in_transformers(tmp_path):
    pytest.importorskip("transformers")
    source = tmp_path / "hf"
    vocab_file = _write_vocab(source)
    _hf_worker("make", source, vocab_file)  # BertForPreTraining + BertTokenizerFast files
    assert (source / "tokenizer.json").exists()

    out = extend_vocab(source, vocab_file, WORDS, tmp_path / "out")
    assert out.kind == "huggingface" and out.path == str(tmp_path / "out")
    assert out.tables == ("bert.embeddings.word_embeddings.weight", "cls.predictions.bias")
    texts = ["the Genomics film", "the filming"]
    _hf_worker("read", source, out.path, tmp_path / "read.npz", *texts)
    read = np.load(tmp_path / "read.npz")
    assert int(read["vocab_size"]) == len(VOCAB) + 1
    _check_table(read["old_embeddings"], read["new_embeddings"], out.extension)
    # The MLM decoder stays tied to the (grown) embeddings; its bias grew alike.
    np.testing.assert_array_equal(read["new_decoder"], read["new_embeddings"])
    _check_table(read["old_bias"], read["new_bias"], out.extension)
    # Its own fast tokenizer (tokenizer.json) emits an added word as one id.
    assert bool(read["fast"])
    assert read["ids_0"].tolist() == [3, 7, 1, 9, 4]
    assert read["ids_1"].tolist() == [3, 7, len(VOCAB), 4]
    # tfbert reads it back, encoder and pretrainer.
    assert load_model(out.path).config.vocab_size == len(VOCAB) + 1
    pretrainer = load_model(out.path, head=tfbert.BertPretrainer)
    np.testing.assert_array_equal(pretrainer.masked_lm.output_bias.numpy(), read["new_bias"])


@pytest.mark.slow
def test_real_minilm_outputs_bit_identical(tmp_path, shared_data):
    """The real all-MiniLM-L6-v2: for texts without added words, the encoder's
    outputs after the extension are bit-identical to before."""
    source = installed_minilm_dir()
    reference = np.load(shared_data / "models" / "all-MiniLM-L6-v2_reference_outputs.npz")
    words = ["Huguenot", "ctenophore", "bskyb", "westinghouse"]
    out = extend_vocab(source, os.path.join(source, "vocab.txt"), words, tmp_path / "minilm")
    assert (out.extension.slots_filled, out.extension.rows_appended) == (4, 0)
    inputs = {k: reference[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}
    assert not np.isin(inputs["input_word_ids"], out.extension.ids).any()
    before, after = load_model(source), load_model(out.path)
    a, b = before(inputs), after(inputs)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_array_equal(np.asarray(b[key]), np.asarray(a[key]), err_msg=key)
    np.testing.assert_allclose(np.asarray(a["sequence_output"]), reference["sequence_output"],
                               atol=1e-4)
    _check_table(before.word_embeddings.embeddings.numpy(),
                 after.word_embeddings.embeddings.numpy(), out.extension)
    tokenizer = BertTokenizer(out.vocab_file)
    assert tokenizer.tokenize(["Huguenot westinghouse"]).to_list() == [[1, 4]]


def test_keras_file_refused(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"not read")
    with pytest.raises(ValueError, match=r"is a \.keras file"):
        extend_vocab(path, _write_vocab(tmp_path), WORDS, tmp_path / "out")


def test_vocab_of_another_checkpoint_refused(tmp_path):
    _, source, _ = _tf1_source(tmp_path)
    other = _write_vocab(tmp_path / "other", VOCAB + ["extra"])
    with pytest.raises(ValueError, match=r"but the vocab has \d+ tokens"):
        extend_vocab(source, other, WORDS, tmp_path / "out")
