"""Vocab files, special tokens, odd vocabularies, vocab learning and its command."""

import subprocess
import sys

import pytest
import tensorflow as tf

import tfbert.text as text
from tests.text.reference_tokenization import ReferenceTokenizer

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def test_load_vocab_reads_like_the_original(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes(b"[PAD]\n  [UNK] \r\n[CLS]\n\n[SEP]\n[MASK]\ncaf\xc3\xa9\nbad\xffbyte\nlast")
    vocab = text.load_vocab(path)
    assert vocab == ["[PAD]", "[UNK]", "[CLS]", "", "[SEP]", "[MASK]", "café", "badbyte", "last"]
    assert text.special_tokens_dict(vocab) == {
        "vocab_size": 9, "start_of_sequence_id": 2, "end_of_segment_id": 4, "padding_id": 0,
        "mask_id": 5, "unk_id": 1}


def test_uncased_vocab_ids(uncased_tokenizer):
    assert uncased_tokenizer.vocab_size == 30522
    assert uncased_tokenizer.special_token_ids == {
        "vocab_size": 30522, "start_of_sequence_id": 101, "end_of_segment_id": 102,
        "padding_id": 0, "mask_id": 103, "unk_id": 100}
    assert uncased_tokenizer.vocabulary[101] == "[CLS]"
    assert uncased_tokenizer.token_to_id("[MASK]") == 103


def test_missing_special_token_is_named(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\n[CLS]\nhello\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[SEP\], \[MASK\]") as error:
        text.BertTokenizer(path)
    assert str(path) in str(error.value)
    with pytest.raises(ValueError, match="exactly one"):
        text.BertTokenizer()


def test_odd_vocab_entries_follow_the_original():
    # A repeated token keeps its last id; "", "##", tokens with spaces and a
    # literal "[MASK]" never match a word (punctuation and spaces split words).
    vocab = SPECIALS + ["ab", "##c", "ab", "", "##", "x y", "x", "y", "##d", "[", "]", "mask"]
    tokenizer = text.BertTokenizer(vocabulary=vocab)
    reference = ReferenceTokenizer(vocab)
    texts = ["abc ab x y x y", "abd ##", "[MASK] x  y", "ab\u00a0c"]
    got = tokenizer.tokenize(texts).to_list()
    assert got == [reference.ids(t) for t in texts]
    assert got[0][:2] == [7, 6]  # "ab" -> its last line


def test_detokenize(uncased_tokenizer):
    ids = uncased_tokenizer.tokenize(["Unaffable tokenizers, of course!"])
    assert uncased_tokenizer.detokenize(ids).numpy().tolist() == [
        b"unaffable tokenizers , of course !"]
    assert uncased_tokenizer.detokenize(uncased_tokenizer.tokenize_words(["Unaffable"])).numpy(
    ).tolist() == [b"unaffable"]
    assert uncased_tokenizer.detokenize(tf.constant([[101, 7592, 102]])).numpy().tolist() == [
        b"[CLS] hello [SEP]"]


def test_build_vocab_learns_usable_vocab(shared_data):
    lines = (shared_data / "text" / "bert_sample_text.txt").read_text(encoding="utf-8").split("\n")
    dataset = tf.data.Dataset.from_tensor_slices([line for line in lines if line.strip()])
    vocab = text.build_vocab(dataset, vocab_size=300, num_unused_tokens=3,
                             learn_params={"lower_thresh": 2})
    assert vocab[:8] == SPECIALS + ["[unused0]", "[unused1]", "[unused2]"]
    assert len(vocab) == len(set(vocab)) and 200 < len(vocab) <= 300
    assert all(t == t.lower() for t in vocab[8:])  # uncased
    tokenizer = text.BertTokenizer(vocabulary=vocab)
    ids = tokenizer.tokenize(lines[:20]).to_list()
    assert ids == [ReferenceTokenizer(vocab).ids(line) for line in lines[:20]]
    unk_share = sum(i == tokenizer.unk_id for row in ids for i in row) / sum(map(len, ids))
    assert unk_share < 0.01


def test_basic_tokenizer_words():
    words = text.BasicTokenizer(lower_case=True).tokenize(["Héllo, WORLD! 中文", ""])
    assert words.to_list() == [[b"hello", b",", b"world", b"!", "中".encode(), "文".encode()], []]
    cased = text.BasicTokenizer(lower_case=False).tokenize("Héllo, WORLD!")
    assert cased.numpy().tolist() == ["Héllo".encode(), b",", b"WORLD", b"!"]


def test_build_vocab_command(shared_data, tmp_path):
    out = tmp_path / "vocab.txt"
    result = subprocess.run(
        [sys.executable, "-m", "tfbert.cli.build_vocab",
         f"--input_files={shared_data / 'text' / 'bert_sample_text.txt'}",
         f"--output_file={out}", "--vocab_size=250", "--do_lower_case=false",
         "--lower_thresh=2"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    vocab = text.load_vocab(out)
    assert vocab[:5] == SPECIALS and f"{len(vocab)} tokens" in result.stdout
    assert any(t != t.lower() for t in vocab)  # cased
