"""In-graph text preprocessing, token for token equal to the original BERT.

* `BertTokenizer`: strings -> word-piece ids (and byte offsets), exactly as the
  original `tokenization.FullTokenizer`, as TF ops (tf.data, Keras, SavedModel).
* `BertPackInputs`: segments of ids -> `input_word_ids`, `input_mask`,
  `input_type_ids`, truncated as the original fine-tuning code truncates.
* `BertPreprocessor`: both, with the TF Hub preprocessing interface.
* `BasicTokenizer`: the normalised words alone; `build_vocab` learns a vocab.
* `TF_TEXT_OPS`: the TF Text ops these graphs may contain.

Exactness decisions (details in `fast_path`, `exact_path`, `normalizer_model`,
`unicode_tables` and docs/text.md). Python's `str.lower()`, `unicodedata` and
RE2/ICU tables disagree in places, so no Unicode table of TF, RE2 or ICU is
trusted where it matters; everything the original decides per character is
derived once per process from the running Python and baked into the graph:

* `FastBertNormalize` runs with a model tfbert builds (`normalizer_model`)
  from the original's per-character mapping: deletion of U+0000, U+FFFD and
  Cc/Cf except tab/LF/CR; Zs/tab/LF/CR (and U+2028/U+2029, on which
  `str.split()` splits) to a space; uncased: `str.lower()`, NFD, no `Mn`.
  TF Text's own model (ICU NFKC_Casefold, controls to spaces) is not used.
* The fast path's end-to-end `FastWordpieceTokenizeWithOffsets` splits on
  ICU punctuation at run time; texts with characters whose punctuation status
  changed since Unicode 3.2 (468 code points, e.g. `§`), or that Python's data
  leaves unassigned, go to the exact path, as do uncased texts with `Σ` (the
  final-sigma rule needs context) or with the 38 non-`Mn` characters of
  non-zero combining class (NFD may reorder them). One RE2 full match with an
  explicit code point class decides this, and also rejects invalid UTF-8.
* The exact path uses `tf.searchsorted` over constant code point tables: the
  normalisation above, `_is_punctuation`, the CJK blocks, and the "cased" /
  "case-ignorable" properties probed from `str.lower()` for the final sigma.
* Word limit: 200 characters (the op's limit is in bytes: a text where a
  word over 200 bytes became [UNK] is redone by the exact path).
* Invalid UTF-8 is dropped (decoded with U+FFFD, which the original deletes),
  matching the original applied to `bytes.decode("utf-8", "ignore")`.

Example:

>>> import tfbert.text
>>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!"]
>>> preprocessor = tfbert.text.BertPreprocessor(vocabulary=vocab, seq_length=8)
>>> preprocessor(["Hello world!"])["input_word_ids"].numpy().tolist()
[[2, 5, 6, 7, 3, 0, 0, 0]]
"""

from tfbert.text.basic_tokenizer import BasicTokenizer
from tfbert.text.build_vocab import build_vocab, count_words, write_vocab
from tfbert.text.ops import CORE_OPS_OF_NOTE, FORBIDDEN_OPS, TF_TEXT_OPS
from tfbert.text.packing import BertPackInputs, pack_inputs, truncation_lengths
from tfbert.text.preprocessor import BertPreprocessor
from tfbert.text.tokenizer import BertTokenizer
from tfbert.text.vocab import SPECIAL_TOKENS, load_vocab, special_tokens_dict

__all__ = [
    "CORE_OPS_OF_NOTE",
    "FORBIDDEN_OPS",
    "SPECIAL_TOKENS",
    "TF_TEXT_OPS",
    "BasicTokenizer",
    "BertPackInputs",
    "BertPreprocessor",
    "BertTokenizer",
    "build_vocab",
    "count_words",
    "load_vocab",
    "pack_inputs",
    "special_tokens_dict",
    "truncation_lengths",
    "write_vocab",
]
