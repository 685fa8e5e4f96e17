"""End-to-end serving speed: raw text -> class probabilities, on real SST-2 dev sentences.

Contestants, the same model size (all-MiniLM-L6-v2: 6 layers, hidden 384,
12 heads, the uncased vocab, a 2-class head), float32 on CPU, texts
truncated at 128 pieces:
- **tfbert_export**: the `tfbert_export` SavedModel (`classification`),
  tokenizing in the graph, called through `serving_default` after
  `tf.saved_model.load` (the graph the model server runs).
- **tfbert_native**: the same SavedModel in `tfbert.serving.native_server.NativeServer`
  (one worker thread): TensorFlow's C++ loader, as `tensorflow_model_server` runs it.
- **tfbert_native_int8**: the `tfbert_export --quantize=int8` SavedModel of the same model
  (calibrated on the bundled demo corpus), the same way.
- **tfbert_native_int8_intra1**: the int8 export with one thread per op (`INTRA1`), as
  `tensorflow_model_server --tensorflow_intra_op_parallelism=1
  --tensorflow_inter_op_parallelism=<CPUs>` runs it (`tfbert_native_intra1`, the float32
  export so, runs when named in `--contestants`).
- **hf_torch**: HuggingFace `tokenizers` (`BertTokenizerFast`) + PyTorch
  `BertForSequenceClassification`, padding to the batch's longest text, under
  `torch.inference_mode()`, softmax on the logits.
- **ort_fp32**, **ort_int8**, **openvino_fp32**: the same tokenizer + ONNX Runtime
  (fp32, dynamic int8) or OpenVINO (fp32) on an ONNX export of the same model
  (`benchmarks/onnx_peers.py`).
- **keras_hub**: `keras_hub.models.BertTextClassifierPreprocessor` +
  `BertTextClassifier` (random weights of the same shape), both in one
  `tf.function`, softmax on the logits.

Same weights: the peers but keras_hub get the export's classification head (written
to `head.npz` from the SavedModel's variables), and their probabilities over all timed
texts are compared with tfbert_export's (max |difference|, argmax agreement).

Measures: latency at batch 1 (p50, p99 over the first `--latency_texts`
sentences, one call each) and throughput at batch 32 (all 872 sentences).
Each measurement is a fresh subprocess; contestants alternate within each
repetition; medians over repetitions; ratios against the faster peer.

    python -m benchmarks.bench_serving --repeats=3
"""

import argparse
import atexit
import csv
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import common, onnx_peers

OUT = common.OUT_DIR / "serving.json"
SST2_DEV = common.SST2_DEV
CONTESTANTS = ("tfbert_export", "tfbert_native", "tfbert_native_int8",
               "tfbert_native_int8_intra1", "hf_torch", "keras_hub", "ort_fp32", "ort_int8",
               "openvino_fp32")
ONNX_CONTESTANTS = ("ort_fp32", "ort_int8", "openvino_fp32", "openvino_bf16")
SEQ_LENGTH = 128
# One thread per op, the pools as TF Serving's flags size them (docs/serving.md, "Threads").
INTRA1 = {"intra_op_threads": 1, "inter_op_threads": os.cpu_count()}


def threads_of(contestant):
    """`NativeServer`'s thread settings for a contestant: `INTRA1` for a name ending in
    `_intra1`, the defaults otherwise."""
    return INTRA1 if contestant.endswith("_intra1") else {}


def export_of(contestant, path, int8_path):
    """The export a contestant is given: `int8_path` for a tfbert `_int8` one."""
    return int8_path if contestant.startswith("tfbert") and "_int8" in contestant else path


