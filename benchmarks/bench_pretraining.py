"""Speed of a BERT pre-training step: tfbert against keras-hub and HuggingFace (PyTorch).

Contestants, same model size, sequence length, batch and predictions, each in
float32 and (`--precisions=float32,bfloat16`, the default) bfloat16 mixed precision:
- **tfbert**: `tfbert.training.Trainer` with `PretrainingTask` (MLM + NSP, the original
  AdamW, clipping), `steps_per_loop` steps per host call, reading real TFRecords; the
  library's default compilation (on a CPU: a TensorFlow graph with oneDNN).
- **tfbert_xla**: the same with `runtime.jit_compile=True` (the whole step one XLA program).
- **keras_hub**: `keras_hub.models.BertMaskedLM` (MLM only: keras-hub has no NSP head)
  trained with `model.fit` (`jit_compile=True`, `steps_per_execution` = the same loop
  length, Keras AdamW), from the same batches in memory.
- **keras_hub_graph**: the same with `jit_compile=False` (a TensorFlow graph: on this
  CPU the faster way to run bfloat16 matmuls).
- **hf_torch**: `transformers.BertForPreTraining` (MLM + NSP) with `torch.optim.AdamW`
  and gradient clipping, eager PyTorch on CPU; bfloat16 with `torch.autocast`.
- **matmul**: the machine's measured matmul peak (TensorFlow, 2048x2048) per precision.

bfloat16 means the Keras `mixed_bfloat16` policy (float32 variables and optimizer,
bfloat16 matmuls) for tfbert and keras-hub, `torch.autocast("cpu", torch.bfloat16)` for
HuggingFace. The headline ratio compares tfbert's fastest configuration with the
fastest configuration of any peer.

Each repetition is one fresh process in which every run (contestant/precision, and
the matmul peak) is built, warmed up with one host loop, then timed loop by loop in
turn, the order rotated every round: the machine's drift (large on a shared VM, from
one process to the next more than within one) moves all runs alike. We report each
run's median examples/s over repetitions (each repetition: the median of its loops),
and ratios as the median of the loop-by-loop ratios. PyTorch cannot share a process
with TensorFlow (it crashes): HuggingFace runs in processes of its own, between the
shared ones, and its ratios are ratios of medians. `--separate_processes` instead
runs each run in a process of its own (and reports each one's peak memory). Achieved
FLOP/s count the model's matmuls (3x the forward: forward + two backward products)
for the MLM + NSP step.

    python -m benchmarks.bench_pretraining --repeats=3
"""

import argparse
import functools
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from benchmarks import common

OUT = common.OUT_DIR / "pretraining.json"
SHAPE = dict(vocab_size=30522, num_layers=4, hidden=256, heads=4, intermediate=1024,
             seq=128, predictions=20, batch=16)
CONTESTANTS = ("tfbert", "tfbert_xla", "keras_hub", "keras_hub_graph", "hf_torch")
PRECISIONS = ("float32", "bfloat16")


def step_flops(s=SHAPE):
    """Matmul FLOPs of one training step (forward x 3) for MLM + NSP."""
    b, n, h, i, v, p = s["batch"], s["seq"], s["hidden"], s["intermediate"], s["vocab_size"], \
        s["predictions"]
    per_layer = 2 * b * n * (4 * h * h + 2 * h * i) + 2 * 2 * b * n * n * h  # dense + attention
    heads = 2 * b * p * (h * h + h * v) + 2 * b * (h * h + 2 * h)  # MLM transform+decoder, pooler
    return 3 * (s["num_layers"] * per_layer + heads)


def _records(path, s=SHAPE, count=256):
    from tests.training.records import write_records

    return write_records(path, count, s["seq"], s["predictions"], s["vocab_size"])


