"""Rounding an exact quotient to an integer.

Every function takes integer NumPy arrays (int64, or object arrays of Python ints when values may not fit
in 64 bits) or plain Python ints, and broadcasts like NumPy. Nothing here touches floating point.

Modes:
- ``half_up``    ties toward +infinity      (gemmlowp SaturatingRoundingDoublingHighMul, TFLite single, TOSA)
- ``half_away``  ties away from zero        (gemmlowp RoundingDivideByPOT, C ``round``)
- ``half_even``  ties to the even integer   (ONNX, NumPy ``round``, IEEE default)
- ``floor``      toward -infinity           (arithmetic right shift)
- ``trunc``      toward zero                (C integer division)
"""

from __future__ import annotations

from typing import Literal

import numpy as np

RoundingMode = Literal["half_up", "half_away", "half_even", "floor", "trunc"]
ROUNDING_MODES: tuple[str, ...] = ("half_up", "half_away", "half_even", "floor", "trunc")


def _round_up_needed(x, q, rem, den_half_cmp, mode: str):
    """Whether floor quotient ``q`` must be raised by one.

    ``den_half_cmp`` is the sign of ``2*rem - den`` (-1 below half, 0 exactly half, +1 above), and
    ``rem`` is the non-negative remainder of the floor division.
    """
    if mode == "floor":
        return np.zeros_like(rem, dtype=bool)
    if mode == "trunc":
        return (rem != 0) & (x < 0)
    above, tie = den_half_cmp > 0, den_half_cmp == 0
    if mode == "half_up":
        return above | tie
    if mode == "half_away":
        return above | (tie & (x >= 0))
    if mode == "half_even":
        return above | (tie & ((q & 1) == 1))
    raise ValueError(f"unknown rounding mode {mode!r}; expected one of {ROUNDING_MODES}")


def _raise_where(q: np.ndarray, up: np.ndarray) -> np.ndarray:
    """``q + up`` keeping q's dtype (int64 stays int64, object stays Python ints)."""
    return q + up.astype(int if q.dtype == object else q.dtype)


def _sign_of_difference(a, b):
    """Elementwise sign of ``a - b`` as int8 (works for int64 and object arrays alike)."""
    return (a > b).astype(np.int8) - (a < b).astype(np.int8)


def div_pow2(x, n, mode: RoundingMode):
    """``x / 2**n`` rounded with ``mode``, for ``n >= 0``.

    With int64 inputs the caller guarantees ``n <= 62``; object arrays of Python ints take any ``n``.
    """
    x = np.asarray(x)
    n = np.asarray(n)
    shape = np.broadcast_shapes(x.shape, n.shape)
    x, n = np.atleast_1d(x, n)  # 0-d object arrays would otherwise decay to Python ints mid-way
    if np.any(n < 0):
        raise ValueError("div_pow2: shift n must be >= 0")
    if x.dtype == object:
        n = n.astype(object)  # so that 1 << n below is a Python int, not a wrapped int64
    q = x >> n
    rem = x - (q << n)
    # rem in [0, 2**n): compare 2*rem with 2**n without forming 2**(n+1) (which would overflow at n = 62).
    half = (np.ones_like(n) << n) >> 1
    # n == 0 leaves no fraction: treat it as "below half" so no mode rounds up.
    cmp = np.where(n == 0, -1, _sign_of_difference(rem, half))
    up = _round_up_needed(x, q, rem, cmp, mode)
    return _raise_where(q, up).reshape(shape)


def div_round(num, den, mode: RoundingMode):
    """``num / den`` rounded with ``mode``, for ``den > 0`` (any integer ``den``, not just powers of two)."""
    num = np.asarray(num)
    den = np.asarray(den)
    shape = np.broadcast_shapes(num.shape, den.shape)
    num, den = np.atleast_1d(num, den)
    if np.any(den <= 0):
        raise ValueError("div_round: denominator must be > 0")
    q = num // den
    rem = num - q * den
    cmp = _sign_of_difference(rem, den - rem)  # sign of (rem - den/2), without forming 2*rem
    up = _round_up_needed(num, q, rem, cmp, mode)
    return _raise_where(q, up).reshape(shape)
