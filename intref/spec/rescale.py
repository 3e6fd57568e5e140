"""Rescale schemes: an exact integer accumulator times a fixed-point multiplier, rounded by a named rule.

Each scheme is a function ``(acc, multiplier, shift) -> int64`` that broadcasts like NumPy, so per-channel
parameters (shape ``(C,)``) apply along the last axis of ``acc``. Illegal parameters raise ``ValueError``
naming the parameter; a value that violates the scheme's own requirement raises ``RescaleError`` naming the
flat index (C order) of the first offending element. The checks run one requirement at a time over the whole
tensor, in this order: the input width, then the scheme's requirements in the order listed below (for
``tosa_double``: the value range, then the result range); the error names the first element failing the
first requirement that any element fails.

``tflite_double``  TFLite/gemmlowp ``MultiplyByQuantizedMultiplier`` (double rounding); ``shift > 0`` is a
                   left shift done in int32 before the multiply (overflow is an error, C leaves it undefined),
                   then ``SaturatingRoundingDoublingHighMul`` (ties toward +inf, saturating only for
                   INT32_MIN * INT32_MIN), then ``RoundingDivideByPOT(-shift)`` (ties away from zero).
                   multiplier in [-2^31, 2^31), shift in [-31, 30], acc int32.
``single``         TFLite ``TFLITE_SINGLE_ROUNDING`` = CMSIS-NN single = TOSA SINGLE_ROUND with TOSA shift
                   ``31 - shift``: ``(acc*M + 2^(n-1)) >> n``, ``n = 31 - shift``; one rounding, ties toward +inf.
                   multiplier in [0, 2^31), shift in [-31, 30], acc int32, result must fit int32.
``tosa_double``    TOSA ``apply_scale_32(value, multiplier, shift, double_round=true)``: shift is a right shift
                   in [2, 62]; when shift > 31 the rounding constant gains +-2^30 by the sign of ``value``.
                   TOSA's REQUIREs are errors: multiplier >= 0, -2^(shift-1) <= value < 2^(shift-1), result int32.
``tosa_scale16``   TOSA ``apply_scale_16``: 48-bit value, multiplier in [0, 2^15), shift in [2, 62], one rounding
                   (ties toward +inf), result int32.
``dyadic``         HAWQ-V3 / I-BERT / Q-ASR ``z * m / 2^e``: exactly, ties to even (the original code rounds in
                   float64, which is not exact above 2^53). m in [0, 2^31), e in [0, 62], acc up to 64 bits.
``onnx``           ONNX QuantizeLinear / QLinear*: the exact rational ``acc * scale`` for a float32 scale written
                   as ``m * 2^-e`` (m its 24-bit significand), ties to even. m in [0, 2^24), e in [0, 200].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import RescaleError
from .rounding import div_pow2

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# The reasons a RescaleError gives; every backend raises with these exact strings.
REASON_LEFT_SHIFT = "x * (1 << shift) overflows int32 (TFLite does this multiply in int32)"
REASON_RESULT = "result does not fit in int32"
REASON_TOSA_VALUE = "TOSA requires -2^(shift-1) <= value < 2^(shift-1)"


def reason_width(bits: int) -> str:
    return f"accumulator does not fit in {bits} bits"


@dataclass(frozen=True)
class SchemeLimits:
    """The legal parameters of one rescale scheme."""

    multiplier: tuple[int, int]  # inclusive
    shift: tuple[int, int]  # inclusive
    value_bits: int  # accumulators must fit in this many bits, two's complement
    shift_is_left: bool  # True: positive shift multiplies (TFLite); False: shift divides (TOSA, dyadic, ONNX)


SCHEMES: dict[str, SchemeLimits] = {
    "tflite_double": SchemeLimits((INT32_MIN, INT32_MAX), (-31, 30), 32, True),
    "single": SchemeLimits((0, INT32_MAX), (-31, 30), 32, True),
    "tosa_double": SchemeLimits((0, INT32_MAX), (2, 62), 32, False),
    "tosa_scale16": SchemeLimits((0, 2**15 - 1), (2, 62), 48, False),
    "dyadic": SchemeLimits((0, INT32_MAX), (0, 62), 64, False),
    "onnx": SchemeLimits((0, 2**24 - 1), (0, 200), 64, False),
}


def scheme_limits(scheme: str) -> SchemeLimits:
    try:
        return SCHEMES[scheme]
    except KeyError:
        raise ValueError(f"unknown rescale scheme {scheme!r}; expected one of {sorted(SCHEMES)}") from None


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask.ravel())[0])


def _check_range(name: str, scheme: str, values: np.ndarray, lo: int, hi: int) -> None:
    bad = (values < lo) | (values > hi)
    if np.any(bad):
        i = _first_bad(bad)
        where = f"{name}[{i}]" if values.ndim else name
        raise ValueError(
            f"rescale '{scheme}': {where} = {int(values.ravel()[i])} is outside the legal range [{lo}, {hi}]"
        )


def check_params(scheme: str, multiplier, shift) -> tuple[np.ndarray, np.ndarray]:
    """Validate per-tensor or per-channel parameters and return them as int64 arrays."""
    limits = scheme_limits(scheme)
    m = np.asarray(multiplier)
    s = np.asarray(shift)
    for name, arr in (("multiplier", m), ("shift", s)):
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == object):
            raise ValueError(f"rescale '{scheme}': {name} must be integers, got dtype {arr.dtype}")
        if arr.ndim > 1:
            raise ValueError(f"rescale '{scheme}': {name} must be a scalar or a per-channel vector, got {arr.shape}")
    _check_range("multiplier", scheme, m, *limits.multiplier)
    _check_range("shift", scheme, s, *limits.shift)
    return m.astype(np.int64), s.astype(np.int64)


def _require(mask: np.ndarray, scheme: str, values: np.ndarray, reason: str) -> None:
    if np.any(mask):
        i = _first_bad(mask)
        raise RescaleError(scheme, i, int(values.ravel()[i]), reason)


def _tflite_double(x: np.ndarray, m: np.ndarray, s: np.ndarray) -> np.ndarray:
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    shifted = x << left
    _require((shifted < INT32_MIN) | (shifted > INT32_MAX), "tflite_double", x, REASON_LEFT_SHIFT)
    # SaturatingRoundingDoublingHighMul: round(x*M / 2^31), ties toward +inf; the only product that does not
    # fit is INT32_MIN * INT32_MIN, which saturates to INT32_MAX.
    high = div_pow2(shifted * m, 31, "half_up")
    high = np.where((shifted == INT32_MIN) & (m == INT32_MIN), INT32_MAX, high)
    return div_pow2(high, right, "half_away")  # RoundingDivideByPOT


def _single(x: np.ndarray, m: np.ndarray, s: np.ndarray) -> np.ndarray:
    result = div_pow2(x * m, 31 - s, "half_up")
    _require((result < INT32_MIN) | (result > INT32_MAX), "single", x, REASON_RESULT)
    return result


def _tosa_double(v: np.ndarray, m: np.ndarray, s: np.ndarray) -> np.ndarray:
    half = np.int64(1) << (s - 1)
    _require((v < -half) | (v >= half), "tosa_double", v, REASON_TOSA_VALUE)
    offset = half + np.where(s > 31, np.where(v >= 0, 2**30, -(2**30)), 0)
    result = (v * m + offset) >> s
    _require((result < INT32_MIN) | (result > INT32_MAX), "tosa_double", v, REASON_RESULT)
    return result


def _tosa_scale16(v: np.ndarray, m: np.ndarray, s: np.ndarray) -> np.ndarray:
    result = div_pow2(v * m, s, "half_up")
    _require((result < INT32_MIN) | (result > INT32_MAX), "tosa_scale16", v, REASON_RESULT)
    return result


def _product_half_even(z: np.ndarray, m: np.ndarray, e: np.ndarray) -> np.ndarray:
    """round_half_even(z * m / 2^e), exact for any 64-bit z; saturates to int64 only if the result needs more."""
    if z.size == 0:
        return z.copy()
    largest = max(-int(z.min()), int(z.max()))
    fits_int64 = largest * int(m.max()) < 2**62 and int(e.max()) <= 62
    if fits_int64:
        return div_pow2(z * m, e, "half_even")
    exact = div_pow2(z.astype(object) * m.astype(object), e.astype(object), "half_even")
    return np.asarray(np.clip(exact, INT64_MIN, INT64_MAX), dtype=object).astype(np.int64)  # 0-d stays an array


_IMPLEMENTATIONS = {
    "tflite_double": _tflite_double,
    "single": _single,
    "tosa_double": _tosa_double,
    "tosa_scale16": _tosa_scale16,
    "dyadic": _product_half_even,
    "onnx": _product_half_even,
}


def check_values(scheme: str, acc: np.ndarray) -> None:
    """Raise ``RescaleError`` if an accumulator does not fit the scheme's input width."""
    bits = scheme_limits(scheme).value_bits
    if bits < 64:
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        _require((acc < lo) | (acc > hi), scheme, acc, reason_width(bits))


