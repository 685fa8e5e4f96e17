"""Learning a WordPiece vocabulary from a text corpus.

Words are counted after the exact BERT basic tokenization (`BasicTokenizer`,
the same splitting and normalisation `BertTokenizer` applies), then TF Text's
WordPiece learner (`wordpiece_tokenizer_learner_lib.learn`, the algorithm
behind `bert_vocab_from_dataset`) picks the pieces. TF Text's own
`bert_vocab_from_dataset` would split words with its NFKC-folding
`BasicTokenizer`, so its vocab would not match how tfbert tokenizes.
"""

import collections

import tensorflow as tf
from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

from tfbert.text import vocab as vocab_lib
from tfbert.text.basic_tokenizer import BasicTokenizer


def reserved_tokens(num_unused_tokens=0):
    """[PAD], [UNK], [CLS], [SEP], [MASK], then [unused0] ... [unusedN-1]."""
    return list(vocab_lib.SPECIAL_TOKENS) + [f"[unused{i}]" for i in range(num_unused_tokens)]


def count_words(dataset, lower_case=True, max_texts=None):
    """Word counts of a `tf.data.Dataset` of strings (batched or not).

    Args:
      dataset: yields string Tensors `[batch]` or scalars.
      lower_case: as for the tokenizer that will use the vocab.
      max_texts: stop after this many texts (None: all).

    Returns:
      `collections.Counter` of normalised words (str).
    """
    splitter = BasicTokenizer(lower_case)
    if dataset.element_spec.shape.rank == 0:
        dataset = dataset.batch(1024)
    words_of = tf.function(splitter.tokenize, reduce_retracing=True)
    counts = collections.Counter()
    seen = 0
    for batch in dataset:
        if max_texts is not None:
            if seen >= max_texts:
                break
            batch = batch[:max_texts - seen]
        seen += int(tf.shape(batch)[0])
        counts.update(words_of(batch).flat_values.numpy().tolist())
    return collections.Counter({w.decode("utf-8"): c for w, c in counts.items()})


def build_vocab(dataset, vocab_size, lower_case=True, num_unused_tokens=0, max_texts=None,
                learn_params=None):
    """Learns a WordPiece vocab (list of tokens) with the BERT special tokens.

    Args:
      dataset: `tf.data.Dataset` of strings (one text per element or batch row).
      vocab_size: target size, special tokens included (the learner may
        return a few fewer).
      lower_case: True for an uncased vocab.
      num_unused_tokens: `[unusedN]` placeholders after the special tokens.
      max_texts: read at most this many texts.
      learn_params: extra keyword arguments of `wordpiece_tokenizer_learner_lib.learn`
        (`upper_thresh`, `lower_thresh`, `num_iterations`, `max_input_tokens`,
        `max_token_length`, `max_unique_chars`, `slack_ratio`).

    Returns:
      The vocab, special tokens first ([PAD] = 0, [UNK] = 1, [CLS] = 2,
      [SEP] = 3, [MASK] = 4).

    Example:

    >>> import tensorflow as tf
    >>> texts = tf.data.Dataset.from_tensor_slices(["the cat sat", "the cats sat"] * 20)
    >>> vocab = build_vocab(texts, vocab_size=40, learn_params={"lower_thresh": 1})
    >>> vocab[:5], "the" in vocab
    (['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'], True)
    """
    counts = count_words(dataset, lower_case=lower_case, max_texts=max_texts)
    return learn_vocab(counts, vocab_size, num_unused_tokens, learn_params)


def learn_vocab(counts, vocab_size, num_unused_tokens=0, learn_params=None):
    """The WordPiece learning step of `build_vocab`, on `{word: count}`.

    The words go to the learner sorted: it breaks ties between equal counts
    by input order, and a count made in parallel (`tfbert.data.beam.vocab`)
    has no order of its own.

    Example:

    >>> learn_vocab({"the": 40, "cat": 20}, 30, learn_params={"lower_thresh": 1})[5:8]
    ['a', 'c', 'e']
    """
    if not counts:
        raise ValueError("The corpus has no words to learn a vocabulary from.")
    reserved = reserved_tokens(num_unused_tokens)
    vocab = learner.learn(sorted(counts.items()), vocab_size, reserved, **(learn_params or {}))
    vocab_lib.special_tokens_dict(vocab)  # raises if the learner dropped one
    return vocab


def text_files_dataset(files, skip_blank=True):
    """One text per line of `files` (expand globs first, e.g. with
    `tfbert.data.pretraining_dataset.expand_input_files`)."""
    dataset = tf.data.TextLineDataset(list(files))
    if skip_blank:
        dataset = dataset.filter(lambda line: tf.strings.length(tf.strings.strip(line)) > 0)
    return dataset


def write_vocab(vocab, path):
    """Writes one token per line (UTF-8)."""
    with tf.io.gfile.GFile(str(path), "w") as f:
        f.write("".join(token + "\n" for token in vocab))
