"""Completeness of `tfbert.explain.integrated_gradients` against the step count, on the
real all-MiniLM-L6-v2, and the time of one explanation at the default.

For each of the first `--texts` SST-2 dev sentences and each rule (Gauss-Legendre, the
default; trapezoid), the relative gap `|sum(attributions) - (f(x) - f(x'))| / |f(x) - f(x')|`
for a class logit (a classifier head on the pooled output) and a start logit (a span
head on every token). The encoder is the real one; the heads are random (seeded, scale
4: no fine-tuned MiniLM ships with the package, and a fine-tuning run does not fit
here), which is what the check is about: the path integral through the real 6 layers.

    PYTHONPATH=. python -m benchmarks.explain_completeness --texts=5
"""

import argparse
import json
import os
import time

import numpy as np

import tfbert
from tfbert.checkpoints import installed_minilm_dir
from tfbert.checkpoints.loader import load_model
from tfbert.explain import DEFAULT_STEPS, Target, encode_text, integrated_gradients
from tfbert.text import BertTokenizer


def _randomize(layer, seed, scale):
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        shape = tuple(variable.shape)
        fan_in = shape[0] if len(shape) > 1 else 16
        variable.assign(rng.normal(0.0, scale / np.sqrt(fan_in), shape).astype("float32"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=5)
    parser.add_argument("--steps", default="4,8,16,32,64")
    args = parser.parse_args()
    data = os.environ.get("TFBERT_TEST_DATA", "../shared/data")
    with open(os.path.join(data, "glue", "SST-2", "dev.tsv"), encoding="utf-8") as f:
        texts = [line.split("\t")[0] for line in f.readlines()[1:1 + args.texts]]
    source = installed_minilm_dir()
    tokenizer = BertTokenizer(os.path.join(source, "vocab.txt"))
    classifier = load_model(source, head=lambda e: tfbert.BertClassifier(e, 2),
                            require_head=False)
    _randomize(classifier.classifier, 1, 4.0)
    span = load_model(source, head=tfbert.BertSpanLabeler, require_head=False)
    _randomize(span.span_head, 2, 4.0)
    rows, times = [], []
    for text in texts:
        inputs = encode_text(tokenizer, text).inputs
        length = inputs["input_mask"].shape[1]
        for name, model, target in (
                ("class logit", classifier, Target("logits", (1,), "1")),
                ("start logit", span, Target("start_logits", (length // 2,), "start"))):
            for method in ("gauss_legendre", "trapezoid"):
                for steps in [int(s) for s in args.steps.split(",")]:
                    start = time.perf_counter()
                    result = integrated_gradients(model, inputs, target, steps=steps,
                                                  method=method)
                    elapsed = time.perf_counter() - start
                    if method == "gauss_legendre" and steps == DEFAULT_STEPS:
                        times.append(elapsed)
                    rows.append({"target": name, "method": method, "steps": steps,
                                 "pieces": length, "error": result.completeness_error,
                                 "delta": result.input_value - result.baseline_value})
    print("| target | rule | steps | median error | max error |")
    print("|---|---|---|---|---|")
    for name in ("class logit", "start logit"):
        for method in ("gauss_legendre", "trapezoid"):
            for steps in sorted({r["steps"] for r in rows}):
                errors = [r["error"] for r in rows if (r["target"], r["method"], r["steps"])
                          == (name, method, steps)]
                print(f"| {name} | {method} | {steps} | {np.median(errors):.2e} | "
                      f"{np.max(errors):.2e} |")
    print(json.dumps({"texts": len(texts), "pieces": [r["pieces"] for r in rows[::20]],
                      "default_steps": DEFAULT_STEPS,
                      "seconds_at_default_median": float(np.median(times)),
                      "min_abs_delta": float(min(abs(r["delta"]) for r in rows))}))


if __name__ == "__main__":
    main()
