"""Graph pieces the signature families share: packing a batch to its longest text,
tracing the model once per input shape, length-sorted slices, and chunked runs.

Each keeps to the op set stock TF Serving runs (`tfbert.serving.op_check`); the measured
reasons are in docs/performance.md ("Length-sorted slices", "Exports trace the model
once").
"""

import tensorflow as tf

from tfbert.layers import int8


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
