"""The integer parameters TFLite Micro derives from a model's float scales when it prepares each kernel.

Bit-exactness starts here: a multiplier one unit off changes outputs. So each derivation follows the reference
kernels' Prepare step to the arithmetic type, which differs between operators: CONV_2D and per-channel
FULLY_CONNECTED form ``in * w / out`` in double; per-tensor FULLY_CONNECTED first multiplies ``in * w`` in float32;
ADD, SUB, RELU and LEAKY_RELU divide in double. (The TFLite Micro build intref is tested against, the tflite-micro
wheel of 2026-10-23, forms SUB, RELU and LEAKY_RELU in double; the August 2026 sources formed them in float32, and
the two differ by one unit on about 1% of random 16-bit models.) NumPy float32 scalars reproduce the float32 steps
(IEEE single precision, round to nearest even, as C++ does them).
"""

from __future__ import annotations

import numpy as np

from ...spec import quantize_multiplier
from ...spec.gemmlowp import round_half_away_f32

f32 = np.float32
QRANGE = {"INT8": (-128, 127), "INT16": (-32768, 32767), "INT32": (-(2**31), 2**31 - 1)}
SCHEME = "tflite_double"  # MultiplyByQuantizedMultiplier without TFLITE_SINGLE_ROUNDING, the reference default


def multiplier(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier of a double: frexp, round half away, the 2^31 carry, flush below 2^-31."""
    return quantize_multiplier(float(real), SCHEME)


def quantize_value(value: float, scale: float, zero_point: int) -> int:
    """TFLite's Quantize of a float during Prepare: ``zp + round(value / scale)``, the quotient and the rounding
    (C ``roundf``, ties away from zero) in float32."""
    return zero_point + int(round_half_away_f32(f32(value) / f32(scale)))


def activation_range(activation: str | None, dtype: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: the output clamp of a fused activation, within the output type."""
    qmin, qmax = QRANGE[dtype]
    if activation in (None, "NONE"):
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, quantize_value(0.0, scale, zero_point)), qmax
    if activation == "RELU6":
        return max(qmin, quantize_value(0.0, scale, zero_point)), min(qmax, quantize_value(6.0, scale, zero_point))
    if activation == "RELU_N1_TO_1":
        return max(qmin, quantize_value(-1.0, scale, zero_point)), min(qmax, quantize_value(1.0, scale, zero_point))
    raise ValueError(f"fused activation {activation} is not supported")


def conv_multipliers(in_scale: float, w_scales, out_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Per output channel: QuantizeMultiplier(double(in) * double(w[c]) / double(out))."""
    pairs = [multiplier(float(in_scale) * float(w) / float(out_scale)) for w in w_scales]
    return np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64)


def fc_multiplier(in_scale: float, w_scale: float, out_scale: float) -> tuple[int, int]:
    """Per-tensor FULLY_CONNECTED: the product ``in * w`` is formed in float32, then divided in double."""
    return multiplier(float(f32(in_scale) * f32(w_scale)) / float(out_scale))


def add_multipliers(s1: float, s2: float, out: float, left_shift: int, subtract: bool):
    """ADD / SUB: both inputs to twice the larger input scale, then to the output (QuantizeMultiplierSmallerThan-
    OneExp), in double."""
    twice = 2.0 * max(float(s1), float(s2))
    reals = (float(s1) / twice, float(s2) / twice, twice / ((1 << left_shift) * float(out)))
    out_pairs = [multiplier(r) for r in reals]
    for real, (_, shift) in zip(reals, out_pairs, strict=True):
        if shift > 0:
            raise ValueError(f"the rescale {real} of an {'SUB' if subtract else 'ADD'} must be below 1")
    return out_pairs


def mean_multiplier(in_scale: float, out_scale: float, count: int) -> tuple[int, int]:
    """MEAN: QuantizeMultiplier(in / out) with 1/count folded in: ``shift = min(floor(log2 count), 32, 31 + s)``,
    ``M' = (M << shift) // count`` (truncating), ``s' = s - shift``."""
    m, s = multiplier(float(in_scale) / float(out_scale))
    shift = min(count.bit_length() - 1, 32, 31 + s)
    return (m << shift) // count, s - shift


def relu_multiplier(in_scale: float, out_scale: float) -> tuple[int, int]:
    """RELU: QuantizeMultiplier(double(in) / double(out))."""
    return multiplier(float(in_scale) / float(out_scale))


def leaky_relu_multipliers(in_scale: float, alpha: float, out_scale: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """LEAKY_RELU: (alpha, identity) multipliers, each quotient formed in double."""
    alpha_real = float(in_scale) * float(alpha) / float(out_scale)
    return multiplier(alpha_real), multiplier(float(in_scale) / float(out_scale))


def same_padding(size: int, k: int, stride: int, dilation: int) -> tuple[tuple[int, int], int]:
    """TFLite's SAME padding: output ceil(size / stride), the total padding split with the odd one after."""
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return (total // 2, total - total // 2), out


def valid_output(size: int, k: int, stride: int, dilation: int) -> int:
    return (size - ((k - 1) * dilation + 1) + stride) // stride
