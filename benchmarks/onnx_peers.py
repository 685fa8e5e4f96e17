"""The peers outside TensorFlow: HuggingFace + PyTorch, ONNX Runtime and OpenVINO.

From a HuggingFace BERT directory (and, for classification, the head of a tfbert export
saved as an `.npz` by `save_head`) this module makes

- the ONNX files: PyTorch's TorchScript exporter (`torch.onnx.export`, opset 17, dynamic
  batch and sequence axes) of `BertForSequenceClassification` returning
  `softmax(logits)` as `probabilities`, or of `BertModel` returning `sequence_output`
  (`encoder=True`); and its dynamic int8 quantization
  (`onnxruntime.quantization.quantize_dynamic`, int8 weights, activations quantized
  per call). Made once per run in a subprocess (PyTorch must not share a process with
  TensorFlow) and cached in the run's work folder (`make_onnx_files`);
- the contestants, each a function called in a benchmark's worker process:
  `text_predictor` (`list[str]` or `list[(a, b)]` -> probabilities `[batch, labels]`,
  HuggingFace's `BertTokenizerFast` of the same directory in front, padding to the
  batch's longest text and truncating at `max_length`) and `encoder_call` (int32
  `[batch, seq]` arrays -> `sequence_output`).

Contestants: `hf_torch` (eager PyTorch under `torch.inference_mode()`), `ort_fp32`,
`ort_int8` (ONNX Runtime's CPU provider, `intra_op_num_threads = cpu_count`, default
graph optimizations: they fuse BERT's attention, LayerNorm and GELU), `openvino_fp32`
(the fp32 ONNX file compiled for "CPU" with `INFERENCE_PRECISION_HINT: f32`: on a CPU
with AMX or AVX512-BF16 OpenVINO otherwise runs bf16 without saying so) and
`openvino_bf16` (the same with the hint `bf16`, OpenVINO's default there).
ONNX Runtime's intra-op threads spin while they wait (`session.intra_op.allow_spinning`
defaults to on), as PyTorch's OpenMP threads do: on a machine shared with other jobs
that slows them down several times, so compare their figures from a quiet machine only.

    python -m benchmarks.onnx_peers --model_dir=DIR --out_dir=W [--head=head.npz] [--encoder]

Numpy-only at import: TensorFlow, PyTorch, ONNX Runtime and OpenVINO are imported inside
the functions that use them.
"""

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys

import numpy as np

from benchmarks import common

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
TEXT_CONTESTANTS = ("hf_torch", "ort_fp32", "ort_int8", "openvino_fp32", "openvino_bf16")
# The ONNX encoder contestants of bench_encoder: float32 inputs only (no bf16 row).
ENCODER_CONTESTANTS = ("ort_fp32", "ort_int8")
HEAD_KERNEL, HEAD_BIAS = "classifier/logits/kernel:0", "classifier/logits/bias:0"
OPENVINO_PRECISION = {"openvino_fp32": "f32", "openvino_bf16": "bf16"}


