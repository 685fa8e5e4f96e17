"""The `tfbert_create_pretraining_data` program: corpus files in, TFRecords out.

Around the instance algorithm (`tfbert.data.pretraining_instances`, the
original's, draw for draw) this reads the corpus (lines tokenized in
batches in-graph), shuffles the documents, runs the algorithm on one or more
worker processes, writes the records, and logs progress and counts. With
`num_workers=1` the output files are byte-identical to the original's. With
`num_workers=N > 1` the shuffled documents are dealt into N shards, each
worker process runs the same algorithm on its shard with its own seed
(random next segments come from the same shard), and the records of the
workers are interleaved: deterministic for a given seed and N. The
workers are spawned processes, watched by this one: a worker that dies or
hangs is an error naming it, not a hang (`tfbert.data.instance_workers`).
"""

import os
import random
import time

from absl import logging

from tfbert.data import pretraining_corpus, record_files
from tfbert.data.instance_workers import run_workers
from tfbert.data.pretraining_instances import (
    PretrainingDataStats,
    Vocab,
    create_shuffled_records,
    shuffle,
)


class _Progress:
    """Logs the number of instances created, at most every `every_seconds`."""

    def __init__(self, every_seconds, prefix=""):
        self.every, self.prefix = every_seconds, prefix
        self.start = self.last = time.time()

    def __call__(self, num_records):
        now = time.time()
        if now - self.last > self.every:
            self.last = now
            logging.info("%screated %d instances (%.0f instances/s)", self.prefix, num_records,
                         num_records / (now - self.start))


def create_records(documents, vocab, options, progress_seconds=10.0, stall_seconds=600.0):
    """Shuffles the documents and creates the records, on one or more workers.

    Args:
      documents: list of `Document`s in corpus order.
      vocab: a `Vocab`.
      options: `PretrainingDataOptions`.
      progress_seconds: log progress at most this often.
      stall_seconds: a worker silent this long is taken as hung (an error).

    Returns:
      `(records, stats)`: serialized records in output order, `PretrainingDataStats`.

    Raises:
      RuntimeError: a worker died, hung or failed (the message names it).
    """
    rng = random.Random(options.random_seed)
    documents = list(documents)
    shuffle(documents, rng)
    num_workers = min(options.num_workers, len(documents))
    if num_workers <= 1:
        return create_shuffled_records(documents, vocab, options, rng,
                                       _Progress(progress_seconds))
    shards = [documents[k::num_workers] for k in range(num_workers)]
    results = run_workers(shards, vocab, options, progress_seconds, stall_seconds)
    stats = PretrainingDataStats()
    for _, shard_stats in results:
        stats.add(shard_stats)
    # Interleave the workers' (shuffled) records: worker 0, 1, ..., 0, 1, ...
    shard_records = [records for records, _ in results]
    records = []
    longest = max(len(r) for r in shard_records)
    for i in range(longest):
        records.extend(r[i] for r in shard_records if i < len(r))
    return records, stats


def default_num_workers():
    """The machine's cores available to this process."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def create_pretraining_data(input_files, output_files, vocab_tokens, tokenize, options,
                            vocab_name="the vocabulary", progress_seconds=10.0,
                            stall_seconds=600.0):
    """Corpus files in, pre-training TFRecord files out (the whole program).

    Args:
      input_files: list of corpus paths (one sentence per line, blank line
        between documents), read in this order.
      output_files: list of TFRecord paths; records go round-robin. Each is
        written under a temporary name and renamed at the end.
      vocab_tokens: the vocab as a list of tokens.
      tokenize: `list[str] -> (flat_ids, row_lengths)`, see
        `pretraining_corpus.batch_tokenizer`.
      options: `PretrainingDataOptions`.
      vocab_name: how error messages name the vocab.
      progress_seconds: log progress at most this often.
      stall_seconds: a worker process silent this long is taken as hung.

    Returns:
      `PretrainingDataStats`.

    Raises:
      ValueError: bad options, vocab or input (the message names the flag,
        file and line); no output file is left behind.
      RuntimeError: a worker process died, hung or failed (the message
        names it); no output file is written.
    """
    start = time.time()
    options.validate()
    vocab = Vocab(vocab_tokens, vocab_name)
    documents, num_lines = pretraining_corpus.read_documents(
        input_files, tokenize, progress_seconds=progress_seconds)
    if not documents:
        raise ValueError(f"--input_file: no text in {', '.join(input_files)} "
                         "(the files are empty or hold only blank lines)")
    if len(documents) == 1:
        logging.warning(
            "the input is a single document (%d sentences; no blank line between documents?): "
            "random next segments will come from the same document",
            documents[0].num_sentences)
    logging.info("read %d documents from %d lines in %.1f s", len(documents), num_lines,
                 time.time() - start)
    records, stats = create_records(documents, vocab, options, progress_seconds,
                                    stall_seconds)
    with record_files.RecordFilesWriter(output_files, options.gzip) as writer:
        for record in records:
            writer.write(record)
    stats.documents, stats.lines, stats.seconds = len(documents), num_lines, time.time() - start
    return stats
