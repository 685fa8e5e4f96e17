"""The report of `bench_finetune_parity`: scores of one run, the table of all runs
and its `benchmarks/results/latest.json` entry. Split from the benchmark so that the
worker processes (which import the benchmark module) stay small."""

import json
import math
import statistics

import numpy as np

TASKS = {"mrpc": "MRPC", "sst2": "SST-2"}
OPTIMIZERS = ("bert_adamw", "adamw")
FRAMEWORKS = ("tfbert", "hf_torch")


def scores(task, labels, predictions):
    """Dev accuracy (MRPC: and F1 of class 1), in percent, and whether it collapsed."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    found = {"accuracy": 100.0 * float(np.mean(labels == predictions)),
             "collapsed": bool(len(set(predictions.tolist())) == 1)}
    if task == "mrpc":
        true_positives = float(np.sum((predictions == 1) & (labels == 1)))
        total = float(np.sum(predictions == 1) + np.sum(labels == 1))
        found["f1"] = 100.0 * 2 * true_positives / total if total else 0.0
    return found


def table(report):
    """Markdown header and rows: per (task, optimizer, framework) the per-seed metrics,
    mean, standard deviation, range and collapsed runs; on HuggingFace's rows, tfbert's
    mean accuracy minus HuggingFace's over the seeds both ran."""
    header = ["task", "optimizer", "framework", "dev accuracy per seed (MRPC: / F1)",
              "mean accuracy", "std", "min to max", "mean F1", "collapsed",
              "tfbert − HF (seeds)"]
    rows = []
    for task in TASKS:
        for optimizer in OPTIMIZERS:
            for framework in FRAMEWORKS:
                runs = _runs(report, task, optimizer, framework)
                if not runs:
                    continue
                accuracy = [r["scores"]["accuracy"] for r in runs.values()]
                f1 = [r["scores"].get("f1") for r in runs.values()]
                per_seed = ", ".join(
                    f"{seed}: {r['scores']['accuracy']:.1f}"
                    + (f" / {r['scores']['f1']:.1f}" if "f1" in r["scores"] else "")
                    for seed, r in runs.items())
                rows.append([task, optimizer, framework, per_seed,
                             f"{statistics.mean(accuracy):.1f}",
                             f"{statistics.stdev(accuracy):.1f}" if len(runs) > 1 else "—",
                             f"{min(accuracy):.1f} to {max(accuracy):.1f}",
                             f"{statistics.mean(f1):.1f}" if None not in f1 else "—",
                             f"{sum(r['scores']['collapsed'] for r in runs.values())} of "
                             f"{len(runs)}",
                             _delta(runs, _runs(report, task, optimizer, "tfbert"))
                             if framework == "hf_torch" else ""])
    return header, rows


def _runs(report, task, optimizer, framework):
    """`{seed: run}` of one table row, by seed."""
    return dict(sorted((r["seed"], r) for r in report["runs"]
                       if (r["task"], r["optimizer"], r["framework"]) ==
                       (task, optimizer, framework)))


def _delta(theirs, ours):
    """tfbert's mean accuracy minus HuggingFace's over the seeds both ran, ± the standard
    error of that difference (unpaired: a seed draws different random streams on each
    side, so runs of one seed are no closer than runs of two)."""
    seeds = sorted(set(theirs) & set(ours))
    if not seeds:
        return ""
    accuracy = {name: [runs[s]["scores"]["accuracy"] for s in seeds]
                for name, runs in (("ours", ours), ("theirs", theirs))}
    difference = statistics.mean(accuracy["ours"]) - statistics.mean(accuracy["theirs"])
    spread = ""
    if len(seeds) > 1:
        error = math.sqrt(sum(statistics.variance(a) for a in accuracy.values()) / len(seeds))
        spread = f" ± {error:.1f}"
    return f"{difference:+.1f}{spread} ({','.join(map(str, seeds))})"


def _recipe(runs):
    """The settings of a task's runs, in words (runs of one task share them)."""
    found = {json.dumps(r["settings"], sort_keys=True) for r in runs}
    if len(found) > 1:
        return "mixed settings: " + "; ".join(sorted(found))
    s = runs[0]["settings"]
    data = (f"{s['train_examples']:,} training examples (a fixed random subset of train.tsv)"
            if s["train_examples"] else "the whole train.tsv")
    return (f"seq {s['seq']}, batch {s['batch']}, lr {s['lr']:g}, {s['epochs']:g} epochs of "
            f"{data}")


def results_entry(report):
    """The `latest.json` entry of a report (see benchmarks/summarize.py)."""
    header, rows = table(report)
    recipes = [f"{task}: {_recipe([r for r in report['runs'] if r['task'] == task])}"
               for task in TASKS if any(r["task"] == task for r in report["runs"])]
    return {"name": "finetune_parity",
            "title": "Fine-tuning parity with HuggingFace, all-MiniLM-L6-v2 (dev metrics, %)",
            "date": report["date"], "machine": report["machine"],
            "command": "; ".join(report["commands"]),
            "source": report["out"], "header": header, "rows": rows,
            "notes": ["Recipes: " + "; ".join(recipes) + ". All: 10% warmup, weight decay "
                      "0.01 (not on biases and LayerNorm), epsilon 1e-6, clip norm 1.0, the "
                      "whole dev file. Majority class on dev: MRPC 68.4 (F1 81.2), SST-2 "
                      "50.9. A run is collapsed when it predicts one class for every dev "
                      "example.",
                      "Both sides train on the same features from the same initial head, "
                      "with the same optimizer arithmetic, schedule, clipping and sampling "
                      "semantics; only dropout and data order draw from different random "
                      "streams (bench_finetune_parity.py's docstring). tfbert − HF: "
                      "difference of the mean accuracies over the seeds both ran, ± its "
                      "standard error."]}