def versions():
    """`common.versions()` and the ONNX peers' packages, read without importing them."""
    found = common.versions()
    for package in ("onnxruntime", "onnx", "openvino"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


# === Made in a TensorFlow process ===

def save_head(export_path, npz_path):
    """Writes the classification head of a tfbert export (`kernel` [hidden, labels],
    `bias` [labels]) to `npz_path`, read from the SavedModel's variables: the peers then
    compute with the head that the export serves, and their outputs can be compared."""
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the export's tokenizer ops)

    variables = {v.name: v.numpy() for v in tf.saved_model.load(export_path).variables}
    missing = {HEAD_KERNEL, HEAD_BIAS} - set(variables)
    if missing:
        raise KeyError(f"{export_path}: no variable(s) {sorted(missing)}; a classification "
                       "export has them")
    np.savez(npz_path, kernel=variables[HEAD_KERNEL], bias=variables[HEAD_BIAS])
    return npz_path


# === PyTorch models and their ONNX files (no TensorFlow in these processes) ===

def torch_model(model_dir, head=None, encoder=False):
    """`BertModel` (`encoder`), or `BertForSequenceClassification` whose classifier holds
    the `head` .npz (`weight = kernel.T`); without a head, a seeded random 2-label one."""
    import torch
    from transformers import BertForSequenceClassification, BertModel

    if encoder:
        return BertModel.from_pretrained(model_dir).eval()
    weights = np.load(head) if head else None
    labels = weights["kernel"].shape[1] if head else 2
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(model_dir, num_labels=labels)
    if head:
        with torch.no_grad():
            model.classifier.weight.copy_(torch.from_numpy(weights["kernel"].T.copy()))
            model.classifier.bias.copy_(torch.from_numpy(weights["bias"]))
    return model.eval()


def export_onnx(model_dir, out_dir, head=None, encoder=False):
    """Writes `model.onnx` (fp32) and `model.int8.onnx` (dynamic int8) into `out_dir`."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = torch_model(model_dir, head, encoder)

    class Outputs(torch.nn.Module):
        """The graph's one output: probabilities, or the encoder's last hidden states."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids)
            return out.last_hidden_state if encoder else torch.softmax(out.logits, -1)

    os.makedirs(out_dir, exist_ok=True)
    paths = files(out_dir)
    output = "sequence_output" if encoder else "probabilities"
    example = torch.ones((2, 16), dtype=torch.long)
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    axes[output] = {0: "batch", 1: "sequence"} if encoder else {0: "batch"}
    with torch.inference_mode():
        torch.onnx.export(Outputs().eval(), (example, example, torch.zeros_like(example)),
                          paths["fp32"], input_names=list(INPUT_NAMES), output_names=[output],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
    quantize_dynamic(paths["fp32"], paths["int8"], weight_type=QuantType.QInt8)
    return paths


def files(out_dir):
    return {"fp32": os.path.join(out_dir, "model.onnx"),
            "int8": os.path.join(out_dir, "model.int8.onnx")}


def make_onnx_files(model_dir, out_dir, head=None, encoder=False):
    """The ONNX files of `model_dir` in `out_dir`, exported in a subprocess unless already
    there (a run exports once and its workers reuse them)."""
    paths = files(out_dir)
    if not all(os.path.exists(p) for p in paths.values()):
        command = [sys.executable, "-m", "benchmarks.onnx_peers", f"--model_dir={model_dir}",
                   f"--out_dir={out_dir}", *([f"--head={head}"] if head else []),
                   *(["--encoder"] if encoder else [])]
        made = subprocess.run(command, env=common.worker_env(), capture_output=True, text=True)
        if made.returncode:
            raise RuntimeError(f"ONNX export of {model_dir} failed:\n{made.stderr[-3000:]}")
    return paths


# === Contestants (each in its own worker process) ===

def onnx_runner(contestant, onnx_files):
    """`feeds (dict of int64 arrays) -> the graph's output` for an ONNX contestant."""
    if contestant.startswith("ort_"):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = os.cpu_count()
        session = onnxruntime.InferenceSession(onnx_files[contestant[len("ort_"):]], options,
                                               providers=["CPUExecutionProvider"])
        return lambda feeds: session.run(None, feeds)[0]
    if contestant in OPENVINO_PRECISION:
        import openvino

        compiled = openvino.Core().compile_model(
            onnx_files["fp32"], "CPU",
            {"INFERENCE_PRECISION_HINT": OPENVINO_PRECISION[contestant]})
        request = compiled.create_infer_request()
        # A copy: the request reuses its output buffer on the next call.
        return lambda feeds: np.array(request.infer(feeds)[compiled.output(0)], copy=True)
    raise ValueError(f"unknown ONNX contestant {contestant!r}")


def tokenize(tokenizer, texts, max_length, tensors="np"):
    """HuggingFace's encoding of single texts or `(a, b)` pairs, padded to the longest."""
    pairs = isinstance(texts[0], tuple | list)
    return tokenizer([t[0] for t in texts] if pairs else list(texts),
                     [t[1] for t in texts] if pairs else None, padding=True, truncation=True,
                     max_length=max_length, return_tensors=tensors)


def text_predictor(contestant, model_dir, max_length, onnx_files=None, head=None):
    """`texts -> probabilities [batch, labels]` (numpy) of a contestant of
    `TEXT_CONTESTANTS`; `head`: the .npz of `save_head` (hf_torch; the ONNX files carry
    the head they were exported with)."""
    from transformers import BertTokenizerFast

    tokenizer = BertTokenizerFast.from_pretrained(model_dir)
    if contestant == "hf_torch":
        import torch

        model = torch_model(model_dir, head)

        def predict(texts):
            with torch.inference_mode():
                batch = tokenize(tokenizer, texts, max_length, "pt")
                return torch.softmax(model(**batch).logits, -1).numpy()
        return predict
    run = onnx_runner(contestant, onnx_files)

    def predict(texts):
        batch = tokenize(tokenizer, texts, max_length)
        return run({name: batch[name].astype(np.int64) for name in INPUT_NAMES})
    return predict


def encoder_call(contestant, weights_dir, arrays, precision="float32", onnx_files=None):
    """`call() -> (sequence_output, pooled_output or None)` (float32 numpy) of one forward
    pass over `arrays` (ids, mask, types): `hf_torch` (`BertModel`, bf16 through
    `torch.autocast`) or an ONNX contestant (float32 only)."""
    if contestant == "hf_torch":
        import contextlib

        import torch

        torch.set_num_threads(os.cpu_count())
        encoder = torch_model(weights_dir, encoder=True)
        ids, mask, types = (torch.from_numpy(a).long() for a in arrays)
        autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bfloat16"
                    else contextlib.nullcontext())

        def call():
            with torch.inference_mode(), autocast:
                out = encoder(input_ids=ids, attention_mask=mask, token_type_ids=types)
                return out.last_hidden_state.float().numpy(), out.pooler_output.float().numpy()
        return call
    if precision != "float32":
        raise ValueError(f"{contestant} runs float32 inputs only, not {precision}")
    run = onnx_runner(contestant, onnx_files)
    feeds = dict(zip(INPUT_NAMES, (a.astype(np.int64) for a in arrays), strict=True))
    return lambda: (run(feeds), None)


def main():
    parser = argparse.ArgumentParser(description="Export a HuggingFace BERT to ONNX (fp32, int8)")
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--head", help="the .npz of save_head (classification)")
    parser.add_argument("--encoder", action="store_true", help="BertModel -> sequence_output")
    args = parser.parse_args()
    print(json.dumps(export_onnx(args.model_dir, args.out_dir, args.head, args.encoder)))


if __name__ == "__main__":
    main()
