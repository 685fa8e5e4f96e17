#!/usr/bin/env bash
# REST requests against tensorflow_model_server (--rest_api_port=8501).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
host="${HOST:-localhost}:8501"
# Columnar ("inputs") and row ("instances") formats of :predict.
curl -sf -X POST "http://${host}/v1/models/sst2:predict" -d @"${here}/predict_rest_columnar.json"
curl -sf -X POST "http://${host}/v1/models/sst2:predict" -d @"${here}/predict_rest_instances.json"
# The Classify API on the serve_examples signature (tf.Example features as JSON).
curl -sf -X POST "http://${host}/v1/models/sst2:classify" -d @"${here}/classify_rest.json"
# Question answering.
curl -sf -X POST "http://${host}/v1/models/squad:predict" -d @"${here}/squad_rest.json"
# Model status and signatures.
curl -sf "http://${host}/v1/models/sst2"
curl -sf "http://${host}/v1/models/sst2/metadata"
