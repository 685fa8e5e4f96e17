"""The requests of the serving soak (`benchmarks/soak_serving.py`), from real texts.

Every kind of export gets the same mix, drawn from the files under
`$TFBERT_TEST_DATA`: short sentences (GLUE SST-2 / MRPC, CoNLL-2003), long
texts (several SQuAD contexts or WikiText-2 lines joined, well past 512
WordPiece pieces), non-ASCII texts, invalid UTF-8 (real text with stray
bytes, or cut inside a multi-byte character), empty strings, in batches of
1 to 8; and a few malformed requests (a rank-2 text tensor; token ids whose
mask has another shape), whose answer is an InvalidArgument error.
"""

import csv
import json

import numpy as np

from benchmarks.common import DATA

KINDS = ("classification", "squad", "tagging", "embeddings")
CATEGORIES = ("short", "long", "non_ascii", "invalid_utf8", "empty")


def _tsv_column(path, column):
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows)
        index = header.index(column)
        return [row[index] for row in rows if len(row) > index]


def _conll_sentences(path):
    sentences, words = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("-DOCSTART-"):
                if words:
                    sentences.append(" ".join(words))
                words = []
            else:
                words.append(line.split()[0])
    return sentences


def _squad(path):
    with open(path, encoding="utf-8") as f:
        articles = json.load(f)["data"]
    contexts, questions = [], []
    for article in articles:
        for paragraph in article["paragraphs"]:
            contexts.append(paragraph["context"])
            questions += [qa["question"] for qa in paragraph["qas"]]
    return contexts, questions


def _invalid_utf8(text: str, rng) -> bytes:
    """Real text made invalid: a stray byte, or a multi-byte character cut in two."""
    data = text.encode("utf-8")
    cut = next((i + 1 for i, b in enumerate(data) if b >= 0xC0), None)
    if cut is not None and rng.random() < 0.5:
        return data[:cut]
    at = int(rng.integers(0, len(data) + 1))
    return data[:at] + bytes([int(rng.choice([0xFF, 0xFE, 0xC3, 0x80]))]) + data[at:]


class TextPool:
    """Texts of each category (`CATEGORIES`), as UTF-8 bytes (or invalid bytes)."""

    def __init__(self, data_dir=DATA, seed=0):
        rng = np.random.default_rng(seed)
        short = (_tsv_column(data_dir / "glue" / "SST-2" / "dev.tsv", "sentence")
                 + _tsv_column(data_dir / "glue" / "MRPC" / "dev.tsv", "#1 String")
                 + _conll_sentences(data_dir / "conll2003" / "valid.txt")[:2000])
        squad = data_dir / "squad" / "dev-v1.1-articles-00-23.json"
        self.contexts, self.questions = _squad(squad)
        wiki_path = data_dir / "text" / "wikitext2_valid_pretrain_format.txt"
        with open(wiki_path, encoding="utf-8") as f:
            wiki = [line.strip() for line in f if line.strip()]
        # Four SQuAD contexts (or 30 WikiText lines) joined: about 3,000 characters,
        # over 512 pieces, so every export truncates or windows them.
        long = [" ".join(self.contexts[i:i + 4]) for i in range(0, len(self.contexts) - 4, 4)]
        long += [" ".join(wiki[i:i + 30]) for i in range(0, len(wiki) - 30, 30)]
        non_ascii = [t for t in short + self.contexts + self.questions if not t.isascii()]
        self.texts = {
            "short": [t.encode() for t in short],
            "long": [t.encode() for t in long],
            "non_ascii": [t.encode() for t in non_ascii],
            "invalid_utf8": [_invalid_utf8(t, rng) for t in non_ascii[:300] + short[:300]],
            "empty": [b""],
        }
        self.tagging_sentences = [t.encode() for t in
                                  _conll_sentences(data_dir / "conll2003" / "valid.txt")]

    def tagging_sentence(self, rng):
        return self.tagging_sentences[int(rng.integers(len(self.tagging_sentences)))]

    def draw(self, rng, category=None):
        category = category or CATEGORIES[int(rng.integers(len(CATEGORIES)))]
        texts = self.texts[category]
        return texts[int(rng.integers(len(texts)))]


def _batch(rng, draw):
    return np.array([draw() for _ in range(int(rng.integers(1, 9)))], dtype=object)


def make_requests(kind, pool, count, seed=0, malformed_every=100):
    """`count` distinct-ish requests `(signature, inputs)` for an export of `kind`.

    One in `malformed_every` is malformed on purpose (expected answer: an error).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown export kind {kind!r}; expected one of {KINDS}")
    rng = np.random.default_rng(seed)
    requests = []
    for i in range(count):
        if i % malformed_every == malformed_every - 1:
            requests.append(_malformed(kind, rng, pool, i // malformed_every))
        elif kind == "squad":
            batch = int(rng.integers(1, 9))
            questions = [pool.questions[int(rng.integers(len(pool.questions)))]
                         if rng.random() < 0.7 else pool.draw(rng) for _ in range(batch)]
            contexts = [pool.contexts[int(rng.integers(len(pool.contexts)))]
                        if rng.random() < 0.5 else pool.draw(rng) for _ in range(batch)]
            requests.append(("serving_default", {
                "question": np.array([q.encode() if isinstance(q, str) else q
                                      for q in questions], dtype=object),
                "context": np.array([c.encode() if isinstance(c, str) else c
                                     for c in contexts], dtype=object)}))
        elif kind == "tagging":
            requests.append(("serving_default", {"text": _batch(
                rng, lambda: pool.tagging_sentence(rng) if rng.random() < 0.5
                else pool.draw(rng))}))
        else:
            requests.append(("serving_default", {"text": _batch(rng, lambda: pool.draw(rng))}))
    return requests


def _malformed(kind, rng, pool, which):
    """A request the export must refuse with InvalidArgument."""
    if which % 2 == 0:
        texts = np.array([pool.draw(rng, "short") for _ in range(2)], dtype=object)
        keys = ("question", "context") if kind == "squad" else ("text",)
        return ("serving_default", {key: texts.reshape(1, 2) for key in keys})
    length = int(rng.integers(3, 12))
    return ("serve_token_ids", {
        "input_word_ids": rng.integers(1000, 2000, size=(2, length)).astype(np.int32),
        "input_mask": np.ones((2, length - 1), np.int32),
        "input_type_ids": np.zeros((2, length), np.int32)})
