"""Each benchmark's JSON report as one table: rows, columns, ratios and notes.

`run_all.py` turns every report it finds into such a table for `summary.json` and the
charts; `table_cells` formats one as the header and cells that `results/latest.json` and
RESULTS.md hold.
"""

import datetime
import os
import re
import statistics

TITLES = {"bert_base": "BERT-Base", "bert_small": "BERT-Small", "minilm_l6": "MiniLM-L6",
          "bert_tiny": "BERT-Tiny"}
PRECISION = {"float32": "fp32", "bfloat16": "bf16"}


def _table(title, metric, rows, ratios, columns=(), notes=(), ratio_header="tfbert ÷ this"):
    return {"title": title, "metric": metric, "rows": rows, "ratios": ratios,
            "columns": [list(c) for c in columns], "notes": list(notes),
            "ratio_header": ratio_header}


def _peer_ratios(rows, ours="tfbert"):
    return [{"group": r["case"], "peer": r["contestant"], "ratio": r["ratio"]}
            for r in rows if r["contestant"] != ours and r.get("ratio") is not None]


def _gflops(value):
    return None if value is None else value / 1e9


def summarize_encoder(report):
    rows, notes = [], []
    for model, by_precision in report["results"].items():
        for precision, table in by_precision.items():
            case = f"{TITLES.get(model, model)} {PRECISION.get(precision, precision)}"
            for contestant, r in table.items():
                deviation = report.get("bf16_deviation", {}).get(model, {}).get(contestant)
                versus = report.get("fp32_vs_tfbert", {}).get(model, {}).get(contestant)
                rows.append({
                    "case": case, "contestant": contestant, "value": r.get("tokens_per_s"),
                    "ratio": r.get("tfbert_ratio"), "error": r.get("error"),
                    "fraction_of_peak": r.get("fraction_of_peak"),
                    "fraction_of_interleaved_peak": r.get("fraction_of_interleaved_peak"),
                    "peak_rss_mb": r.get("peak_rss_mb"),
                    "bf16_max_abs": deviation["max_abs"] if deviation and precision ==
                    "bfloat16" else None,
                    "bf16_mean_rel": deviation["mean_rel"] if deviation and precision ==
                    "bfloat16" else None,
                    "fp32_vs_tfbert": versus["max_abs"] if versus and precision ==
                    "float32" else None})
            alone = report.get("matmuls_alone", {}).get(model, {}).get(precision)
            if alone:
                rows.append({"case": case, "contestant": "matmuls alone (ceiling)",
                             "value": alone.get("tokens_per_s"), "error": alone.get("error"),
                             **{key: alone.get(key) for key in (
                                 "fraction_of_peak", "fraction_of_interleaved_peak",
                                 "peak_rss_mb")}})
    for dtype, runs in _matmul_modes(report).items():
        notes.append(f"TensorFlow {dtype} matmul ({report.get('matmul_size', 2048)}² chains): "
                     + ", ".join(f"{mode} {value:,.0f} GFLOP/s" for mode, value in runs.items())
                     + "; the fraction of peak uses the faster.")
    notes.append("Matmuls alone (ceiling): the encoder's matmuls in its shapes and order, "
                 "nothing else, as a TensorFlow graph with the weights as constants: no "
                 "implementation passes it.")
    notes.append("Fraction of interleaved peak (TensorFlow contestants): per timed batch, its "
                 "FLOP/s ÷ those of a matmul chain timed right after it in the same process "
                 "(the peak of this VM moves between processes); median over batches and runs.")
    notes.append("bf16 vs fp32: |sequence_output(bf16) − sequence_output(fp32)| of the same "
                 "contestant, max and mean ÷ mean |fp32|; fp32 vs tfbert: max |Δ| of a peer's "
                 "fp32 output from tfbert's (same weights, same inputs).")
    if any(r["contestant"] == "ort_int8" for r in rows):
        notes.append("ort_int8 (ONNX Runtime, dynamic int8; fp32 rows only): its deviation "
                     "in the fp32 column is the int8 model's output from tfbert's fp32.")
    return _table(
        f"Encoder inference, batch {report['batch']} × seq {report['seq']} (tokens/s)",
        "tokens/s", rows, _peer_ratios(rows),
        [("fraction_of_peak", "fraction of matmul peak", "{:.3f}"),
         ("fraction_of_interleaved_peak", "fraction of interleaved peak", "{:.3f}"),
         ("peak_rss_mb", "peak RSS MB", "{:,.0f}"),
         ("bf16_max_abs", "bf16 vs fp32 max abs", "{:.3g}"),
         ("bf16_mean_rel", "bf16 vs fp32 mean rel", "{:.2g}"),
         ("fp32_vs_tfbert", "fp32 vs tfbert max abs", "{:.2g}")],
        notes + _errors(report))


