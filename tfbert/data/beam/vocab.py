"""`tfbert_build_vocab --runner=...`: word counting as a Beam combine, then learning as today.

    files ─ CountFileWords ─ (word, count) ─ CombinePerKey(sum) ─ ToList ─ Learn (one worker)

Each file is read whole (`documents.read_file_documents`: a binary or
non-UTF-8 file is an error naming it and the line), its non-blank lines
split into words in batches by the same in-graph `BasicTokenizer` that
`tfbert.text.build_vocab.count_words` uses, and counted; Beam sums the
counts across files and workers. The learning step is
`tfbert.text.build_vocab.learn_vocab`, the one-machine path's own, run on
one worker; it writes the vocab under a temporary name and renames it.
So the vocab equals the one-machine vocab of the same files.
`--max_texts` (the first N lines in file order) has no meaning when files
are read in parallel and is refused with `--runner`.
"""

import collections

import apache_beam as beam
import tensorflow as tf
from apache_beam.metrics import Metrics

from tfbert.data.beam import documents as docs_lib
from tfbert.data.beam import runner as runner_lib
from tfbert.text.build_vocab import learn_vocab, write_vocab

_BATCH_LINES = 1024


class _CountFileWords(beam.DoFn):
    """A text file -> `(word, count)` for each distinct word of its non-blank lines."""

    def __init__(self, lower_case):
        self.lower_case = lower_case
        self.files = Metrics.counter("tfbert", "files")
        self.lines = Metrics.counter("tfbert", "lines")
        self.bytes_read = Metrics.counter("tfbert", "bytes_read")

    def setup(self):
        from tfbert.text.basic_tokenizer import BasicTokenizer

        self.words_of = tf.function(BasicTokenizer(self.lower_case).tokenize,
                                    reduce_retracing=True)

    def process(self, path):
        documents, num_bytes = docs_lib.read_file_documents(path)
        lines = [line for doc in documents for line in doc.split("\n")]
        counts = collections.Counter()
        for begin in range(0, len(lines), _BATCH_LINES):
            words = self.words_of(tf.constant(lines[begin:begin + _BATCH_LINES]))
            counts.update(words.flat_values.numpy().tolist())
        self.files.inc()
        self.lines.inc(len(lines))
        self.bytes_read.inc(num_bytes)
        for word, count in counts.items():
            yield word.decode("utf-8"), count


def _learn(word_counts, output_file, vocab_size, num_unused_tokens, learn_params):
    vocab = learn_vocab(dict(word_counts), vocab_size, num_unused_tokens, learn_params)
    write_vocab(vocab, output_file + ".tmp")
    tf.io.gfile.rename(output_file + ".tmp", output_file, overwrite=True)
    yield len(vocab)


def build_vocab(input_files, output_file, vocab_size, lower_case=True, num_unused_tokens=0,
                learn_params=None, runner="DirectRunner", beam_options=()):
    """Learns a WordPiece vocab from `input_files` on Beam and writes it to `output_file`.

    Returns:
      `(num_tokens, counters)`.

    Raises:
      ValueError: bad input (naming the file and line) or a corpus without words.
    """
    pipeline = beam.Pipeline(options=runner_lib.pipeline_options(runner, beam_options))
    _ = (pipeline
         | "Files" >> beam.Create(list(input_files))
         | "CountFileWords" >> beam.ParDo(_CountFileWords(lower_case))
         | "SumCounts" >> beam.CombinePerKey(sum)
         | "AllWords" >> beam.combiners.ToList()
         | "Learn" >> beam.ParDo(_learn, output_file, vocab_size, num_unused_tokens,
                                 learn_params))
    counts = runner_lib.run_to_end(pipeline)
    with tf.io.gfile.GFile(output_file) as f:
        return sum(1 for _ in f), counts
