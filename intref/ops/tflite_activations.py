"""TFLite's integer softmax, logistic and tanh (int8), as the TensorFlow Lite Micro reference kernels compute them.

All three are written in gemmlowp fixed point (:mod:`intref.spec.gemmlowp_fixedpoint`). The parameters come from
the float scales with the kernels' own Prepare arithmetic (``from_scales``).

``softmax_tflite`` (last axis): ``d = x - max(x)``; entries with ``d < diff_min`` give the output minimum; the
others ``e = exp_on_negative_values(srdhm(d << left_shift, multiplier))`` (Q5.26 in, Q0.31 out), summed as
Q12.19 after a rounding shift by 12; ``y = RoundingDivideByPOT(srdhm(1/sum, e), num_bits_over_unit + 31 - bits)
+ min(out)``, clamped (bits = 8 or 16).

``logistic_tflite`` / ``tanh_tflite``: ``d = x - zp``; ``d <= -radius`` gives -128, ``d >= radius`` 127, otherwise
``v = MultiplyByQuantizedMultiplier(d, multiplier, shift)`` as Q4.27 and ``logistic(v)`` (Q0.31) rounded by 2^23
then - 128, or ``tanh(v)`` rounded by 2^24, clamped to int8. (Output scales 1/256 and 1/128 are implied.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..spec import gemmlowp_fixedpoint as fp
from ..spec import rescale
from . import _checks

SCALED_DIFF_INTEGER_BITS = 5  # softmax: the exp input is Q5.26
ACCUMULATION_INTEGER_BITS = 12  # softmax: the sum of exps is Q12.19
SIGMOID_INPUT_INTEGER_BITS = 4  # logistic and tanh (int8): the input is Q4.27


def _round_half_away(value: float) -> int:
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def _input_radius(integer_bits: int, left_shift: int, total_bits: int = 31) -> int:
    """CalculateInputRadius: the largest |input| whose rescaled value stays inside the fixed-point range."""
    return math.floor((2**integer_bits - 1) * 2.0 ** (total_bits - integer_bits) / 2.0**left_shift)


@dataclass(frozen=True)
class SoftmaxTflite:
    """TFLite int8 softmax parameters: ``(multiplier, left_shift)`` of ``beta * input_scale`` in Q5.26 and the
    smallest difference from the row maximum that is not flushed to the output minimum."""

    multiplier: int
    left_shift: int
    diff_min: int
    out_dtype: type = np.int8

    def __post_init__(self) -> None:
        if not 0 <= self.multiplier < 2**31:
            raise ValueError(f"SoftmaxTflite: multiplier = {self.multiplier} is outside [0, 2^31)")
        if not 0 <= self.left_shift <= 31:
            raise ValueError(f"SoftmaxTflite: left_shift = {self.left_shift} is outside [0, 31]")
        if self.diff_min > 0:
            raise ValueError(f"SoftmaxTflite: diff_min = {self.diff_min} must be <= 0")
        if np.dtype(self.out_dtype) not in (np.dtype(np.int8), np.dtype(np.int16)):
            raise ValueError(f"SoftmaxTflite: out_dtype must be int8 or int16, got {np.dtype(self.out_dtype)}")

    @classmethod
    def from_scales(cls, input_scale: float, beta: float, out_dtype=np.int8) -> SoftmaxTflite:
        """PreprocessSoftmaxScaling: ``min(beta * input_scale * 2^26, 2^31 - 1)`` to a multiplier >= 1 (double
        arithmetic, TFLite's QuantizeMultiplier), and ``diff_min = -CalculateInputRadius(5, left_shift)``."""
        real = min(float(beta) * float(input_scale) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)), 2.0**31 - 1.0)
        if not real >= 1.0:
            raise ValueError(f"softmax: beta * input_scale * 2^26 = {real} must be at least 1")
        q, shift = math.frexp(real)
        m = _round_half_away(q * 2.0**31)
        if m == 2**31:
            m, shift = m // 2, shift + 1
        return cls(m, shift, -_input_radius(SCALED_DIFF_INTEGER_BITS, shift), out_dtype)