def _errors(report):
    return [f"{len(report['errors'])} run(s) failed: see `errors` in the JSON"] \
        if report.get("errors") else []


def _matmul_modes(report):
    """{dtype: {mode: GFLOP/s}}, medians over the matmul runs."""
    found = {}
    for run in report.get("matmul_runs", []):
        for dtype, modes in run.get("matmul", {}).items():
            for mode, value in modes.items():
                if mode != "peak":
                    found.setdefault(dtype, {}).setdefault(mode, []).append(value / 1e9)
    return {d: {m: statistics.median(v) for m, v in modes.items()} for d, modes in found.items()}


def summarize_finetune_step(report):
    rows = []
    for model, by_precision in report["results"].items():
        for precision, table in by_precision.items():
            case = f"{TITLES.get(model, model)} {PRECISION.get(precision, precision)}"
            for contestant, r in table.items():
                rows.append({"case": case, "contestant": contestant,
                             "value": r.get("examples_per_s"), "ratio": r.get("tfbert_ratio"),
                             "error": r.get("error"), "fraction_of_peak": r.get("fraction_of_peak"),
                             "gflops": _gflops(r.get("achieved_flops")),
                             "last_loss": (r.get("last_loss") or [None])[-1],
                             "peak_rss_mb": r.get("peak_rss_mb")})
    notes = [f"TensorFlow {d} matmul peak {v / 1e9:,.0f} GFLOP/s."
             for d, v in report.get("matmul_peak_flops", {}).items() if v]
    notes.append("Each contestant pads as its library's fine-tuning path does by default: "
                 "tfbert buckets by length (each batch cut to its longest row), keras_hub and "
                 "hf_torch pad to 128, hf_torch_longest pads each batch to its longest. "
                 "GFLOP/s and fractions count every step at 128 positions.")
    return _table(
        f"Fine-tuning step, SST-2 classification, batch {report['batch']}, texts ≤ "
        f"{report['seq']} pieces (examples/s)", "examples/s", rows,
        _peer_ratios([r for r in rows if not r["contestant"].startswith("tfbert_")]),
        [("gflops", "achieved GFLOP/s", "{:,.1f}"),
         ("fraction_of_peak", "fraction of matmul peak", "{:.3f}"),
         ("last_loss", "last loss", "{:.3f}"), ("peak_rss_mb", "peak RSS MB", "{:,.0f}")],
        notes + _errors(report))


def summarize_pretraining(report):
    shape = report["shape"]
    case = (f"{shape['num_layers']}L/{shape['hidden']}H MLM+NSP, b{shape['batch']} "
            f"s{shape['seq']}")
    rows = [{"case": case, "contestant": name, "value": value,
             "ratio": report.get("ratio_to_tfbert", {}).get(name),
             "gflops": _gflops(report.get("achieved_flops", {}).get(name)),
             "fraction_of_peak": report.get("fraction_of_peak", {}).get(name),
             "peak_rss_mb": report.get("peak_rss_mb", {}).get(name)}
            for name, value in report["median_examples_per_second"].items()]
    return _table(
        "Pre-training step (examples/s)", "examples/s", rows,
        _peer_ratios([r for r in rows if not r["contestant"].startswith("tfbert")]),
        [("gflops", "achieved GFLOP/s", "{:,.1f}"),
         ("fraction_of_peak", "fraction of matmul peak", "{:.3f}"),
         ("peak_rss_mb", "peak RSS MB", "{:,.0f}")],
        [", ".join(f"TensorFlow {p} matmul peak {v / 1e9:,.0f} GFLOP/s"
                   for p, v in report["matmul_peak_flops"].items())
         + f"; {report['repeats']} repetition(s) × {report['loops']} loops of "
         f"{report['steps_per_loop']} steps"
         + (", TensorFlow runs alternating loop by loop in one process (ratios: medians of "
            "the loop-by-loop ratios)" if report.get("interleaved") else "")
         + ". Ratios: tfbert's fastest configuration "
         f"({report.get('tfbert_best')}) ÷ each; vs the faster peer "
         f"({report.get('faster_peer')}): {report.get('tfbert_vs_faster_peer') or 0:.2f}×."])


