"""The TF Hub BERT pair: a preprocessing SavedModel and an encoder SavedModel.

Code written for TF Hub's BERT works with them unchanged:

    preprocess = tf.saved_model.load("hub/preprocess/1")
    encoder = tf.saved_model.load("hub/encoder/1")
    outputs = encoder(preprocess(tf.constant(["hello world"])))
    outputs["pooled_output"], outputs["sequence_output"], outputs["encoder_outputs"]

    tokens = preprocess.tokenize(tf.constant(["a", "b"]))        # [batch, (words), (pieces)]
    packed = preprocess.bert_pack_inputs([tokens, tokens], seq_length=64)
    preprocess.get_special_tokens_dict()

For TF Serving, the preprocessing model's `serving_default(text)` gives the
packed `input_word_ids`, `input_mask`, `input_type_ids` (at the exported
`seq_length`); the encoder's `serving_default` takes them and gives
`pooled_output`, `sequence_output`, `default` (= `pooled_output`) and
`encoder_outputs_<i>` (layer i, as the TF Hub encoder's list).

The encoder export also carries the encoder's `BertConfig` as
`assets/bert_config.json`, so that `tfbert.hub.load_encoder` can rebuild a
trainable `BertEncoder` from it (TF Serving ignores the file).
"""

import os
import tempfile

import numpy as np
import tensorflow as tf

from tfbert.serving.export import WARMUP_TEXTS, Endpoint, string_specs, token_id_specs
from tfbert.serving.export import export as write_export

# The encoder's config inside an encoder export: `<export>/assets/bert_config.json`.
CONFIG_ASSET = "bert_config.json"

_RAGGED = {2: tf.RaggedTensorSpec([None, None], tf.int32, 1, tf.int64),
           3: tf.RaggedTensorSpec([None, None, None], tf.int32, 2, tf.int64)}


def preprocessing_functions(preprocessor):
    """`{attribute: tf.function}`: `__call__`, `tokenize`, `bert_pack_inputs`
    (traced for 1 and 2 segments of rank-2 or rank-3 ragged ids, `seq_length`
    an int32 scalar) and `get_special_tokens_dict`."""
    special = preprocessor.get_special_tokens_dict()

    @tf.function(input_signature=string_specs("text"))
    def call(text):
        return preprocessor(text)

    @tf.function(input_signature=string_specs("text"))
    def tokenize(text):
        return preprocessor.tokenize(text)

    @tf.function
    def bert_pack_inputs(segments, seq_length=preprocessor.seq_length):
        return preprocessor.bert_pack_inputs(segments, seq_length=seq_length)

    length = tf.TensorSpec([], tf.int32)
    for count in (1, 2):
        for rank in (2, 3):
            bert_pack_inputs.get_concrete_function([_RAGGED[rank]] * count, length)

    @tf.function(input_signature=[])
    def get_special_tokens_dict():
        return {key: tf.constant(value, tf.int32) for key, value in special.items()}

    return {"__call__": call, "tokenize": tokenize, "bert_pack_inputs": bert_pack_inputs,
            "get_special_tokens_dict": get_special_tokens_dict}


def export_preprocessing(export_base, preprocessor, vocab_file=None, version=None):
    """Writes the preprocessing SavedModel; returns its version directory."""
    endpoint = Endpoint("serving_default", lambda text: preprocessor(text),
                        string_specs("text"), {"text": np.array(WARMUP_TEXTS, dtype=object)})
    return write_export(export_base, [endpoint], track=[preprocessor],
                        vocab_file=vocab_file or preprocessor.tokenizer.vocab_file,
                        version=version, functions=preprocessing_functions(preprocessor))


def export_encoder(export_base, encoder, version=None, warmup_ids=None):
    """Writes the encoder SavedModel; returns its version directory.

    Besides the signature and `__call__`, it holds `encoder.config` as the asset
    `bert_config.json` (see the module doc).

    Args:
        export_base: `<base>`; writes `<base>/<version>`.
        encoder: `tfbert.BertEncoder`.
        version: TF Serving version (default: Unix time).
        warmup_ids: `{input: int32 [batch, seq]}` for the warmup request.
    """
    def hub_outputs(inputs):
        outputs = encoder(inputs, training=False)
        return {"pooled_output": outputs["pooled_output"],
                "sequence_output": outputs["sequence_output"],
                "encoder_outputs": list(outputs["encoder_outputs"]),
                "default": outputs["pooled_output"]}

    def flat(input_word_ids, input_mask, input_type_ids):
        outputs = hub_outputs({"input_word_ids": input_word_ids, "input_mask": input_mask,
                               "input_type_ids": input_type_ids})
        layers = outputs.pop("encoder_outputs")
        outputs.update({f"encoder_outputs_{i}": x for i, x in enumerate(layers)})
        return outputs

    specs = token_id_specs()
    call = tf.function(hub_outputs, input_signature=[{s.name: s for s in specs}])
    if warmup_ids is None:
        ones = np.ones([2, 8], np.int32)
        warmup_ids = {"input_word_ids": ones, "input_mask": ones, "input_type_ids": 0 * ones}
    endpoint = Endpoint("serving_default", flat, specs, warmup_ids)
    with tempfile.TemporaryDirectory() as directory:
        # An asset is copied into the SavedModel when it is written; the file only
        # has to exist until then.
        config_file = os.path.join(directory, CONFIG_ASSET)
        encoder.config.to_json_file(config_file)
        # `__call__` is the reusable SavedModel's API, which TF Hub users fine-tune
        # (`hub.KerasLayer(trainable=True)`): it must read the encoder's own weights.
        return write_export(export_base, [endpoint], track=[encoder], version=version,
                            functions={"__call__": call,
                                       "bert_config_file": tf.saved_model.Asset(config_file)},
                            trainable=True)
