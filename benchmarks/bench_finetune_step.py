"""Speed of a fine-tuning step (sentence classification): tfbert against keras-hub and HuggingFace.

Contestants, the same model, batch 32, 2 classes, trained on the real SST-2 dev
sentences (872, each `[CLS] sentence [SEP]`, at most 128 pieces), dropout on, AdamW
(weight decay 0.01, epsilon 1e-6), gradients clipped to global norm 1.0, float32 and
bfloat16 (`--precisions`); each as its library's fine-tuning path runs by default:
- **tfbert**: `tfbert.training.Trainer` + `SentencePredictionTask` (`glue/sst2`,
  `init_checkpoint` = the HuggingFace directory), `steps_per_loop` steps per host
  call, the whole step (optimizer included) one compiled function, as the Trainer
  compiles it by default (`runtime.jit_compile` auto: a TensorFlow graph on a CPU, XLA
  on a GPU or TPU); bf16 = `runtime.mixed_precision_dtype=bfloat16`; features built by
  the task's in-graph tokenizer before the clock starts; the default
  `task.train_data.padding` ("auto": length buckets, each batch cut to its longest row
  rounded up to 16).
- **tfbert_128** (not run unless named in `--contestants`): tfbert with every batch
  padded to 128 like the peers (`task.train_data.padding=max_seq_length`): the step
  alone, without what the input pipeline saves.
- **keras_hub**: `keras_hub.models.BertTextClassifier` on
  `BertBackbone.from_preset(<the same directory>)`, `model.fit` with
  `jit_compile=True` and `steps_per_execution` = the same loop length, Keras AdamW,
  sparse categorical accuracy; inputs from `BertTextClassifierPreprocessor` (padded to
  `sequence_length` = 128), run once before the clock starts.
- **hf_torch**: `transformers.BertForSequenceClassification.from_pretrained(<the same
  directory>)` + `torch.optim.AdamW` + `clip_grad_norm_`, eager, inputs from
  `BertTokenizerFast` padded to 128 (`run_glue.py`'s default, `pad_to_max_length`);
  bf16 with `torch.autocast("cpu", dtype=torch.bfloat16)`.
- **hf_torch_longest**: the same, each random batch padded to its longest sentence
  (`DataCollatorWithPadding`'s way): the stronger HuggingFace baseline.
- **matmul**: the TensorFlow matmul peak (see bench_encoder.py), measured in the same run.

Models (as in bench_encoder.py): `minilm_l6`, the real all-MiniLM-L6-v2 weights
(default); `bert_small`, `bert_base` (and `bert_tiny`, for `--quick`) with seeded random
weights.

FLOPs per step, the same count for everyone: 3 x (the encoder's forward FLOPs at seq 128,
formula in bench_encoder.py, + the head's 2*b*h*classes): the forward and the two backward
products of every matmul, as a batch padded to 128 computes them (contestants that pad
less do less work: their "fraction of peak" is an equivalent, above what they compute).

Each measurement is a fresh subprocess (its peak RSS is reported); contestants
alternate within each repetition; per run the median examples/s over the timed
loops (the first loop, with tracing and compilation, is dropped); the report gives
the median over `--repeats` runs and tfbert's examples/s divided by each peer's.

    python -m benchmarks.bench_finetune_step --repeats=3
    python -m benchmarks.bench_finetune_step --quick     # smoke test
"""

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import time

from benchmarks import common  # numpy-only at import: safe for every worker

WORKER = "benchmarks.bench_finetune_step"
OUT = common.OUT_DIR / "finetune_step.json"
CONTESTANTS = ("tfbert", "keras_hub", "hf_torch", "hf_torch_longest")
NUM_CLASSES = 2
LEARNING_RATE = 2e-5


def step_flops(model, batch, seq):
    """Matmul FLOPs of one training step: 3 x (encoder forward + classifier head)."""
    hidden = common.MODELS[model]["hidden"]
    return 3 * (common.encoder_flops(model, batch, seq) + 2 * batch * hidden * NUM_CLASSES)