def summarize_serving(report):
    median = report["median"]
    contestants = [c for c in median if c != "ratios"]
    ours = median.get("tfbert_export", {})
    rows = []
    for c in contestants:
        m = median[c]
        rows.append({"case": "text → probabilities", "contestant": c,
                     "value": m["texts_per_s_batch32"],
                     "ratio": ours["texts_per_s_batch32"] / m["texts_per_s_batch32"]
                     if ours else None,
                     "p50_ms": m.get("p50_ms"), "p99_ms": m.get("p99_ms"),
                     "p50_ratio": m["p50_ms"] / ours["p50_ms"] if ours else None,
                     "peak_rss_mb": m.get("peak_rss_mb"),
                     **_versus(report, c)})
    ratios = [{"group": "throughput, batch 32", "peer": r["contestant"], "ratio": r["ratio"]}
              for r in rows if not r["contestant"].startswith("tfbert")]
    ratios += [{"group": "p50 latency, batch 1", "peer": r["contestant"],
                "ratio": r["p50_ratio"]} for r in rows if not r["contestant"].startswith("tfbert")]
    return _table(
        "Serving: raw text → probabilities, MiniLM-L6 (texts/s at batch 32)", "texts/s",
        rows, ratios,
        [("p50_ms", "p50 ms, batch 1", "{:.1f}"), ("p99_ms", "p99 ms, batch 1", "{:.1f}"),
         ("p50_ratio", "p50: this ÷ tfbert", "{:.2f}"),
         ("peak_rss_mb", "peak RSS MB", "{:,.0f}"), *VERSUS_COLUMNS],
        [f"{report['repeats']} repetition(s); latency over {report['latency_texts']} texts.",
         "tfbert_native: the export in TensorFlow's C++ loader (peak RSS: the Python client "
         "only; `_intra1`: one thread per op, as `--tensorflow_intra_op_parallelism=1` runs "
         "it). keras_hub has random weights (not compared); the other peers carry the "
         "export's head: max |Δp| and argmax agreement with tfbert_export over all texts.",
         HEAD_NOTE])


HEAD_NOTE = ("The head is the export's newly initialized 2-class head (MiniLM is not "
             "fine-tuned here): probabilities sit near 0.5, so a small int8 error flips "
             "the argmax of some texts; it is no accuracy figure.")
VERSUS_COLUMNS = (("max_abs", "max |Δp| vs tfbert", "{:.2g}"),
                  ("argmax_agreement", "same argmax", "{:.1%}"))


def _versus(report, contestant):
    """The output comparison of `contestant` with tfbert_export, if the report has it."""
    found = report.get("vs_tfbert_export", {}).get(contestant, {})
    return {key: found.get(key) for key, _, _ in VERSUS_COLUMNS}