def sentences(path=None, columns=(0,)):
    """The dev texts: SST-2 sentences, or with two `columns` pairs (e.g. MRPC's 3, 4)."""
    with open(path or os.environ.get("SST2_DEV", SST2_DEV), encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [row[columns[0]] if len(columns) == 1 else tuple(row[c] for c in columns)
            for row in rows]


def minilm_dir():
    """The installed all-MiniLM-L6-v2 (passed to workers: hf_torch must not import tfbert,
    which imports TensorFlow)."""
    if os.environ.get("MINILM_DIR"):
        return os.environ["MINILM_DIR"]
    from tfbert.checkpoints import installed_minilm_dir

    return installed_minilm_dir()


def make_export(directory):
    """The tfbert_export classification SavedModel of MiniLM + a 2-class head, its int8
    export (`<directory>/int8`), and that head as `<directory>/head.npz` (for the peers);
    returns `path<TAB>minilm<TAB>head<TAB>int8 path`."""
    from tfbert.checkpoints import load_model
    from tfbert.tasks import build_task, load_config

    # The mapping form of --params_override: a path may hold commas.
    task = build_task(load_config("classification", params_override=json.dumps({"task": {
        "init_checkpoint": minilm_dir(), "label_names": ["neg", "pos"],
        "predict_data": {"max_seq_length": SEQ_LENGTH}}})).task)
    model = load_model(minilm_dir(), head=task.build_head, require_head=False)
    [path] = task.export(model, directory, version=1)
    [int8] = task.export(model, os.path.join(directory, "int8"), version=1, quantize="int8")
    head = onnx_peers.save_head(path, os.path.join(directory, "head.npz"))
    return f"{path}\t{minilm_dir()}\t{head}\t{int8}"


def native_predictor(export_path, **threads):
    """`texts or (a, b) pairs -> probabilities` of the export in the C++ session server;
    `threads`: its `intra_op_threads` and `inter_op_threads`."""
    from tfbert.serving.native_server import NativeServer

    server = NativeServer(export_path, workers=1, **threads).start()
    atexit.register(server.close)

    def strings(texts):
        return np.array([t.encode("utf-8") for t in texts], dtype=object)

    def predict(texts):
        if isinstance(texts[0], tuple):
            inputs = {"text_a": strings([a for a, _ in texts]),
                      "text_b": strings([b for _, b in texts])}
        else:
            inputs = {"text": strings(texts)}
        return server.run("serving_default", inputs)["probabilities"]
    return predict


def predictor(contestant, export_path, head=None, onnx_dir=None):
    """A function `list[str] -> probabilities [batch, 2]` (numpy)."""
    if contestant.startswith("tfbert_native"):
        return native_predictor(export_path, **threads_of(contestant))
    if contestant == "hf_torch" or contestant in ONNX_CONTESTANTS:
        return onnx_peers.text_predictor(contestant, minilm_dir(), SEQ_LENGTH,
                                         onnx_dir and onnx_peers.files(onnx_dir), head)
    if contestant == "tfbert_export":
        import tensorflow as tf
        import tensorflow_text  # noqa: F401  (registers the TF Text ops, as the server has them)

        serve = tf.saved_model.load(export_path).signatures["serving_default"]
        if "text_a" in serve.structured_input_signature[1]:  # a pair export: (a, b) texts
            return lambda pairs: serve(text_a=tf.constant([a for a, _ in pairs]),
                                       text_b=tf.constant([b for _, b in pairs]))[
                "probabilities"].numpy()
        return lambda texts: serve(text=tf.constant(texts))["probabilities"].numpy()
    if contestant == "keras_hub":
        import keras_hub
        import tensorflow as tf

        tokenizer = keras_hub.models.BertTokenizer(
            vocabulary=os.path.join(minilm_dir(), "vocab.txt"), lowercase=True)
        preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
            tokenizer, sequence_length=SEQ_LENGTH)
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=tokenizer.vocabulary_size(), num_layers=6, num_heads=12,
            hidden_dim=384, intermediate_dim=1536, max_sequence_length=512)
        classifier = keras_hub.models.BertTextClassifier(backbone, num_classes=2,
                                                         preprocessor=None)

        @tf.function
        def run(texts):
            return tf.nn.softmax(classifier(preprocessor(texts), training=False))
        return lambda texts: run(tf.constant(texts)).numpy()
    raise ValueError(contestant)


def measure(contestant, export_path, latency_texts, num_texts=None, texts_tsv=None,
            columns=(0,), head=None, onnx_dir=None, output_file=None):
    """Latency and throughput; with `output_file`, saves the probabilities of every text
    (from the batch-32 pass) there, to be compared with tfbert_export's."""
    texts = sentences(texts_tsv, columns)[:num_texts]
    predict = predictor(contestant, export_path, head, onnx_dir)
    for text in texts[:10]:                       # warm-up: traces, allocations
        predict([text])
    predict(texts[:32])
    latencies = []
    for text in texts[:latency_texts]:
        start = time.perf_counter()
        predict([text])
        latencies.append(time.perf_counter() - start)
    outputs = []
    start = time.perf_counter()
    for begin in range(0, len(texts), 32):
        outputs.append(predict(texts[begin:begin + 32]))
    elapsed = time.perf_counter() - start
    if output_file:
        np.save(output_file, np.concatenate(outputs))
    return {**latency_ms(latencies), "texts_per_s_batch32": len(texts) / elapsed,
            "texts": len(texts), "peak_rss_mb": common.peak_rss_mb()}


