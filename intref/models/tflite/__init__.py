"""TensorFlow Lite int8 models: import into intref's graph with the arithmetic of the TFLite Micro reference
kernels (:mod:`.importer`), from a flatbuffer parsed with the ``tflite`` package (:mod:`.reader`)."""

from .importer import UnsupportedTfliteError, import_tflite, supported_operators
from .reader import TfliteFormatError, read_tflite

__all__ = ["TfliteFormatError", "UnsupportedTfliteError", "import_tflite", "read_tflite", "supported_operators"]
