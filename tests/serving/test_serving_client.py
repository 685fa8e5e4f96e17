"""`tfbert.serving.client` on 127.0.0.1: real gRPC (tensorflow-serving-api's
PredictionService protos) and real HTTP, against a small stand-in server that
answers from the loaded export as TF Serving's Predict and REST APIs do
(`tensorflow_model_server` itself cannot be installed here)."""

import base64
import concurrent.futures
import http.server
import json
import threading

import numpy as np
import pytest
import tensorflow as tf

from tests.serving.conftest import text_array
from tfbert.serving.client import ServingClient, request_inputs


class _PredictionService:
    def __init__(self, path):
        self.signatures = tf.saved_model.load(path).signatures

    def run(self, name, inputs):
        return {k: v.numpy() for k, v in self.signatures[name](**inputs).items()}


def _rest_value(value):
    if isinstance(value, dict):
        return base64.b64decode(value["b64"])
    return value


@pytest.fixture(scope="module")
def server(exports):
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    service = _PredictionService(exports("classification").path)

    class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            assert request.model_spec.name == "sst2"
            inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
            response = predict_pb2.PredictResponse()
            for key, value in service.run(request.model_spec.signature_name,
                                          inputs).items():
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
            return response

    grpc_server = grpc.server(concurrent.futures.ThreadPoolExecutor(2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), grpc_server)
    grpc_port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()

    class Rest(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            assert self.path == "/v1/models/sst2:predict"
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            name = body.get("signature_name", "serving_default")
            if "instances" in body:
                keys = body["instances"][0].keys()
                columns = {k: [_rest_value(row[k]) for row in body["instances"]] for k in keys}
            else:
                columns = {k: [_rest_value(v) for v in vs] for k, vs in body["inputs"].items()}
            try:
                outputs = service.run(name, {k: tf.constant(v) for k, v in columns.items()})
            except Exception as error:
                self.send_response(400)
                self.end_headers()
                self.wfile.write(json.dumps({"error": str(error)[:200]}).encode())
                return
            plain = {k: (np.char.decode(v.astype(bytes)) if v.dtype == object else v).tolist()
                     for k, v in outputs.items()}
            if "instances" in body:
                answer = {"predictions": [{k: plain[k][i] for k in plain}
                                          for i in range(len(next(iter(plain.values()))))]}
            else:
                answer = {"outputs": plain}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Rest)
    thread = threading.Thread(target=http_server.serve_forever, daemon=True)
    thread.start()
    yield service, grpc_port, http_server.server_address[1]
    http_server.shutdown()
    http_server.server_close()
    grpc_server.stop(grace=None)
    thread.join(timeout=10)


@pytest.mark.slow
def test_grpc_and_rest_clients(server):
    service, grpc_port, rest_port = server
    client = ServingClient("127.0.0.1", "sst2", grpc_port=grpc_port, rest_port=rest_port,
                           timeout=30)
    texts = ["the film was a delight", "", "caf\u00e9 \u6771\u4eac"]
    expected = service.run("serving_default", {"text": tf.constant(texts)})
    got = client.predict({"text": texts})
    np.testing.assert_allclose(got["probabilities"], expected["probabilities"], atol=1e-6)
    np.testing.assert_array_equal(got["label"], expected["label"])
    for row_format in (False, True):
        rest = client.predict_rest({"text": text_array(*texts, b"\xff bad utf-8")},
                                   row_format=row_format)
        assert rest["label"].tolist()[:3] == [x.decode() for x in expected["label"]]
        np.testing.assert_allclose(rest["probabilities"][:3], expected["probabilities"],
                                   atol=1e-6)
    with pytest.raises(RuntimeError, match="HTTP 400"):
        client.predict_rest({"wrong_input": ["x"]})


def test_client_flags_are_checked():
    assert request_inputs(["a"]) == {"text": ["a"]}
    assert request_inputs(["a"], ["b"]) == {"text_a": ["a"], "text_b": ["b"]}
    assert request_inputs([], questions=["q"], contexts=["c"]) == {"question": ["q"],
                                                                   "context": ["c"]}
    with pytest.raises(ValueError, match="--question"):
        request_inputs([], questions=["q"], contexts=[])
    with pytest.raises(ValueError, match="--text"):
        request_inputs([])
