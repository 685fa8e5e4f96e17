#!/usr/bin/env bash
# gRPC PredictionService/Predict with grpcurl (https://github.com/fullstorydev/grpcurl),
# using the protos of tensorflow/serving and tensorflow (checked out in $PROTO_ROOT).
# String tensors travel as base64 in string_val: "YSBmaW5lIGZpbG0=" is "a fine film".
# The Python equivalent: tfbert_serving_client --model_name=sst2 --text="a fine film"
set -euo pipefail
grpcurl -plaintext \
  -import-path "${PROTO_ROOT:?}/serving" -import-path "${PROTO_ROOT}/tensorflow" \
  -proto tensorflow_serving/apis/prediction_service.proto \
  -d '{"model_spec": {"name": "sst2", "signature_name": "serving_default"},
       "inputs": {"text": {"dtype": "DT_STRING", "tensor_shape": {"dim": [{"size": 1}]},
                           "string_val": ["YSBmaW5lIGZpbG0="]}}}' \
  "${HOST:-localhost}:8500" tensorflow.serving.PredictionService/Predict
