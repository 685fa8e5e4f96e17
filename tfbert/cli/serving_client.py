"""`tfbert_serving_client`: send raw text to a model behind `tensorflow_model_server`.

    tfbert_serving_client --model_name=sst2 --text="a fine film" --text="dull"
    tfbert_serving_client --model_name=sst2 --protocol=rest --input_file=sentences.txt
    tfbert_serving_client --model_name=squad --question="Who won?" --context="Denver won."

Prints one JSON object per input with the signature's outputs.
"""

import json

import numpy as np
from absl import app, flags

from tfbert.serving.client import ServingClient, request_inputs

FLAGS = flags.FLAGS


def _define_flags():
    """Defines the flags; called by `run()` only, so that importing this module
    (e.g. for its functions) registers nothing and never clashes with another CLI."""
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


def main(argv):
    del argv
    texts = list(FLAGS.text)
    if FLAGS.input_file:
        with open(FLAGS.input_file, encoding="utf-8") as f:
            texts += [line.rstrip("\n") for line in f if line.strip()]
    try:
        inputs = request_inputs(texts, FLAGS.text_b, FLAGS.question, FLAGS.context)
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    client = ServingClient(FLAGS.host, FLAGS.model_name, FLAGS.grpc_port, FLAGS.rest_port,
                           FLAGS.version, FLAGS.timeout)
    if FLAGS.protocol == "grpc":
        outputs = client.predict(inputs, FLAGS.signature)
    else:
        outputs = client.predict_rest(inputs, FLAGS.signature)
    count = len(next(iter(inputs.values())))
    for i in range(count):
        print(json.dumps({key: _plain(value[i]) for key, value in outputs.items()},
                         ensure_ascii=False))


def run():
    _define_flags()
    app.run(main)


if __name__ == "__main__":
    run()
