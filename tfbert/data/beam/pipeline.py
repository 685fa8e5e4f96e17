"""The pre-training data program as a Beam pipeline: corpus files in, sharded TFRecords out.

    files ─ ReadDocuments ─ (shard, (key, file, byte range)) ─ GroupByKey ─ ShardRecords
                                                       ─ Finalize (rename, stats)

- ReadDocuments: one file per element, read and split into documents
  exactly as the one-machine program reads it (`documents.document_spans`:
  a binary or non-UTF-8 file is an error naming it and the line); each
  document is keyed by a seeded hash of its text and sent to a shard as a
  reference (its file and byte range), not as text: what the runner shuffles
  is then a few dozen bytes per document, so a worker's memory is bounded by
  the shard it writes (and the file it reads), not by the corpus (the
  DirectRunner holds a GroupByKey's whole input in memory).
- ShardRecords: reads its documents' byte ranges back (each file once, in
  offset order; a file that changed in between is an error), puts them in
  canonical order (by key; with `dedup`, equal texts once), tokenizes in
  batches by the same in-graph
  tokenizer (built once per worker, in `setup`), then exactly
  `create_pretraining_data.create_records` with `num_workers=1` and the
  shard's seed, and written by the same `RecordFilesWriter`. So a shard's
  file is byte for byte what `tfbert_create_pretraining_data
  --num_workers=1 --random_seed=<shard_seed>` writes for that shard's
  documents (`documents.shard_corpus_text`), gzip included.
- Finalize: one element, after every shard: renames the shard files into
  place and writes the statistics JSON last.

Why not Beam's `WriteToTFRecord`: it deals records into shards as bundles
arrive, so shard k would not hold shard k's records in the one-machine
order. Each shard's file is instead written in the DoFn under a temporary
directory (`<output dir>/.tfbert-beam-<run id>/`, an attempt-unique name so
that a retried bundle never collides), and only Finalize renames the files
of the attempts that succeeded into `<prefix>-00000-of-00008.tfrecord`.
A run stopped midway leaves the temporary directory and no final-named
file of that run; the statistics file, written last and removed at the
start of a run, marks a complete output. A shard that gets no document
(more shards than documents) is written empty, and counted.

Progress: Beam counters in the `tfbert` namespace (files, documents,
bytes_read, one_sentence_documents, duplicate_documents, instances,
bytes_written, shards), logged at the end (`runner.counters`).
"""

import dataclasses
import json
import os
import time
import uuid

import apache_beam as beam
import tensorflow as tf
from absl import logging
from apache_beam.metrics import Metrics

from tfbert.data import create_pretraining_data as cpd
from tfbert.data import pretraining_corpus, record_files
from tfbert.data.beam import documents as docs_lib
from tfbert.data.beam import runner as runner_lib
from tfbert.data.pretraining_instances import PretrainingDataStats, Vocab

_NAMESPACE = "tfbert"
_STATS_FIELDS = [f.name for f in dataclasses.fields(PretrainingDataStats)
                 if f.name not in ("documents", "lines", "seconds")]


def shard_file_name(prefix, shard_index, num_shards):
    """`<prefix>-00003-of-00008.tfrecord`."""
    return f"{prefix}-{shard_index:05d}-of-{num_shards:05d}.tfrecord"


def stats_file_name(prefix):
    return f"{prefix}-stats.json"


class _ReadDocuments(beam.DoFn):
    """`(file index, path)` -> `(shard, (key, file index, start, end))` per document."""

    def __init__(self, random_seed, num_shards):
        self.random_seed, self.num_shards = random_seed, num_shards
        self.files = Metrics.counter(_NAMESPACE, "files")
        self.documents = Metrics.counter(_NAMESPACE, "documents")
        self.bytes_read = Metrics.counter(_NAMESPACE, "bytes_read")

    def process(self, element):
        index, path = element
        data = docs_lib.read_bytes(path)
        spans = docs_lib.document_spans(data, path)
        if not spans:
            logging.warning("%s has no text", path)
        self.files.inc()
        self.bytes_read.inc(len(data))
        self.documents.inc(len(spans))
        del data
        for start, end, text in spans:
            key = docs_lib.document_key(self.random_seed, text)
            yield docs_lib.shard_of(key, self.num_shards), (key, index, start, end)