def _batches(s=SHAPE, count=8):
    """Random pre-training batches (numpy), the same for keras-hub and HuggingFace."""
    import numpy as np

    rng = np.random.default_rng(0)
    out = []
    for _ in range(count):
        b, n, p = s["batch"], s["seq"], s["predictions"]
        positions = np.sort(np.stack([rng.choice(np.arange(1, n), p, replace=False)
                                      for _ in range(b)]), axis=1).astype("int32")
        out.append({"ids": rng.integers(5, s["vocab_size"], (b, n)).astype("int32"),
                    "types": (np.arange(n)[None, :] >= n // 2).repeat(b, 0).astype("int32"),
                    "mask": np.ones((b, n), "int32"), "positions": positions,
                    "labels": rng.integers(5, s["vocab_size"], (b, p)).astype("int32"),
                    "weights": np.ones((b, p), "float32"),
                    "nsp": rng.integers(0, 2, (b,)).astype("int32")})
    return out


def _tfbert_trainer(train_steps, steps_per_loop, tmp, precision, jit_compile):
    from tfbert.configs import experiment
    from tfbert.tasks.pretraining import PretrainingTask
    from tfbert.training.trainer import Trainer

    s = SHAPE
    records = _records(os.path.join(tmp, "train.tfrecord"))
    config = experiment.set_values(experiment.ExperimentConfig(), {
        "task.model": "bert_mini_uncased",
        "task.train_data.input_path": records, "task.train_data.max_seq_length": s["seq"],
        "task.train_data.max_predictions_per_seq": s["predictions"],
        "task.train_data.global_batch_size": s["batch"],
        "trainer.train_steps": train_steps, "trainer.steps_per_loop": steps_per_loop,
        "trainer.checkpoint_interval": 10**9, "trainer.optimizer.warmup_steps": 10,
        "trainer.optimizer.learning_rate": 1e-4, "runtime.jit_compile": jit_compile,
        "runtime.mixed_precision_dtype": precision},
        "benchmark").validate()
    return Trainer(PretrainingTask(config.task), config,
                   tempfile.mkdtemp(prefix=f"tfbert_{precision}_", dir=tmp))


def tfbert_looper(steps_per_loop, tmp, precision, jit_compile=None):
    """A function that runs one host loop of the trainer and returns its examples/s."""
    trainer = _tfbert_trainer(10**9, steps_per_loop, tmp, precision, jit_compile)
    trainer.restore_or_initialize()
    return lambda: trainer.train_loop(steps_per_loop)["examples_per_second"]


def _keras_hub_model(steps_per_loop, precision, jit_compile):
    """keras-hub's `BertMaskedLM`, compiled, and its dataset (the same batches in memory)."""
    import keras
    import keras_hub
    import numpy as np
    import tensorflow as tf

    s = SHAPE
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=s["vocab_size"], num_layers=s["num_layers"], num_heads=s["heads"],
        hidden_dim=s["hidden"], intermediate_dim=s["intermediate"])
    model = keras_hub.models.BertMaskedLM(backbone, preprocessor=None)
    model.compile(optimizer=keras.optimizers.AdamW(1e-4, epsilon=1e-6, global_clipnorm=1.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  weighted_metrics=[], jit_compile=jit_compile,
                  steps_per_execution=steps_per_loop)
    batches = _batches()
    x = {"token_ids": np.concatenate([b["ids"] for b in batches]),
         "segment_ids": np.concatenate([b["types"] for b in batches]),
         "padding_mask": np.concatenate([b["mask"] for b in batches]).astype(bool),
         "mask_positions": np.concatenate([b["positions"] for b in batches])}
    y = np.concatenate([b["labels"] for b in batches])
    w = np.concatenate([b["weights"] for b in batches])
    dataset = tf.data.Dataset.from_tensor_slices((x, y, w)).repeat().batch(
        s["batch"], drop_remainder=True).prefetch(4)
    keras.config.set_dtype_policy("float32")
    return model, dataset


def keras_hub_looper(steps_per_loop, tmp, precision, jit_compile=True):
    """A function that runs `steps_per_loop` steps of `model.fit`'s own train function
    (one call, as `steps_per_execution`) and returns its examples/s."""
    del tmp
    model, dataset = _keras_hub_model(steps_per_loop, precision, jit_compile)
    model.fit(dataset, steps_per_epoch=steps_per_loop, epochs=1, verbose=0)  # builds, traces
    iterator = iter(dataset)

    def loop():
        start = time.perf_counter()
        model.train_function(iterator)
        return SHAPE["batch"] * steps_per_loop / (time.perf_counter() - start)

    return loop


def hf_torch_looper(steps_per_loop, tmp, precision):
    """A function that runs `steps_per_loop` eager training steps and returns examples/s."""
    del tmp
    import contextlib

    import torch
    from transformers import BertConfig, BertForPreTraining

    torch.set_num_threads(os.cpu_count())
    s = SHAPE
    config = BertConfig(vocab_size=s["vocab_size"], hidden_size=s["hidden"],
                        num_hidden_layers=s["num_layers"], num_attention_heads=s["heads"],
                        intermediate_size=s["intermediate"], hidden_act="gelu_new")
    model = BertForPreTraining(config)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, eps=1e-6, weight_decay=0.01)
    tensors = []
    for b in _batches():
        labels = torch.full((s["batch"], s["seq"]), -100, dtype=torch.long)
        labels.scatter_(1, torch.from_numpy(b["positions"]).long(),
                        torch.from_numpy(b["labels"]).long())
        tensors.append(dict(input_ids=torch.from_numpy(b["ids"]).long(),
                            token_type_ids=torch.from_numpy(b["types"]).long(),
                            attention_mask=torch.from_numpy(b["mask"]).long(), labels=labels,
                            next_sentence_label=torch.from_numpy(b["nsp"]).long()))
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bfloat16"
                else contextlib.nullcontext())
    step_numbers = itertools.count()

    def loop():
        start = time.perf_counter()
        for _ in range(steps_per_loop):
            with autocast:
                loss = model(**tensors[next(step_numbers) % len(tensors)]).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        return s["batch"] * steps_per_loop / (time.perf_counter() - start)

    return loop


