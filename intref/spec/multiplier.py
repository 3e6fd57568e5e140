"""Deriving a scheme's fixed-point ``(multiplier, shift)`` from a real scale, and dividing it by a count.

Every derivation is exact integer arithmetic on the float's own bits (``math.frexp`` and
``float.as_integer_ratio``), so it gives the same answer on every machine.

Error bounds (relative error of the represented scale against the float64 scale, for normal inputs):

- ``tflite_double`` / ``single`` (TFLite ``QuantizeMultiplier``): scale = q * 2^e with q in [0.5, 1);
  M = round_half_away(q * 2^31) in [2^30, 2^31]; M == 2^31 carries to 2^30 with e + 1. |error| <= 2^-31.
  e < -31 flushes to (0, 0) (scales below about 2^-32 become zero). ``tflite_double`` refuses e > 30 (the left
  shift would not fit int32); ``single`` saturates it to (2^31 - 1, 30) as TFLite's single-rounding build does.
- ``tosa_double`` (TOSA / MLIR ``computeMultiplierAndShiftTosaScale32``): scale = m * 2^-n with m in [1, 2),
  multiplier = round_half_away(2^30 * m), shift = 30 + n (the same as 2^31 * q, 31 - e). A shift above 62 is
  brought to 62 by shifting the multiplier right (floor), which loses precision only for scales below 2^-31.
  |error| <= 2^-31 while shift <= 62. Scales of 2^29 or more (shift < 2) are refused.
- ``tosa_scale16`` (``computeMultiplierAndShiftTosaScale16``): as above with 2^15 instead of 2^31 and
  multiplier in [2^14, 2^15). |error| <= 2^-15.
- ``dyadic`` (HAWQ-V3 ``batch_frexp``): m = round_half_up(q * 2^31), e = 31 - exponent; m == 2^31 carries to
  2^30 with e - 1 so that m fits int32 (HAWQ keeps m in float64 and does not need to). e above 62 is brought to
  62 by rounding m (half up). |error| <= 2^-31.
- ``onnx``: the scale is first rounded to float32 (ONNX scales are float32); then m is its 24-bit significand
  and e = 24 - exponent, which represents the float32 exactly (error 0 against the float32 scale).
"""

from __future__ import annotations

import math

import numpy as np

from .rescale import check_params, scheme_limits
from .rounding import div_pow2, div_round


def _round_half_away(value: float) -> int:
    num, den = value.as_integer_ratio()
    return int(div_round(num, den, "half_away"))


def _round_half_up(value: float) -> int:
    num, den = value.as_integer_ratio()
    return int(div_round(num, den, "half_up"))


def _check_scale(scale: float, scheme: str, allow_negative: bool) -> float:
    scale = float(scale)
    if not math.isfinite(scale):
        raise ValueError(f"scale must be finite for scheme '{scheme}', got {scale}")
    if scale < 0 and not allow_negative:
        raise ValueError(f"scale must be >= 0 for scheme '{scheme}', got {scale}")
    return scale


def _tflite(scale: float, scheme: str) -> tuple[int, int]:
    scale = _check_scale(scale, scheme, allow_negative=scheme == "tflite_double")
    if scale == 0.0:
        return 0, 0
    q, shift = math.frexp(scale)
    m = _round_half_away(q * 2.0**31)
    if m == 2**31:  # the carry; a negative scale may keep -2^31, which fits int32
        m //= 2
        shift += 1
    if shift < -31:  # flush to zero, as TFLite does
        return 0, 0
    if shift > 30:
        if scheme == "single":
            return 2**31 - 1, 30
        raise ValueError(f"scale {scale} is too large for 'tflite_double' (needs a left shift of {shift} > 30)")
    return m, shift


def _tosa(scale: float, scheme: str) -> tuple[int, int]:
    scale = _check_scale(scale, scheme, allow_negative=False)
    if scale == 0.0:
        return 0, 2
    bits = 31 if scheme == "tosa_double" else 15
    q, exponent = math.frexp(scale)
    m = _round_half_away(q * 2.0**bits)
    shift = bits - exponent
    if m == 2**bits:
        m //= 2
        shift -= 1
    if shift > 62:
        m >>= shift - 62
        shift = 62
    if shift < 2:
        raise ValueError(f"scale {scale} is too large for '{scheme}' (shift {shift} < 2)")
    return m, shift