def run_tfbert(weights_dir, precision, batch, seq, loops, steps_per_loop, tmp,
               padding="auto"):
    from tfbert import tasks
    from tfbert.configs import experiment
    from tfbert.training.trainer import Trainer

    config = tasks.load_config("glue/sst2")
    config = experiment.set_values(config, {
        "task.init_checkpoint": weights_dir, "task.train_data.input_path": str(common.SST2_DEV),
        "task.train_data.max_seq_length": seq, "task.train_data.global_batch_size": batch,
        "task.train_data.seed": 1, "task.train_data.padding": padding,
        "task.num_train_epochs": None,
        "task.warmup_proportion": 0.1, "trainer.train_steps": loops * steps_per_loop,
        "trainer.steps_per_loop": steps_per_loop, "trainer.checkpoint_interval": 10**9,
        "trainer.optimizer.learning_rate": LEARNING_RATE,
        "runtime.mixed_precision_dtype": precision, "runtime.seed": 1}, "benchmark")
    task = tasks.build_task(config.task)
    config = task.prepare(config, "train")
    task.features(config.task.train_data, True)  # tokenize before the clock starts
    trainer = Trainer(task, config, os.path.join(tmp, "model"))
    history = trainer.train()
    return [logs["examples_per_second"] for _, logs in history[1:]], history[-1][1]["loss"]


def run_keras_hub(weights_dir, precision, batch, seq, loops, steps_per_loop, tmp):
    del tmp
    import keras
    import keras_hub
    import numpy as np
    import tensorflow as tf

    if precision == "bfloat16":
        keras.config.set_dtype_policy("mixed_bfloat16")
    keras.utils.set_random_seed(1)
    sentences, labels = common.sst2()
    tokenizer = keras_hub.models.BertTokenizer(
        vocabulary=os.path.join(weights_dir, "vocab.txt"), lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer,
                                                                   sequence_length=seq)
    features = {k: v.numpy() for k, v in preprocessor(tf.constant(sentences)).items()}
    backbone = keras_hub.models.BertBackbone.from_preset(weights_dir)
    model = keras_hub.models.BertTextClassifier(backbone, num_classes=NUM_CLASSES,
                                                preprocessor=None)
    model.compile(
        optimizer=keras.optimizers.AdamW(LEARNING_RATE, weight_decay=0.01, epsilon=1e-6,
                                         global_clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["sparse_categorical_accuracy"], jit_compile=True,
        steps_per_execution=steps_per_loop)
    dataset = tf.data.Dataset.from_tensor_slices(
        (features, np.array(labels, np.int32))).shuffle(1000, seed=1).repeat().batch(
        batch, drop_remainder=True).prefetch(4)

    times, losses = [], []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)
            losses.append(float(logs["loss"]))

    model.fit(dataset, steps_per_epoch=steps_per_loop, epochs=loops, verbose=0, shuffle=False,
              callbacks=[Timer()])
    return [batch * steps_per_loop / t for t in times[1:]], losses[-1]


def run_hf_torch(weights_dir, precision, batch, seq, loops, steps_per_loop, tmp,
                 longest=False):
    del tmp
    import contextlib

    import torch
    from transformers import BertForSequenceClassification, BertTokenizerFast

    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(1)
    sentences, labels = common.sst2()
    tokenizer = BertTokenizerFast(os.path.join(weights_dir, "vocab.txt"), do_lower_case=True)
    encoded = tokenizer(sentences, truncation=True, max_length=seq, padding="max_length",
                        return_tensors="pt")
    labels = torch.tensor(labels, dtype=torch.long)
    model = BertForSequenceClassification.from_pretrained(weights_dir, num_labels=NUM_CLASSES)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, eps=1e-6,
                                  weight_decay=0.01)
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bfloat16"
                else contextlib.nullcontext())
    generator = torch.Generator().manual_seed(1)
    order = torch.randperm(len(labels), generator=generator)
    rates, position, loss = [], 0, None
    for _ in range(loops):
        start = time.perf_counter()
        for _ in range(steps_per_loop):
            if position + batch > len(order):
                order, position = torch.randperm(len(labels), generator=generator), 0
            rows = order[position:position + batch]
            position += batch
            width = int(encoded["attention_mask"][rows].sum(1).max()) if longest else seq
            with autocast:
                loss = model(input_ids=encoded["input_ids"][rows, :width],
                             attention_mask=encoded["attention_mask"][rows, :width],
                             token_type_ids=encoded["token_type_ids"][rows, :width],
                             labels=labels[rows]).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        rates.append(batch * steps_per_loop / (time.perf_counter() - start))
    return rates[1:], float(loss.detach())