def summarize_latency(report):
    """Latency at batch 1 and 4 per text length: p50 (the value), p99, ratios of p50."""
    median, rows = report["median"], []
    ours = median.get("tfbert_export", {})
    for batch in report["batches"]:
        for n in report["lengths"]:
            shape = f"b{batch}_n{n}"
            for contestant, shapes in median.items():
                m = shapes.get(shape, {})
                rows.append({"case": f"batch {batch} × {n} pieces", "contestant": contestant,
                             "value": m.get("p50_ms"), "error": shapes.get("error"),
                             "ratio": m["p50_ms"] / ours[shape]["p50_ms"]
                             if m and shape in ours else None,
                             "p99_ms": m.get("p99_ms"), **_versus(report, contestant)})
    return _table(
        "Latency: raw text → probabilities, MiniLM-L6 classification (p50 ms)", "p50 ms",
        rows, _peer_ratios(rows, "tfbert_export"),
        [("p99_ms", "p99 ms", "{:.2f}"), *VERSUS_COLUMNS],
        [f"{report['repeats']} repetition(s) × {report['requests']} requests per shape; "
         "every text exactly N pieces with [CLS] and [SEP] (no padding, no truncation).",
         "tfbert_export: the SavedModel in TensorFlow's C++ loader (NativeServer), as "
         "TF Serving runs it (`_intra1`: with one thread per op, as "
         "`--tensorflow_intra_op_parallelism=1` runs it); the peers: HuggingFace's fast "
         "tokenizer + PyTorch, ONNX Runtime "
         "or OpenVINO on an ONNX export with the export's head. Ratio: p50 of this ÷ "
         f"tfbert's. Outputs: {report['check_texts']} check texts, max |Δp| and argmax "
         "agreement with tfbert_export.", HEAD_NOTE] + _errors(report),
        ratio_header="this p50 ÷ tfbert's")


def summarize_tokenization(report):
    rows = [{"case": "SQuAD dev contexts", "contestant": name, "value": r["mb_per_s"],
             "ratio": r["tfbert_speed_ratio"], "texts_per_s": r["texts_per_s"],
             "identical": r["identical_to_original_share"]}
            for name, r in report["results"].items()]
    ratios = [{"group": "tokenize (ids)", "peer": r["contestant"], "ratio": r["ratio"]}
              for r in rows if not r["contestant"].startswith("tfbert")]
    return _table(
        f"Tokenization, {report['megabytes']:.2f} MB in batches of {report['batch_size']} "
        "(MB/s)", "MB/s", rows, ratios,
        [("texts_per_s", "texts/s", "{:,.0f}"), ("identical", "ids = original", "{:.2%}")],
        ["One process for all tokenizers (no per-contestant memory); rows starting with "
         "tfbert are tfbert variants."])


def summarize_create_pretraining_data(report):
    summary = report["summary"]
    reference = summary["reference"]["instances_per_s"]
    rows = [{"case": "WikiText-2 valid", "contestant": name, "value": s["instances_per_s"],
             "ratio": s["instances_per_s"] / reference, "seconds": s["seconds"],
             "setup_s": s["setup_s"], "with_setup": s.get("speedup_with_setup"),
             "peak_rss_mb": s.get("peak_rss_mb")} for name, s in summary.items()]
    ratios = [{"group": name.replace("tfbert_", "") + " worker(s)",
               "peer": "reference (pure Python)", "ratio": r["ratio"]}
              for name, r in zip(summary, rows, strict=True) if name != "reference"]
    return _table(
        "Pre-training data creation (instances/s)", "instances/s", rows, ratios,
        [("seconds", "seconds", "{:.2f}"), ("setup_s", "setup s", "{:.2f}"),
         ("with_setup", "÷ reference, setup included", "{:.2f}"),
         ("peak_rss_mb", "peak RSS MB", "{:,.0f}")],
        [f"Same examples as the reference (1 worker): "
         f"{report.get('reference_and_tfbert_1_same_examples')}."],
        ratio_header="this ÷ reference")


def summarize_finetune_features(report):
    rows, ratios = [], []
    for job, s in report.items():
        if job == "versions" or not isinstance(s, dict) or "tfbert" not in s:
            continue
        for name in ("tfbert", "huggingface"):
            r = s[name]
            rows.append({"case": job, "contestant": name, "value": r["rows"] / r["median_s"],
                         "ratio": r["median_s"] / s["tfbert"]["median_s"],
                         "seconds": r["median_s"], "setup_s": r.get("median_setup_s"),
                         "peak_rss_mb": r.get("median_peak_rss_mb")})
        ratios.append({"group": job, "peer": "huggingface", "ratio": rows[-1]["ratio"]})
    return _table(
        "Fine-tuning features (rows/s)", "rows/s", rows, ratios,
        [("seconds", "seconds", "{:.2f}"), ("setup_s", "setup s", "{:.2f}"),
         ("peak_rss_mb", "peak RSS MB", "{:,.0f}")])


