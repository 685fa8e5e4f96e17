"""Every assigned code point (and a sample of unassigned ones), in context.

Each text puts 40 consecutive code points between letters, next to each
other, and upper-cased, so that cleaning, splitting, case mapping and
WordPiece all see every character. The final-sigma rule gets every
character as left and right context of Σ. Both routes must equal the
plain-Python original.
"""

import functools
import unicodedata

import pytest
import tensorflow as tf
import tensorflow_text as tf_text

from tfbert.text import normalizer_model, unicode_tables

pytestmark = pytest.mark.slow


def _code_points():
    return [cp for cp in range(unicode_tables.MAX_CODE_POINT + 1)
            if not 0xD800 <= cp <= 0xDFFF
            and (unicodedata.category(chr(cp)) != "Cn" or cp % 97 == 0)]


@functools.cache
def _texts(with_sigma):
    cps = _code_points()
    texts = []
    for start in range(0, len(cps), 40):
        chars = [chr(cp) for cp in cps[start:start + 40]]
        text = " ".join(f"a{c}b" for c in chars) + " " + "".join(chars)
        if with_sigma:
            # every character is the right context of one Σ and the left of the next
            text += " A" + "\u03a3".join(chars) + "\u03a3"
        else:
            text += " A" + "".join(chars).upper()[:60]
        texts.append(text)
    return tuple(texts)


_REFERENCE_IDS = {}


def _reference_ids(reference, texts):
    key = (id(reference), texts[0])
    if key not in _REFERENCE_IDS:
        _REFERENCE_IDS[key] = [reference.ids(t) for t in texts]
    return _REFERENCE_IDS[key]


def _check(tokenizer, reference, texts, exact_only):
    want = _reference_ids(reference, texts)
    bad = []
    for start in range(0, len(texts), 256):
        batch = list(texts[start:start + 256])
        if exact_only:
            got = tokenizer._exact_tokenize(tf.constant(batch), with_offsets=False)[0]
        else:
            got = tokenizer.tokenize(batch)
        for offset, (text, ids) in enumerate(zip(batch, got.to_list(), strict=True)):
            if ids != want[start + offset]:
                bad.append(" ".join(f"U+{ord(c):04X}" for c in text[1:200:4]))
    return bad


def test_every_code_point_uncased(uncased_tokenizer, uncased_reference):
    texts = _texts(False)
    accepted = int(tf.reduce_sum(tf.cast(uncased_tokenizer._fast.accepts(list(texts)), tf.int32)))
    assert accepted > len(texts) // 2  # both routes are exercised
    bad = _check(uncased_tokenizer, uncased_reference, texts, exact_only=False)
    assert not bad, f"{len(bad)} texts differ; first ones start with: {bad[:3]}"


def test_every_code_point_exact_path_uncased(uncased_tokenizer, uncased_reference):
    bad = _check(uncased_tokenizer, uncased_reference, _texts(False), exact_only=True)
    assert not bad, f"{len(bad)} texts differ; first ones start with: {bad[:3]}"


def test_every_code_point_around_sigma(uncased_tokenizer, uncased_reference):
    # Σ sends every text to the exact path, which applies the final-sigma rule.
    bad = _check(uncased_tokenizer, uncased_reference, _texts(True), exact_only=False)
    assert not bad, f"{len(bad)} texts differ; first ones start with: {bad[:3]}"


def test_every_code_point_cased(cased_tokenizer, cased_reference):
    bad = _check(cased_tokenizer, cased_reference, _texts(False), exact_only=False)
    assert not bad, f"{len(bad)} texts differ; first ones start with: {bad[:3]}"


@pytest.mark.parametrize("lower_case", [True, False])
def test_normalizer_model_maps_every_code_point(lower_case):
    # The FastBertNormalize op, run with tfbert's model, on every code point.
    normalizer = tf_text.FastBertNormalizer(
        model_buffer=normalizer_model.original_bert_model(lower_case))
    table = unicode_tables.char_normalization(lower_case)
    cps = [cp for cp in range(unicode_tables.MAX_CODE_POINT + 1) if not 0xD800 <= cp <= 0xDFFF]
    out = normalizer.normalize(tf.constant([chr(cp).encode("utf-8") for cp in cps])).numpy()
    bad = [f"U+{cp:04X}" for cp, got in zip(cps, out, strict=True)
           if got.decode("utf-8") != table.get(cp, chr(cp))]
    assert not bad, f"{len(bad)} code points differ: {bad[:20]}"
    assert normalizer_model.lookup(normalizer_model.original_bert_model(lower_case), "\x07") == ""


def test_final_sigma(uncased_tokenizer, uncased_reference):
    texts = ["ΟΔΟΣ", "ΟΔΟΣ.", "ΟΔΟΣ.Α", "Σ", "ΑΣΑ", "ΑΣ'Σ", "Α\u0301Σ", "Α\x07Σ", "ΑΣ\u200bΒ",
             "ΑΣ\x07", "ΑΣ 中", "中Σ", "ΑΣ中", "ΣΣΣ", "ὈΔΥΣΣΕΎΣ"]
    got = uncased_tokenizer.tokenize(texts).to_list()
    for text, ids in zip(texts, got, strict=True):
        assert ids == uncased_reference.ids(text), text
    # The rule really fires: "ΟΔΟΣ" ends in a piece with the final sigma.
    assert "ς" in uncased_tokenizer.id_to_token(got[0][-1])