def latency_ms(latencies):
    """`{p50_ms, p99_ms}` of latencies in seconds (p99: the value at 99% of the sorted list)."""
    latencies = sorted(latencies)
    return {"p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]}


def compare(probabilities, reference):
    """Max |probabilities - reference| and the share of texts with the same argmax."""
    return {"max_abs": float(np.abs(probabilities - reference).max()),
            "argmax_agreement": float(np.mean(probabilities.argmax(-1)
                                              == reference.argmax(-1)))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency_texts", type=int, default=200)
    parser.add_argument("--contestants", default=",".join(CONTESTANTS))
    parser.add_argument("--texts", type=int, default=None,
                        help="only the first N dev sentences (default: all 872)")
    parser.add_argument("--out", default=str(OUT), help="the JSON report")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--export_path", help=argparse.SUPPRESS)
    parser.add_argument("--texts_tsv", help=argparse.SUPPRESS)  # other dev texts (distill)
    parser.add_argument("--text_columns", default="0", help=argparse.SUPPRESS)
    parser.add_argument("--head", help=argparse.SUPPRESS)
    parser.add_argument("--onnx_dir", help=argparse.SUPPRESS)
    parser.add_argument("--output_file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        columns = tuple(int(c) for c in args.text_columns.split(","))
        print(json.dumps(measure(args.worker, args.export_path, args.latency_texts,
                                 args.texts, args.texts_tsv, columns, args.head,
                                 args.onnx_dir, args.output_file)))
        return
    contestants = args.contestants.split(",")
    env = common.worker_env()
    with tempfile.TemporaryDirectory() as tmp:
        # Exported once, in a subprocess (TensorFlow and the HF model code must not
        # share a process).
        made = subprocess.run(
            [sys.executable, "-c", "import sys; from benchmarks import bench_serving as b; "
             "print(b.make_export(sys.argv[1]))", tmp], capture_output=True, text=True,
            check=True,
            env=env).stdout.strip().splitlines()[-1]
        export_path, env["MINILM_DIR"], head, int8_path = made.split("\t")
        onnx_dir = os.path.join(tmp, "onnx")
        if set(contestants) & set(ONNX_CONTESTANTS):
            onnx_peers.make_onnx_files(env["MINILM_DIR"], onnx_dir, head)
        runs = {c: [] for c in contestants}
        for repeat in range(args.repeats):
            for contestant in contestants:
                result = subprocess.run(
                    [sys.executable, "-m", "benchmarks.bench_serving", f"--worker={contestant}",
                     f"--export_path={export_of(contestant, export_path, int8_path)}",
                     f"--latency_texts={args.latency_texts}",
                     f"--head={head}", f"--onnx_dir={onnx_dir}",
                     f"--output_file={os.path.join(tmp, contestant)}.npy",
                     *([f"--texts={args.texts}"] if args.texts else [])],
                    capture_output=True, text=True, env=env)
                if result.returncode:
                    raise RuntimeError(f"{contestant}: {result.stderr[-3000:]}")
                runs[contestant].append(json.loads(result.stdout.strip().splitlines()[-1]))
                print(f"repeat {repeat + 1}/{args.repeats} {contestant}: {runs[contestant][-1]}",
                      flush=True)
        # keras_hub has random weights: its outputs are not the model's.
        versus = {c: compare(np.load(os.path.join(tmp, f"{c}.npy")),
                             np.load(os.path.join(tmp, "tfbert_export.npy")))
                  for c in contestants if c not in ("tfbert_export", "keras_hub")
                  and "tfbert_export" in contestants}
    summary = {c: {key: statistics.median(r[key] for r in runs[c])
                   for key in ("p50_ms", "p99_ms", "texts_per_s_batch32", "peak_rss_mb")}
               for c in contestants}
    peers = [c for c in contestants if not c.startswith("tfbert")]
    if "tfbert_export" in summary and peers:
        ours = summary["tfbert_export"]
        best = max(peers, key=lambda c: summary[c]["texts_per_s_batch32"])
        fastest_latency = min(peers, key=lambda c: summary[c]["p50_ms"])
        summary["ratios"] = {
            "throughput_vs_faster_peer": ours["texts_per_s_batch32"]
            / summary[best]["texts_per_s_batch32"], "faster_peer": best,
            "p50_speedup_vs_best_peer": summary[fastest_latency]["p50_ms"] / ours["p50_ms"],
            "best_latency_peer": fastest_latency}
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"runs": runs, "median": summary, "vs_tfbert_export": versus,
              "repeats": args.repeats,
              "latency_texts": args.latency_texts, "seq_length": SEQ_LENGTH,
              "cpu_count": os.cpu_count(), "command": " ".join(sys.argv)}
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({**summary, "vs_tfbert_export": versus}, indent=2))


if __name__ == "__main__":
    main()
