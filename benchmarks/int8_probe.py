"""int8 on CPU, the oneDNN route (issue #24's go/no-go): speed and output error of an
encoder with its dense products in int8 (the real all-MiniLM-L6-v2 by default), against
tfbert's float32, and a fine-tuned model's dev metrics.

The int8 product is `QuantizedMatMulWithBiasAndDequantize` (oneDNN's kernel, float32
out). Its inputs:
- **weights**: int8, one scale per matrix (`max |W| / 127`). A vector of per-column
  scales aborts the process in TF 2.21 (a `CHECK` on a one-element tensor).
- **activations**: quantized per call to uint8 over their own `[min, max]`
  (`QuantizeV2`, `MIN_FIRST`), and given to the product as `SCALED` over `[0, max - min]`.
  The shift by `min` comes back through the bias: `b + min * colsum(W)`. The op has no
  kernel for signed int8 activations, and its own `MIN_FIRST` input mode gives wrong
  outputs in TF 2.21.

Quantized this way the op equals a NumPy emulation of the same arithmetic to 4e-6 of the
largest output. With oneDNN off (`TF_ENABLE_ONEDNN_OPTS=0`) it returns an empty tensor,
not an error.

`--shipped` runs what `tfbert_export --quantize=int8` serves (`tfbert.layers.int8`: fixed
ranges calibrated on `--calibration_file`, the feed-forward down input's largest channels in
float32, the int8 weights as graph constants as the export's single-call signatures hold
them; its length-sorted slices read them from variables instead). The other
options are the variants tried on the way there: `--fp32_products` keeps some products in
float32 (`qkv`, `attention_output`, `ffn_up`, `ffn_down`). The attention core (scores,
softmax, context), LayerNorms and embeddings stay float32 throughout. Each variant runs the
encoder's own layers (`bert_encoder._forward`) with its blocks replaced by `Int8Block`, the
library's int8 block math with the variant's products. `--outliers=ffn_down:4` keeps that
many input channels of a product in float32 (the largest on the calibration sentences).

    python -m benchmarks.int8_probe --shipped --model_dir=/tmp/minilm_sst2 --shapes=32x128
    python -m benchmarks.int8_probe --shipped --model=bert_base   # random weights: speed
    python -m benchmarks.int8_probe                              # every product in int8
    python -m benchmarks.int8_probe --fp32_products=ffn_down --shapes=32x128
    python -m benchmarks.int8_probe --model_dir=/tmp/minilm_sst2   # + its dev metrics
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from benchmarks import common

KINDS = ("qkv", "attention_output", "ffn_up", "ffn_down")


class Int8Product:
    """`x @ W + b` for float32 `x [rows, in]` with `W` in int8 (see the module doc).

    `keep_outliers(count)` moves the `count` input channels with the largest values seen
    into a float32 product of their own, LLM.int8()'s decomposition: a few channels of
    BERT's activations run 3-5x larger than the rest, and would set the range alone."""

    def __init__(self, tf, kernel, bias):
        self.tf, self.kernel = tf, np.asarray(kernel, np.float32)
        self.bias = tf.constant(np.asarray(bias, np.float32))
        self.range, self.seen = None, []  # a fixed activation range, from `calibrate`
        self._quantize(outliers=())

    def _quantize(self, outliers):
        tf, kernel = self.tf, self.kernel.copy()
        self.outliers = np.array(sorted(outliers), np.int32)
        self.normal = np.setdiff1d(np.arange(len(kernel), dtype=np.int32), self.outliers)
        self.outlier_kernel = tf.constant(kernel[self.outliers])
        kernel[self.outliers] = 0.0  # their share comes from the float32 product
        self.limit = float(np.abs(kernel).max())
        step = self.limit / 127
        weights = np.clip(np.round(kernel / step), -127, 127)
        self.weights = tf.constant(weights.astype(np.int8), tf.qint8)
        self.column_sums = tf.constant((weights * step).sum(0).astype(np.float32))

    def __call__(self, x):
        tf = self.tf
        if self.range is None:
            if tf.executing_eagerly():
                self.seen.append(x.numpy())
            if len(self.outliers):  # the range of the other channels
                low = tf.reduce_min(tf.gather(tf.reduce_min(x, 0), self.normal))
                high = tf.reduce_max(tf.gather(tf.reduce_max(x, 0), self.normal))
            else:
                low, high = tf.reduce_min(x), tf.reduce_max(x)
        else:
            low, high = self.range
        quantized, low, high = tf.raw_ops.QuantizeV2(
            input=x, min_range=low, max_range=high, T=tf.quint8, mode="MIN_FIRST")
        output = tf.raw_ops.QuantizedMatMulWithBiasAndDequantize(
            a=quantized, b=self.weights, bias=self.bias + low * self.column_sums,
            min_a=0.0, max_a=high - low, min_b=-self.limit, max_b=self.limit,
            min_freezed_output=0.0, max_freezed_output=0.0, Toutput=tf.float32,
            input_quant_mode="SCALED")
        if len(self.outliers):
            output += tf.matmul(tf.gather(x, self.outliers, axis=1), self.outlier_kernel)
        return output

    def keep_outliers(self, count):
        """Keeps in float32 the `count` channels with the largest `|x|` of the eager calls."""
        largest = np.abs(np.concatenate(self.seen)).max(0)
        self._quantize(outliers=np.argsort(largest)[::-1][:count])

    def calibrate(self, percentile):
        """Fixes the activation range to the `percentile` and `100 - percentile` points of
        the values seen in eager calls (values outside are clipped), outliers left out."""
        seen = np.concatenate(self.seen)[:, self.normal].ravel()
        self.range = (float(np.percentile(seen, 100 - percentile)),
                      float(np.percentile(seen, percentile)))
        self.seen = []


