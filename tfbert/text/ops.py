"""Which non-trivial ops the graphs of `tfbert.text` contain, and why they are safe.

Exported graphs must load in `tensorflow_model_server` 2.12-2.19, which links
TF Text 2.12.1 (see `../shared/reference/google_bert_facts.md` §3.1). The
tests trace every public entry point and check that its TF Text ops are a
subset of `TF_TEXT_OPS`; anything else in the graph must be a core TF op.
"""

# TF Text ops (op type names as they appear in a GraphDef).
TF_TEXT_OPS = (
    # tensorflow_text.FastBertNormalizer.normalize / normalize_with_offsets.
    # Kernel fast_bert_normalizer: in TF Text 2.12.1's ops_lib (facts §3.1);
    # TF Serving 2.10 (TF Text 2.7.3) lacked it (tensorflow/serving #2064).
    # Its model is a constant compiled at construction time, so the serving
    # binary's ICU data is not consulted. Uncased fast path only.
    "FastBertNormalize",
    # tensorflow_text.FastWordpieceTokenizer.tokenize_with_offsets. Kernel
    # fast_wordpiece_tokenizer: in TF Text 2.12.1's ops_lib (facts §3.1).
    # End-to-end mode on the fast path (its run-time ICU punctuation and
    # whitespace tests are only trusted on characters stable since Unicode
    # 3.2), pre-split words (no_pretokenization=True) on the exact path.
    "FastWordpieceTokenizeWithOffsets",
)

# Core ops worth naming because they are less common; all are in TF >= 2.4.
CORE_OPS_OF_NOTE = (
    "StaticRegexFullMatch",        # fast-path test, explicit code point class
    "StaticRegexReplace",          # detokenize: " ##" -> ""
    "UnicodeDecodeWithOffsets",    # exact path: code points + byte offsets
    "UnicodeEncode",               # exact path: normalised words
    "LowerBound", "UpperBound",    # tf.searchsorted: character tables
    "InvertPermutation",           # merging fast-path and exact-path rows
    "RaggedGather", "RaggedTensorToTensor", "UnsortedSegmentJoin",
)

# Never to appear (checked by the tests): TF Text trimmers whose C++ kernels
# TF Serving 2.12-2.19 lacks, and Python callbacks.
FORBIDDEN_OPS = (
    "TFText>RoundRobinTrim",
    "TFText>RoundRobinGenerateMasks",
    "PyFunc",
    "PyFuncStateless",
    "EagerPyFunc",
)