def matmul_looper(steps_per_loop, tmp, precision):
    """A function that times one 2048x2048 matmul chain (bench_encoder's) in FLOP/s."""
    del steps_per_loop, tmp
    from benchmarks.common import matmul_chain

    run, flops = matmul_chain(2048, precision)

    def loop():
        start = time.perf_counter()
        run()
        return flops / (time.perf_counter() - start)

    return loop


LOOPERS = {"tfbert": tfbert_looper,
           "tfbert_xla": functools.partial(tfbert_looper, jit_compile=True),
           "keras_hub": keras_hub_looper,
           "keras_hub_graph": functools.partial(keras_hub_looper, jit_compile=False),
           "hf_torch": hf_torch_looper, "matmul": matmul_looper}


def run_rounds(names, rounds, steps_per_loop, tmp):
    """Rates of `rounds` loops of each run in `names` (`<contestant>/<precision>`), after
    one warm-up loop each: in this process, alternating, the order rotated every round."""
    loops = {}
    for name in names:
        contestant, precision = name.split("/")
        loops[name] = LOOPERS[contestant](steps_per_loop, tmp, precision)
        loops[name]()
    rates = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            rates[name].append(loops[name]())
    return rates


def _subprocess(names, loops, steps_per_loop):
    command = [sys.executable, "-m", "benchmarks.bench_pretraining",
               f"--rounds_of={','.join(names)}", f"--loops={loops}",
               f"--steps_per_loop={steps_per_loop}"]
    result = subprocess.run(command, env=common.worker_env("2"), capture_output=True, text=True,
                            timeout=3600)
    if result.returncode:
        raise RuntimeError(f"{names} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="processes per run")
    parser.add_argument("--loops", type=int, default=6,
                        help="host loops per run and process (1st = warm-up)")
    parser.add_argument("--steps_per_loop", type=int, default=10)
    parser.add_argument("--contestants", default=",".join(CONTESTANTS))
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--runs", help="instead of contestants x precisions: a list of "
                        "<contestant>/<precision>, e.g. tfbert/bfloat16,keras_hub/float32")
    parser.add_argument("--separate_processes", action="store_true",
                        help="each run in its own process (per-run peak memory) instead of "
                        "all runs alternating loop by loop in one process per repetition")
    parser.add_argument("--out", default=str(OUT), help="the JSON report")
    parser.add_argument("--rounds_of", help=argparse.SUPPRESS)  # one process's runs
    args = parser.parse_args()
    if args.rounds_of:
        with tempfile.TemporaryDirectory() as tmp:
            rates = run_rounds(args.rounds_of.split(","), args.loops - 1, args.steps_per_loop,
                               tmp)
        print(json.dumps({"rates": rates, "peak_rss_mb": resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return

    # Runs are named `<contestant>/<precision>`.
    if args.runs:
        runs_order = args.runs.split(",")
        precisions = sorted({name.split("/")[1] for name in runs_order})
        runs_order += [f"matmul/{p}" for p in precisions]
    else:
        precisions = args.precisions.split(",")
        runs_order = [f"{c}/{p}" for p in precisions
                      for c in [*args.contestants.split(","), "matmul"]]
    # PyTorch and TensorFlow in one process crash (both bring oneDNN): PyTorch runs alone.
    together = [n for n in runs_order if not n.startswith("hf_torch/")]
    groups = ([[name] for name in runs_order] if args.separate_processes else
              [together] + [[n] for n in runs_order if n not in together])
    runs = {name: [] for name in runs_order}
    rounds = {name: [] for name in runs_order}
    peak_rss = {name: [] for name in runs}
    for repeat in range(args.repeats):
        for group in groups:
            result = _subprocess(group, args.loops, args.steps_per_loop)
            for name, rates in result["rates"].items():
                runs[name].append(statistics.median(rates))
                rounds[name].extend(rates)
                peak_rss[name].append(result["peak_rss_mb"])
                print(f"repeat {repeat + 1}/{args.repeats} {name}: {runs[name][-1]:.4g}",
                      flush=True)
    peaks = {p: statistics.median(runs.pop(f"matmul/{p}")) for p in precisions}
    peak_rss = ({n: statistics.median(v) for n, v in peak_rss.items() if n in runs}
                if args.separate_processes else {"TensorFlow runs": max(peak_rss[together[0]])})
    medians = {name: statistics.median(values) for name, values in runs.items()}
    flops = step_flops()
    ours = {n: m for n, m in medians.items() if n.startswith("tfbert")}
    peers = {n: m for n, m in medians.items() if not n.startswith("tfbert")}
    best = max(ours, key=ours.get) if ours else None
    faster_peer = max(peers, key=peers.get) if peers else None
    ratios = {n: medians[best] / m for n, m in medians.items()} if best else {}
    if best and not args.separate_processes:
        # Runs that alternated in one process: the median of the loop-by-loop ratios,
        # which the machine's drift between and within processes moves least.
        ratios.update({n: statistics.median(ours_rate / rate for ours_rate, rate in zip(
            rounds[best], rounds[n], strict=True)) for n in medians if n in together})
    report = {
        "shape": SHAPE, "repeats": args.repeats, "loops": args.loops,
        "interleaved": not args.separate_processes,
        "steps_per_loop": args.steps_per_loop, "runs_examples_per_second": runs,
        "median_examples_per_second": medians,
        "ratio_to_tfbert": ratios, "tfbert_best": best, "faster_peer": faster_peer,
        "tfbert_vs_faster_peer": ratios[faster_peer] if best and faster_peer else None,
        "matmul_peak_flops": peaks, "flops_per_step": flops,
        "achieved_flops": {n: m / SHAPE["batch"] * flops for n, m in medians.items()},
        "fraction_of_peak": {n: m / SHAPE["batch"] * flops / peaks[n.split("/")[1]]
                             for n, m in medians.items()},
        "peak_rss_mb": peak_rss,
        "cpu_count": os.cpu_count(), "load_average": os.getloadavg(),
    }
    common.write_report(args.out, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
