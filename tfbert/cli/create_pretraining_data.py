"""`tfbert_create_pretraining_data`: corpus text -> masked-LM + next-sentence TFRecords.

The flags of the original `create_pretraining_data.py`, same meanings and
defaults; with `--num_workers=1` the output is byte-identical to the
original's. With `--runner` it runs as an Apache Beam pipeline instead
(`tfbert.data.beam`): `--output_file` is then a prefix of `--num_shards`
files `<prefix>-00000-of-0000N.tfrecord` and a `<prefix>-stats.json`. See
docs/pretraining_data.md.

Example:

    tfbert_create_pretraining_data --input_file='corpus/*.txt' \
        --output_file=out/train-0.tfrecord,out/train-1.tfrecord \
        --vocab_file=vocab.txt --max_seq_length=128 --max_predictions_per_seq=20 \
        --dupe_factor=5
    tfbert_create_pretraining_data --runner=DirectRunner --input_file='corpus/*.txt' \
        --output_file=out/train --num_shards=256 --vocab_file=vocab.txt
"""

from absl import flags, logging

from tfbert.cli import common

FLAGS = flags.FLAGS


def define_flags():
    """The flags of the original `create_pretraining_data.py` (see the module doc)."""
    flags.DEFINE_string("input_file", None, "Input corpus: comma list of files and globs "
                        "(one sentence per line, a blank line between documents).")
    flags.DEFINE_string("output_file", None, "Output TFRecord file(s), comma list; records go "
                        "round-robin.")
    flags.DEFINE_string("vocab_file", None,
                        "The vocabulary file that the BERT model was trained on.")
    flags.DEFINE_bool("do_lower_case", True,
                      "Whether to lower case the input text (uncased models).")
    flags.DEFINE_bool("do_whole_word_mask", False, "Whether to mask all the word pieces of a word.")
    flags.DEFINE_integer("max_seq_length", 128, "Maximum sequence length.")
    flags.DEFINE_integer("max_predictions_per_seq", 20,
                         "Maximum masked LM predictions per sequence.")
    flags.DEFINE_integer("random_seed", 12345, "Random seed for data generation.")
    flags.DEFINE_integer("dupe_factor", 10, "Number of times to duplicate the input data "
                         "(with different masks).")
    flags.DEFINE_float("masked_lm_prob", 0.15, "Masked LM probability.")
    flags.DEFINE_float("short_seq_prob", 0.1, "Probability of creating sequences shorter than "
                       "the maximum length.")
    flags.DEFINE_integer("num_workers", None, "Worker processes (default: the machine's cores). "
                         "1 gives the original program's exact output; N gives output that is "
                         "deterministic for a given seed and N.")
    flags.DEFINE_bool("gzip", False, "Write GZIP-compressed TFRecords.")
    flags.DEFINE_bool("use_v2_feature_names", False, "Write input_word_ids/input_type_ids instead "
                      "of input_ids/segment_ids.")
    common.define_beam_flags()
    flags.DEFINE_integer("num_shards", None, "With --runner: output files, and groups of "
                         "documents (default 1).")
    flags.DEFINE_bool("dedup_documents", False, "With --runner: drop documents whose text "
                      "equals another's.")
    flags.mark_flags_as_required(["input_file", "output_file", "vocab_file"])


def main(argv):
    import tensorflow as tf

    from tfbert.data import create_pretraining_data as cpd
    from tfbert.data import pretraining_corpus
    from tfbert.data.pretraining_dataset import expand_input_files
    from tfbert.data.pretraining_instances import PretrainingDataOptions, Vocab
    from tfbert.text import BertTokenizer, load_vocab

    del argv
    options = PretrainingDataOptions(
        max_seq_length=FLAGS.max_seq_length,
        max_predictions_per_seq=FLAGS.max_predictions_per_seq,
        masked_lm_prob=FLAGS.masked_lm_prob, short_seq_prob=FLAGS.short_seq_prob,
        dupe_factor=FLAGS.dupe_factor, do_whole_word_mask=FLAGS.do_whole_word_mask,
        random_seed=FLAGS.random_seed,
        num_workers=FLAGS.num_workers or cpd.default_num_workers(),
        gzip=FLAGS.gzip, use_v2_feature_names=FLAGS.use_v2_feature_names)
    if FLAGS.runner:
        return _main_beam(options)
    for name in ("num_shards", "dedup_documents", "beam_option"):
        if FLAGS[name].present:
            raise ValueError(f"--{name} is for the Beam path: it needs --runner")
    output_files = [f.strip() for f in FLAGS.output_file.split(",") if f.strip()]
    try:
        if not output_files:
            raise ValueError("--output_file is empty")
        options.validate()
        input_files = expand_input_files(FLAGS.input_file, "--input_file")
        vocab_name = f"--vocab_file={FLAGS.vocab_file}"
        vocab = load_vocab(FLAGS.vocab_file)
        Vocab(vocab, vocab_name)  # a clear message before building the tokenizer
        try:
            tokenizer = BertTokenizer(vocabulary=vocab, lower_case=FLAGS.do_lower_case)
        except ValueError as e:
            raise ValueError(f"{vocab_name}: {e}") from None
        logging.info("reading %d input file(s) with %d worker(s)", len(input_files),
                     options.num_workers)
        stats = cpd.create_pretraining_data(
            input_files, output_files, vocab, pretraining_corpus.batch_tokenizer(tokenizer),
            options, vocab_name=vocab_name)
    except tf.errors.NotFoundError as e:  # not an OSError: the one error path would miss it
        raise FileNotFoundError(str(e)) from None
    print(stats.summary())
    print(f"wrote {', '.join(output_files)}")


def _main_beam(options):
    """`--runner=...`: the same records, as an Apache Beam pipeline (tfbert.data.beam)."""
    from tfbert.data.pretraining_dataset import expand_input_files
    from tfbert.text import load_vocab

    if FLAGS["num_workers"].present:
        raise ValueError("--num_workers is for the one-machine path; with --runner use "
                         "--beam_option=direct_num_workers=N (DirectRunner) or the runner's own")
    if "," in FLAGS.output_file:
        raise ValueError(f"--output_file={FLAGS.output_file}: with --runner, one prefix "
                         "(files <prefix>-00000-of-0000N.tfrecord)")
    pipeline = common.beam_module("pipeline")
    input_files = expand_input_files(FLAGS.input_file, "--input_file")
    report, counters = pipeline.run_pipeline(
        input_files, FLAGS.output_file, FLAGS.num_shards or 1, load_vocab(FLAGS.vocab_file),
        FLAGS.do_lower_case, options, runner=FLAGS.runner, beam_options=FLAGS.beam_option,
        dedup=FLAGS.dedup_documents, vocab_name=f"--vocab_file={FLAGS.vocab_file}")
    print(report["summary"])
    print("counters: " + ", ".join(f"{k}={v:,}" for k, v in sorted(counters.items())))
    print(f"wrote {pipeline.shard_file_name(FLAGS.output_file, 0, report['shards'])} ... "
          f"({report['shards']} files) and {pipeline.stats_file_name(FLAGS.output_file)}")


def run():
    common.run_command("tfbert_create_pretraining_data", main, define_flags)


if __name__ == "__main__":
    run()
