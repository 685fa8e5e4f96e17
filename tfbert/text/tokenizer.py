"""`BertTokenizer`: text in, the original BERT's word-piece ids out, in-graph."""

import keras
import tensorflow as tf
import tensorflow_text as tf_text
from tensorflow.core.framework import attr_value_pb2

from tfbert.text import exact_path, fast_path
from tfbert.text import vocab as vocab_lib
from tfbert.text._utils import to_tensor_or_ragged

MAX_WORD_CHARS = 200
# Vocab tokens longer than this cannot be compiled by FastWordpiece.
_MAX_TOKEN_BYTES = 256
# A normalised word of more than 200 characters is handed to WordPiece as
# this one character, which no vocab token contains, so it becomes one [UNK].
_SENTINEL_CANDIDATES = ("\uffff", "\ufffe", "\U0010ffff", "\U0010fffe")


def _wordpiece_vocab(vocab):
    """The vocab as FastWordpiece can compile it, ids unchanged.

    Tokens the original can never produce are replaced by unique
    unmatchable placeholders (they contain punctuation, which no word has):
    earlier copies of a repeated token (the original keeps the last one),
    the empty token, a bare "##", and tokens containing whitespace, which
    end-to-end FastWordpiece would otherwise match across a space.
    """
    last = vocab_lib.token_to_id(vocab)
    taken = set(vocab)
    out = []
    for index, token in enumerate(vocab):
        usable = (last[token] == index and token not in ("", "##")
                  and not any(c.isspace() for c in token)
                  and len(token.encode("utf-8")) <= _MAX_TOKEN_BYTES)
        if not usable:
            placeholder = f"[tfbert:unusable:{index}]"
            while placeholder in taken:
                placeholder += "!"
            token = placeholder
        out.append(token)
    return out


def _unlowered_cond(pred, true_fn, false_fn):
    """`tf.cond` that stays a functional `If` op in the graph.

    A lowered cond (Switch/Merge) still walks every op of the untaken branch
    to propagate deadness, which for the exact path costs about as much as
    running it on no rows; a functional `If` runs only the taken branch.
    """
    graph = tf.compat.v1.get_default_graph()
    known = len(graph.get_operations())
    result = tf.cond(pred, true_fn, false_fn)
    for op in graph.get_operations()[known:]:
        if op.type in ("If", "StatelessIf"):
            op._set_attr("_lower_using_switch_merge", attr_value_pb2.AttrValue(b=False))
    return result


