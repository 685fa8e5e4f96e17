"""Token-for-token parity with the original `FullTokenizer`.

The golden file holds 8,006 texts tokenized by the original (do_lower_case=
True, bert-base-uncased vocab), 400 of them a Unicode stress mix. Every
failure names the text. Both routes are checked on their own as well: the
exact path on every text, the fast path on every text it accepts.
"""

import tensorflow as tf

from tests.text.reference_tokenization import ReferenceTokenizer
from tests.text.util import ragged_to_list
from tfbert.text import load_vocab

BATCH = 512


def _batches(items, size=BATCH):
    for start in range(0, len(items), size):
        yield start, items[start:start + size]


def _differences(rows, ids_of_batch, vocab):
    texts = [row["text"] for row in rows]
    bad = []
    for start, batch in _batches(texts):
        for offset, got in enumerate(ids_of_batch(batch)):
            row = rows[start + offset]
            if got != row["ids"]:
                tokens = [vocab[i] for i in got]
                pairs = enumerate(zip(tokens, row["tokens"], strict=False))
                first = next((k for k, (a, b) in pairs if a != b),
                             min(len(tokens), len(row["tokens"])))
                bad.append(f"text #{start + offset} {row['text'][:120]!r}: got "
                           f"{tokens[max(0, first - 2):first + 3]} want "
                           f"{row['tokens'][max(0, first - 2):first + 3]} at token {first}")
    return bad


def test_reference_matches_golden(golden_rows, uncased_reference):
    # The plain-Python oracle used by the other tests is itself the original.
    bad = [row["text"][:120] for row in golden_rows
           if uncased_reference.ids(row["text"]) != row["ids"]]
    assert not bad, f"{len(bad)} golden texts differ in the reference: {bad[:10]}"


def test_golden_ids_identical(golden_rows, uncased_tokenizer):
    vocab = uncased_tokenizer.vocabulary
    bad = _differences(golden_rows, lambda b: uncased_tokenizer.tokenize(b).to_list(), vocab)
    assert not bad, f"{len(bad)} of {len(golden_rows)} texts differ:\n" + "\n".join(bad[:50])
    assert len(golden_rows) == 8006


def test_golden_exact_path_alone(golden_rows, uncased_tokenizer):
    def exact(batch):
        (ids,) = uncased_tokenizer._exact_tokenize(tf.constant(batch), with_offsets=False)
        return ids.to_list()

    bad = _differences(golden_rows, exact, uncased_tokenizer.vocabulary)
    assert not bad, f"exact path: {len(bad)} texts differ:\n" + "\n".join(bad[:50])


def test_golden_fast_path_alone(golden_rows, uncased_tokenizer):
    fast = uncased_tokenizer._fast
    accepted = fast.accepts([row["text"] for row in golden_rows]).numpy()
    rows = [row for row, ok in zip(golden_rows, accepted, strict=True) if ok]
    # Most texts take the fast path; the stress mix mostly does not.
    assert 7000 < len(rows) < len(golden_rows)

    def fast_ids(batch):
        ids, _, _, redo = fast.tokenize(tf.constant(batch), with_offsets=False)
        assert not redo.numpy().any()
        return ids.to_list()

    bad = _differences(rows, fast_ids, uncased_tokenizer.vocabulary)
    assert not bad, f"fast path: {len(bad)} texts differ:\n" + "\n".join(bad[:50])


def test_golden_words_form(golden_rows, uncased_tokenizer, uncased_reference):
    texts = [row["text"] for row in golden_rows[:1000]]
    got = ragged_to_list(uncased_tokenizer.tokenize_words(texts))
    vocab = uncased_tokenizer.vocabulary
    for text, words in zip(texts, got, strict=True):
        want = uncased_reference.tokenize_words(text)
        assert [[vocab[i] for i in word] for word in words] == want, text[:120]


def test_cased_mode_matches_reference(golden_rows, squad_contexts, cased_tokenizer,
                                      cased_reference):
    texts = [row["text"] for row in golden_rows] + squad_contexts[:300]
    vocab = cased_tokenizer.vocabulary
    bad = []
    for start, batch in _batches(texts):
        for offset, got in enumerate(cased_tokenizer.tokenize(batch).to_list()):
            text = texts[start + offset]
            if got != cased_reference.ids(text):
                bad.append(f"{text[:120]!r}: {[vocab[i] for i in got][:12]} want "
                           f"{cased_reference.tokenize(text)[:12]}")
    assert not bad, f"{len(bad)} texts differ in cased mode:\n" + "\n".join(bad[:30])


def test_cased_keeps_case_and_accents(cased_tokenizer):
    pieces = [cased_tokenizer.id_to_token(i)
              for i in cased_tokenizer.tokenize(["The"]).to_list()[0]]
    assert pieces == ["The"]


def test_uncased_vocab_in_cased_mode_matches_reference(golden_rows, uncased_vocab):
    # The real vocab in cased mode: upper-case words mostly become [UNK],
    # which exercises the whole-word [UNK] rule on every path.
    from tfbert.text import BertTokenizer

    vocab = load_vocab(uncased_vocab)
    tokenizer = BertTokenizer(vocabulary=vocab, lower_case=False)
    reference = ReferenceTokenizer(vocab, lower_case=False)
    texts = [row["text"] for row in golden_rows[:2000]]
    got = tokenizer.tokenize(texts).to_list()
    bad = [t[:120] for t, ids in zip(texts, got, strict=True) if ids != reference.ids(t)]
    assert not bad, f"{len(bad)} texts differ: {bad[:10]}"


def _random_texts(seed, count):
    import random

    rng = random.Random(seed)
    pools = [
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        " \t\n\r\u00a0\u3000\u2028",
        ".,;:!?'\"()[]{}<>-_/\\@#$%^&*+=|~`§¶«»“”‘’…—–",
        "áéíóúàèìòùâêîôûäëïöüçñßøåæœÀÉÎÕÜÇÑ",
        "\u0301\u0308\u0327\u0345",
        "αβγδεζηθικλμνξοπρσςτυφχψωΑΒΓΔΣΩΈΉ",
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГД",
        "中文字年世界测试한국어텍스트こんにちはカタカナ",
        "\x00\x07\x1b\x7f\x85\u200b\u200d\ufeff\u00ad\ufffd",
        "ﬁﬂﬃ½²³™Ｆｕｌｌ０１２",
        "😀👍🏽🇯🇵𝐛𝐨𝐥𝐝𠀀",
    ]
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(0, 12)):
            pool = rng.choice(pools)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
            if rng.random() < 0.05:  # words around the 200-character limit
                word = rng.choice(pools[0] + pools[3]) * rng.choice([199, 200, 201, 120])
                parts.append(word)
        texts.append(rng.choice(["", " "]).join(parts))
    return texts


def test_random_texts_match_reference(uncased_tokenizer, uncased_reference, cased_tokenizer,
                                      cased_reference):
    from tests.text.test_offsets import check_offsets

    texts = _random_texts(seed=12345, count=1500)
    for tokenizer, reference in ((uncased_tokenizer, uncased_reference),
                                 (cased_tokenizer, cased_reference)):
        got = tokenizer.tokenize(texts).to_list()
        bad = [t for t, ids in zip(texts, got, strict=True) if ids != reference.ids(t)]
        assert not bad, f"{len(bad)} random texts differ, e.g. {bad[:3]!r}"
        _, _, failures = check_offsets(tokenizer, reference, texts,
                                       lower_case=reference.lower_case)
        assert not failures, failures[:10]
