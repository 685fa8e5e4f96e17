"""`tfbert_build_vocab`: learn a WordPiece vocab (with BERT's special tokens) from text.

Words are split and normalised exactly as `tfbert.text.BertTokenizer` does
(the original BERT basic tokenizer), then TF Text's WordPiece learner picks
the pieces. Output: one token per line, `[PAD] [UNK] [CLS] [SEP] [MASK]`
first, then `--num_unused_tokens` `[unusedN]` placeholders.

Example:

    tfbert_build_vocab --input_files='corpus/*.txt' --output_file=vocab.txt \
        --vocab_size=32000 --do_lower_case=true
    tfbert_build_vocab --runner=DirectRunner --input_files='corpus/*.txt' --output_file=vocab.txt

With `--runner`, words are counted by an Apache Beam pipeline
(`tfbert.data.beam.vocab`), then learned as here: the same vocab.
"""

from absl import flags, logging

from tfbert.cli import common

FLAGS = flags.FLAGS


def define_flags():
    """The flags of `tfbert_build_vocab` (see the module doc)."""
    flags.DEFINE_list("input_files", None,
                      "Text files (globs allowed, comma-separated): one text per line; "
                      "blank lines are skipped.")
    flags.DEFINE_string("output_file", None, "Where to write the vocab (one token per line).")
    flags.DEFINE_integer("vocab_size", 30522, "Target size, special tokens included.")
    flags.DEFINE_boolean("do_lower_case", True,
                         "Learn an uncased vocab (lower-case, strip accents).")
    flags.DEFINE_integer("num_unused_tokens", 0, "[unusedN] tokens to reserve after the specials.")
    flags.DEFINE_integer("max_texts", None, "Read at most this many lines (default: all).")
    flags.DEFINE_integer("lower_thresh", 10, "Learner: lowest token count threshold searched.")
    flags.DEFINE_integer("upper_thresh", 10_000_000, "Learner: highest count threshold searched.")
    flags.DEFINE_integer("num_iterations", 4, "Learner: refinement iterations per threshold.")
    flags.DEFINE_integer("max_token_length", 50, "Learner: longest token, in characters.")
    flags.DEFINE_integer("max_unique_chars", 1000, "Learner: most distinct single characters.")
    flags.DEFINE_integer("max_input_tokens", 5_000_000, "Learner: most distinct words considered.")
    common.define_beam_flags()
    flags.mark_flags_as_required(["input_files", "output_file"])


def main(argv):
    from tfbert.data.pretraining_dataset import expand_input_files
    from tfbert.text.build_vocab import build_vocab, text_files_dataset, write_vocab

    del argv
    files = expand_input_files(FLAGS.input_files, source="--input_files")
    learn_params = {
        "lower_thresh": FLAGS.lower_thresh,
        "upper_thresh": FLAGS.upper_thresh,
        "num_iterations": FLAGS.num_iterations,
        "max_token_length": FLAGS.max_token_length,
        "max_unique_chars": FLAGS.max_unique_chars,
        "max_input_tokens": FLAGS.max_input_tokens,
    }
    if FLAGS.runner:
        if FLAGS.max_texts is not None:
            raise ValueError("--max_texts: the first N lines have no meaning when --runner "
                             "reads files in parallel; give fewer files instead")
        size, _ = common.beam_module("vocab").build_vocab(
            files, FLAGS.output_file, FLAGS.vocab_size, FLAGS.do_lower_case,
            FLAGS.num_unused_tokens, learn_params, FLAGS.runner, FLAGS.beam_option)
        print(f"{size} tokens -> {FLAGS.output_file}")
        return
    if FLAGS.beam_option:
        raise ValueError("--beam_option needs --runner")
    dataset = text_files_dataset(files).batch(1024)
    vocab = build_vocab(dataset, FLAGS.vocab_size, lower_case=FLAGS.do_lower_case,
                        num_unused_tokens=FLAGS.num_unused_tokens, max_texts=FLAGS.max_texts,
                        learn_params=learn_params)
    write_vocab(vocab, FLAGS.output_file)
    logging.info("wrote %d tokens to %s", len(vocab), FLAGS.output_file)
    print(f"{len(vocab)} tokens -> {FLAGS.output_file}")


def run():
    common.run_command("tfbert_build_vocab", main, define_flags)


if __name__ == "__main__":
    run()
