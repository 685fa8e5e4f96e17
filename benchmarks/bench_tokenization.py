"""Tokenization throughput on SQuAD contexts: tfbert.text vs its peers, one run.

    python -m benchmarks.bench_tokenization [--batch_size=256] [--repeats=7]

Peers, each tokenizing the same SQuAD v1.1 dev contexts with the original
bert-base-uncased vocab (no special tokens, ids only unless noted):

* tfbert.text.BertTokenizer: `tokenize`, and `tokenize_with_offsets`; and,
  as a diagnostic, its exact path forced for every text;
* tensorflow_text.BertTokenizer (lower_case=True, StaticVocabularyTable);
* tensorflow_text.FastBertTokenizer (lower_case_nfd_strip_accents=True);
* keras-hub WordPieceTokenizer (lowercase=True, strip_accents=True), the
  closest keras-hub configuration to BERT uncased;
* HuggingFace `tokenizers` BertWordPieceTokenizer (Rust), called from Python:
  `encode_batch` (offsets included) and `encode_batch_fast`.

TF peers run as `tf.function`s on batches; every peer gets a warm-up pass,
then `--repeats` timed repetitions of `--passes` passes over all batches,
the peers in a rotating order within each repetition (so that load on a shared machine spreads
evenly). Reported: the median pass as MB/s of UTF-8 input and texts/s, the
ratio of tfbert's throughput to each peer's, and the share of texts on which
each peer's ids equal tfbert's (tfbert is tested token-for-token against the
original tokenizer, so this is agreement with the original).

Writes benchmarks/out/tokenization.json.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import itertools

import keras_hub
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text
import tokenizers

import tfbert.text
from benchmarks import common

DATA = common.DATA


def squad_contexts(data_dir):
    with open(data_dir / "squad" / "dev-v1.1-articles-00-23.json", encoding="utf-8") as f:
        articles = json.load(f)["data"]
    return [p["context"] for article in articles for p in article["paragraphs"]]


def ids_as_lists(ragged):
    """Row lists of a `[batch, (pieces)]` or `[batch, (words), (pieces)]` result."""
    if isinstance(ragged, tf.RaggedTensor) and ragged.ragged_rank > 1:
        ragged = ragged.merge_dims(1, -1)
    values = ragged.flat_values.numpy().tolist()
    splits = ragged.row_splits.numpy().tolist()
    return [values[a:b] for a, b in itertools.pairwise(splits)]


def build_peers(vocab_file):
    """name -> (run(batch) -> ids rows or None, description)."""
    vocab = tfbert.text.load_vocab(vocab_file)
    ours = tfbert.text.BertTokenizer(vocab_file, lower_case=True)

    table = tf.lookup.StaticVocabularyTable(
        tf.lookup.TextFileInitializer(
            str(vocab_file), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
            tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER), num_oov_buckets=1)
    tft_bert = tf_text.BertTokenizer(table, lower_case=True, token_out_type=tf.int64)
    tft_fast = tf_text.FastBertTokenizer(vocab, lower_case_nfd_strip_accents=True,
                                         token_out_type=tf.int32)
    hub = keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=vocab, lowercase=True, strip_accents=True, split_on_cjk=True)
    hf = tokenizers.BertWordPieceTokenizer(str(vocab_file), lowercase=True)

    def tf_peer(fn):
        compiled = tf.function(fn, input_signature=[tf.TensorSpec([None], tf.string)])
        return lambda batch: compiled(batch["tensor"])

    def hf_peer(method):
        encode = getattr(hf, method) if hasattr(hf, method) else getattr(hf._tokenizer, method)
        return lambda batch: [e.ids for e in encode(batch["list"], add_special_tokens=False)]

    peers = {
        "tfbert": (tf_peer(ours.tokenize), "tfbert.text.BertTokenizer.tokenize"),
        "tfbert+offsets": (tf_peer(ours.tokenize_with_offsets),
                           "tfbert.text.BertTokenizer.tokenize_with_offsets"),
        # Diagnostic: every text through the exact, table-driven path (what
        # texts with Σ, unassigned code points or invalid UTF-8 take).
        "tfbert(exact path only)": (tf_peer(lambda s: ours._exact_tokenize(s, False)[0]),
                                    "tfbert.text exact path forced for every text"),
        "tft.BertTokenizer": (tf_peer(tft_bert.tokenize),
                              "tensorflow_text.BertTokenizer(lower_case=True)"),
        "tft.FastBertTokenizer": (tf_peer(tft_fast.tokenize),
                                  "tensorflow_text.FastBertTokenizer(lower_case_nfd_strip_accents)"),
        "keras_hub.WordPiece": (tf_peer(hub.tokenize),
                                "keras_hub WordPieceTokenizer(lowercase, strip_accents)"),
        "hf.encode_batch": (hf_peer("encode_batch"), "HF tokenizers encode_batch (Python)"),
    }
    if hasattr(hf._tokenizer, "encode_batch_fast"):
        peers["hf.encode_batch_fast"] = (hf_peer("encode_batch_fast"),
                                         "HF tokenizers encode_batch_fast (Python)")
    return peers


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--passes", type=int, default=3,
                        help="passes over all contexts in one timed repetition")
    parser.add_argument("--data_dir", type=pathlib.Path, default=DATA)
    parser.add_argument("--out", type=pathlib.Path,
                        default=common.OUT_DIR / "tokenization.json")
    args = parser.parse_args()

    vocab_file = args.data_dir / "vocab" / "bert-base-uncased-vocab.txt"
    texts = squad_contexts(args.data_dir)
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    batches = [{"list": texts[i:i + args.batch_size],
                "tensor": tf.constant(texts[i:i + args.batch_size])}
               for i in range(0, len(texts), args.batch_size)]
    peers = build_peers(vocab_file)

    # Warm-up (tracing) and agreement with tfbert's ids.
    ids = {}
    for name, (run, _) in peers.items():
        rows = []
        for batch in batches:
            out = run(batch)
            if isinstance(out, tuple):
                out = out[0]
            rows += out if isinstance(out, list) else ids_as_lists(out)
        ids[name] = rows

    names = list(peers)
    seconds = {name: [] for name in names}
    load_before = os.getloadavg()
    for repeat in range(args.repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            run = peers[name][0]
            start = time.perf_counter()
            for _ in range(args.passes):
                for batch in batches:
                    out = run(batch)
            if isinstance(out, (tf.Tensor, tf.RaggedTensor, tuple)):
                tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t,
                                      tf.nest.flatten(out, expand_composites=True))
            seconds[name].append((time.perf_counter() - start) / args.passes)
    load_after = os.getloadavg()

    results = {}
    for name in names:
        median = statistics.median(seconds[name])
        same = sum(a == b for a, b in zip(ids[name], ids["tfbert"], strict=True))
        results[name] = {
            "description": peers[name][1],
            "median_seconds": median,
            "seconds": seconds[name],
            "mb_per_s": megabytes / median,
            "texts_per_s": len(texts) / median,
            "identical_to_original_share": same / len(texts),
        }
    ours = results["tfbert"]["mb_per_s"]
    for name in names:
        results[name]["tfbert_speed_ratio"] = ours / results[name]["mb_per_s"]

    header = (f"{'tokenizer':25} {'MB/s':>7} {'texts/s':>9} {'tfbert x':>9} "
              f"{'= original':>11}")
    print(f"SQuAD v1.1 dev contexts: {len(texts)} texts, {megabytes:.2f} MB, batch "
          f"{args.batch_size}, median of {args.repeats} x {args.passes} passes; load avg "
          f"{load_before[0]:.1f} -> {load_after[0]:.1f} on {os.cpu_count()} CPUs")
    print(header)
    print("-" * len(header))
    for name in names:
        r = results[name]
        print(f"{name:25} {r['mb_per_s']:7.2f} {r['texts_per_s']:9.0f} "
              f"{r['tfbert_speed_ratio']:8.2f}x {100 * r['identical_to_original_share']:10.2f}%")

    report = {
        "benchmark": "tokenization throughput, SQuAD v1.1 dev contexts (articles 0-23)",
        "texts": len(texts),
        "megabytes": megabytes,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "passes_per_repeat": args.passes,
        "load_average_before_after": [load_before, load_after],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "versions": {"tensorflow": tf.__version__, "tensorflow_text": tf_text.__version__,
                     "keras_hub": keras_hub.__version__, "tokenizers": tokenizers.__version__,
                     "numpy": np.__version__},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
