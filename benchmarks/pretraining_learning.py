"""Pre-training learns both tasks: BERT-Tiny from WikiText-2 records, held-out curve.

The CI test (`tests/tasks/test_pretraining_learns.py`) shows the masked-LM loss
falling in 100 steps; the next-sentence head needs longer: it stays at the label
prior until the masked LM has left the unigram plateau. This script runs the
longer budget and writes the curve:

1. records from `../shared/data/text/wikitext2_valid_pretrain_format.txt` with
   `tfbert.data.create_pretraining_data` (the original algorithm): training records
   with `dupe_factor=5`, seed 1; held-out records with `dupe_factor=1`, seed 999
   (other segment pairs, other random next sentences, other masks);
2. `official_configs/experiments/pretrain_tiny.yaml` (2 layers, hidden 128), sequence
   128, 20 predictions, batch 32, AdamW lr 1e-3 with 400 warm-up steps;
3. every `--eval_every` steps, the whole held-out set: masked-LM loss/accuracy and
   next-sentence accuracy, next to the held-out majority-label rate (the accuracy of
   always answering the more frequent label: "chance" for this data).

    python -m benchmarks.pretraining_learning            # 2,000 steps
    python -m benchmarks.pretraining_learning --steps=300 --eval_every=100   # smoke test

Writes `benchmarks/out/pretraining_learning.json` and prints a Markdown table.
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

import tensorflow as tf

from benchmarks import common
from tests.training.records import wikitext_records
from tfbert.configs import experiment
from tfbert.tasks.pretraining import PretrainingTask
from tfbert.training.trainer import Trainer

SEQ, PREDICTIONS, BATCH = 128, 20, 32


def make_records(shared, output, dupe_factor, seed):
    """Writes records made from WikiText-2 (valid) (the records of the CI learning test,
    `tests.training.records.wikitext_records`); returns their next-sentence labels."""
    wikitext_records(shared, shared / "vocab" / "bert-base-uncased-vocab.txt", output,
                     SEQ, PREDICTIONS, dupe_factor=dupe_factor, seed=seed)
    return [tf.train.Example.FromString(record.numpy()).features
            .feature["next_sentence_labels"].int64_list.value[0]
            for record in tf.data.TFRecordDataset(str(output))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--eval_every", type=int, default=250)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--warmup_steps", type=int, default=400)
    parser.add_argument("--shared_data", default=str(common.DATA))
    parser.add_argument("--out", default=str(common.OUT_DIR / "pretraining_learning.json"))
    args = parser.parse_args()
    if args.steps % args.eval_every:
        parser.error("--steps must be a multiple of --eval_every")
    shared = pathlib.Path(args.shared_data)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        train_labels = make_records(shared, tmp / "train.tfrecord", 5, 1)
        eval_labels = make_records(shared, tmp / "heldout.tfrecord", 1, 999)
        eval_steps = len(eval_labels) // BATCH  # the evaluation drops the last partial batch
        evaluated = eval_labels[:eval_steps * BATCH]
        random_rate = sum(evaluated) / len(evaluated)
        chance = max(random_rate, 1 - random_rate)
        print(f"{len(train_labels)} training records, {len(evaluated)} held-out records "
              f"evaluated ({random_rate:.3f} random next sentences: chance = {chance:.3f})",
              flush=True)

        config = experiment.load_experiment(["pretrain_tiny"], ",".join([
            f"task.train_data.input_path={tmp / 'train.tfrecord'}",
            f"task.validation_data.input_path={tmp / 'heldout.tfrecord'}",
            f"task.train_data.global_batch_size={BATCH}",
            f"task.validation_data.global_batch_size={BATCH}",
            f"trainer.train_steps={args.steps}", f"trainer.steps_per_loop={args.eval_every}",
            f"trainer.checkpoint_interval={args.steps}", f"trainer.validation_steps={eval_steps}",
            f"trainer.optimizer.learning_rate={args.learning_rate}",
            f"trainer.optimizer.warmup_steps={args.warmup_steps}", "runtime.seed=1"]))
        trainer = Trainer(PretrainingTask(config.task), config, str(tmp / "model"))
        start = time.perf_counter()
        curve = []

        def evaluate(step, logs=None):
            results = trainer.evaluate(write_results=False)
            point = {"step": step, "seconds": round(time.perf_counter() - start, 1),
                     **{k: round(float(v), 4) for k, v in results.items()
                        if k != "global_step"}}
            if logs:
                point["train_next_sentence_accuracy"] = round(
                    float(logs["next_sentence_accuracy"]), 4)
            curve.append(point)
            print(json.dumps(point), flush=True)

        evaluate(0)
        trainer.train(evaluate)

    report = {"benchmark": "pre-training learning curve, BERT-Tiny on WikiText-2 (valid)",
              "seq": SEQ, "predictions": PREDICTIONS, "batch": BATCH, "steps": args.steps,
              "learning_rate": args.learning_rate, "warmup_steps": args.warmup_steps,
              "train_records": len(train_labels), "heldout_records": len(evaluated),
              "heldout_random_next_rate": random_rate, "chance": chance, "curve": curve,
              "cpu_count": os.cpu_count(), "command": " ".join(sys.argv)}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print("\n| step | held-out MLM loss | MLM accuracy | NSP accuracy (chance "
          f"{chance:.3f}) | seconds |\n|---:|---:|---:|---:|---:|")
    for p in curve:
        print(f"| {p['step']} | {p['masked_lm_loss']:.3f} | {p['masked_lm_accuracy']:.3f} | "
              f"{p['next_sentence_accuracy']:.3f} | {p['seconds']:.0f} |")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
