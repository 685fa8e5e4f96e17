"""Writes text-in SavedModels for TensorFlow Serving: `<export_base>/<version>/`.

An export is a list of `Endpoint`s (one SignatureDef each), built by the
signature families (`classification`, `question_answering`, `tagging`,
`embeddings`, `hub`), written with `keras.export.ExportArchive` (which tracks
the Keras 3 variables, so the model server's session loader finds them), with:

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


def pack_to_longest(preprocessor, segments):
    """Packs string segments like `preprocessor(segments)`, but only as long as the
    batch needs: `min(seq_length, longest packed row)`. Truncation is unchanged;
    a batch of short texts does not pay for `seq_length` positions.

    Args:
        preprocessor: `tfbert.text.BertPreprocessor`.
        segments: list of string Tensors `[batch]` (one per segment).

    Returns:
        The packed int32 inputs, `[batch, length]`.
    """
    tokenizer = preprocessor.tokenizer
    ids = [tokenizer.tokenize(segment) for segment in segments]
    total = tf.add_n([tf.cast(x.row_lengths(), tf.int32) for x in ids]) + len(ids) + 1
    length = tf.minimum(preprocessor.seq_length,
                        tf.reduce_max(tf.concat([total, [len(ids) + 1]], 0)))
    return preprocessor.bert_pack_inputs(ids, seq_length=length)


def traced_once(fn):
    """`fn` of a nest of Tensors, traced into one graph function per input signature
    (dtypes and static shapes) that every later call reuses.

    Keras traces each signature of an export outside the save context and
    `tf.saved_model.save` again inside it (a different cache key), and the
    length-sorted slices call the model five times per trace: a classification
    export would trace its model 30 times. A call of a traced function is one call
    op, which the loaders inline before they optimize the graph, so what the server
    runs is unchanged (docs/performance.md, "Exports trace the model once"). Called
    eagerly, it is `fn` itself: no trace per concrete shape.

    Example:

    >>> double = traced_once(lambda x: 2 * x)
    >>> twice = tf.function(lambda x: double(x) + double(x + 1))  # one trace of `double`
    >>> int(twice(tf.constant(2))), int(double(tf.constant(5)))
    (10, 10)
    """
    traced = {}

    def call(*args):
        if tf.executing_eagerly():
            return fn(*args)
        specs = tf.nest.map_structure(lambda x: tf.TensorSpec(x.shape, x.dtype), args)
        # The state of `int8.constant_weights` makes a different graph (see by_length),
        # which a tf.function's own cache, keyed on the signature alone, would not retrace.
        key = (repr(specs), int8.constants_active())
        if key not in traced:
            traced[key] = tf.function(fn, autograph=False).get_concrete_function(*specs)
        return traced[key](*args)

    return call


def by_length(apply, packed, groups=4, min_rows=8):
    """`apply(packed)` for per-example outputs (`[batch, ...]`), run on `groups` slices of
    the batch sorted by length, each cut to its own longest row; outputs in the
    batch's order. Batches under `groups * min_rows` rows run whole.

    A batch padded to its longest text is mostly padding when lengths vary; sorted
    slices pad far less (masked padding changes no result), and they run side by
    side (docs/performance.md, "Length-sorted slices"). Core ops only (TopKV2,
    InvertPermutation, If): TF Serving runs it.

    Args:
        apply: `packed inputs -> Tensor or nest of Tensors [batch, ...]`.
        packed: int32 inputs `[batch, length]`, with `input_mask`.
        groups: number of slices.
        min_rows: the fewest rows per slice worth a separate run.
    """
    lengths = tf.reduce_sum(packed["input_mask"], axis=1)
    batch = tf.shape(lengths)[0]

    def sorted_slices():
        order = tf.argsort(lengths, stable=True)
        parts = []
        for i in range(groups):
            rows = order[batch * i // groups:batch * (i + 1) // groups]
            width = tf.reduce_max(tf.gather(lengths, rows))
            # int8 weights from the variables here: as constants, each of these call
            # sites would hold its own copy (tfbert.layers.int8, "weights in the graph").
            with int8.constant_weights(False):
                parts.append(apply({k: tf.gather(v, rows)[:, :width]
                                    for k, v in packed.items()}))
        inverse = tf.math.invert_permutation(order)
        return tf.nest.map_structure(lambda *p: tf.gather(tf.concat(p, 0), inverse), *parts)

    return tf.cond(batch >= groups * min_rows, sorted_slices, lambda: apply(packed))


def in_chunks(apply, inputs, size, output_specs):
    """`apply(inputs)` for per-row outputs, run on at most `size` rows at a time.

    A request's windows (every window of every question) would otherwise run
    as one batch, and the encoder's memory grows with it: its attention
    scores are `[rows, heads, seq, seq]` floats. The chunks run one after
    another (`parallel_iterations=1`: the session loader lowers the loop to
    frames that would otherwise run up to 10 chunks at once), and their
    outputs are concatenated in row order. At most `size` rows run as one
    batch, exactly as before, so small requests compute what they did.

    Args:
        apply: `inputs -> nest of Tensors [rows, ...]` (e.g. a model call).
        inputs: nest of Tensors `[rows, ...]`.
        size: the most rows per run (a Python int).
        output_specs: nest of `tf.TensorSpec`s of each chunk's outputs (`[None, ...]`):
            the structure, dtypes and static shapes of `apply`'s outputs.

    Example:

    >>> rows = tf.reshape(tf.range(10.0), [5, 2])
    >>> out = in_chunks(lambda x: {"sum": tf.reduce_sum(x, axis=1)}, rows, 2,
    ...                 {"sum": tf.TensorSpec([None], tf.float32)})
    >>> out["sum"].numpy()
    array([ 1.,  5.,  9., 13., 17.], dtype=float32)
    """
    if size < 1:
        raise ValueError(f"chunk size must be at least 1; got {size}")
    rows = tf.shape(tf.nest.flatten(inputs)[0])[0]
    # One chunk, possibly empty, when there are no rows: `apply` sets the shapes.
    count = tf.maximum((rows + size - 1) // size, 1)
    arrays = tf.nest.map_structure(
        lambda spec: tf.TensorArray(spec.dtype, size=count, infer_shape=False,
                                    element_shape=spec.shape), output_specs)

    def body(i, arrays):
        part = tf.nest.map_structure(lambda x: x[i * size:(i + 1) * size], inputs)
        outputs = apply(part)
        return i + 1, tf.nest.map_structure(lambda array, x: array.write(i, x), arrays,
                                            outputs)

    _, arrays = tf.while_loop(lambda i, _: i < count, body, (tf.constant(0), arrays),
                              parallel_iterations=1)
    return tf.nest.map_structure(lambda array: array.concat(), arrays)


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


def write_endpoints(path, endpoints, track=(), vocab_file=None, functions=None,
                    precompute_attention=True, int8_calibrate=None):
    """Writes one SavedModel at `path` (no versioning; see `export`).

    Args:
        path: directory to write.
        endpoints: `Endpoint`s; the first is also `serving_default` if none is.
        track: Keras layers/models (and other trackables) the endpoints use.
        vocab_file: copied into the SavedModel as an asset.
        functions: `{attribute: tf.function}` saved on the root object but not
            as signatures (the TF Hub `tokenize`, `bert_pack_inputs`, `__call__`);
            a `tf.saved_model.Asset` there is copied into `assets/`.
        precompute_attention: trace with the attention weights laid out once, as
            variables of the export, rather than per request (`precomputed_attention`;
            docs/performance.md). False where a function of the export is meant to be
            trained (gradients must reach the layers' own weights, not those copies).
        int8_calibrate: a function of no arguments that calls the model on calibration
            inputs, eagerly: then the encoder blocks compute their dense products in int8
            (`tfbert.layers.int8_blocks`; `tfbert_export --quantize=int8`), with the
            int8 weights as graph constants where a signature calls the model once
            (`tfbert.layers.int8.constant_weights`).
    """
    # Traced with the LayerNorm every server runs well (the oneDNN-only form is much
    # slower where oneDNN is off; docs/performance.md). An int8 export needs oneDNN, but
    # there too the oneDNN form was slower on short requests and on 32 x 32 pieces.
    precomputed = precomputed_attention(track if precompute_attention else ())
    quantized = (int8_blocks(track, int8_calibrate) if int8_calibrate
                 else contextlib.nullcontext())
    constants = int8.constant_weights() if int8_calibrate else contextlib.nullcontext()
    with (portable_layer_norm(), precomputed as attention_weights,
          quantized as int8_weights, constants):
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
        if attention_weights:
            root.precomputed_attention = attention_weights
        if int8_weights:
            root.int8_weights = int8_weights
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
           precompute_attention=True, int8_calibrate=None):
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
                        precompute_attention, int8_calibrate)
    return pending.final
