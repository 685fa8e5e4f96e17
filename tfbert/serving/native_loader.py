"""Run a SavedModel the way `tensorflow_model_server` does, without the model server.

The model server loads SavedModels with TensorFlow's session-based C++ loader
(`LoadSavedModel`, exposed in the C API as `TF_LoadSessionFromSavedModel`),
with the TF Text ops linked in. The TensorFlow wheel ships that loader in
`libtensorflow_cc.so.2` and the C headers under `tensorflow/include`, so a
small C program (`session_runner.c`, built here once with gcc) loads an
export exactly as the server would, after `TF_LoadLibrary` of the
tensorflow_text op libraries, and runs its signatures by the tensor names in
their `SignatureDef`s. A Keras 3 model saved without tracking its variables
loads in Python but fails here, as it does in the server.

Example:

    runner = NativeSavedModel("models/sst2/1")
    outputs = runner.run("serving_default", {"text": np.array([b"a fine film"])})
"""

import glob
import hashlib
import os
import pathlib
import re
import struct
import subprocess
import tempfile

import numpy as np

from tfbert.serving.op_check import read_saved_model

_SOURCE = pathlib.Path(__file__).with_name("session_runner.c")

# TF_DataType enum values (tensorflow/c/tf_datatype.h) for the dtypes exports use.
_DTYPES = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3,
           np.dtype("uint8"): 4, np.dtype("int64"): 9, np.dtype("bool"): 10}
_NUMPY = {code: dtype for dtype, code in _DTYPES.items()}
_TF_STRING = 7


class NativeLoadError(RuntimeError):
    """The C++ loader could not load the SavedModel or run a request."""


def _tensorflow_dir():
    import tensorflow as tf

    return pathlib.Path(tf.__file__).parent


def tf_text_op_libraries():
    """The tensorflow_text op libraries (`_*.so`), as the model server links them in."""
    import tensorflow_text

    root = pathlib.Path(tensorflow_text.__file__).parent / "python" / "ops"
    return sorted(glob.glob(str(root / "_*.so")))


