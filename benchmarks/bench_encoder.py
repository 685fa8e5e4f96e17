"""Encoder inference speed: tfbert against keras-hub and HuggingFace (PyTorch), fp32 and bf16.

Contestants, the same weights and the same inputs (real SST-2 dev sentences,
WordPiece pieces packed into full rows of `--seq` tokens, no padding), batch
32 x sequence 128 by default:
- **tfbert**: `tfbert.BertEncoder(tfbert.model_config(name))` with the weights read by
  `tfbert.checkpoints.huggingface` (MiniLM: `bert_encoder_from_huggingface`), called in a
  `tf.function` traced for inputs of unknown batch and sequence size, with the attention
  weights laid out once (as the serving signature of an export: `precomputed_attention`),
  compiled as tfbert compiles its steps (`runtime.jit_compile`
  auto): with XLA on a GPU or TPU, as a TensorFlow graph (oneDNN) on a CPU, where XLA's
  bf16 matmuls are slower (docs/performance.md, "Benchmark method").
- **keras_hub**: `keras_hub.models.BertBackbone.from_preset(<the same HF directory>)`,
  called in a `tf.function(jit_compile=True)`.
- **hf_torch**: `transformers.BertModel.from_pretrained(<the same directory>)`, eager,
  `torch.inference_mode()`, `torch.set_num_threads(cpu_count)`.
- **ort_fp32**, **ort_int8** (float32 rows only): ONNX Runtime on an ONNX export of that
  `BertModel` (-> `sequence_output`), fp32 and dynamic int8 (`benchmarks/onnx_peers.py`).
- **matmul**: the machine's TensorFlow matmul peak, float32 and bfloat16: chains of
  2048x2048 matmuls in a `tf.function`, both as a plain graph (oneDNN) and with
  `jit_compile=True`; the peak of a dtype is the faster of the two. This VM's peak
  moves between processes and over minutes, so the TensorFlow contestants also time a
  chain of 4 such matmuls (graph mode) right after every timed batch, in their own
  process: `fraction_of_interleaved_peak` is the median over batches of the batch's
  FLOP/s divided by that chain's.
- **matmuls alone** (not a contestant): the encoder's matmuls in its shapes and order
  and nothing else (no softmax, LayerNorm, GELU, bias, transpose or cast), a TensorFlow
  graph with the weights as constants (oneDNN re-lays constant weights once and caches
  them; variables it re-lays on every call): the speed no implementation of the encoder
  passes on this machine, and its fraction of the peak. Large products on weights re-laid
  once can run faster than the square chains that define the peak, so fractions above 1
  are possible here.

Precisions: `float32`, and `bfloat16` = keras `mixed_bfloat16` policy (tfbert,
keras-hub: float32 variables, bfloat16 compute) / `torch.autocast("cpu",
dtype=torch.bfloat16)` (HuggingFace). The bf16 output deviation is
`sequence_output(bf16) - sequence_output(fp32)` of the same contestant on the same
batch (max and mean absolute value, and the mean relative to mean |fp32|); the fp32
outputs of the peers are also compared with tfbert's (the same function? keras-hub's
BERT always uses the tanh GELU, so it differs on MiniLM, whose GELU is the erf one).

Models: `bert_base` (uncased_L-12_H-768_A-12), `bert_small` (uncased_L-4_H-512_A-8),
`bert_tiny` (L-2_H-128_A-2, for `--quick`), seeded random weights (normal, std 0.02)
written once as a HuggingFace directory; `minilm_l6`: the real all-MiniLM-L6-v2 weights.

FLOPs, counted the same way for every contestant (matmuls only, 2 FLOPs per
multiply-add; embedding lookups, softmax, LayerNorm, GELU and biases not counted),
for batch b, sequence n, hidden h, intermediate i, L layers, one forward pass:

    F = L * (8*b*n*h^2 + 4*b*n*h*i + 4*b*n^2*h) + 2*b*h^2

per layer: the Q, K, V and output projections (4 x 2bnh^2), the feed-forward up and
down projections (2 x 2bnhi), the scores QK^T and probabilities x V (2 x 2bn^2h); then
the pooler (2bh^2). Achieved FLOP/s = F / (seconds per batch); the fraction of peak
divides by the matmul peak of the same dtype, measured in the same run.

Each measurement is a fresh subprocess (its peak RSS, `ru_maxrss`, is reported);
contestants alternate within each repetition; per run the median over `--iters`
timed batches after `--warmup` untimed ones (tracing, compilation); the report
gives the median over `--repeats` runs and tfbert's tokens/s divided by each peer's.

    python -m benchmarks.bench_encoder --repeats=3
    python -m benchmarks.bench_encoder --quick       # smoke test: seconds per contestant
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np

from benchmarks import common, onnx_peers
from benchmarks.common import MODELS, PRECISIONS, encoder_flops, matmul_chain

WORKER = "benchmarks.bench_encoder"
OUT = common.OUT_DIR / "encoder.json"
DEFAULT_MODELS = ("bert_base", "bert_small", "minilm_l6")
CONTESTANTS = ("tfbert", "keras_hub", "hf_torch", *onnx_peers.ENCODER_CONTESTANTS)


# === Contestants (each runs in its own process) ===

def packed_inputs(batch, seq, vocab_file):
    """`[batch, seq]` int32 ids of real SST-2 dev text: `[CLS]`, then the WordPiece pieces of
    consecutive sentences, each followed by `[SEP]`, cut to fill every row (no padding).
    Pieces from HuggingFace `tokenizers` (no TensorFlow or PyTorch needed)."""
    import tokenizers

    tokenizer = tokenizers.BertWordPieceTokenizer(str(vocab_file), lowercase=True)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    stream = []
    for encoding in tokenizer.encode_batch(common.sst2()[0], add_special_tokens=False):
        stream += encoding.ids + [sep]
    body = seq - 1
    while len(stream) < batch * body:  # more rows than the dev set fills: repeat it
        stream = stream + stream
    ids = np.array(stream[:batch * body], np.int32).reshape(batch, body)
    ids = np.concatenate([np.full((batch, 1), cls, np.int32), ids], axis=1)
    types = np.zeros_like(ids)
    return ids, np.ones_like(ids), types


def tf_encoder_fn(contestant, model, weights_dir):
    """A compiled `(ids, mask, types) -> (sequence_output, pooled_output)` of tfbert or
    keras-hub (under the current Keras dtype policy)."""
    import tensorflow as tf

    if contestant == "tfbert":
        import tfbert
        from tfbert.checkpoints import huggingface

        config = MODELS[model]["config"]
        if config is None:
            encoder = huggingface.bert_encoder_from_huggingface(weights_dir)
        else:
            encoder = tfbert.BertEncoder(tfbert.model_config(config))
            huggingface.load_huggingface_weights(encoder, weights_dir)

        from tfbert.training.strategies import xla_by_default

        # Traced for [batch, seq] unknown, as a serving signature is: then the LayerNorms
        # run as oneDNN's one-kernel `_MklLayerNorm` on a CPU (see `tfbert.layers.LayerNorm`,
        # and docs/performance.md, "LayerNorm", for what a static-shape trace costs).
        ids_spec = tf.TensorSpec([None, None], tf.int32)

        @tf.function(jit_compile=xla_by_default(), input_signature=[ids_spec] * 3)
        def forward(ids, mask, types):
            out = encoder({"input_word_ids": ids, "input_mask": mask, "input_type_ids": types},
                          training=False)
            return out["sequence_output"], out["pooled_output"]

        # Traced now, with the attention weights laid out once, as an export traces it.
        with tfbert.layers.precomputed_attention([encoder]) as copies:
            forward.get_concrete_function()
        forward.precomputed = copies  # held as long as the function
        return forward

    import keras_hub

    backbone = keras_hub.models.BertBackbone.from_preset(weights_dir)

    @tf.function(jit_compile=True)
    def forward(ids, mask, types):
        out = backbone({"token_ids": ids, "padding_mask": tf.cast(mask, tf.bool),
                        "segment_ids": types}, training=False)
        return out["sequence_output"], out["pooled_output"]
    return forward


def measure_encoder(contestant, model, precision, weights_dir, batch, seq, warmup, iters,
                    output_file, matmul_size=None, onnx_dir=None):
    """Times `iters` forward passes; saves the float32 sequence_output of the batch. With
    `matmul_size`, TensorFlow contestants also set each batch's FLOP/s against a
    `matmul_size` matmul chain timed right after it."""
    arrays = packed_inputs(batch, seq, os.path.join(weights_dir, "vocab.txt"))
    if contestant == "hf_torch" or contestant in onnx_peers.ENCODER_CONTESTANTS:
        call = onnx_peers.encoder_call(contestant, weights_dir, arrays, precision,
                                       onnx_dir and onnx_peers.files(onnx_dir))
    else:
        import keras
        import tensorflow as tf

        if precision == "bfloat16":
            keras.config.set_dtype_policy("mixed_bfloat16")
        forward = tf_encoder_fn(contestant, model, weights_dir)
        ids, mask, types = (tf.constant(a) for a in arrays)

        def call():
            sequence, pooled = forward(ids, mask, types)
            return (tf.cast(sequence, tf.float32).numpy(), tf.cast(pooled, tf.float32).numpy())

    result, (sequence, _) = time_batches(
        call, model, precision, batch, seq, warmup, iters,
        matmul_size if contestant in ("tfbert", "keras_hub") else None)
    np.save(output_file, sequence)
    return result


def time_batches(call, model, precision, batch, seq, warmup, iters, matmul_size=None):
    """`(timings, last output)` of `iters` calls of `call` (one `[batch, seq]` forward pass
    of `model`) after `warmup` untimed ones. With `matmul_size`, a chain of 4
    `matmul_size`² matmuls of `precision` is timed right after every call, in the same
    process: this VM's peak moves between processes and over minutes (a lot, in consecutive
    runs: docs/performance.md, "Benchmark method"), so each call's FLOP/s is also set against
    the peak of the moment."""
    flops = encoder_flops(model, batch, seq)
    chain = matmul_chain(matmul_size, precision, chain_length=4) if matmul_size else None
    for _ in range(warmup):
        call()
    times, fractions = [], []
    for _ in range(iters):
        start = time.perf_counter()
        output = call()
        times.append(time.perf_counter() - start)
        if chain:
            run, chain_flops = chain
            start = time.perf_counter()
            run()
            fractions.append(flops / times[-1] / (chain_flops / (time.perf_counter() - start)))
    seconds = statistics.median(times)
    result = {"seconds_per_batch": seconds, "tokens_per_s": batch * seq / seconds,
              "times": times, "peak_rss_mb": common.peak_rss_mb()}
    if fractions:
        result["fractions_of_interleaved_peak"] = fractions
        result["fraction_of_interleaved_peak"] = statistics.median(fractions)
    return result, output


def measure_ceiling(model, precision, batch, seq, warmup, iters, matmul_size):
    """The encoder's matmuls alone, in the encoder's shapes and order and nothing else (no
    softmax, LayerNorm, GELU, bias, transpose or cast; one scaling multiply of the scores
    per layer keeps the values finite): the speed no implementation of this encoder can
    pass on this machine. A TensorFlow graph of `precision` (oneDNN), weights constant."""
    import tensorflow as tf

    s = MODELS[model]
    h, i, heads = s["hidden"], s["intermediate"], s["heads"]
    rng = np.random.default_rng(0)

    def weight(rows, columns):
        return rng.normal(0, rows ** -0.5, (rows, columns)).astype("float32")

    layers = [[weight(h, h) for _ in range(4)] + [weight(h, i), weight(i, h)]
              for _ in range(s["layers"])]
    x0 = tf.constant(rng.normal(0, 1, (batch * seq, h)), precision)

    @tf.function
    def matmuls(x):
        # The weights as graph constants (made inside the trace): oneDNN re-lays them once
        # instead of on every call, the faster case (docs/performance.md, "Benchmark method").
        def constant(w):
            return tf.cast(tf.constant(w), precision)

        def heads_of(t):  # [batch * seq, h] -> [batch, heads, seq, h / heads] (no copy)
            return tf.reshape(t, (batch, heads, seq, h // heads))

        for weights in layers:
            wq, wk, wv, wo, w1, w2 = map(constant, weights)
            scores = tf.linalg.matmul(heads_of(x @ wq), heads_of(x @ wk), transpose_b=True)
            context = tf.reshape(tf.linalg.matmul(scores * seq ** -0.5, heads_of(x @ wv)),
                                 (batch * seq, h))
            x = ((context @ wo) @ w1) @ w2
        return x[:batch] @ constant(layers[0][0])  # the pooler's [batch, h] x [h, h]

    result, _ = time_batches(lambda: matmuls(x0).numpy(), model, precision, batch, seq,
                             warmup, iters, matmul_size)
    return result


# === The parent: alternate, collect, compare ===

def deviation(a, b):
    """Max and mean |a - b|, and mean |a - b| / mean |b|."""
    difference = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return {"max_abs": float(difference.max()), "mean_abs": float(difference.mean()),
            "mean_rel": float(difference.mean() / max(np.abs(b).mean(), 1e-30))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help=f"comma list of {', '.join(MODELS)}")
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--contestants", default=",".join(CONTESTANTS))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches per run")
    parser.add_argument("--iters", type=int, default=8, help="timed batches per run")
    parser.add_argument("--matmul_size", type=int, default=2048)
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: BERT-Tiny only, batch 8, 1 repetition, 2 timed batches, "
                             "1024x1024 matmuls")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # contestant:model:precision | matmul
    parser.add_argument("--weights_dir", help=argparse.SUPPRESS)
    parser.add_argument("--output_file", help=argparse.SUPPRESS)
    parser.add_argument("--onnx_dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.iters, args.warmup, args.models = 1, 2, 1, "bert_tiny"
        args.batch, args.matmul_size = 8, 1024
    if args.worker == "matmul":
        print(json.dumps({"matmul": common.measure_matmul(args.matmul_size, args.iters,
                                                          args.precisions.split(",")),
                          "peak_rss_mb": common.peak_rss_mb()}))
        return
    if args.worker and args.worker.startswith("ceiling:"):
        _, model, precision = args.worker.split(":")
        print(json.dumps(measure_ceiling(model, precision, args.batch, args.seq, args.warmup,
                                         args.iters, args.matmul_size)))
        return
    if args.worker:
        contestant, model, precision = args.worker.split(":")
        print(json.dumps(measure_encoder(contestant, model, precision, args.weights_dir,
                                         args.batch, args.seq, args.warmup, args.iters,
                                         args.output_file, args.matmul_size, args.onnx_dir)))
        return

    models, precisions = args.models.split(","), args.precisions.split(",")
    contestants = args.contestants.split(",")
    shape = [f"--batch={args.batch}", f"--seq={args.seq}", f"--warmup={args.warmup}",
             f"--iters={args.iters}", f"--matmul_size={args.matmul_size}"]
    runs = {m: {p: {c: [] for c in contestants  # the ONNX peers: no bf16 row
                    if p == "float32" or c not in onnx_peers.ENCODER_CONTESTANTS}
                for p in precisions} for m in models}
    ceiling_runs = {m: {p: [] for p in precisions} for m in models}
    matmul_runs, errors = [], []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        directories = common.weights_dirs(models, tmp)
        onnx_dirs = {m: os.path.join(tmp, f"{m}-onnx") for m in models}
        for model in models if set(contestants) & set(onnx_peers.ENCODER_CONTESTANTS) else ():
            onnx_peers.make_onnx_files(directories[model], onnx_dirs[model], encoder=True)
        for repeat in range(args.repeats):
            result = common.run_worker(WORKER, common.matmul_arguments(
                args.iters, args.matmul_size, precisions))
            matmul_runs.append(result)
            print(f"repeat {repeat + 1}/{args.repeats} matmul: "
                  f"{result.get('matmul', result.get('error'))}", flush=True)
            for model in models:
                for precision in precisions:
                    for contestant in contestants:  # alternating within the repetition
                        if contestant not in runs[model][precision]:
                            continue
                        output_file = os.path.join(tmp, f"{model}-{precision}-{contestant}.npy")
                        result = common.run_worker(WORKER, [
                            f"--worker={contestant}:{model}:{precision}",
                            f"--weights_dir={directories[model]}",
                            f"--output_file={output_file}", f"--onnx_dir={onnx_dirs[model]}",
                            *shape])
                        runs[model][precision][contestant].append(result)
                        if "error" in result:
                            errors.append(result["error"])
                        shown = (f"{result['tokens_per_s']:,.0f} tokens/s, "
                                 f"{result['peak_rss_mb']:,.0f} MB" if "error" not in result
                                 else "FAILED " + result["error"].splitlines()[0])
                        print(f"repeat {repeat + 1}/{args.repeats} {model} {precision} "
                              f"{contestant}: {shown}", flush=True)
                    result = common.run_worker(
                        WORKER, [f"--worker=ceiling:{model}:{precision}", *shape])
                    ceiling_runs[model][precision].append(result)
                    print(f"repeat {repeat + 1}/{args.repeats} {model} {precision} matmuls "
                          f"alone: {result.get('tokens_per_s', result.get('error'))}", flush=True)
        outputs = {name[:-4]: np.load(os.path.join(tmp, name))
                   for name in os.listdir(tmp) if name.endswith(".npy")}
    load_after = os.getloadavg()

    peaks = {p: common.median_or_none(r["matmul"][p]["peak"] for r in matmul_runs if "matmul" in r)
             for p in precisions}
    results, ceiling, bf16_deviation, fp32_vs_tfbert = {}, {}, {}, {}
    for model in models:
        flops = encoder_flops(model, args.batch, args.seq)
        results[model], ceiling[model] = {}, {}
        for precision in precisions:
            results[model][precision] = common.contestant_table(
                runs[model][precision], "tokens_per_s",
                flops / (args.batch * args.seq), peaks[precision])
            ceiling[model][precision] = common.contestant_table(
                {"matmuls_alone": ceiling_runs[model][precision]}, "tokens_per_s",
                flops / (args.batch * args.seq), peaks[precision])["matmuls_alone"]
        bf16_deviation[model], fp32_vs_tfbert[model] = {}, {}
        for contestant in contestants:
            fp32 = outputs.get(f"{model}-float32-{contestant}")
            bf16 = outputs.get(f"{model}-bfloat16-{contestant}")
            if fp32 is not None and bf16 is not None:
                bf16_deviation[model][contestant] = deviation(bf16, fp32)
            reference = outputs.get(f"{model}-float32-tfbert")
            if fp32 is not None and reference is not None and contestant != "tfbert":
                fp32_vs_tfbert[model][contestant] = deviation(fp32, reference)

    report = {
        "benchmark": "encoder inference", "batch": args.batch, "seq": args.seq,
        "warmup": args.warmup, "iters": args.iters, "repeats": args.repeats,
        "models": {m: MODELS[m] for m in models}, "precisions": precisions,
        "contestants": contestants,
        "flops_per_batch": {m: encoder_flops(m, args.batch, args.seq) for m in models},
        "matmul_size": args.matmul_size, "matmul_peak_flops": peaks,
        "matmul_runs": matmul_runs, "results": results, "matmuls_alone": ceiling,
        "matmuls_alone_runs": ceiling_runs,
        "bf16_deviation": bf16_deviation, "fp32_vs_tfbert": fp32_vs_tfbert,
        "runs": runs, "errors": errors, "cpu_count": os.cpu_count(),
        "load_average_before_after": [load_before, load_after], "versions": common.versions(),
        "command": " ".join(sys.argv), "quick": args.quick,
    }
    out = common.write_report(args.out, report)
    print(json.dumps({"matmul_peak_flops": peaks, "results": results,
                      "bf16_deviation": bf16_deviation, "fp32_vs_tfbert": fp32_vs_tfbert},
                     indent=1))
    print(f"wrote {out}")
    if errors:
        sys.exit(f"{len(errors)} run(s) failed; see 'errors' in {out}")


if __name__ == "__main__":
    main()