def _dyadic(scale: float) -> tuple[int, int]:
    scale = _check_scale(scale, "dyadic", allow_negative=False)
    if scale == 0.0:
        return 0, 0
    q, exponent = math.frexp(scale)
    m = _round_half_up(q * 2.0**31)
    e = 31 - exponent
    if m == 2**31:
        m //= 2
        e -= 1
    if e > 62:
        m = int(div_pow2(np.array(m, dtype=object), e - 62, "half_up"))  # Python ints: e - 62 may exceed 62
        e = 62
    if e < 0:
        raise ValueError(f"scale {scale} is too large for 'dyadic' (exponent {e} < 0)")
    return m, e


def _onnx(scale: float) -> tuple[int, int]:
    scale = _check_scale(scale, "onnx", allow_negative=False)
    if scale >= 2.0**24:  # also keeps the float32 cast below from overflowing to inf
        raise ValueError(f"scale {scale} is outside the range 'onnx' represents (must be below 2^24)")
    scale32 = float(np.float32(scale))
    if scale32 == 0.0:
        return 0, 0
    q, exponent = math.frexp(scale32)
    m = int(q * 2.0**24)  # exact: a float32 significand has 24 bits
    e = 24 - exponent  # float32 subnormals reach at most e = 173
    if e < 0:
        raise ValueError(f"scale {scale} is outside the range 'onnx' represents")
    return m, e


def quantize_multiplier(scale: float, scheme: str) -> tuple[int, int]:
    """The ``(multiplier, shift)`` that represents ``scale`` under ``scheme``."""
    scheme_limits(scheme)
    if scheme in ("tflite_double", "single"):
        return _tflite(scale, scheme)
    if scheme in ("tosa_double", "tosa_scale16"):
        return _tosa(scale, scheme)
    if scheme == "dyadic":
        return _dyadic(scale)
    return _onnx(scale)


def quantize_multipliers(scales, scheme: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (or scalar) version of :func:`quantize_multiplier`; returns int64 arrays of the same shape."""
    arr = np.asarray(scales, dtype=np.float64)
    pairs = [quantize_multiplier(float(v), scheme) for v in arr.ravel()]
    m = np.array([p[0] for p in pairs], dtype=np.int64).reshape(arr.shape)
    s = np.array([p[1] for p in pairs], dtype=np.int64).reshape(arr.shape)
    return m, s


def represented_scale(multiplier, shift, scheme: str) -> np.ndarray:
    """The real number a ``(multiplier, shift)`` pair stands for, as float64 (for reports and tests)."""
    m, s = check_params(scheme, multiplier, shift)
    m = m.astype(np.float64)
    if scheme in ("tflite_double", "single"):
        return m * np.exp2(s.astype(np.float64) - 31)
    return m * np.exp2(-s.astype(np.float64))


def divide_multiplier(multiplier, shift, count: int, scheme: str) -> tuple[np.ndarray, np.ndarray]:
    """``(multiplier, shift)`` for the scale divided by a positive integer ``count``, in integers only.

    With k = floor(log2(count)), the new multiplier is round_half_up(multiplier * 2^k / count), which lies in
    (multiplier/2, multiplier], and the shift moves by k. Used by mean-over-time, whose count is only known at
    run time, so hardware can derive the same pair without floating point.
    """
    m, s = check_params(scheme, multiplier, shift)
    count = int(count)
    if not 1 <= count < 2**31:
        raise ValueError(f"divide_multiplier: count must be in [1, 2^31), got {count}")
    k = count.bit_length() - 1
    new_m = div_round(m << k, np.int64(count), "half_up").astype(np.int64)
    new_s = s - k if scheme_limits(scheme).shift_is_left else s + k
    lo, hi = scheme_limits(scheme).shift
    if np.any((new_s < lo) | (new_s > hi)):
        raise ValueError(
            f"divide_multiplier: dividing by count {count} moves shift outside [{lo}, {hi}] for scheme '{scheme}'"
        )
    return new_m, new_s
