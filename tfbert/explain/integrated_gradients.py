"""Integrated gradients (Sundararajan et al., 2017) of one logit with respect to the
word embeddings of a BERT task model.

The path runs from a baseline to the input in word-embedding space only:
`x(a) = x' + a (x - x')`, with the position and type embeddings, the mask and the
rest of the model as for the input. The baseline `x'` is the [PAD] embedding for
every word piece except [CLS] and every [SEP], which keep theirs: the text is
removed, its frame stays (the common choice; an all-zero vector is not a word the
model ever saw). The attribution of word piece `i` is
`sum_h (x - x')[i, h] * integral_0^1 df/dx[i, h](x(a)) da`, and by the completeness
axiom the attributions add up to `f(x) - f(x')`.

The integral is Gauss-Legendre quadrature by default: the logit is a smooth function
of `a` (tanh-GELU, softmax, LayerNorm), on which it converges much faster than the
Riemann or trapezoid sums of the paper, so few steps meet the 1% completeness
check (docs/explain.md has the measured errors). The steps run in chunks of
`batch_size` interpolation points, so memory stays that of one such batch.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from tfbert.explain.targets import Target

# Gauss-Legendre nodes of the default; see docs/explain.md, "Completeness".
DEFAULT_STEPS = 64
METHODS = ("gauss_legendre", "trapezoid")


@dataclasses.dataclass
class Attributions:
    """Integrated gradients of one logit for one example.

    Args:
        values: float `[seq]`, the attribution of each word piece (0 on padding).
        target: the `Target` explained.
        input_value: the logit at the input, `f(x)`.
        baseline_value: the logit at the baseline, `f(x')`.
        baseline_ids: int `[seq]`, the word ids whose embeddings form the baseline.

    Example:

    >>> a = Attributions(np.array([0.5, 0.25]), Target("logits", (0,), "0"), 1.0, 0.25,
    ...                  np.array([2, 0]))
    >>> a.completeness_error
    0.0
    """

    values: np.ndarray
    target: Target
    input_value: float
    baseline_value: float
    baseline_ids: np.ndarray

    @property
    def completeness_error(self) -> float:
        """`|sum(values) - (f(x) - f(x'))| / |f(x) - f(x')|`: how far the sum is from
        what the completeness axiom says it is (relative; absolute when the
        difference is 0)."""
        delta = self.input_value - self.baseline_value
        gap = abs(float(np.sum(self.values)) - delta)
        return gap / abs(delta) if delta else gap


def pad_baseline(inputs: dict, pad_id: int = 0) -> np.ndarray:
    """The default baseline's word ids `[batch, seq]`: [PAD] (`pad_id`) for every real
    word piece except [CLS] (position 0) and each segment's [SEP] (its last piece),
    which the packing of every BERT input puts there.

    Example:

    >>> pad_baseline({"input_word_ids": np.array([[2, 7, 8, 3, 9, 3, 0]]),
    ...               "input_mask": np.array([[1, 1, 1, 1, 1, 1, 0]]),
    ...               "input_type_ids": np.array([[0, 0, 0, 0, 1, 1, 0]])}).tolist()
    [[2, 0, 0, 3, 0, 3, 0]]
    """
    ids = np.asarray(inputs["input_word_ids"])
    mask = np.asarray(inputs["input_mask"]).astype(bool)
    types = np.asarray(inputs["input_type_ids"])
    nxt_mask = np.concatenate([mask[:, 1:], np.zeros_like(mask[:, :1])], axis=1)
    nxt_type = np.concatenate([types[:, 1:], types[:, -1:]], axis=1)
    segment_end = mask & (~nxt_mask | (nxt_type != types))
    keep = segment_end.copy()
    keep[:, 0] = True
    return np.where(keep, ids, pad_id).astype(ids.dtype)


def quadrature(steps: int, method: str = "gauss_legendre") -> tuple[np.ndarray, np.ndarray]:
    """Points `a` in [0, 1] and weights of the integral over the path.

    Example:

    >>> points, weights = quadrature(3, "trapezoid")
    >>> points.tolist(), weights.tolist()
    ([0.0, 0.5, 1.0], [0.25, 0.5, 0.25])
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1; got {steps}")
    if method == "gauss_legendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (nodes + 1.0) / 2.0, weights / 2.0
    if method == "trapezoid":
        if steps < 2:
            raise ValueError("the trapezoid rule needs at least 2 steps")
        points = np.linspace(0.0, 1.0, steps)
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] /= 2.0
        return points, weights
    raise ValueError(f"unknown integration method {method!r}; known: {', '.join(METHODS)}")


