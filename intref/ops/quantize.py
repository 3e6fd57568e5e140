"""The boundary of the integer region: float values to integers, ``y = clamp(round_half_even(x / scale) + zp)``.

As ONNX QuantizeLinear: the quotient is the IEEE float64 division of the float32 input by the float64 scale
(correctly rounded, so the same on every machine), rounded half to even, then the zero point and the clamp.
Non-finite inputs are errors.
"""

from __future__ import annotations

import math

import numpy as np

from ..spec import dtype_for_range


def check_quantize(x, scale, zero_point, lo, hi, name):
    if not isinstance(x, np.ndarray) or x.dtype != np.float32:
        raise TypeError(f"{name}: x must be a float32 array")
    if not (isinstance(scale, float) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"{name}: scale must be a positive finite float, got {scale!r}")
    for label, v in (("zero_point", zero_point), ("lo", lo), ("hi", hi)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name}: {label} must be an integer, got {v!r}")
    if not lo <= zero_point <= hi:
        raise ValueError(f"{name}: zero point {zero_point} is outside [{lo}, {hi}]")
    dtype_for_range(lo, hi)
    if x.size and not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: input holds NaN or infinity")


def quantize(
    x: np.ndarray, scale: float, zero_point: int = 0, lo: int = -128, hi: int = 127, *, name: str = "quantize"
) -> np.ndarray:
    """float32 -> int8/16/32 (the narrowest type holding [lo, hi])."""
    check_quantize(x, scale, zero_point, lo, hi, name)
    with np.errstate(over="ignore"):  # an overflow to +-inf is clamped below, like every other large value
        q = np.rint(np.asarray(x.astype(np.float64) / scale))  # rint rounds half to even
    q = np.clip(q, lo - zero_point, hi - zero_point)
    return np.asarray(q.astype(np.int64) + zero_point).astype(dtype_for_range(lo, hi))
