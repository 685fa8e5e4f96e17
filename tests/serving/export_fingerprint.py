"""What makes two exports the same: a fingerprint of a SavedModel directory.

Two exports are taken as identical when their fingerprints are equal: the
signatures (names, input and output keys, dtypes, shapes), the op types and
their counts in what each signature runs (every function it calls expanded at
each call, as the loaders inline them; call ops and the `Identity`/`NoOp` nodes
at function boundaries, which compute nothing and which the graph optimizer
removes, left out), every variable's bytes, every
asset's bytes (vocab, warmup requests), and every output of every signature
for fixed inputs, run through TensorFlow's C session loader as
`tensorflow_model_server` runs it: the bytes of integer and string outputs,
the values of float outputs (`same_fingerprint` compares them to 1e-5: the
same graph and weights give float results that differ in the last bits from
one CPU to another, e.g. with and without AVX-512 kernels). Left out, as
they say nothing of what the export computes: function names (they carry a
per-trace number), the order of the graph's nodes, the dropout layers'
seed-generator states (int64 `[2]` variables, drawn anew at each build and
unused at inference) and the byte order of the warmup requests' input maps
(their parsed content is compared).

`tests/golden/exports/fingerprints.json` holds the fingerprints of exports
made from the checkpoints beside it before the task registry was written;
`test_export_golden.py` checks that today's code exports the same.
"""

import collections
import hashlib
import pathlib

import numpy as np
import tensorflow as tf

from tfbert.serving.export import text_example
from tfbert.serving.native_loader import NativeSavedModel
from tfbert.serving.op_check import read_saved_model
from tfbert.serving.warmup import read_warmup_requests

# Nodes that compute nothing: calls (their functions are counted instead) and the
# Identity/NoOp nodes a function boundary adds.
UNCOUNTED = {"PartitionedCall", "StatefulPartitionedCall", "Identity", "NoOp"}

TEXTS = ["the film was a delight", "boring ! not good at all , who won ?",
         "john smith lives in paris , france", "", "great movie because it is not bad"]
QUESTIONS = ["who won the game ?", "where does john smith live ?", "what is good ?"]
CONTEXTS = [
    "the game was won by denver because it is good . " * 4,
    "john smith lives in paris , france . the film was a delight . " * 3,
    "not bad at all",
]


def _digest(array):
    array = np.asarray(array)
    if array.dtype == object:
        body = b"\0".join(x if isinstance(x, bytes) else str(x).encode() for x in array.ravel())
    else:
        body = np.ascontiguousarray(array).tobytes()
    header = f"{array.dtype.str if array.dtype != object else 'bytes'}{array.shape}".encode()
    return hashlib.sha256(header + body).hexdigest()


def _output(array):
    """A float output's dtype, shape and values; any other output's digest."""
    array = np.asarray(array)
    if array.dtype.kind != "f":
        return _digest(array)
    return {"dtype": array.dtype.str, "shape": list(array.shape),
            "values": [float(x) for x in array.ravel()]}


def same_fingerprint(actual, recorded):
    """Asserts two fingerprints equal: exactly, except float outputs (to 1e-5)."""
    assert {k: v for k, v in actual.items() if k != "outputs"} == \
        {k: v for k, v in recorded.items() if k != "outputs"}
    assert actual["outputs"].keys() == recorded["outputs"].keys()
    for name, outputs in actual["outputs"].items():
        assert outputs.keys() == recorded["outputs"][name].keys(), name
        for key, value in outputs.items():
            expected = recorded["outputs"][name][key]
            if isinstance(value, dict):
                assert (value["dtype"], value["shape"]) == (expected["dtype"],
                                                            expected["shape"]), (name, key)
                np.testing.assert_allclose(value["values"], expected["values"], rtol=1e-5,
                                           atol=1e-5, err_msg=f"{name} {key}")
            else:
                assert value == expected, (name, key)


def _inputs(input_keys):
    """Fixed inputs for a signature, by its input keys."""
    texts = np.array([t.encode() for t in TEXTS], dtype=object)
    if set(input_keys) == {"question", "context"}:
        return {"question": np.array([q.encode() for q in QUESTIONS], dtype=object),
                "context": np.array([c.encode() for c in CONTEXTS], dtype=object)}
    if set(input_keys) == {"inputs"}:
        return None  # examples: filled in by `fingerprint`, which knows the text keys
    if set(input_keys) == {"input_word_ids", "input_mask", "input_type_ids"}:
        rng = np.random.default_rng(0)
        ids = rng.integers(5, 40, size=(3, 12)).astype(np.int32)
        mask = np.ones_like(ids)
        mask[1, 8:] = 0
        types = np.zeros_like(ids)
        types[:, 6:] = mask[:, 6:]
        return {"input_word_ids": ids * mask, "input_mask": mask, "input_type_ids": types}
    return {key: texts[::-1] if key == "text_b" else texts for key in input_keys}


