"""Step for step: tfbert's trainer against HuggingFace + PyTorch on the same batches.

`bench_finetune_parity` compares dev accuracy over seeds; a difference there is either
chance (dropout and data order are each side's own random streams) or a difference in
the arithmetic. This check separates the two. With dropout off, both sides start from
all-MiniLM-L6-v2 and the same initial head and take the same batches (tfbert's own
input pipeline, written out and read by the PyTorch side) with `bench_finetune_parity`'s
optimizer, schedule and clipping. Equal arithmetic shows as equal losses and gradient
norms step for step until float rounding, amplified by training, moves them apart; a
difference in the model or the update would show from the first steps. A second check
measures the dropout itself: at the initial weights, the spread of the logits over 200
dropout draws on one batch, on both sides.

    python -m benchmarks.finetune_parity_steps --task=mrpc --optimizer=bert_adamw --record
"""

import argparse
import dataclasses
import json
import pathlib
import sys
import tempfile
import time

import numpy as np

from benchmarks import common
from benchmarks.bench_finetune_parity import (
    CLIP_NORM,
    EPSILON,
    TASKS,
    WARMUP,
    WEIGHT_DECAY,
    torch_model,
    torch_optimizer,
)

WORKER = "benchmarks.finetune_parity_steps"
NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
FEATURES = ("input_word_ids", "input_mask", "input_type_ids", "label_ids")
DRAWS = 200


def _tfbert_setup(args, dropout):
    """The task and config `bench_finetune_parity.run_tfbert` trains with, except: dropout
    off unless `dropout`, and no shuffling (a shuffle's order depends on TensorFlow's
    global seed state, which the Trainer resets: the batches read here in file order are
    the batches it trains on)."""
    from tfbert import tasks
    from tfbert.configs import experiment

    glue = common.DATA / "glue" / TASKS[args.task]
    config = experiment.set_values(tasks.load_config(f"glue/{args.task}"), {
        "task.init_checkpoint": "all-MiniLM-L6-v2",
        "task.train_data.input_path": str(glue / "train.tsv"),
        "task.validation_data.input_path": str(glue / "dev.tsv"),
        "task.num_train_epochs": args.epochs, "task.warmup_proportion": WARMUP,
        "task.train_data.max_seq_length": args.seq, "task.train_data.padding": "batch",
        "task.validation_data.max_seq_length": args.seq,
        "task.train_data.global_batch_size": args.batch,
        "task.train_data.shuffle": False,  # file order: the batches written out are the steps'
        "task.model_overrides": {} if dropout else NO_DROPOUT,
        "trainer.optimizer.type": args.optimizer, "trainer.optimizer.learning_rate": args.lr,
        "trainer.optimizer.weight_decay_rate": WEIGHT_DECAY,
        "trainer.optimizer.epsilon": EPSILON, "trainer.optimizer.clip_norm": CLIP_NORM,
        "runtime.seed": args.seed}, "steps")
    task = tasks.build_task(config.task)
    config = task.prepare(dataclasses.replace(config, task=task.config), "train")
    task.config = config.task
    return task, config


def run_tfbert(args):
    """Writes tfbert's first `args.steps` batches and initial head, then trains on them
    with the Trainer (one step per host loop: each step's loss and norm)."""
    from tfbert.training.trainer import Trainer

    task, config = _tfbert_setup(args, dropout=False)
    work = pathlib.Path(args.work_dir)
    batches = iter(task.build_inputs(config.task.train_data, None, True))
    np.savez(work / "batches.npz", **{f"{i}_{k}": v.numpy() for i in range(args.steps)
                                      for k, v in next(batches).items() if k in FEATURES})
    with tempfile.TemporaryDirectory() as model_dir:
        trainer = Trainer(task, config, model_dir)
        trainer.restore_or_initialize()
        head = trainer.model.classifier.dense
        np.savez(work / "head.npz", kernel=head.kernel.numpy(), bias=head.bias.numpy())
        logs = [trainer.train_loop(1) for _ in range(args.steps)]
    return {"loss": [log["loss"] for log in logs], "norm": [log["grad_norm"] for log in logs],
            "steps": config.trainer.train_steps,
            "warmup_steps": config.trainer.optimizer.warmup_steps,
            "dropout": _tfbert_dropout(args, work)}


def _tfbert_dropout(args, work):
    """The logits' standard deviation over `DRAWS` dropout draws, and their mean
    distance from the inference logits, on the first batch at the initial weights."""
    task, _ = _tfbert_setup(args, dropout=True)
    model = task.build_model()
    task.initialize(model)
    head = np.load(work / "head.npz")
    model.classifier.dense.kernel.assign(head["kernel"])
    model.classifier.dense.bias.assign(head["bias"])
    batch = np.load(work / "batches.npz")
    inputs = {k: batch[f"0_{k}"] for k in FEATURES[:3]}
    clean = np.asarray(model(inputs, training=False)["logits"])
    draws = np.stack([np.asarray(model(inputs, training=True)["logits"])
                      for _ in range(DRAWS)])
    return _spread(clean, draws)


def _spread(clean, draws):
    return {"std": float(draws.std(0).mean()), "distance": float(np.abs(draws - clean).mean())}


def _torch_batch(torch, batch, step):
    """Step `step`'s batch as `BertForSequenceClassification` keywords."""
    names = ("input_ids", "attention_mask", "token_type_ids", "labels")
    return {name: torch.from_numpy(batch[f"{step}_{key}"].astype(np.int64))
            for name, key in zip(names, FEATURES, strict=True)}