def explained_forward(model):
    """`forward(inputs, word_vectors) -> outputs` of a task model on given word
    embeddings, through `BertEncoder.encode` and the model's `head_outputs` (the same
    layers and code as a call).

    Raises:
        ValueError: the model has no head to explain (an encoder, a pre-trainer).
    """
    if not callable(getattr(model, "head_outputs", None)):
        raise ValueError(f"{type(model).__name__} has no task head to explain: explain a "
                         "fine-tuned classification, regression, multi-label, tagging or "
                         "SQuAD model")

    def forward(inputs, word_vectors):
        encoded = model.encoder.encode(inputs, word_embeddings=word_vectors, training=False)
        return model.head_outputs(encoded, training=False)

    return forward


def integrated_gradients(model, inputs: dict, target: Target, steps: int = DEFAULT_STEPS,
                         batch_size: int = 16, method: str = "gauss_legendre",
                         baseline_ids: np.ndarray | None = None) -> Attributions:
    """Integrated gradients of `target` for one example, per word piece.

    Args:
        model: a task model with a head (`BertClassifier`, `BertTokenClassifier`,
            `BertSpanLabeler`).
        inputs: the encoder inputs of one example, int `[1, seq]` each.
        target: the logit to explain (see `tfbert.explain.resolve_target`).
        steps: points of the quadrature.
        batch_size: interpolation points per forward/backward pass.
        method: `gauss_legendre` (default) or `trapezoid`.
        baseline_ids: int `[1, seq]` word ids of the baseline; default `pad_baseline`.

    Returns:
        `Attributions` (its `completeness_error` checks the result).

    Example:

    >>> config = BertConfig(vocab_size=30, hidden_size=64, num_hidden_layers=2,
    ...                     num_attention_heads=2, intermediate_size=128)
    >>> model = BertClassifier(BertEncoder(config), num_classes=2)
    >>> inputs = {"input_word_ids": np.array([[2, 11, 12, 3]]),
    ...           "input_mask": np.ones((1, 4), "int32"),
    ...           "input_type_ids": np.zeros((1, 4), "int32")}
    >>> result = integrated_gradients(model, inputs, Target("logits", (1,), "1"))
    >>> result.values.shape
    (4,)
    """
    forward = explained_forward(model)
    inputs = {k: tf.constant(np.asarray(v), tf.int32) for k, v in inputs.items()}
    if inputs["input_word_ids"].shape[0] != 1:
        raise ValueError("integrated_gradients explains one example: give inputs [1, seq]")
    if baseline_ids is None:
        baseline_ids = pad_baseline(inputs)
    embed = model.encoder.word_embeddings
    x = tf.cast(embed(inputs["input_word_ids"]), tf.float32)[0]  # [seq, hidden]
    x0 = tf.cast(embed(tf.constant(baseline_ids, tf.int32)), tf.float32)[0]
    points, weights = quadrature(steps, method)

    def value(outputs):  # [k] logits of the target
        logits = outputs[target.output]
        return tf.cast(logits[(slice(None), *target.index)], tf.float32)

    def tiled(k):
        return {name: tf.repeat(t, k, axis=0) for name, t in inputs.items()}

    # Eager: a trace per call cost more than the few chunks it would speed up.
    def gradients(alphas, step_weights):  # sum_k w_k df/dx(x(a_k)), [seq, hidden]
        k = tf.shape(alphas)[0]
        path = x0[None] + alphas[:, None, None] * (x - x0)[None]
        with tf.GradientTape() as tape:
            tape.watch(path)
            values = value(forward(tiled(k), path))
        grads = tape.gradient(values, path)
        return tf.reduce_sum(step_weights[:, None, None] * grads, axis=0)

    total = tf.zeros_like(x)
    for start in range(0, steps, batch_size):
        total += gradients(tf.constant(points[start:start + batch_size], tf.float32),
                           tf.constant(weights[start:start + batch_size], tf.float32))
    ends = value(forward(tiled(2), tf.stack([x, x0]))).numpy()
    return Attributions(values=tf.reduce_sum((x - x0) * total, axis=-1).numpy(),
                        target=target, input_value=float(ends[0]),
                        baseline_value=float(ends[1]), baseline_ids=np.asarray(baseline_ids)[0])