def signature_ops(meta_graph):
    """`{signature: {op type: count}}` of what each signature runs, every function
    call expanded (so a model traced once and called five times counts five times,
    as in a graph traced five times); see the module doc for what is left out."""
    library = {f.signature.name: f for f in meta_graph.graph_def.library.function}
    counted = {}

    def function_ops(name):
        if name not in counted:
            counted[name] = sum((node_ops(node) for node in library[name].node_def),
                                collections.Counter())
        return counted[name]

    def node_ops(node):
        if node.op in library:
            return function_ops(node.op)
        ops = collections.Counter() if node.op in UNCOUNTED else collections.Counter([node.op])
        for value in node.attr.values():  # call ops, If branches, While bodies
            for name in [value.func.name] if value.func.name else [f.name for f in
                                                                   value.list.func]:
                ops += function_ops(name)
        return ops

    nodes = {node.name: node for node in meta_graph.graph_def.node}
    result = {}
    for name, signature in sorted(meta_graph.signature_def.items()):
        if not name.startswith("__"):
            roots = sorted({tensor.name.split(":")[0] for tensor in signature.outputs.values()})
            ops = sum((node_ops(nodes[root]) for root in roots), collections.Counter())
            result[name] = dict(sorted(ops.items()))
    return result


def variables_saved_and_read(export_dir):
    """`(saved, read)`: how many variables the export's checkpoint holds, and how many
    variable handles of its graph the signatures' calls take (the variables the C++
    loader restores for them)."""
    export_dir = pathlib.Path(export_dir)
    meta_graph = read_saved_model(export_dir).meta_graphs[0]
    reader = tf.train.load_checkpoint(str(export_dir / "variables" / "variables"))
    saved = [name for name in reader.get_variable_to_shape_map() if "OBJECT_GRAPH" not in name]
    nodes = {node.name: node for node in meta_graph.graph_def.node}
    handles = {name for name, node in nodes.items() if node.op == "VarHandleOp"}
    calls = {tensor.name.split(":")[0] for name, signature in meta_graph.signature_def.items()
             if not name.startswith("__") for tensor in signature.outputs.values()}
    read = {name.split(":")[0] for call in calls for name in nodes[call].input} & handles
    return len(saved), len(read)


def fingerprint(export_dir):
    """`{part: value}` of the export at `export_dir` (see the module doc)."""
    export_dir = pathlib.Path(export_dir)
    saved_model = read_saved_model(export_dir)
    meta_graph = saved_model.meta_graphs[0]
    ops = signature_ops(meta_graph)
    signatures = {}
    for name, signature in sorted(meta_graph.signature_def.items()):
        if name.startswith("__"):
            continue
        signatures[name] = {
            side: {key: [tensor.dtype, [d.size for d in tensor.tensor_shape.dim]]
                   for key, tensor in sorted(getattr(signature, side).items())}
            for side in ("inputs", "outputs")}
    reader = tf.train.load_checkpoint(str(export_dir / "variables" / "variables"))
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    variables = sorted(_digest(reader.get_tensor(name)) for name in shapes
                       if "OBJECT_GRAPH" not in name
                       and not (dtypes[name] == tf.int64 and shapes[name] == [2]))
    assets = {str(path.relative_to(export_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
              for path in sorted(export_dir.glob("assets/**/*")) if path.is_file()}
    assets["warmup requests"] = [
        [signature, {key: _digest(value) for key, value in sorted(inputs.items())}]
        for signature, inputs in read_warmup_requests(export_dir)]
    model = NativeSavedModel(export_dir)
    text_keys = [k for k in ("text", "text_a", "text_b")
                 if k in signatures.get("serving_default", {}).get("inputs", {})]
    requests = []
    for name, signature in signatures.items():
        inputs = _inputs(signature["inputs"])
        if inputs is None:
            rows = [{k: (TEXTS[i] if k != "text_b" else TEXTS[::-1][i]) for k in text_keys}
                    for i in range(len(TEXTS))]
            inputs = {"inputs": np.array([text_example(**row) for row in rows], dtype=object)}
        requests.append((name, inputs))
    outputs = {name: {key: _output(value) for key, value in sorted(result.items())}
               for (name, _), result in zip(requests, model.run_many(requests), strict=True)}
    return {"signatures": signatures, "ops": ops, "variables": variables,
            "assets": assets, "outputs": outputs}
