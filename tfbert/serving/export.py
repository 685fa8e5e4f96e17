"""Writes text-in SavedModels for TensorFlow Serving: `<export_base>/<version>/`.

An export is a list of `Endpoint`s (one SignatureDef each), built by the
signature families (`classification`, `question_answering`, `tagging`,
`embeddings`, `hub`), written with `keras.export.ExportArchive` (which tracks
the Keras 3 variables, so the model server's session loader finds them), with:

- each weight saved once, and in a served export only the weights its signatures
  read (`write_endpoints`);
- the vocab as a SavedModel asset (`assets/vocab.txt`);
- `assets.extra/tf_serving_warmup_requests`, one request per signature;
- the method names TF Serving's Classify/Regress APIs need on `serve_examples`;
- in every signature with several inputs, a check in the graph that they
  have the same batch size (`same_batch_size`);
- the attention's derived weights laid out once, as variables, rather than on
  every request (`tfbert.layers.precomputed_attention`; not in the TF Hub
  encoder, whose `__call__` is trained);
- versioning: written under a temporary name and renamed when complete,
  never over an existing version (`versions.versioned_export`).
"""

import contextlib
import dataclasses
import os

import keras
import tensorflow as tf

from tfbert.layers import int8, int8_blocks, portable_layer_norm, precomputed_attention
from tfbert.serving.graph import pack_to_longest, traced_once
from tfbert.serving.op_check import read_saved_model
from tfbert.serving.versions import versioned_export
from tfbert.serving.warmup import write_warmup_requests

PREDICT = "tensorflow/serving/predict"
CLASSIFY = "tensorflow/serving/classify"
REGRESS = "tensorflow/serving/regress"

WARMUP_TEXTS = ("The film was a delight from start to finish.", "", "dull")
# The bundled demo corpus: 414 sentences of everyday English (tfbert/demo_data/README.md).
CALIBRATION_FILE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "demo_data",
                                "corpus.txt")


@dataclasses.dataclass
class Endpoint:
    """One signature of an export.

    Args:
        name: signature key (`serving_default`, `serve_examples`, ...).
        fn: a function of string/int Tensors returning a flat dict of Tensors.
        input_signature: `tf.TensorSpec`s, one per argument of `fn`, named
            as the signature's inputs.
        warmup: `{input name: numpy array}`: the warmup request, or None.
        method_name: the SignatureDef's method (predict, classify, regress).

    Example:

    >>> endpoint = Endpoint("serving_default",
    ...                     lambda text: {"length": tf.strings.length(text)},
    ...                     string_specs("text"))
    >>> endpoint.fn(tf.constant(["abc", ""]))["length"].numpy()
    array([3, 0], dtype=int32)
    """

    name: str
    fn: object
    input_signature: list
    warmup: dict | None = None
    method_name: str = PREDICT


QUANTIZE = ("int8",)


def check_quantize(quantize):
    """Fails with ValueError unless `quantize` is None or one of `QUANTIZE`."""
    if quantize is not None and quantize not in QUANTIZE:
        raise ValueError(f"quantize={quantize!r}: not one of {list(QUANTIZE)} (or None)")


def int8_calibration(model, preprocessor, path=None, limit=512):
    """The `int8_calibrate` of an export of `model`: its encoder called on the first
    `limit` non-empty lines of `path` (one text per line; default `CALIBRATION_FILE`),
    packed by `preprocessor` as single texts. Texts like the ones served give the
    closest activation ranges."""
    path = path or CALIBRATION_FILE
    with open(path, encoding="utf-8") as f:
        texts = [line.strip() for line in f if line.strip()][:limit]
    if not texts:
        raise ValueError(f"int8 calibration file {path} has no text")
    packed = pack_to_longest(preprocessor, [tf.constant(texts)])
    encoder = getattr(model, "encoder", model)
    return lambda: encoder(packed, training=False)


