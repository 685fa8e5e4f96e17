"""`tfbert_extend_vocab`: add whole domain words to a vocab and to its checkpoint.

Fills the `[unusedN]` slots first, then appends; the word embeddings (and a
pre-training checkpoint's MLM output bias) grow with the vocab, each new row
the mean of the word's current pieces. Writes the same kind of checkpoint
(Google TF1, HuggingFace, tfbert) to a new directory, with `vocab.txt` and
the config beside it. See `tfbert.checkpoints.extend_vocab`.

Examples:

    tfbert_extend_vocab --input=uncased_L-12_H-768_A-12/bert_model.ckpt \
        --words_file=medical_words.txt --output_dir=bert_base_medical
    tfbert_extend_vocab --input=all-MiniLM-L6-v2 --words_file=words.txt --output_dir=minilm_x
    tfbert_extend_vocab --input=runs/sst2 --model=bert_config.json --vocab_file=vocab.txt \
        --words_file=words.txt --output_dir=runs/sst2_x
"""

from absl import flags, logging

from tfbert.cli import common

FLAGS = flags.FLAGS


def define_flags():
    """The flags of `tfbert_extend_vocab` (see the module doc)."""
    flags.DEFINE_string("input", None, "A Google TF1 checkpoint (prefix, .index or directory), "
                        "a HuggingFace BERT directory, or a tfbert checkpoint or training "
                        "directory. Never changed.")
    flags.DEFINE_string("vocab_file", None, "The vocab of --input (default: the vocab.txt "
                        "beside it).")
    flags.DEFINE_string("words_file", None, "The words to add, one per line (UTF-8; lines "
                        "starting with # are comments).")
    flags.DEFINE_string("output_dir", None, "A new or empty directory for the extended "
                        "checkpoint, vocab.txt and config.")
    flags.DEFINE_bool("do_lower_case", True, "The vocab is uncased: words are lower-cased and "
                      "accent-stripped as the tokenizer does.")
    flags.DEFINE_string("model", None, "The model config (bert_config.json, .yaml or an "
                        "official name): needed for a tfbert checkpoint; default: the "
                        "bert_config.json beside a TF1 checkpoint.")
    flags.mark_flags_as_required(["input", "words_file", "output_dir"])


def main(argv):
    del argv
    from tfbert.checkpoints.extend_vocab import extend_vocab, read_words_file

    vocab_file = common.vocab_file_or_beside(FLAGS.vocab_file, "input", FLAGS.input)
    words, places = read_words_file(FLAGS.words_file)
    logging.info("adding %d word(s) from %s to %s", len(words), FLAGS.words_file, vocab_file)
    result = extend_vocab(FLAGS.input, vocab_file, words, FLAGS.output_dir,
                          lower_case=FLAGS.do_lower_case, config=FLAGS.model, where=places)
    plan = result.extension
    for name in result.tables:
        logging.info("grew %s to %d rows", name, len(plan.vocab))
    summary = (f"{len(plan.words)} word(s) added: {plan.slots_filled} [unusedN] slot(s) "
               f"filled, {plan.rows_appended} row(s) appended; vocab {plan.original_size} -> "
               f"{len(plan.vocab)}")
    logging.info("%s", summary)
    print(f"{summary}\n{result.kind} checkpoint -> {result.path}\n"
          f"vocab -> {result.vocab_file}\nconfig -> {result.config_file}")


def run():
    common.run_command("tfbert_extend_vocab", main, define_flags)


if __name__ == "__main__":
    run()
