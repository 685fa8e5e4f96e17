#!/usr/bin/env bash
# Serves the exports under MODELS_DIR with the official tensorflow/serving
# container: gRPC on 8500, REST on 8501.
#
#   tfbert_export --task=classification ... --export_dir=models/sst2
#   MODELS_DIR=$PWD/models export/serve.sh
#
# MODELS_DIR must contain models.config's base paths (sst2/, squad/, ...);
# this script copies models.config and batching.config next to them.
# TF_SERVING_VERSION: 2.12.0 or later (the exports use TF Text 2.12.1 ops,
# compiled into the model server since 2.12; see docs/serving.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
models_dir="${MODELS_DIR:?set MODELS_DIR to the directory that holds the exports}"
version="${TF_SERVING_VERSION:-2.19.1}"
image="tensorflow/serving:${version}"

cp "${here}/models.config" "${here}/batching.config" "${models_dir}/"
exec docker run --rm --name tfbert-serving \
  -p 8500:8500 -p 8501:8501 \
  --mount "type=bind,source=${models_dir},target=/models,readonly" \
  "${image}" \
  --model_config_file=/models/models.config \
  --model_config_file_poll_wait_seconds=60 \
  --enable_batching=true \
  --batching_parameters_file=/models/batching.config \
  --enable_model_warmup=true \
  "$@"