def same_batch_size(fn, names):
    """`fn`, but failing with InvalidArgument unless its inputs have one batch size.

    Without it an op deep in the graph fails with a message that names no
    input, or, through the session loader, a request with 3 questions and 2
    contexts could be answered with 2 rows (issue #25). The inputs `fn` sees
    pass through `tf.identity` under a control dependency on the check, so
    that every output depends on it and no graph rewrite can prune it or run
    it after the outputs.

    Args:
        fn: the endpoint's function of positional Tensors `[batch, ...]`.
        names: the inputs' names, in `fn`'s order, for the message.

    Example:

    >>> check = tf.function(same_batch_size(lambda a, b: {"n": tf.size(a) + tf.size(b)},
    ...                                     ["a", "b"]))
    >>> int(check(tf.constant(["x", "y"]), tf.constant(["z", "w"]))["n"])
    4
    >>> try:
    ...     check(tf.constant(["x", "y", "z"]), tf.constant(["w"]))
    ... except tf.errors.InvalidArgumentError as error:
    ...     print(next(line for line in error.message.splitlines() if "assertion" in line))
    assertion failed: [inputs a and b must have the same batch size; got a:] [3] [b:] [1]
    """
    names = list(names)

    def checked(*inputs):
        sizes = [tf.shape(x, out_type=tf.int64)[0] for x in inputs]
        checks = [tf.debugging.Assert(tf.equal(sizes[0], size), [
            f"inputs {names[0]} and {name} must have the same batch size; got {names[0]}:",
            sizes[0], f"{name}:", size]) for name, size in zip(names[1:], sizes[1:], strict=True)]
        with tf.control_dependencies(checks):
            return fn(*[tf.identity(x) for x in inputs])

    return checked


def string_specs(*names):
    """`tf.TensorSpec([None], tf.string, name=...)` for each input name."""
    return [tf.TensorSpec([None], tf.string, name=name) for name in names]


def token_id_specs():
    """Int32 `[batch, seq]` specs of the encoder inputs, for `serve_token_ids`."""
    return [tf.TensorSpec([None, None], tf.int32, name=name)
            for name in ("input_word_ids", "input_mask", "input_type_ids")]


def token_ids_warmup(preprocessor, *texts):
    """The packed ids of `texts` as numpy arrays (warmup for `serve_token_ids`)."""
    packed = preprocessor(tf.constant(list(texts) or list(WARMUP_TEXTS)))
    return {key: value.numpy() for key, value in packed.items()}


def text_example(**features):
    """A serialized `tf.Example` with one bytes feature per keyword."""
    feature = {key: tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[value.encode("utf-8") if isinstance(value, str) else value]))
        for key, value in features.items()}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _set_method_names(export_dir, endpoints):
    """Rewrites `saved_model.pb` with each endpoint's method name (ExportArchive
    writes every signature as `predict`; Classify/Regress need their own)."""
    changes = {e.name: e.method_name for e in endpoints if e.method_name != PREDICT}
    if not changes:
        return
    saved_model = read_saved_model(export_dir)
    for meta_graph in saved_model.meta_graphs:
        for name, method in changes.items():
            meta_graph.signature_def[name].method_name = method
    path = os.path.join(export_dir, "saved_model.pb")
    with open(path + ".tmp", "wb") as f:
        f.write(saved_model.SerializeToString())
    os.replace(path + ".tmp", path)
    # fingerprint.pb holds a checksum of saved_model.pb: write it again.
    from tensorflow.python.saved_model import fingerprinting_utils

    fingerprinting_utils.write_fingerprint(str(export_dir))


def _variables_read(functions):
    """ids of the variables that `functions` read: each a `tf.function` with an input
    signature (traced here), or something else, which reads none."""
    return {id(v) for f in functions
            if isinstance(f, tf.types.experimental.PolymorphicFunction)
            and f.input_signature is not None for v in f.get_concrete_function().variables}


