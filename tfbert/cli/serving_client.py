"""`tfbert_serving_client`: send raw text to a model behind `tensorflow_model_server`.

    tfbert_serving_client --model_name=sst2 --text="a fine film" --text="dull"
    tfbert_serving_client --model_name=sst2 --protocol=rest --input_file=sentences.txt
    tfbert_serving_client --model_name=squad --question="Who won?" --context="Denver won."

Prints one JSON object per input with the signature's outputs.
"""

import json
import os
import urllib.error

import numpy as np
from absl import app, flags

from tfbert.cli import common

FLAGS = flags.FLAGS


def define_flags():
    """The flags of `tfbert_serving_client` (see the module doc)."""
    flags.DEFINE_string("host", "localhost", "Host of tensorflow_model_server.")
    flags.DEFINE_string("model_name", "model", "Model name on the server.")
    flags.DEFINE_integer("grpc_port", 8500, "The server's --port.")
    flags.DEFINE_integer("rest_port", 8501, "The server's --rest_api_port.")
    flags.DEFINE_integer("version", None, "Model version (default: the latest).")
    flags.DEFINE_enum("protocol", "grpc", ["grpc", "rest"], "gRPC PredictionService or REST.")
    flags.DEFINE_string("signature", "serving_default", "Signature to call.")
    flags.DEFINE_multi_string("text", [], "A text (repeat for a batch): input `text`.")
    flags.DEFINE_multi_string("text_b", [], "Second texts of pairs (inputs text_a, text_b).")
    flags.DEFINE_multi_string("question", [], "Questions (input `question`, with --context).")
    flags.DEFINE_multi_string("context", [], "Contexts, one per --question.")
    flags.DEFINE_string("input_file", None, "One text per line, instead of --text.")
    flags.DEFINE_float("timeout", 10.0, "Seconds per request.")


def _plain(value):
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value] if value.ndim else _plain(value.item())
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value.item() if isinstance(value, np.generic) else value


def _predict(client, inputs):
    """The server's answer; an unreachable server or a refused request is a user error
    (`RuntimeError`/`OSError` naming the address), not a traceback."""
    if FLAGS.protocol == "rest":
        try:
            return client.predict_rest(inputs, FLAGS.signature)
        except urllib.error.URLError as error:
            raise OSError(f"{client.rest_url()}: {error.reason}") from None
    import grpc

    try:
        return client.predict(inputs, FLAGS.signature)
    except grpc.RpcError as error:
        code = error.code().name if hasattr(error, "code") else "error"
        details = error.details() if hasattr(error, "details") else str(error)
        raise RuntimeError(f"{FLAGS.host}:{FLAGS.grpc_port} (model {FLAGS.model_name}): "
                           f"{code}: {details}") from None


def main(argv):
    from tfbert.serving.client import ServingClient, request_inputs

    del argv
    texts = list(FLAGS.text)
    if FLAGS.input_file:
        if not os.path.isfile(FLAGS.input_file):
            raise app.UsageError(f"--input_file={FLAGS.input_file}: no such file")
        with open(FLAGS.input_file, encoding="utf-8") as f:
            texts += [line.rstrip("\n") for line in f if line.strip()]
    try:
        inputs = request_inputs(texts, FLAGS.text_b, FLAGS.question, FLAGS.context)
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    client = ServingClient(FLAGS.host, FLAGS.model_name, FLAGS.grpc_port, FLAGS.rest_port,
                           FLAGS.version, FLAGS.timeout)
    outputs = _predict(client, inputs)
    count = len(next(iter(inputs.values())))
    for i in range(count):
        print(json.dumps({key: _plain(value[i]) for key, value in outputs.items()},
                         ensure_ascii=False))


def run():
    common.run_command("tfbert_serving_client", main, define_flags)


if __name__ == "__main__":
    run()
