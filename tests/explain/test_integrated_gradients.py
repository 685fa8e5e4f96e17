"""`tfbert.explain.integrated_gradients` on every kind of head: completeness (the
attributions add up to f(input) - f(baseline) within 1% at the default step count),
the [PAD] baseline with [CLS]/[SEP] kept, chunking that does not change the result,
a clear error for a model without a head, and completeness on the real all-MiniLM-L6-v2."""

import numpy as np
import pytest

import tfbert
from tests.helpers import random_inputs, randomize, tiny_config
from tfbert.explain import (
    DEFAULT_STEPS,
    Target,
    integrated_gradients,
    pad_baseline,
    quadrature,
)

CLS, SEP = 2, 3


def _example(config, seq=12, pair_at=None, pad=0):
    """One example `[1, seq]`: [CLS] random pieces [SEP] (a second [SEP] at `pair_at`,
    type 1 after it), then `pad` padding positions."""
    inputs = random_inputs(config, batch=1, seq=seq, seed=7, pad=False)
    ids, types, mask = (inputs[k][0] for k in ("input_word_ids", "input_type_ids",
                                               "input_mask"))
    ids[ids < 5] = 5
    types[:] = 0
    real = seq - pad
    ids[0], ids[real - 1] = CLS, SEP
    if pair_at:
        ids[pair_at] = SEP
        types[pair_at + 1:real] = 1
    ids[real:], mask[real:], types[real:] = 0, 0, 0
    return inputs


def _model(kind, seed=5):
    encoder = tfbert.BertEncoder(tiny_config())
    model = {"classifier": lambda: tfbert.BertClassifier(encoder, 3),
             "regression": lambda: tfbert.BertClassifier(encoder, 1),
             "span": lambda: tfbert.BertSpanLabeler(encoder),
             "tagger": lambda: tfbert.BertTokenClassifier(encoder, 5)}[kind]()
    # Large random weights: a logit far from linear in the embeddings, so that the
    # quadrature has work to do, and a larger head, so that f(input) - f(baseline) is
    # not near 0.
    randomize(model, seed=seed, scale=1.5)
    head = next(layer for layer in model.layers if layer is not encoder and layer.weights)
    randomize(head, seed=seed, scale=8.0)
    return model


@pytest.mark.parametrize(("kind", "target"), [
    ("classifier", Target("logits", (2,), "2")),
    ("regression", Target("logits", (0,), "0")),
    ("span", Target("start_logits", (4,), "start@4")),
    ("span", Target("end_logits", (6,), "end@6")),
    ("tagger", Target("logits", (3, 1), "1@3")),
])
def test_completeness_at_the_default_step_count(kind, target):
    model = _model(kind)
    inputs = _example(model.encoder.config, seq=14, pair_at=6, pad=2)
    result = integrated_gradients(model, inputs, target)
    delta = result.input_value - result.baseline_value
    assert abs(delta) > 0.02, delta  # a real difference to account for
    assert result.completeness_error < 0.01, (np.sum(result.values), delta)
    # f(input) is the model's own logit for the example.
    logits = np.asarray(model(inputs)[target.output])[(0, *target.index)]
    np.testing.assert_allclose(result.input_value, logits, rtol=1e-5, atol=1e-5)


def test_the_baseline_is_pad_with_cls_and_sep_kept():
    model = _model("classifier")
    inputs = _example(model.encoder.config, seq=12, pair_at=5, pad=3)
    baseline = pad_baseline(inputs)
    ids = inputs["input_word_ids"][0]
    assert baseline[0].tolist() == [CLS, 0, 0, 0, 0, SEP, 0, 0, SEP, 0, 0, 0]
    assert ids[5] == SEP and ids[8] == SEP
    result = integrated_gradients(model, inputs, Target("logits", (0,), "0"))
    np.testing.assert_array_equal(result.baseline_ids, baseline[0])
    # Where input and baseline agree ([CLS], [SEP], padding) the attribution is exactly 0.
    kept = np.array([0, 5, 8, 9, 10, 11])
    assert (result.values[kept] == 0).all()
    assert (result.values[[1, 2, 3, 4, 6, 7]] != 0).all()


def test_chunks_of_interpolation_steps_do_not_change_the_result():
    model = _model("tagger", seed=2)
    inputs = _example(model.encoder.config, seq=10)
    target = Target("logits", (2, 4), "4@2")
    small = integrated_gradients(model, inputs, target, batch_size=3)
    whole = integrated_gradients(model, inputs, target, batch_size=DEFAULT_STEPS)
    np.testing.assert_allclose(small.values, whole.values, rtol=1e-4, atol=1e-6)


def test_quadrature_rules_integrate_what_they_should():
    for method in ("gauss_legendre", "trapezoid"):
        points, weights = quadrature(9, method)
        assert points.min() >= 0 and points.max() <= 1
        np.testing.assert_allclose(weights.sum(), 1.0)
    points, weights = quadrature(5)  # exact for polynomials of degree <= 9
    np.testing.assert_allclose(np.sum(weights * points ** 9), 0.1)
    with pytest.raises(ValueError, match="unknown integration method 'simpson'"):
        quadrature(4, "simpson")


def test_a_model_without_a_head_is_a_clear_error():
    encoder = tfbert.BertEncoder(tiny_config())
    inputs = _example(encoder.config)
    for model in (encoder, tfbert.BertPretrainer(encoder)):
        with pytest.raises(ValueError, match=f"{type(model).__name__} has no task head"):
            integrated_gradients(model, inputs, Target("logits", (0,), "0"))


@pytest.mark.slow
def test_completeness_on_the_real_minilm():
    from tfbert.checkpoints import installed_minilm_dir
    from tfbert.checkpoints.loader import load_model
    from tfbert.explain import encode_text
    from tfbert.text import BertTokenizer

    try:
        source = installed_minilm_dir()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    model = load_model(source, head=lambda e: tfbert.BertSpanLabeler(e), require_head=False)
    # The real encoder under a random span head: the sequence output carries the weights.
    randomize(model.span_head, seed=1, scale=4.0)
    tokenizer = BertTokenizer(f"{source}/vocab.txt")
    text = encode_text(tokenizer, "Who won the game?",
                       "Denver beat Carolina 24 to 10 to win the championship.")
    for target in (Target("start_logits", (9,), "start@9"), Target("end_logits", (12,), "")):
        result = integrated_gradients(model, text.inputs, target)
        delta = result.input_value - result.baseline_value
        print(target, delta, np.sum(result.values), result.completeness_error)
        assert abs(delta) > 0.05 and result.completeness_error < 0.01
