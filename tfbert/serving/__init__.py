"""Serving: SavedModel exports for TensorFlow Serving, and loading them as the model server does."""

from tfbert.serving.native_loader import NativeLoadError, NativeSavedModel

__all__ = ["NativeLoadError", "NativeSavedModel"]