def build_binary(source, name, cache_dir=None, extra_flags=()):
    """Compiles a C program against the installed TensorFlow's C API (once; cached
    under `$TFBERT_CACHE` by the source's and TensorFlow's version)."""
    import tensorflow as tf

    tf_dir = _tensorflow_dir()
    source = pathlib.Path(source)
    key = hashlib.sha256(source.read_bytes() + tf.__version__.encode()).hexdigest()[:16]
    cache_dir = pathlib.Path(cache_dir or os.environ.get(
        "TFBERT_CACHE", pathlib.Path(tempfile.gettempdir()) / "tfbert-cache"))
    binary = cache_dir / f"{name}-{key}"
    if binary.exists():
        return binary
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(f".{os.getpid()}.tmp")
    command = ["gcc", "-O2", *extra_flags, "-o", str(partial), str(source),
               f"-I{tf_dir / 'include'}", f"-L{tf_dir}", "-l:libtensorflow_cc.so.2",
               "-l:libtensorflow_framework.so.2", f"-Wl,-rpath,{tf_dir}"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise NativeLoadError(f"building {name} failed:\n{result.stderr}")
    os.replace(partial, binary)
    return binary


def build_runner(cache_dir=None):
    """Compiles `session_runner.c` (see `build_binary`)."""
    return build_binary(_SOURCE, "session_runner", cache_dir)


def signature_tensor_names(export_dir):
    """`{signature: (inputs {key: tensor name}, outputs {key: tensor name})}` of the
    `serve` MetaGraph, read from `saved_model.pb` as the server reads it."""
    for meta_graph in read_saved_model(export_dir).meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            return {name: ({k: v.name for k, v in sig.inputs.items()},
                           {k: v.name for k, v in sig.outputs.items()})
                    for name, sig in meta_graph.signature_def.items()}
    raise NativeLoadError(f"{export_dir} has no MetaGraph tagged 'serve'")


def _write_tensor(f, value):
    value = np.asarray(value)
    if value.dtype.kind in "OSU":
        f.write(struct.pack("<ii", _TF_STRING, value.ndim))
        f.write(struct.pack(f"<{value.ndim}q", *value.shape))
        for item in value.reshape(-1):
            data = item.encode("utf-8") if isinstance(item, str) else bytes(item)
            f.write(struct.pack("<q", len(data)) + data)
        return
    if value.dtype not in _DTYPES:
        raise TypeError(f"unsupported dtype {value.dtype}")
    f.write(struct.pack("<ii", _DTYPES[value.dtype], value.ndim))
    f.write(struct.pack(f"<{value.ndim}q", *value.shape))
    f.write(np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<")).tobytes())


def read_tensor(f):
    """One tensor in the runner's encoding (see session_runner.c)."""
    dtype, ndims = struct.unpack("<ii", f.read(8))
    shape = struct.unpack(f"<{ndims}q", f.read(8 * ndims))
    count = int(np.prod(shape, dtype=np.int64))
    if dtype == _TF_STRING:
        items = []
        for _ in range(count):
            (length,) = struct.unpack("<q", f.read(8))
            items.append(f.read(length))
        return np.array(items, dtype=object).reshape(shape)
    numpy_dtype = _NUMPY[dtype]
    return np.frombuffer(f.read(count * numpy_dtype.itemsize), numpy_dtype).reshape(shape)


def _write_name(f, name):
    data = name.encode()
    f.write(struct.pack("<i", len(data)) + data)


def write_requests(f, signatures, requests):
    """Encodes `[(signature, {input key: array})]` in the runner's request format;
    returns the output keys of each, in order. `signatures`: `signature_tensor_names`."""
    f.write(struct.pack("<i", len(requests)))
    all_keys = []
    for signature, inputs in requests:
        if signature not in signatures:
            raise KeyError(f"no signature {signature!r}; have {sorted(signatures)}")
        input_names, output_names = signatures[signature]
        missing = set(input_names) - set(inputs)
        if missing:
            raise KeyError(f"signature {signature!r} needs inputs {sorted(missing)}")
        f.write(struct.pack("<i", len(inputs)))
        for key, value in inputs.items():
            _write_name(f, input_names[key])
            _write_tensor(f, value)
        keys = sorted(output_names)
        f.write(struct.pack("<i", len(keys)))
        for key in keys:
            _write_name(f, output_names[key])
        all_keys.append(keys)
    return all_keys


def _error_message(result):
    """The runner's own error lines, without TensorFlow's log lines."""
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and not re.match(r"^[IWEF]\d{4} |^WARNING: All log", line)]
    return "\n".join(lines) or f"session runner exited with status {result.returncode}"


class NativeSavedModel:
    """A SavedModel as TensorFlow Serving loads it (see the module docstring).

    Each `run_many` call starts the C program, which loads the model once and
    answers every request in order; `peak_rss_bytes` is then that process's
    peak resident memory (VmHWM, loading included).

    Args:
        export_dir: the SavedModel directory (`.../<version>/`).
        op_libraries: op libraries to load first (default: tensorflow_text's).
    """

    def __init__(self, export_dir, op_libraries=None):
        self.export_dir = str(export_dir)
        self.signatures = signature_tensor_names(export_dir)
        self.op_libraries = tf_text_op_libraries() if op_libraries is None else op_libraries
        self.binary = build_runner()
        self.peak_rss_bytes = None

    def run_many(self, requests, timeout=600):
        """Runs `[(signature_name, {input key: array})]`; returns one output dict each."""
        with tempfile.TemporaryDirectory() as tmp:
            request_file = os.path.join(tmp, "requests.bin")
            response_file = os.path.join(tmp, "responses.bin")
            with open(request_file, "wb") as f:
                output_keys = write_requests(f, self.signatures, requests)
            result = subprocess.run(
                [str(self.binary), self.export_dir, request_file, response_file,
                 *self.op_libraries], capture_output=True, encoding="utf-8",
                # TF's error messages quote the request's bytes, which need not be UTF-8.
                errors="backslashreplace", timeout=timeout)
            peak = re.search(r"^PEAK_RSS_KB (\d+)$", result.stderr, re.MULTILINE)
            self.peak_rss_bytes = int(peak.group(1)) * 1024 if peak else None
            if result.returncode:
                raise NativeLoadError(_error_message(result))
            responses = []
            with open(response_file, "rb") as f:
                for keys in output_keys:
                    (count,) = struct.unpack("<i", f.read(4))
                    if count != len(keys):
                        raise NativeLoadError(f"expected {len(keys)} outputs, got {count}")
                    responses.append({key: read_tensor(f) for key in keys})
            return responses

    def run(self, signature, inputs):
        """Runs one request; returns `{output key: array}`."""
        return self.run_many([(signature, inputs)])[0]