def most_negative_input(scheme: str, multiplier: int, shift: int) -> int:
    """The most negative int32 accumulator that ``scheme`` rescales without error, for a scalar multiplier >= 0.

    Ops that may feed arbitrarily negative values whose results all round to the same saturated end (softmax's
    differences from the row maximum) clamp their input here first, so that no legal call raises.
    """
    m, s = (int(v) for v in check_params(scheme, multiplier, shift))
    if m < 0:
        raise ValueError(f"most_negative_input: multiplier must be >= 0, got {m}")
    floor = INT32_MIN
    if scheme == "tflite_double":
        floor = -(2**31 >> max(s, 0))  # x << shift must stay in int32
    elif scheme in ("single", "tosa_scale16") and m > 0:
        n = 31 - s if scheme == "single" else s
        # (x*m + 2^(n-1)) >> n >= INT32_MIN  <=>  x >= -(2^(31+n) + 2^(n-1)) / m
        floor = -((2 ** (31 + n) + 2 ** (n - 1)) // m)
    elif scheme == "tosa_double":
        floor = -(2 ** (s - 1))  # TOSA's value range; the result then fits int32
    return max(floor, INT32_MIN)


def rescale(acc, multiplier, shift, scheme: str) -> np.ndarray:
    """Rescale ``acc`` with per-tensor or per-channel ``(multiplier, shift)`` under ``scheme``; int64 result."""
    m, s = check_params(scheme, multiplier, shift)
    acc = np.asarray(acc)
    if not np.issubdtype(acc.dtype, np.integer):
        raise ValueError(f"rescale '{scheme}': accumulator must be an integer array, got dtype {acc.dtype}")
    if acc.dtype == np.uint64 and acc.size and int(acc.max()) > INT64_MAX:
        raise ValueError(f"rescale '{scheme}': accumulator values exceed int64")
    acc = acc.astype(np.int64)
    check_values(scheme, acc)
    acc, m, s = np.broadcast_arrays(acc, m, s)
    return np.asarray(_IMPLEMENTATIONS[scheme](acc, m, s), dtype=np.int64)
