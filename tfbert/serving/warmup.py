"""`assets.extra/tf_serving_warmup_requests`: requests the model server runs at load.

TF Serving reads this TFRecord file of `PredictionLog` records and replays
them before it marks the version available, so the first user request does
not pay for graph initialisation.
"""

import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def predict_request(signature_name, inputs, model_name="model", version=None):
    """A `PredictRequest` for `signature_name` with `{input: array}`."""
    spec = model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
    if version is not None:
        spec.version.value = int(version)
    request = predict_pb2.PredictRequest(model_spec=spec)
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
    return request


def predict_log(signature_name, inputs, model_name="model"):
    """One `PredictionLog` holding a `PredictRequest` for `signature_name`."""
    request = predict_request(signature_name, inputs, model_name)
    return prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request))


def write_warmup_requests(export_dir, requests, model_name="model"):
    """Writes `[(signature_name, {input: array})]` as the export's warmup file."""
    path = os.path.join(export_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature_name, inputs in requests:
            writer.write(predict_log(signature_name, inputs, model_name).SerializeToString())
    return path


def read_warmup_requests(export_dir):
    """`[(signature_name, {input: np.ndarray})]` parsed back from the warmup file."""
    requests = []
    for record in tf.data.TFRecordDataset(os.path.join(export_dir, WARMUP_FILE)):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        requests.append((request.model_spec.signature_name,
                         {k: tf.make_ndarray(v) for k, v in request.inputs.items()}))
    return requests
