"""`tfbert_extract_features`: the original `extract_features.py`, offline embeddings.

Reads one text per line (`text_a ||| text_b` for pairs), runs the encoder and
writes, for every word piece ([CLS] and [SEP] included), the hidden states of
the chosen layers (`-1` is the last) as JSON lines in the original format:

    {"linex_index": 0, "features": [{"token": "[CLS]",
        "layers": [{"index": -1, "values": [0.1234, ...]}, ...]}, ...]}

    tfbert_extract_features --input_file=sentences.txt --output_file=features.jsonl \
        --checkpoint=uncased_L-12_H-768_A-12/bert_model.ckpt \
        --model=uncased_L-12_H-768_A-12/bert_config.json \
        --vocab_file=uncased_L-12_H-768_A-12/vocab.txt --layers=-1,-2,-3,-4

The output is written under a temporary name and renamed when complete.
"""

import json
import os
import time

import numpy as np
from absl import app, flags, logging

from tfbert.cli import common

FLAGS = flags.FLAGS


def define_flags():
    """The flags of `tfbert_extract_features` (see the module doc)."""
    flags.DEFINE_string("input_file", None, "One text per line; `a ||| b` for a pair.")
    flags.DEFINE_string("output_file", None, "JSON lines to write.")
    flags.DEFINE_string("checkpoint", None,
                        "tfbert/TF1 checkpoint, .keras file or HuggingFace dir.")
    flags.DEFINE_string("model", None, "Official model name or bert_config file (default: the "
                        "HuggingFace directory's config.json).")
    flags.DEFINE_string("vocab_file", None, "The vocab (default: the HuggingFace vocab.txt).")
    flags.DEFINE_bool("lower_case", True, "Uncased model (the original --do_lower_case).")
    flags.DEFINE_list("layers", ["-1", "-2", "-3", "-4"], "Layers to output; -1 is the last.")
    flags.DEFINE_integer("max_seq_length", 128, "Pieces per input; longer inputs are truncated.")
    flags.DEFINE_integer("batch_size", 32, "Texts per batch.")
    flags.mark_flags_as_required(["input_file", "output_file", "checkpoint"])


def read_inputs(path):
    """`(texts_a, texts_b or None)` of the input file; `|||` separates a pair."""
    texts_a, texts_b = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            a, sep, b = line.partition(" ||| ")
            texts_a.append(a.strip())
            texts_b.append(b.strip() if sep else None)
    if not texts_a:
        raise ValueError(f"{path} is empty")
    if any(b is not None for b in texts_b) and any(b is None for b in texts_b):
        missing = texts_b.index(None) + 1
        raise ValueError(f"{path}: line {missing} has no ' ||| ' while others do")
    return texts_a, (texts_b if texts_b[0] is not None else None)


def extract_features(encoder, preprocessor, texts_a, texts_b, layers, output_file,
                     batch_size=32):
    """Writes the JSON lines of the original `extract_features.py`; returns the count."""
    import tensorflow as tf  # here: the command's flags parse before TensorFlow starts

    num_layers = encoder.config.num_hidden_layers
    for layer in layers:
        if not -num_layers <= layer < num_layers:
            raise ValueError(f"--layers: {layer} is not a layer of a {num_layers}-layer model")
    vocab = np.array(preprocessor.tokenizer.vocabulary, dtype=object)

    @tf.function
    def run(packed):
        outputs = encoder(packed, training=False)["encoder_outputs"]
        return tf.stack([outputs[layer] for layer in layers], axis=1)  # [batch, L, seq, H]

    partial = f"{output_file}.partial-{os.getpid()}"
    start, written = time.time(), 0
    try:
        with open(partial, "w", encoding="utf-8") as f:
            for begin in range(0, len(texts_a), batch_size):
                batch_a = tf.constant(texts_a[begin:begin + batch_size])
                segments = batch_a if texts_b is None else (
                    batch_a, tf.constant(texts_b[begin:begin + batch_size]))
                packed = preprocessor(segments)
                values = run(packed).numpy()
                ids, mask = packed["input_word_ids"].numpy(), packed["input_mask"].numpy()
                for row in range(len(ids)):
                    count = int(mask[row].sum())
                    features = [{"token": vocab[ids[row, i]], "layers": [
                        {"index": layer, "values": [round(float(v), 6) for v in values[row, j, i]]}
                        for j, layer in enumerate(layers)]} for i in range(count)]
                    f.write(json.dumps({"linex_index": written, "features": features}) + "\n")
                    written += 1
                logging.info("%d/%d texts (%.1f/s)", written, len(texts_a),
                             written / max(time.time() - start, 1e-9))
        os.replace(partial, output_file)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return written


def main(argv):
    from tfbert.checkpoints.loader import load_model
    from tfbert.text import BertPreprocessor

    del argv
    vocab_file = common.vocab_file_or_beside(FLAGS.vocab_file, "checkpoint", FLAGS.checkpoint)
    if not os.path.isfile(vocab_file):
        raise app.UsageError(f"--vocab_file={vocab_file}: no such file")
    try:
        layers = [int(x) for x in FLAGS.layers]
    except ValueError:
        raise app.UsageError(f"--layers={','.join(FLAGS.layers)}: integers, e.g. -1,-2") from None
    texts_a, texts_b = read_inputs(FLAGS.input_file)
    model = load_model(FLAGS.checkpoint, config=FLAGS.model)
    encoder = getattr(model, "encoder", model)  # a .keras file may hold a task model
    preprocessor = BertPreprocessor(vocab_file, lower_case=FLAGS.lower_case,
                                    seq_length=FLAGS.max_seq_length)
    count = extract_features(encoder, preprocessor, texts_a, texts_b, layers,
                             FLAGS.output_file, FLAGS.batch_size)
    print(f"wrote features of {count} texts to {FLAGS.output_file}")


def run():
    common.run_command("tfbert_extract_features", main, define_flags)


if __name__ == "__main__":
    run()
