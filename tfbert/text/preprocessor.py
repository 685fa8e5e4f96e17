"""`BertPreprocessor`: strings (or pairs of strings) -> packed BERT inputs."""

import keras
import tensorflow as tf

from tfbert.text.packing import BertPackInputs
from tfbert.text.tokenizer import BertTokenizer


@keras.saving.register_keras_serializable(package="tfbert")
class BertPreprocessor(keras.layers.Layer):
    """Raw text to `input_word_ids`, `input_mask`, `input_type_ids`.

    `BertTokenizer` followed by `BertPackInputs`, with the TF Hub BERT
    preprocessing interface: `tokenize`, `bert_pack_inputs(segments,
    seq_length=)` and `get_special_tokens_dict()`.

    Args:
      vocab_file: path of the vocab (one token per line).
      lower_case: whether the model is uncased.
      seq_length: length of the packed sequences.
      vocabulary: the vocab as a list of tokens, instead of `vocab_file`.
      **kwargs: passed to `keras.layers.Layer`.

    Example:

    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "is", "it",
    ...          "true", "yes", "?"]
    >>> preprocessor = BertPreprocessor(vocabulary=vocab, seq_length=8)
    >>> out = preprocessor((["Is it true?"], ["Yes"]))
    >>> out["input_word_ids"].numpy().tolist()
    [[2, 5, 6, 7, 9, 3, 8, 3]]
    >>> out["input_type_ids"].numpy().tolist()
    [[0, 0, 0, 0, 0, 0, 1, 1]]
    >>> out["input_mask"].numpy().tolist()
    [[1, 1, 1, 1, 1, 1, 1, 1]]
    """

    def __init__(self, vocab_file=None, lower_case=True, seq_length=128, vocabulary=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = BertTokenizer(vocab_file=vocab_file, lower_case=lower_case,
                                       vocabulary=vocabulary, name="tokenizer")
        self.seq_length = int(seq_length)
        self.packer = BertPackInputs(
            self.seq_length, special_tokens_dict=self.tokenizer.get_special_tokens_dict(),
            name="packer")
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

    def call(self, inputs):
        """Packs a string Tensor `[batch]`, or a tuple/list of them (segments).

        A plain Python list of `str` is one batch, not a list of segments.
        """
        if isinstance(inputs, (list, tuple)) and not all(
                isinstance(x, (str, bytes)) for x in inputs):
            segments = list(inputs)
        else:
            segments = [inputs]
        segments = [tf.convert_to_tensor(s, tf.string) for s in segments]
        if len(segments) == 1:
            return self.packer(self.tokenizer.tokenize(segments[0]))
        # One tokenizer call for all segments, then split the rows again.
        batch = tf.shape(segments[0], out_type=tf.int64)[0]
        ids = self.tokenizer.tokenize(tf.concat(segments, axis=0))
        return self.packer([ids[i * batch:(i + 1) * batch] for i in range(len(segments))])

    def tokenize(self, strings):
        """Ids grouped by word, int32 `[batch, (words), (wordpieces)]` (as TF Hub)."""
        return self.tokenizer.tokenize_words(strings)

    def bert_pack_inputs(self, segments, seq_length=None):
        """Packs tokenized segments (a list of ragged ids), as TF Hub's."""
        return self.packer(list(segments), seq_length=seq_length)

    def get_special_tokens_dict(self):
        return self.tokenizer.get_special_tokens_dict()

    def compute_output_spec(self, inputs):
        first = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        shape = (first.shape[0], self.seq_length)
        return {key: keras.KerasTensor(shape, dtype="int32")
                for key in ("input_word_ids", "input_mask", "input_type_ids")}

    def get_config(self):
        config = super().get_config()
        tokenizer_config = self.tokenizer.get_config()
        config.update({
            "lower_case": self.tokenizer.lower_case,
            "seq_length": self.seq_length,
        })
        for key in ("vocab_file", "vocabulary"):
            if key in tokenizer_config:
                config[key] = tokenizer_config[key]
        return config