def write_endpoints(path, endpoints, track=(), vocab_file=None, functions=None,
                    trainable=False, int8_calibrate=None):
    """Writes one SavedModel at `path` (no versioning; see `export`).

    Args:
        path: directory to write.
        endpoints: `Endpoint`s; the first is also `serving_default` if none is.
        track: Keras layers/models (and other trackables) the endpoints use.
        vocab_file: copied into the SavedModel as an asset.
        functions: `{attribute: tf.function}` saved on the root object but not
            as signatures (the TF Hub `tokenize`, `bert_pack_inputs`, `__call__`);
            a `tf.saved_model.Asset` there is copied into `assets/`.
        trainable: True where a function of the export is meant to be trained (the TF
            Hub encoder's `__call__`): its attention then reads the layers' own weights,
            and the export lists all of them. Otherwise the attention weights are laid
            out once, as variables of the export, rather than per request
            (`precomputed_attention`; docs/performance.md), and the export holds only the
            weights its functions read.
        int8_calibrate: a function of no arguments that calls the model on calibration
            inputs, eagerly: then the encoder blocks compute their dense products in int8
            (`tfbert.layers.int8_blocks`; `tfbert_export --quantize=int8`), with the
            int8 weights as graph constants where a signature calls the model once
            (`tfbert.layers.int8.constant_weights`).
    """
    # Traced with the LayerNorm every server runs well (the oneDNN-only form is much
    # slower where oneDNN is off; docs/performance.md). An int8 export needs oneDNN, but
    # there too the oneDNN form was slower on short requests and on 32 x 32 pieces.
    precomputed = precomputed_attention(() if trainable else track)
    quantized = (int8_blocks(track, int8_calibrate) if int8_calibrate
                 else contextlib.nullcontext())
    constants = int8.constant_weights() if int8_calibrate else contextlib.nullcontext()
    with portable_layer_norm(), precomputed, quantized, constants:
        archive = keras.export.ExportArchive()
        for item in track:
            archive.track(item)
        for endpoint in endpoints:
            fn = traced_once(endpoint.fn)
            if len(endpoint.input_signature) > 1:
                fn = same_batch_size(fn, [spec.name for spec in endpoint.input_signature])
            archive.add_endpoint(endpoint.name, fn,
                                 input_signature=list(endpoint.input_signature))
        # ExportArchive has no public hook for other objects; its root trackable
        # is what `tf.saved_model.load` returns.
        root = archive._tf_trackable
        # `track` lists Keras's variable wrappers, but the functions capture the
        # tf.Variables inside them, which the C++ loader (TF Serving's) would restore as
        # other variables: every weight twice. What the endpoints read is saved anyway
        # (ExportArchive tracks it, precomputed and int8 weights included), so a served
        # export lists only that: no float32 kernel that int8 or precomputed copies replaced.
        read = None if trainable else _variables_read(
            [getattr(root, e.name) for e in endpoints] + list((functions or {}).values()))
        for attribute in ("variables", "trainable_variables", "non_trainable_variables"):
            setattr(root, attribute, [v.value for v in getattr(root, attribute)
                                      if read is None or id(v.value) in read])
        if vocab_file:
            root.vocab_file = tf.saved_model.Asset(str(vocab_file))  # -> assets/<name>
        for attribute, function in (functions or {}).items():
            setattr(root, attribute, function)
        archive.write_out(str(path), verbose=False)
    _set_method_names(path, endpoints)
    requests = [(e.name, e.warmup) for e in endpoints if e.warmup is not None]
    if requests:
        write_warmup_requests(path, requests)
    return str(path)


def export(export_base, endpoints, track=(), vocab_file=None, version=None, functions=None,
           trainable=False, int8_calibrate=None):
    """Writes `<export_base>/<version>/` (version: `version` or the Unix time); the
    arguments as `write_endpoints`.

    Returns:
        The final directory.

    Example:

        from tfbert.serving import classification
        endpoints = classification.endpoints(model, preprocessor, ["neg", "pos"])
        export("models/sst2", endpoints, track=[model, preprocessor], vocab_file=vocab)
    """
    with versioned_export(export_base, version) as pending:
        write_endpoints(pending.partial, endpoints, track, vocab_file, functions,
                        trainable, int8_calibrate)
    return pending.final