RUNNERS = {"tfbert": run_tfbert, "keras_hub": run_keras_hub, "hf_torch": run_hf_torch,
           "hf_torch_longest": functools.partial(run_hf_torch, longest=True),
           "tfbert_128": functools.partial(run_tfbert, padding="max_seq_length")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", default="minilm_l6",
                        help=f"comma list of {', '.join(common.MODELS)}")
    parser.add_argument("--precisions", default="float32,bfloat16",
                        help="float32 and/or bfloat16")
    parser.add_argument("--contestants", default=",".join(CONTESTANTS))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--loops", type=int, default=4, help="host loops per run (1st = warm-up)")
    parser.add_argument("--steps_per_loop", type=int, default=8)
    parser.add_argument("--matmul_size", type=int, default=2048)
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: BERT-Tiny, batch 8, 2 loops of 2 steps, 1 repetition")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # contestant:model:precision
    parser.add_argument("--weights_dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.batch, args.loops, args.steps_per_loop = 1, 8, 2, 2
        args.models = "bert_tiny"
        args.matmul_size = 1024
    if args.worker:
        contestant, _, precision = args.worker.split(":")
        with tempfile.TemporaryDirectory() as tmp:
            rates, loss = RUNNERS[contestant](args.weights_dir, precision, args.batch, args.seq,
                                              args.loops, args.steps_per_loop, tmp)
        print(json.dumps({"rates": rates, "examples_per_s": statistics.median(rates),
                          "last_loss": loss, "peak_rss_mb": common.peak_rss_mb()}))
        return

    models, precisions = args.models.split(","), args.precisions.split(",")
    contestants = args.contestants.split(",")
    shape = [f"--batch={args.batch}", f"--seq={args.seq}", f"--loops={args.loops}",
             f"--steps_per_loop={args.steps_per_loop}"]
    runs = {m: {p: {c: [] for c in contestants} for p in precisions} for m in models}
    matmul_runs, errors = [], []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        directories = common.weights_dirs(models, tmp)
        for repeat in range(args.repeats):
            result = common.run_worker("benchmarks.bench_encoder", common.matmul_arguments(
                3, args.matmul_size, precisions))
            matmul_runs.append(result)
            print(f"repeat {repeat + 1}/{args.repeats} matmul: "
                  f"{result.get('matmul', result.get('error'))}", flush=True)
            for model in models:
                for precision in precisions:
                    for contestant in contestants:  # alternating within the repetition
                        result = common.run_worker(WORKER, [
                            f"--worker={contestant}:{model}:{precision}",
                            f"--weights_dir={directories[model]}", *shape])
                        runs[model][precision][contestant].append(result)
                        if "error" in result:
                            errors.append(result["error"])
                        shown = (f"{result['examples_per_s']:.2f} examples/s, loss "
                                 f"{result['last_loss']:.3f}, {result['peak_rss_mb']:,.0f} MB"
                                 if "error" not in result
                                 else "FAILED " + result["error"].splitlines()[0])
                        print(f"repeat {repeat + 1}/{args.repeats} {model} {precision} "
                              f"{contestant}: {shown}", flush=True)
    load_after = os.getloadavg()

    peaks = {p: common.median_or_none(r["matmul"][p]["peak"] for r in matmul_runs
                                      if "matmul" in r) for p in precisions}
    results = {}
    for model in models:
        flops = step_flops(model, args.batch, args.seq)
        results[model] = {}
        for precision in precisions:
            results[model][precision] = common.contestant_table(
                {c: runs[model][precision][c] for c in contestants}, "examples_per_s",
                flops / args.batch, peaks[precision], extra_keys=("last_loss",))

    report = {
        "benchmark": "fine-tuning step, sentence classification (SST-2 dev sentences)",
        "batch": args.batch, "seq": args.seq, "loops": args.loops,
        "steps_per_loop": args.steps_per_loop, "repeats": args.repeats,
        "models": {m: common.MODELS[m] for m in models}, "precisions": precisions,
        "contestants": contestants,
        "flops_per_step": {m: step_flops(m, args.batch, args.seq) for m in models},
        "matmul_size": args.matmul_size, "matmul_peak_flops": peaks,
        "matmul_runs": matmul_runs, "results": results,
        "runs": runs, "errors": errors, "cpu_count": os.cpu_count(),
        "load_average_before_after": [load_before, load_after], "versions": common.versions(),
        "command": " ".join(sys.argv), "quick": args.quick,
    }
    out = common.write_report(args.out, report)
    print(json.dumps({"matmul_peak_flops": peaks, "results": results}, indent=1))
    print(f"wrote {out}")
    if errors:
        sys.exit(f"{len(errors)} run(s) failed; see 'errors' in {out}")


if __name__ == "__main__":
    main()