class _ShardRecords(beam.DoFn):
    """`(shard, [(key, file index, start, end)...])` -> the shard's records in a temporary
    file, and its stats."""

    def __init__(self, input_files, vocab_tokens, lower_case, options, num_shards, dedup,
                 temp_dir, gzip):
        self.input_files = list(input_files)
        self.vocab_tokens, self.lower_case = vocab_tokens, lower_case
        self.options, self.num_shards, self.dedup = options, num_shards, dedup
        self.temp_dir, self.gzip = temp_dir, gzip
        self.instances = Metrics.counter(_NAMESPACE, "instances")
        self.bytes_written = Metrics.counter(_NAMESPACE, "bytes_written")
        self.shards = Metrics.counter(_NAMESPACE, "shards")
        self.duplicates = Metrics.counter(_NAMESPACE, "duplicate_documents")
        self.one_sentence = Metrics.counter(_NAMESPACE, "one_sentence_documents")

    def setup(self):
        from tfbert.text import BertTokenizer  # once per worker: building it takes seconds

        tokenizer = BertTokenizer(vocabulary=self.vocab_tokens, lower_case=self.lower_case)
        self.tokenize = pretraining_corpus.batch_tokenizer(tokenizer)
        self.vocab = Vocab(self.vocab_tokens)

    def _read(self, references):
        """`[(key, text)]` of the shard's references, each file read once."""
        by_file = {}
        for key, index, start, end in references:
            by_file.setdefault(index, []).append((key, start, end))
        keyed = []
        for index, spans in sorted(by_file.items()):
            path = self.input_files[index]
            texts = docs_lib.read_spans(path, [(start, end) for _, start, end in spans])
            for (key, start, end), text in zip(spans, texts, strict=True):
                if docs_lib.document_key(self.options.random_seed, text) != key:
                    raise ValueError(f"{path}, bytes {start}-{end}: the text differs from "
                                     "when it was read: a corpus file changed while the "
                                     "pipeline ran")
                keyed.append((key, text))
        return keyed

    def process(self, element):
        shard, references = element
        texts, duplicates = docs_lib.canonical_order(self._read(references), self.dedup)
        self.duplicates.inc(duplicates)
        lines = pretraining_corpus.split_lines(docs_lib.shard_corpus_text(texts))
        documents, num_lines = pretraining_corpus.documents_from_lines(
            [(f"shard {shard}", lines)], self.tokenize)
        del lines, texts
        one_sentence = sum(doc.num_sentences == 1 for doc in documents)
        self.one_sentence.inc(one_sentence)
        summary = {"shard": shard, "documents": len(documents), "lines": num_lines,
                   "duplicate_documents": duplicates, "one_sentence_documents": one_sentence,
                   "path": None}
        if documents:
            seed = docs_lib.shard_seed(self.options.random_seed, shard, self.num_shards)
            options = dataclasses.replace(self.options, random_seed=seed, num_workers=1)
            records, stats = cpd.create_records(documents, self.vocab, options)
            del documents
            # Attempt-unique: a retried bundle writes its own file; Finalize renames
            # only the one whose result Beam committed.
            path = os.path.join(self.temp_dir, f"shard-{shard:05d}-{uuid.uuid4().hex}.tfrecord")
            with record_files.RecordFilesWriter([path], self.gzip) as writer:
                for record in records:
                    writer.write(record)
            # `create_records` leaves documents/lines at 0 (the program fills them in).
            counts = dataclasses.asdict(stats)
            del counts["documents"], counts["lines"], counts["seconds"]
            summary.update(counts, path=path, seed=seed)
            self.instances.inc(stats.instances)
            self.bytes_written.inc(tf.io.gfile.stat(path).length)
        self.shards.inc()
        yield summary