def softmax_tflite(x: np.ndarray, params: SoftmaxTflite, *, name: str = "softmax_tflite") -> np.ndarray:
    """int8 x -> softmax over the last axis in int8 (scale 1/256, zero point -128) or int16 (1/65536, -32768)."""
    x = _checks.int_array(f"{name}: x", x, (np.int8,))
    if not isinstance(params, SoftmaxTflite):
        raise TypeError(f"{name}: params must be a SoftmaxTflite")
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"{name}: x needs a non-empty last axis, got shape {x.shape}")
    out_dtype = np.dtype(params.out_dtype)
    info = np.iinfo(out_dtype)
    diff = x.astype(np.int64) - x.max(axis=-1, keepdims=True)
    valid = diff >= params.diff_min
    # MultiplyByQuantizedMultiplierGreaterThanOne; |diff| << left_shift fits int32 for every valid entry
    scaled = fp.srdhm(np.where(valid, diff, 0) << params.left_shift, params.multiplier)
    exps = fp.exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS)
    parts = np.where(valid, fp.rounding_divide_by_pot(exps, ACCUMULATION_INTEGER_BITS), 0)  # Q0.31 -> Q12.19
    total = fp.wrap32(parts.sum(axis=-1, keepdims=True))
    recip, bits_over_unit = fp.get_reciprocal(total, ACCUMULATION_INTEGER_BITS)
    exponent = bits_over_unit + 31 - 8 * out_dtype.itemsize
    if np.any((exponent < 0) | (exponent > 31)):
        raise ValueError(f"{name}: the sum of exponentials is outside the range TFLite's kernel handles")
    y = fp.rounding_divide_by_pot(fp.srdhm(recip, exps), exponent) + info.min
    return np.where(valid, np.clip(y, info.min, info.max), info.min).astype(out_dtype)


@dataclass(frozen=True)
class SigmoidTflite:
    """TFLite int8 logistic/tanh parameters: the input zero point, the radius beyond which the output
    saturates, and ``(multiplier, shift)`` taking ``x - zp`` to Q4.27."""

    zero_point: int
    radius: int
    multiplier: int
    shift: int

    def __post_init__(self) -> None:
        if not -128 <= self.zero_point <= 127:
            raise ValueError(f"SigmoidTflite: zero_point = {self.zero_point} is outside the int8 range")
        if not 0 <= self.multiplier < 2**31:
            raise ValueError(f"SigmoidTflite: multiplier = {self.multiplier} is outside [0, 2^31)")
        if not -31 <= self.shift <= 30:
            raise ValueError(f"SigmoidTflite: shift = {self.shift} is outside [-31, 30]")
        if self.radius < 0:
            raise ValueError(f"SigmoidTflite: radius = {self.radius} must be >= 0")

    @classmethod
    def from_scale(cls, input_scale: float, input_zero_point: int) -> SigmoidTflite:
        """The int8 Prepare of LOGISTIC and TANH: ``frexp(input_scale * 2^27)``, its fraction rounded half away
        to Q31 (no carry), and ``radius = CalculateInputRadius(4, shift)``."""
        q, shift = math.frexp(float(input_scale) * float(1 << (31 - SIGMOID_INPUT_INTEGER_BITS)))
        m = _round_half_away(q * 2.0**31)
        if m >= 2**31:  # TFLite stores this in int32 unchecked; refuse rather than wrap
            raise ValueError(f"input scale {input_scale} rounds to a multiplier of 2^31")
        if shift > 30:
            raise ValueError(f"input scale {input_scale} is too large for TFLite's int8 logistic/tanh")
        return cls(int(input_zero_point), _input_radius(SIGMOID_INPUT_INTEGER_BITS, shift), m, shift)


def _sigmoid_input(x, params: SigmoidTflite, name: str):
    x = _checks.int_array(f"{name}: x", x, (np.int8,))
    if not isinstance(params, SigmoidTflite):
        raise TypeError(f"{name}: params must be a SigmoidTflite")
    d = x.astype(np.int64) - params.zero_point
    inside = (d > -params.radius) & (d < params.radius)
    q4 = rescale(np.where(inside, d, 0), np.int64(params.multiplier), np.int64(params.shift), "tflite_double")
    return d, inside, q4


def logistic_tflite(x: np.ndarray, params: SigmoidTflite, *, name: str = "logistic_tflite") -> np.ndarray:
    """TFLite int8 LOGISTIC (output scale 1/256, zero point -128)."""
    d, inside, q4 = _sigmoid_input(x, params, name)
    y = fp.rounding_divide_by_pot(fp.logistic(q4, SIGMOID_INPUT_INTEGER_BITS), 23) - 128
    y = np.where(inside, np.clip(y, -128, 127), np.where(d <= -params.radius, -128, 127))
    return y.astype(np.int8)


def tanh_tflite(x: np.ndarray, params: SigmoidTflite, *, name: str = "tanh_tflite") -> np.ndarray:
    """TFLite int8 TANH (output scale 1/128, zero point 0)."""
    d, inside, q4 = _sigmoid_input(x, params, name)
    y = fp.rounding_divide_by_pot(fp.tanh(q4, SIGMOID_INPUT_INTEGER_BITS), 24)
    y = np.where(inside, np.clip(y, -128, 127), np.where(d <= -params.radius, -128, 127))
    return y.astype(np.int8)