SUMMARIZERS = {"encoder": summarize_encoder, "finetune_step": summarize_finetune_step,
               "pretraining": summarize_pretraining, "serving": summarize_serving,
               "latency": summarize_latency,
               "tokenization": summarize_tokenization,
               "create_pretraining_data": summarize_create_pretraining_data,
               "finetune_features": summarize_finetune_features}


def _number(value):
    """A measurement with about 3-4 significant digits, thousands separated."""
    if value is None:
        return "—"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if magnitude >= 10 else f"{value:.2f}" if magnitude >= 1 \
        else f"{value:.3g}"


def _format(value, spec):
    if value is None:
        return "—"
    try:
        return spec.format(value)
    except (TypeError, ValueError):
        return str(value)


def table_cells(table):
    """`(header, rows)` of a summarized table, every cell a formatted string."""
    columns = table["columns"]
    header = ["case", "contestant", table["metric"], table["ratio_header"]]
    header += [c[1] for c in columns]
    rows = []
    for r in table["rows"]:
        if r.get("error"):
            cells = [r["case"], r["contestant"], "failed: " + r["error"].splitlines()[0][:80]]
            cells += [""] * (len(header) - 3)
        else:
            cells = [r["case"], r["contestant"], _number(r["value"]),
                     _format(r.get("ratio"), "{:.2f}×")]
            cells += [_format(r.get(key), spec) for key, _, spec in columns]
        rows.append(cells)
    return header, rows


def int8_probe_entry(report, command, machine):
    """The `results/latest.json` entry of an `int8_probe --shipped` run (RESULTS.md)."""
    title = TITLES[report["model"]]
    rows = [[f"encoder {shape.replace('x', ' × ')}", f"{r['ms']['fp32']:.1f} ms",
             f"{r['ms']['int8']:.1f} ms", f"{r['int8_speedup']:.2f}×",
             f"cosine ≥ {r['min_token_cosine']:.3f}"] for shape, r in report["shapes"].items()]
    for metric, fp32 in (report.get("dev_scores") or {}).get("fp32", {}).items():
        int8 = report["dev_scores"]["int8"][metric]
        rows.append([f"dev {metric}", f"{100 * fp32:.2f}", f"{100 * int8:.2f}", "",
                     f"{100 * (int8 - fp32):+.2f} points"])
    task = (report.get("dev_scores") or {}).get("task", "")
    return {"name": "_".join(filter(None, ["int8", report["model"], task.replace("/", "_")])),
            "title": f"int8 export against float32, {title}" + (f", {task}" if task else ""),
            "date": datetime.date.today().isoformat(), "command": command,
            "machine": machine, "source": "benchmarks/int8_probe.py",
            "header": ["case", "float32", "int8", "speed-up", "int8 vs float32"],
            "rows": rows, "notes": [
                "int8 as `tfbert_export --quantize=int8` computes it (tfbert.layers.int8), "
                "every call in int8; float32: the encoder as an export traces it. Both in "
                f"one process, alternating, medians of {report['rounds']} rounds.",
                "Cosine: the smallest between a token's float32 and int8 outputs. Dev: the "
                "fine-tuned model's validation set, whole, through Task.evaluate.",
                *([_model_note(report["model_dir"], task)] if task else [])]}


def _model_note(model_dir, task):
    """Which fine-tuning the dev rows come from: its task and training steps."""
    with open(os.path.join(model_dir, "params.yaml"), encoding="utf-8") as f:
        params = f.read()
    found = {key: re.search(rf"^\s*{key}: (\S+)", params, re.MULTILINE)
             for key in ("train_steps", "init_checkpoint")}
    steps, init = (m.group(1) if m else "unknown" for m in found.values())
    return (f"The fine-tuned model (--model_dir): a tfbert_finetune run of {task} from "
            f"{'/'.join(init.split('/')[-2:])}, {steps} training steps "
            "(docs/performance.md, \"int8\").")
