"""A plain-Python statement of the original `create_pretraining_data.py`, for tests.

The algorithm of google-research/bert as described in
`../shared/reference/google_bert_facts.md` §1.3, written out step by step on
lists of token strings with one shared `random.Random`, and records built as
`tf.train.Example` protos, as the original does. It is the oracle for inputs
other than the golden files (several files, other flags) and the pure-Python
baseline of `benchmarks/bench_create_pretraining_data.py`.
"""

import random

import tensorflow as tf


def read_documents(paths, tokenizer):
    documents = [[]]
    for path in paths:
        with open(path, "rb") as f:
            for raw in f:  # lines end at b"\n", as GFile.readline
                line = raw.decode("utf-8").strip()
                if not line:
                    documents.append([])
                tokens = tokenizer.tokenize(line)
                if tokens:
                    documents[-1].append(tokens)
    return [d for d in documents if d]


def truncate_pair(tokens_a, tokens_b, max_num_tokens, rng):
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def mask_tokens(tokens, masked_lm_prob, max_predictions, vocab_words, whole_word, rng):
    groups = []
    for i, token in enumerate(tokens):
        if token in ("[CLS]", "[SEP]"):
            continue
        if whole_word and groups and token.startswith("##"):
            groups[-1].append(i)
        else:
            groups.append([i])
    rng.shuffle(groups)
    output = list(tokens)
    num_to_predict = min(max_predictions, max(1, int(round(len(tokens) * masked_lm_prob))))
    masked, covered = [], set()
    for group in groups:
        if len(masked) >= num_to_predict:
            break
        if len(masked) + len(group) > num_to_predict:
            continue
        if any(i in covered for i in group):
            continue
        for i in group:
            covered.add(i)
            if rng.random() < 0.8:
                replacement = "[MASK]"
            elif rng.random() < 0.5:
                replacement = tokens[i]
            else:
                replacement = vocab_words[rng.randint(0, len(vocab_words) - 1)]
            output[i] = replacement
            masked.append((i, tokens[i]))
    masked.sort()
    return output, [i for i, _ in masked], [t for _, t in masked]


def instances_from_document(documents, index, flags, vocab_words, rng):
    document = documents[index]
    max_num_tokens = flags["max_seq_length"] - 3
    target = max_num_tokens
    if rng.random() < flags["short_seq_prob"]:
        target = rng.randint(2, max_num_tokens)
    instances, chunk, length, i = [], [], 0, 0
    while i < len(document):
        chunk.append(document[i])
        length += len(document[i])
        if i == len(document) - 1 or length >= target:
            a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
            tokens_a = [t for segment in chunk[:a_end] for t in segment]
            tokens_b = []
            if len(chunk) == 1 or rng.random() < 0.5:
                is_random = True
                for _ in range(10):
                    other = rng.randint(0, len(documents) - 1)
                    if other != index:
                        break
                other_doc = documents[other]
                for j in range(rng.randint(0, len(other_doc) - 1), len(other_doc)):
                    tokens_b.extend(other_doc[j])
                    if len(tokens_b) >= target - len(tokens_a):
                        break
                i -= len(chunk) - a_end
            else:
                is_random = False
                tokens_b = [t for segment in chunk[a_end:] for t in segment]
            truncate_pair(tokens_a, tokens_b, max_num_tokens, rng)
            tokens = ["[CLS]", *tokens_a, "[SEP]", *tokens_b, "[SEP]"]
            segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
            tokens, positions, labels = mask_tokens(
                tokens, flags["masked_lm_prob"], flags["max_predictions_per_seq"], vocab_words,
                flags["do_whole_word_mask"], rng)
            instances.append((tokens, segment_ids, is_random, positions, labels))
            chunk, length = [], 0
        i += 1
    return instances


def to_example(instance, vocab, flags):
    tokens, segment_ids, is_random, positions, labels = instance
    seq, pred = flags["max_seq_length"], flags["max_predictions_per_seq"]
    ids = [vocab[t] for t in tokens]
    pad = seq - len(ids)
    label_ids = [vocab[t] for t in labels]
    k = len(positions)

    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    features = {
        "input_ids": ints(ids + [0] * pad),
        "input_mask": ints([1] * len(ids) + [0] * pad),
        "segment_ids": ints(segment_ids + [0] * pad),
        "masked_lm_positions": ints(positions + [0] * (pred - k)),
        "masked_lm_ids": ints(label_ids + [0] * (pred - k)),
        "masked_lm_weights": tf.train.Feature(
            float_list=tf.train.FloatList(value=[1.0] * k + [0.0] * (pred - k))),
        "next_sentence_labels": ints([1 if is_random else 0]),
    }
    return tf.train.Example(features=tf.train.Features(feature=features))


def create_examples(paths, tokenizer, vocab_tokens, **flags):
    """The original program's examples, in output order.

    Args:
      paths: corpus files.
      tokenizer: has `tokenize(text) -> list of token strings`.
      vocab_tokens: the vocab as a list of tokens.
      **flags: max_seq_length, max_predictions_per_seq, masked_lm_prob,
        short_seq_prob, dupe_factor, do_whole_word_mask, random_seed.

    Returns:
      list of `tf.train.Example`.
    """
    rng = random.Random(flags["random_seed"])
    documents = read_documents(paths, tokenizer)
    rng.shuffle(documents)
    vocab = {t: i for i, t in enumerate(vocab_tokens)}
    vocab_words = list(dict.fromkeys(vocab_tokens))
    instances = []
    for _ in range(flags["dupe_factor"]):
        for index in range(len(documents)):
            instances.extend(instances_from_document(documents, index, flags, vocab_words, rng))
    rng.shuffle(instances)
    return [to_example(instance, vocab, flags) for instance in instances]