class Int8Block:
    """A `TransformerEncoderBlock` at inference, its products in int8 except `fp32`: the
    library's block math (`tfbert.layers.int8.int8_layer`) with the probe's products."""

    def __init__(self, tf, block, fp32=()):
        from tfbert.layers import int8

        self.tf, self.block, self.int8_layer = tf, block, int8.int8_layer
        self.products = {kind: self._float_product(*pair) if kind in fp32
                         else Int8Product(tf, *pair)
                         for kind, pair in int8.float_products(block).items()}

    def _float_product(self, kernel, bias):
        tf = self.tf
        kernel, bias = tf.constant(kernel), tf.constant(bias)
        return lambda x: tf.nn.bias_add(tf.matmul(x, kernel), bias)

    def __call__(self, inputs, attention_bias, training=False, return_attention_scores=False):
        tf = self.tf
        tokens = tf.reshape(inputs, (-1, inputs.shape[-1]))
        output, probs = self.int8_layer(self.block, self.products, tokens, attention_bias)
        output = tf.reshape(output, tf.shape(inputs))
        return (output, probs) if return_attention_scores else output


def calibration_inputs(rows=256, pieces=64):
    """Encoder inputs of the first `rows` SST-2 *training* sentences (not dev: the dev
    accuracy must not see its own ranges), padded to `pieces`."""
    import tokenizers

    with open(common.DATA / "glue" / "SST-2" / "train.tsv", encoding="utf-8") as f:
        sentences = [line.split("\t")[0] for line in f.read().splitlines()[1:rows + 1]]
    tokenizer = tokenizers.BertWordPieceTokenizer(
        os.path.join(common.minilm_dir(), "vocab.txt"), lowercase=True)
    tokenizer.enable_truncation(pieces)
    tokenizer.enable_padding(length=pieces)
    encodings = tokenizer.encode_batch(sentences)
    return {"input_word_ids": np.array([e.ids for e in encodings], np.int32),
            "input_mask": np.array([e.attention_mask for e in encodings], np.int32),
            "input_type_ids": np.zeros((len(encodings), pieces), np.int32)}


def int8_forward(tf, encoder, fp32_products, percentile=None, outliers=None):
    """`inputs -> encoder outputs` (the dict of a call) of `encoder`'s own layers with
    `Int8Block`s in place of its blocks. With `percentile`, every activation range is
    fixed from `calibration_inputs` (else each call quantizes over its own min and max);
    with `outliers` (`{kind: count}`), those products keep that many input channels in
    float32, the largest on `calibration_inputs`."""
    from tfbert.networks import bert_encoder

    layers = {name: getattr(encoder, name) for name in bert_encoder._LAYER_ATTRIBUTES}
    blocks = [Int8Block(tf, block, fp32_products) for block in encoder.transformer_layers]
    layers["transformer_layers"] = blocks
    for name in ("embeddings_dropout", "attention_mask"):
        layers[name] = encoder.get_layer(name)
    outliers = outliers or {}
    if percentile is not None or outliers:
        bert_encoder._forward(layers, calibration_inputs())  # eager: records the inputs
        for block in blocks:
            for kind, product in block.products.items():
                if isinstance(product, Int8Product):
                    product.keep_outliers(outliers.get(kind, 0))
                    if percentile is not None:
                        product.calibrate(percentile)
                    product.seen = []
    return lambda inputs: bert_encoder._forward(layers, inputs)


