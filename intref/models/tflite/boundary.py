"""The float edges of an imported TFLite model, converted as TensorFlow Lite Micro's QUANTIZE and DEQUANTIZE do.

An imported graph starts at the quantised tensor behind a float input's QUANTIZE and ends at the integer tensor
before a float output's DEQUANTIZE (``model.metadata["tflite"]`` lists them). ``run`` takes and returns the
TFLite model's own tensors: float inputs are quantised (``round_half_away(x / float32(scale)) + zp`` in float32,
clamped to the type) and float outputs dequantised (``float32(double(scale) * (q - zp))``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import IntrefInputError
from ...graph import Model
from ...spec.gemmlowp import round_half_away_f32


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    """TFLite's AffineQuantize of float32 values: the quotient in float32, rounded half away from zero."""
    x = np.asarray(x, dtype=np.float32)
    if not np.all(np.isfinite(x)):
        raise IntrefInputError("a float input holds NaN or infinity")
    rounded = round_half_away_f32(x / np.float32(scale))
    info = np.iinfo(dtype)
    return np.clip(rounded.astype(np.int64) + zero_point, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """TFLite's Dequantize: ``double(scale) * (q - zp)``, then float32."""
    return (float(scale) * (q.astype(np.int64) - zero_point).astype(np.float64)).astype(np.float32)


def boundary(model: Model) -> dict[str, Any]:
    meta = model.metadata.get("tflite")
    if not isinstance(meta, dict):
        raise IntrefInputError(f"model {model.name!r} was not imported from TFLite")
    return meta


def run(model: Model, inputs: list[np.ndarray], *, backend=None, trace=None) -> list[np.ndarray]:
    """Run an imported model on the TFLite model's inputs (in its order); returns its outputs (in its order)."""
    meta = boundary(model)
    if len(inputs) != len(model.inputs):
        raise IntrefInputError(f"the model takes {len(model.inputs)} inputs, got {len(inputs)}")
    feed = {}
    for spec, x in zip(model.inputs, inputs, strict=True):
        conv = meta["float_inputs"].get(spec.name)
        if conv is not None:
            x = quantize(x, conv["scale"], conv["zero_point"], spec.np_dtype)
        feed[spec.name] = x
    out = model.run(feed, backend=backend, trace=trace)
    results = []
    for spec in model.outputs:
        y = out[spec.name]
        conv = meta["float_outputs"].get(spec.name)
        results.append(dequantize(y, conv["scale"], conv["zero_point"]) if conv is not None else y)
    return results