def _finalize(summaries, output_prefix, num_shards, temp_dir, gzip, input_names, settings,
              start_time):
    """Renames the shard files into place, writes empty missing shards, then the stats."""
    total = {name: 0 for name in _STATS_FIELDS + ["documents", "lines", "duplicate_documents",
                                                   "one_sentence_documents"]}
    for summary in summaries:
        for name in total:
            total[name] += summary.get(name, 0)
    if not total["documents"]:
        tf.io.gfile.rmtree(temp_dir)
        raise ValueError(f"--input_file: no text in {input_names} (the files are empty, hold "
                         "only blank lines, or no line has a word piece); nothing was written")
    written = {s["shard"]: s["path"] for s in summaries if s["path"]}
    for shard in range(num_shards):
        final = shard_file_name(output_prefix, shard, num_shards)
        if shard in written:
            tf.io.gfile.rename(written[shard], final, overwrite=True)
        else:  # more shards than documents: the file set stays complete
            record_files.RecordFilesWriter([final], gzip).close()
    stats = PretrainingDataStats(**{k: total[k] for k in _STATS_FIELDS})
    report = {**total, "shards": num_shards, "empty_shards": num_shards - len(written),
              "masked_share": total["masked"] / max(total["maskable_tokens"], 1),
              "random_next_share": total["random_next"] / max(total["instances"], 1),
              "settings": settings,
              "shard_seeds": {str(s["shard"]): s["seed"] for s in summaries if s["path"]},
              "summary": dataclasses.replace(stats, documents=total["documents"],
                                             lines=total["lines"],
                                             seconds=time.time() - start_time).summary()}
    stats_path = stats_file_name(output_prefix)
    with tf.io.gfile.GFile(stats_path + ".tmp", "w") as f:
        f.write(json.dumps(report, indent=1, sort_keys=True) + "\n")
    tf.io.gfile.rename(stats_path + ".tmp", stats_path, overwrite=True)
    tf.io.gfile.rmtree(temp_dir)
    yield report


def build_pipeline(pipeline, input_files, output_prefix, num_shards, vocab_tokens, lower_case,
                   options, dedup, temp_dir):
    """Adds the pre-training data transforms to `pipeline` (see the module doc)."""
    settings = {"random_seed": options.random_seed, "num_shards": num_shards, "dedup": dedup,
                "do_lower_case": lower_case, **{k: v for k, v in dataclasses.asdict(options).items()
                                                if k not in ("random_seed", "num_workers",
                                                             "feature_order")}}
    names = ", ".join(input_files)
    return (pipeline
            | "Files" >> beam.Create(list(enumerate(input_files)))
            | "ReadDocuments" >> beam.ParDo(_ReadDocuments(options.random_seed, num_shards))
            | "GroupByShard" >> beam.GroupByKey()
            | "ShardRecords" >> beam.ParDo(_ShardRecords(
                input_files, list(vocab_tokens), lower_case, options, num_shards, dedup,
                temp_dir, options.gzip))
            | "AllShards" >> beam.combiners.ToList()
            | "Finalize" >> beam.ParDo(_finalize, output_prefix, num_shards, temp_dir,
                                       options.gzip, names, settings, time.time()))


def run_pipeline(input_files, output_prefix, num_shards, vocab_tokens, lower_case, options,
                 runner="DirectRunner", beam_options=(), dedup=False,
                 vocab_name="the vocabulary"):
    """Runs the pipeline to the end; returns `(report, counters)`.

    Args:
      input_files: corpus paths (globs already expanded).
      output_prefix: `<dir>/<name>`; files are `<prefix>-00000-of-0000N.tfrecord`
        and `<prefix>-stats.json`.
      num_shards: output files (and groups of documents).
      vocab_tokens: the vocab as a list of tokens.
      lower_case: as `--do_lower_case`.
      options: `PretrainingDataOptions` (`random_seed` seeds keys and shards).
      runner, beam_options: see `runner.pipeline_args`.
      dedup: drop documents whose text equals another's.
      vocab_name: how error messages name the vocab.

    Raises:
      ValueError: bad flags or input (the message names the flag, file and line).
    """
    if num_shards < 1:
        raise ValueError(f"--num_shards={num_shards}: must be at least 1")
    options.validate()
    Vocab(vocab_tokens, vocab_name)  # a clear message before starting workers
    stats_path = stats_file_name(output_prefix)
    if tf.io.gfile.exists(stats_path):  # an interrupted rerun must not look complete
        tf.io.gfile.remove(stats_path)
    pipeline = beam.Pipeline(options=runner_lib.pipeline_options(runner, beam_options))
    temp_dir = os.path.join(os.path.dirname(output_prefix) or ".",
                            f".tfbert-beam-{uuid.uuid4().hex[:12]}")
    tf.io.gfile.makedirs(temp_dir)
    build_pipeline(pipeline, input_files, output_prefix, num_shards, vocab_tokens, lower_case,
                   options, dedup, temp_dir)

    def remove_partial_shards():  # no partial shard file is left behind
        if tf.io.gfile.exists(temp_dir):
            tf.io.gfile.rmtree(temp_dir)

    counts = runner_lib.run_to_end(pipeline, on_error=remove_partial_shards)
    with tf.io.gfile.GFile(stats_path) as f:
        report = json.load(f)
    return report, counts