def encoder_functions(fp32_products, percentile=None, outliers=None, model="minilm_l6",
                      calibration_file=None):
    """`{"fp32": f, "int8": f}`, each `(ids, mask, types) -> sequence_output` of `model`
    (`common.MODELS`: MiniLM's real weights, or random ones) traced for `[None, None]`
    inputs; fp32 is the encoder as an export traces it. With `fp32_products` None, int8
    is the export's, calibrated as `tfbert_export --calibration_file` does."""
    import tempfile

    import tensorflow as tf

    import tfbert
    from tfbert.checkpoints import huggingface

    with tempfile.TemporaryDirectory() as tmp:
        weights = common.weights_dirs([model], tmp)[model]
        config = common.MODELS[model]["config"]
        if config is None:
            encoder = huggingface.bert_encoder_from_huggingface(weights)
        else:
            encoder = tfbert.BertEncoder(tfbert.model_config(config))
            huggingface.load_huggingface_weights(encoder, weights)
    spec = [tf.TensorSpec([None, None], tf.int32)] * 3

    def inputs(ids, mask, types):
        return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}

    @tf.function(input_signature=spec)
    def fp32(*args):
        return encoder(inputs(*args), training=False)["sequence_output"]

    with tfbert.layers.precomputed_attention([encoder]) as copies:
        fp32.get_concrete_function()
    fp32.precomputed = copies
    if fp32_products is None:  # what the export serves
        from tfbert.serving.export import int8_calibration

        int8 = tf.function(fp32.python_function, input_signature=spec)
        preprocessor = tfbert.text.BertPreprocessor(
            os.path.join(common.minilm_dir(), "vocab.txt"), seq_length=128)
        calibrate = int8_calibration(encoder, preprocessor, calibration_file)
        with (tfbert.layers.int8_blocks([encoder], calibrate) as weights,
              tfbert.layers.int8.constant_weights()):
            int8.get_concrete_function()
        int8.weights = weights
    else:
        quantized = int8_forward(tf, encoder, fp32_products, percentile, outliers)
        int8 = tf.function(lambda *args: quantized(inputs(*args))["sequence_output"],
                           input_signature=spec)
    return {"fp32": fp32, "int8": int8}


class Int8Model:
    """A fine-tuned model whose encoder runs `int8_forward`, for `Task.evaluate`."""

    def __init__(self, model, forward):
        self.model, self.forward, self.inputs = model, forward, model.inputs

    def __call__(self, inputs, training=False):
        return self.model.head_outputs(self.forward(inputs))


def dev_scores(model_dir, fp32_products, percentile=None, outliers=None,
               calibration_file=None):
    """`{"fp32": scores, "int8": scores}`: the dev metrics (`Task.evaluate`, on the run's
    validation data) of a `tfbert_finetune` model; with `fp32_products` None, int8 is
    what `tfbert_export --quantize=int8` serves (`tfbert.layers.int8_blocks`), and
    `"task"` the task's name."""
    import tensorflow as tf

    import tfbert
    from tfbert.explain.explainer import load_model_dir

    task, model = load_model_dir(model_dir)
    if fp32_products is None:  # a second copy: evaluation keeps the graphs it traced
        from tfbert.serving.export import int8_calibration

        fp32 = task.evaluate(model)
        task, model = load_model_dir(model_dir)
        calibrate = int8_calibration(model, task.preprocessor(), calibration_file)
        with tfbert.layers.int8_blocks([model], calibrate):
            return {"fp32": fp32, "int8": task.evaluate(model), "task": task.config.task}
    quantized = Int8Model(model, int8_forward(tf, model.encoder, fp32_products, percentile,
                                                  outliers))
    return {"fp32": task.evaluate(model), "int8": task.evaluate(quantized)}


