"""`BasicTokenizer`: the original's word splitting alone (no vocabulary)."""

import tensorflow as tf

from tfbert.text import exact_path


class BasicTokenizer(tf.Module):
    """Normalised words, as the original `BasicTokenizer.tokenize` gives them.

    Cleaning, CJK splitting, lower-casing with accent removal (when
    `lower_case`) and punctuation splitting, with the exact path's tables;
    what WordPiece would then see. Used to count words for vocabulary
    learning.

    Args:
      lower_case: lower-case and strip accents (uncased vocabularies).

    Example:

    >>> BasicTokenizer(lower_case=True).tokenize(["Héllo, World!"]).to_list()
    [[b'hello', b',', b'world', b'!']]
    """

    def __init__(self, lower_case=True, name=None):
        super().__init__(name=name)
        self.lower_case = bool(lower_case)
        self._tables = exact_path.CharTables(self.lower_case)

    def tokenize(self, strings):
        """string Tensor `[batch]` -> string RaggedTensor `[batch, (words)]`."""
        strings = tf.convert_to_tensor(strings, tf.string)
        if strings.shape.rank == 0:
            return self.tokenize(strings[tf.newaxis])[0]
        exact = exact_path.split_words(strings, self._tables)
        return tf.RaggedTensor.from_value_rowids(
            exact.words, exact.word_rows, nrows=tf.shape(strings, out_type=tf.int64)[0],
            validate=False)