@keras.saving.register_keras_serializable(package="tfbert")
class BertTokenizer(keras.layers.Layer):
    """The original BERT `FullTokenizer`, token for token, as TF ops.

    Strings go in, int32 word-piece ids come out, exactly as the original
    `tokenization.py` computes them (cleaning, CJK splitting, `str.lower()`
    + NFD + accent removal when uncased, punctuation splitting, greedy
    WordPiece with its 200-character word limit). Usable eagerly, in
    `tf.function`, in `tf.data` pipelines, in Keras models and in exported
    SavedModels; the graph uses core TF ops and the TF Text ops listed in
    `tfbert.text.TF_TEXT_OPS` only.

    Most texts take a fast path (TF Text's single-pass normaliser, run with
    a model of the original's character mapping, and end-to-end WordPiece);
    texts with the few characters where that could differ from the original
    (`Σ`, `§`, unassigned code points, invalid UTF-8, ...) take an exact,
    table-driven path. See `docs/text.md`.

    Invalid UTF-8 is never an error: undecodable bytes are dropped, as the
    original drops them when it decodes bytes with `errors="ignore"`. Like
    other deleted characters they belong to no word piece, although the span
    of a piece they directly follow extends over them.

    Args:
      vocab_file: path of the vocab (one token per line; line number = id).
      lower_case: whether to lower-case and strip accents (uncased models).
      vocabulary: the vocab as a list of tokens, instead of `vocab_file`.
      **kwargs: passed to `keras.layers.Layer`.

    Example:

    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat",
    ...          "sat", "##s", ".", "caf", "##e"]
    >>> tokenizer = BertTokenizer(vocabulary=vocab, lower_case=True)
    >>> tokenizer.tokenize(["The cats sat.", "Café"]).to_list()
    [[5, 6, 8, 7, 9], [10, 11]]
    >>> ids, begin, end = tokenizer.tokenize_with_offsets(["The cats sat."])
    >>> begin.to_list(), end.to_list()
    ([[0, 4, 7, 9, 12]], [[3, 7, 8, 12, 13]])
    >>> tokenizer.detokenize([[5, 6, 8]]).numpy()
    array([b'the cats'], dtype=object)
    """

    def __init__(self, vocab_file=None, lower_case=True, vocabulary=None, **kwargs):
        super().__init__(**kwargs)
        if (vocab_file is None) == (vocabulary is None):
            raise ValueError("Pass exactly one of `vocab_file` and `vocabulary`.")
        self.vocab_file = None if vocab_file is None else str(vocab_file)
        self.lower_case = bool(lower_case)
        self._vocab = (vocab_lib.load_vocab(self.vocab_file) if vocabulary is None
                       else [str(token) for token in vocabulary])
        self._from_list = vocabulary is not None
        name = self.vocab_file or "the vocabulary"
        self._special = vocab_lib.special_tokens_dict(self._vocab, vocab_name=name)
        self.unk_id = self._special["unk_id"]

        wp_vocab = _wordpiece_vocab(self._vocab)
        self._fast = fast_path.FastPath(wp_vocab, self.lower_case, vocab_lib.UNK_TOKEN)
        self._tables = exact_path.CharTables(self.lower_case)
        self._word_wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=wp_vocab, suffix_indicator="##", max_bytes_per_word=4 * MAX_WORD_CHARS,
            token_out_type=tf.int32, unknown_token=vocab_lib.UNK_TOKEN,
            no_pretokenization=True, support_detokenization=False)
        used_chars = set("".join(wp_vocab))
        unused = [c for c in _SENTINEL_CANDIDATES if c not in used_chars]
        if not unused:
            raise ValueError("The vocabulary uses every non-character code point "
                             f"{_SENTINEL_CANDIDATES!r}; BertTokenizer needs one of them.")
        self._sentinel = unused[0]
        # Word pieces that continue a word ("##..."), for regrouping into words.
        self._continues = [tok.startswith("##") and len(tok) > 2 for tok in self._vocab]

        # Strings and ints in inputs are fine; Keras must not convert them.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

    # ----------------------------------------------------------------- python
    @property
    def vocabulary(self):
        """The vocab as a list of tokens (index = id)."""
        return list(self._vocab)

    def get_vocabulary(self):
        return self.vocabulary

    @property
    def vocab_size(self):
        return len(self._vocab)

    @property
    def special_token_ids(self):
        """`get_special_tokens_dict()` (Python ints)."""
        return dict(self._special)

    def get_special_tokens_dict(self):
        """`vocab_size`, `start_of_sequence_id` ([CLS]), `end_of_segment_id`
        ([SEP]), `padding_id` ([PAD]), `mask_id` ([MASK]) and `unk_id`."""
        return dict(self._special)

    def token_to_id(self, token):
        return vocab_lib.token_to_id(self._vocab)[token]

    def id_to_token(self, token_id):
        return self._vocab[int(token_id)]

    # ------------------------------------------------------------------ graph
    def call(self, inputs):
        return self.tokenize(inputs)

    def tokenize(self, strings):
        """Word-piece ids, int32 RaggedTensor `[batch, (wordpieces)]`.

        Args:
          strings: string Tensor `[batch]` (or a scalar: then `[(wordpieces)]`).
        """
        ids, _, _ = self._tokenize(strings, with_offsets=False)
        return ids

    def tokenize_words(self, strings):
        """Word-piece ids grouped by word: int32 `[batch, (words), (wordpieces)]`
        (the TF Hub preprocessor's `tokenize` output)."""
        return self._group_words(self.tokenize(strings))

    def tokenize_with_offsets(self, strings, words=False):
        """Ids with the input byte span of every word piece.

        Args:
          strings: string Tensor `[batch]` (or a scalar).
          words: group by word, `[batch, (words), (wordpieces)]`.

        Returns:
          `(ids, begin, end)`: int32 ids and int64 begin/end byte offsets
          into the UTF-8 input (end exclusive), all ragged alike. An [UNK]
          spans its whole word. Spans never overlap. A span may include
          deleted characters (accents, controls) that follow its text; when
          one input character yields several pieces (a Hangul syllable in
          uncased mode), the last carries its bytes and the others get an
          empty span at its start.
        """
        ids, begin, end = self._tokenize(strings, with_offsets=True)
        if words:
            return tuple(self._group_words(x, ids) for x in (ids, begin, end))
        return ids, begin, end

    def detokenize(self, ids):
        """Joins word pieces back into text, for debugging.

        Args:
          ids: int Tensor or RaggedTensor `[batch, (wordpieces)]` or
            `[batch, (words), (wordpieces)]` (or a single `[(wordpieces)]`).

        Returns:
          string Tensor `[batch]` (a scalar for a single row): tokens joined by
          spaces with "##" continuations glued on. Lossy: case, accents and
          spacing around punctuation are not restored.
        """
        ids = to_tensor_or_ragged(ids)
        if ids.shape.rank == 1:
            return self.detokenize(ids[tf.newaxis])[0]
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(ids)
        if ids.ragged_rank > 1:
            ids = ids.merge_dims(1, -1)
        tokens = tf.gather(tf.constant(self._vocab), tf.cast(ids, tf.int32))
        text = tf.strings.reduce_join(tokens, axis=1, separator=" ")
        return tf.strings.regex_replace(text, " ##", "")

    # -------------------------------------------------------------- internals
    def _tokenize(self, strings, with_offsets):
        strings = tf.convert_to_tensor(strings, dtype=tf.string)
        if strings.shape.rank == 0:
            ids, begin, end = self._tokenize(strings[tf.newaxis], with_offsets)
            return ids[0], (begin[0] if with_offsets else None), (end[0] if with_offsets else None)
        if strings.shape.rank != 1:
            raise ValueError(
                f"BertTokenizer takes a string Tensor of shape [batch]; got shape {strings.shape}.")
        # The fast path runs on every row (cheaper than gathering the strings);
        # rows it cannot do exactly are redone by the exact path, which is
        # skipped altogether when there are none (`tf.cond`).
        accepted = self._fast.accepts(strings)
        f_ids, f_begin, f_end, redo = self._fast.tokenize(strings, with_offsets)
        redo = redo | ~accepted
        fast = (f_ids, f_begin, f_end) if with_offsets else (f_ids,)

        def with_exact_rows():
            fast_rows = tf.where(~redo)[:, 0]
            slow_rows = tf.where(redo)[:, 0]
            exact = self._exact_tokenize(tf.gather(strings, slow_rows), with_offsets)
            order = tf.math.invert_permutation(tf.concat([fast_rows, slow_rows], 0))
            return tuple(tf.gather(tf.concat([tf.gather(f, fast_rows), e], 0), order)
                         for f, e in zip(fast, exact, strict=True))

        if tf.executing_eagerly():
            result = with_exact_rows() if bool(tf.reduce_any(redo)) else fast
        else:
            result = _unlowered_cond(tf.reduce_any(redo), with_exact_rows, lambda: fast)
        return tuple(result) if with_offsets else (result[0], None, None)

    def _exact_tokenize(self, strings, with_offsets):
        """The exact path for any texts: `(ids,)` or `(ids, begin, end)`, each
        `[n, (wordpieces)]`."""
        exact = exact_path.split_words(strings, self._tables)
        too_long = exact.num_chars > MAX_WORD_CHARS
        words = tf.where(too_long, self._sentinel, exact.words)
        piece_ids, starts, ends = self._word_wordpiece.tokenize_with_offsets(words)
        num_rows = tf.shape(strings, out_type=tf.int64)[0]

        def by_text(pieces):  # [words, (pieces)] -> [texts, (pieces)]
            per_text = tf.RaggedTensor.from_value_rowids(pieces, exact.word_rows, nrows=num_rows,
                                                         validate=False)
            return per_text.merge_dims(1, 2)

        ids = by_text(piece_ids)
        if not with_offsets:
            return (ids,)
        begin, end = exact_path.map_piece_offsets(
            exact._replace(words=words), piece_ids.value_rowids(), starts.values, ends.values)
        return ids, by_text(piece_ids.with_flat_values(begin)), by_text(
            piece_ids.with_flat_values(end))

    def _group_words(self, values, ids=None):
        """`[batch, (wordpieces)]` -> `[batch, (words), (wordpieces)]`."""
        ids = values if ids is None else ids
        if ids.shape.rank == 1:
            return self._group_words(values[tf.newaxis], ids[tf.newaxis])[0]
        continues = tf.gather(tf.constant(self._continues), ids.values)
        word_index = tf.cumsum(tf.cast(~continues, tf.int64)) - 1
        num_words = tf.reduce_sum(tf.cast(~continues, tf.int64))
        words = tf.RaggedTensor.from_value_rowids(values.values, word_index, nrows=num_words,
                                                  validate=False)
        word_rows = tf.gather(ids.value_rowids(), tf.where(~continues)[:, 0])
        return tf.RaggedTensor.from_value_rowids(words, word_rows, nrows=ids.nrows(),
                                                 validate=False)

    # ------------------------------------------------------------------ keras
    def get_config(self):
        config = super().get_config()
        config.update({"lower_case": self.lower_case})
        if self._from_list:
            config["vocabulary"] = self.vocabulary
        else:
            config["vocab_file"] = self.vocab_file
        return config

    def compute_output_spec(self, inputs):
        batch = tuple(inputs.shape[:1])
        return keras.KerasTensor(batch + (None,), dtype="int32", ragged=bool(batch))
