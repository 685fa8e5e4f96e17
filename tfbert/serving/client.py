"""A small client of `tensorflow_model_server`: gRPC `PredictionService` and REST.

Example:

    client = ServingClient("localhost", model="sst2")       # gRPC 8500, REST 8501
    client.predict({"text": ["a fine film", "a waste of time"]})["label"]
    client.predict_rest({"text": ["a fine film"]})["label"]
"""

import base64
import json
import urllib.error
import urllib.request

import numpy as np

from tfbert.serving.warmup import predict_request


def _jsonable(value):
    """Numpy/str/bytes values as TF Serving's REST API takes them (bytes: base64)."""
    value = np.asarray(value)
    if value.dtype.kind in "OSU":
        def encode(item):
            if isinstance(item, bytes):
                try:
                    return item.decode("utf-8")
                except UnicodeDecodeError:
                    return {"b64": base64.b64encode(item).decode("ascii")}
            return str(item)
        return np.vectorize(encode, otypes=[object])(value).tolist() if value.size else []
    return value.tolist()


class ServingClient:
    """Calls one model of a running `tensorflow_model_server`.

    Args:
        host: the server's host name.
        model: the model name (`--model_name` or the model config's `name`).
        grpc_port: the server's `--port`.
        rest_port: the server's `--rest_api_port`.
        version: a version number, or None for the latest.
        timeout: seconds per request.

    Example:

        ServingClient("localhost", "sst2").predict({"text": ["a fine film"]})
    """

    def __init__(self, host="localhost", model="model", grpc_port=8500, rest_port=8501,
                 version=None, timeout=10.0):
        self.host, self.model, self.version, self.timeout = host, model, version, timeout
        self.grpc_port, self.rest_port = grpc_port, rest_port
        self._stub = None

    def _grpc_stub(self):
        if self._stub is None:
            import grpc
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            channel = grpc.insecure_channel(f"{self.host}:{self.grpc_port}")
            self._stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return self._stub

    def predict(self, inputs, signature="serving_default"):
        """gRPC `Predict`; returns `{output: np.ndarray}`."""
        import tensorflow as tf

        request = predict_request(signature, inputs, self.model, self.version)
        response = self._grpc_stub().Predict(request, timeout=self.timeout)
        return {key: tf.make_ndarray(value) for key, value in response.outputs.items()}

    def rest_url(self, verb="predict"):
        version = f"/versions/{self.version}" if self.version is not None else ""
        return f"http://{self.host}:{self.rest_port}/v1/models/{self.model}{version}:{verb}"

    def predict_rest(self, inputs, signature="serving_default", row_format=False):
        """REST `:predict` with `inputs` (columnar) or `instances` (`row_format`);
        returns `{output: np.ndarray}`.

        Raises:
            RuntimeError: the server's error message (e.g. an InvalidArgument).
        """
        columns = {key: _jsonable(value) for key, value in inputs.items()}
        body = {"signature_name": signature}
        if row_format:
            count = len(next(iter(columns.values())))
            body["instances"] = [{key: column[i] for key, column in columns.items()}
                                 for i in range(count)]
        else:
            body["inputs"] = columns
        request = urllib.request.Request(self.rest_url(), json.dumps(body).encode("utf-8"),
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{self.rest_url()}: HTTP {error.code}: "
                               f"{error.read().decode('utf-8', 'replace')}") from None
        if "predictions" in answer:
            rows = answer["predictions"]
            if rows and isinstance(rows[0], dict):
                return {key: np.array([row[key] for row in rows]) for key in rows[0]}
            return {"predictions": np.array(rows)}
        outputs = answer["outputs"]
        if not isinstance(outputs, dict):
            return {"outputs": np.array(outputs)}
        return {key: np.array(value) for key, value in outputs.items()}


def request_inputs(texts, texts_b=(), questions=(), contexts=()):
    """The signature inputs for the given flags; raises ValueError on a mismatch."""
    if questions or contexts:
        if len(questions) != len(contexts):
            raise ValueError(f"{len(questions)} --question for {len(contexts)} --context")
        return {"question": list(questions), "context": list(contexts)}
    if not texts:
        raise ValueError("give --text, --input_file, or --question with --context")
    if texts_b:
        if len(texts_b) != len(texts):
            raise ValueError(f"{len(texts)} texts for {len(texts_b)} --text_b")
        return {"text_a": list(texts), "text_b": list(texts_b)}
    return {"text": list(texts)}