def min_cosine(a, b):
    """The smallest cosine between matching vectors (the last axis) of `a` and `b`."""
    cosines = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    return float(cosines.min())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fp32_products", default="",
                        help=f"comma-separated products kept in float32, of {KINDS}")
    parser.add_argument("--shapes", default="1x16,4x32,32x128", help="batch x pieces")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--percentile", type=float,
                        help="fixed activation ranges, calibrated at this percentile "
                        "(e.g. 99.99) on SST-2 training sentences; default: per call")
    parser.add_argument("--outliers", default="",
                        help="input channels kept in float32 (the largest on the "
                        "calibration sentences), as kind:count pairs, e.g. ffn_down:4")
    parser.add_argument("--shipped", action="store_true",
                        help="int8 as `tfbert_export --quantize=int8` serves it "
                        "(`tfbert.layers.int8_blocks`); the three options above must be unset")
    parser.add_argument("--calibration_file", help="with --shipped: as tfbert_export's")
    parser.add_argument("--model", default="minilm_l6", choices=sorted(common.MODELS),
                        help="the encoder timed (MiniLM's weights, or random ones)")
    parser.add_argument("--model_dir", help="a tfbert_finetune model (classifier or tagger): "
                        "also its dev metrics in float32 and int8")
    parser.add_argument("--record", action="store_true", help="with --shipped: put the "
                        "table into benchmarks/results/latest.json and RESULTS.md")
    args = parser.parse_args()
    fp32_products = [k for k in args.fp32_products.split(",") if k]

    from benchmarks.bench_encoder import packed_inputs

    outliers = {kind: int(count) for kind, count in
                (pair.split(":") for pair in args.outliers.split(",") if pair)}
    unknown = sorted((set(fp32_products) | set(outliers)) - set(KINDS))
    if unknown:
        parser.error(f"unknown products {unknown}; known: {list(KINDS)}")
    if args.calibration_file and not args.shipped:
        parser.error("--calibration_file calibrates --shipped")
    if args.shipped:
        if fp32_products or outliers or args.percentile is not None:
            parser.error("--shipped runs the library's own settings: no --fp32_products, "
                         "--outliers or --percentile")
        fp32_products = None
    if args.record and not args.shipped:
        parser.error("--record keeps the figures of --shipped only")
    report = {"model": args.model, "shipped": args.shipped, "model_dir": args.model_dir,
              "rounds": args.rounds,
              "calibration_file": args.calibration_file, "fp32_products": fp32_products,
              "percentile": args.percentile,
              "outliers": outliers, "shapes": {}}
    if args.model_dir:
        report["dev_scores"] = dev_scores(args.model_dir, fp32_products, args.percentile,
                                           outliers, args.calibration_file)
        print("dev", json.dumps(report["dev_scores"]), flush=True)
    functions = encoder_functions(fp32_products, args.percentile, outliers, args.model,
                                  args.calibration_file)
    for shape in args.shapes.split(","):
        batch, pieces = (int(n) for n in shape.split("x"))
        # Every model here is uncased, with the same vocab as MiniLM's.
        inputs = packed_inputs(batch, pieces, os.path.join(common.minilm_dir(), "vocab.txt"))
        reference, quantized = (functions[k](*inputs).numpy() for k in ("fp32", "int8"))
        calls = max(3, 3200 // (batch * pieces))
        times = {k: [] for k in functions}
        for _ in range(args.rounds):
            for name, function in functions.items():
                function(*inputs)
                start = time.perf_counter()
                for _ in range(calls):
                    function(*inputs)
                times[name].append((time.perf_counter() - start) / calls * 1000)
        medians = {k: float(np.median(v)) for k, v in times.items()}
        report["shapes"][shape] = {
            "ms": medians, "int8_speedup": medians["fp32"] / medians["int8"],
            "max_abs_diff": float(np.abs(reference - quantized).max()),
            "min_token_cosine": min_cosine(reference, quantized),
            "min_mean_pooled_cosine": min_cosine(reference.mean(1), quantized.mean(1))}
        print(shape, json.dumps(report["shapes"][shape]), flush=True)
    if args.record:
        from benchmarks import summaries, summarize

        command = " ".join(["python -m benchmarks.int8_probe", *sys.argv[1:]])
        entry = summaries.int8_probe_entry(report, command, common.machine_line())
        summarize.update_latest(summarize.LATEST, [entry])
        print(f"wrote {summarize.write_results()}")
    return report


if __name__ == "__main__":
    main()
