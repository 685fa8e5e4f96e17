"""Serving: SavedModel exports for TensorFlow Serving, and loading them as the model server does."""

from tfbert.serving.native_loader import NativeLoadError, NativeSavedModel
from tfbert.serving.op_check import saved_model_ops, serving_ops, unsupported_ops

__all__ = ["NativeLoadError", "NativeSavedModel", "saved_model_ops", "serving_ops",
           "unsupported_ops"]