def run_hf_torch(args):
    """The same steps with `BertForSequenceClassification` from tfbert's head."""
    import torch

    work = pathlib.Path(args.work_dir)
    head, batch = np.load(work / "head.npz"), np.load(work / "batches.npz")
    torch.manual_seed(args.seed)
    model = torch_model(torch, head, **NO_DROPOUT)
    optimizer, scheduler, _ = torch_optimizer(torch, model, args.optimizer, args.lr,
                                              args.total_steps, args.warmup_steps)
    model.train()
    losses, norms = [], []
    for step in range(args.steps):
        loss = model(**_torch_batch(torch, batch, step)).loss
        optimizer.zero_grad()
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)))
        optimizer.step()
        scheduler.step()
        losses.append(float(loss))
    model = torch_model(torch, head)
    inputs = _torch_batch(torch, batch, 0)
    del inputs["labels"]
    with torch.no_grad():
        model.eval()
        clean = model(**inputs).logits.numpy()
        model.train()
        draws = np.stack([model(**inputs).logits.numpy() for _ in range(DRAWS)])
    return {"loss": losses, "norm": norms, "dropout": _spread(clean, draws)}


def results_entry(args, tf_run, torch_run):
    """The benchmark entry of `benchmarks/results/latest.json`: the steps side by side,
    the first step whose losses differ by more than `args.tolerance` (relative) and
    the dropout spreads."""
    apart = next((i for i, (a, b) in enumerate(zip(tf_run["loss"], torch_run["loss"],
                                                     strict=True))
                  if abs(a - b) > args.tolerance * abs(b)), None)
    steps = len(tf_run["loss"])
    shown = sorted({*range(min(5, steps)), *range(0, steps, 10), steps - 1})
    notes = [f"Dropout off, the same {steps} batches of tfbert's input pipeline (file "
             f"order), MRPC-style recipe: {args.task}, {args.optimizer}, batch {args.batch}, "
             f"seq {args.seq}, lr {args.lr:g}, schedule of {tf_run['steps']} steps with "
             f"{tf_run['warmup_steps']} of warmup. First step whose losses differ by more "
             f"than {args.tolerance:g} (relative): "
             f"{apart if apart is not None else 'none'} of {steps}."]
    notes += [f"Dropout on, {DRAWS} draws at the initial weights on the first batch, {side}: "
              f"logit std {run['dropout']['std']:.6f}, mean distance from the inference "
              f"logits {run['dropout']['distance']:.6f}."
              for side, run in (("tfbert", tf_run), ("HuggingFace", torch_run))]
    return {"name": "finetune_parity_steps",
            "title": f"Fine-tuning step for step against HuggingFace ({args.task}, "
                     f"{args.optimizer})",
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "machine": common.machine_line() + "; " + ", ".join(
                f"{k} {v}" for k, v in common.versions().items() if v),
            "command": "python -m benchmarks.finetune_parity_steps " + " ".join(sys.argv[1:]),
            "source": "printed by the command",
            "header": ["step", "loss tfbert", "loss HF", "grad norm tfbert", "grad norm HF"],
            "rows": [[str(i), f"{tf_run['loss'][i]:.6f}", f"{torch_run['loss'][i]:.6f}",
                      f"{tf_run['norm'][i]:.5f}", f"{torch_run['norm'][i]:.5f}"]
                     for i in shown],
            "notes": notes}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="mrpc", choices=sorted(TASKS))
    parser.add_argument("--optimizer", default="bert_adamw")
    parser.add_argument("--steps", type=int, default=40, help="steps compared")
    parser.add_argument("--epochs", type=float, default=3.0, help="sets the schedule")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--record", action="store_true",
                        help="put the table into results/latest.json and RESULTS.md")
    parser.add_argument("--worker", choices=("tfbert", "hf_torch"))
    parser.add_argument("--work_dir")
    parser.add_argument("--total_steps", type=int)
    parser.add_argument("--warmup_steps", type=int)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps((run_tfbert if args.worker == "tfbert" else run_hf_torch)(args)))
        return
    shared = [f"--task={args.task}", f"--optimizer={args.optimizer}", f"--steps={args.steps}",
              f"--epochs={args.epochs}", f"--lr={args.lr}", f"--batch={args.batch}",
              f"--seq={args.seq}", f"--seed={args.seed}"]
    with tempfile.TemporaryDirectory() as work:
        tf_run = common.run_worker(WORKER, ["--worker=tfbert", f"--work_dir={work}", *shared])
        if "error" in tf_run:
            raise SystemExit(tf_run["error"])
        torch_run = common.run_worker(WORKER, [
            "--worker=hf_torch", f"--work_dir={work}", f"--total_steps={tf_run['steps']}",
            f"--warmup_steps={tf_run['warmup_steps']}", *shared])
        if "error" in torch_run:
            raise SystemExit(torch_run["error"])
    entry = results_entry(args, tf_run, torch_run)
    print("\n".join(["| " + " | ".join(entry["header"]) + " |"]
                    + ["| " + " | ".join(row) + " |" for row in entry["rows"]]
                    + entry["notes"]))
    if args.record:
        from benchmarks import summarize

        summarize.update_latest(summarize.LATEST, [entry])
        print(f"wrote {summarize.write_results()}")


if __name__ == "__main__":
    main()
