"""Serving: SavedModel exports for TensorFlow Serving, and loading them as the model server does.

* `export`: writes versioned text-in SavedModels (`ExportArchive`, vocab asset,
  warmup records) from the endpoints of a signature family:
  `classification`, `question_answering`, `tagging`, `embeddings`; `hub`
  writes the TF Hub-style preprocessing + encoder pair. See docs/serving.md.
* `native_loader`, `op_check`: load as `tensorflow_model_server` does; check ops.
* `client`: gRPC and REST client of a running model server.
"""

from tfbert.serving.native_loader import NativeLoadError, NativeSavedModel
from tfbert.serving.op_check import saved_model_ops, serving_ops, unsupported_ops

__all__ = ["NativeLoadError", "NativeSavedModel", "saved_model_ops", "serving_ops",
           "unsupported_ops"]
