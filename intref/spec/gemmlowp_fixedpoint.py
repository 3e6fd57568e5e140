"""gemmlowp's fixed-point arithmetic, which TFLite's integer softmax, logistic and tanh are written in.

A ``FixedPoint<int32, I>`` value is an int32 ``raw`` standing for ``raw / 2^(31 - I)``. Every function here takes
and returns raw values as int64 NumPy arrays holding int32 values, vectorised, and does exactly what the C++ does
for int32 (sums wrap in 32 bits, as the C++ does on the machines TFLite runs on):

- a product of two fixed-point values is ``srdhm`` of their raws (the result has I1 + I2 integer bits);
- ``Rescale`` to fewer integer bits is a saturating left shift, to more a rounding right shift;
- ``ExactMulByPot`` changes the integer bits and keeps the raw.

The polynomial and Newton-Raphson constants are gemmlowp's (Q0.31 or Q2.29 raws, given with their values).
"""

from __future__ import annotations

import numpy as np

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def wrap32(x) -> np.ndarray:
    """Two's complement wrap to int32 (the C++ int32 sum on every target TFLite runs on)."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + 2**31) & 0xFFFFFFFF) - 2**31


def srdhm(a, b) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul: ``(a*b + nudge) / 2^31`` truncated toward zero, nudge ``2^30`` for a
    non-negative product, ``1 - 2^30`` for a negative one (so ties go toward +inf); INT32_MIN * INT32_MIN
    saturates to INT32_MAX."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    nudged = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = np.where(nudged >= 0, nudged >> 31, -((-nudged) >> 31))
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, high)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """RoundingDivideByPOT: ``x / 2^exponent`` rounded to nearest, ties away from zero (exponent 0..31)."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + ((x & mask) > threshold)


def saturating_shift_left(x, exponent: int) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT with a positive exponent: ``x << exponent``, saturating to int32."""
    x = np.asarray(x, dtype=np.int64)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def rounding_half_sum(a, b) -> np.ndarray:
    """RoundingHalfSum: ``(a + b + sign(a + b)) / 2`` truncated toward zero (sign +1 for a sum of 0)."""
    s = np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64)
    t = s + np.where(s >= 0, 1, -1)
    return np.where(t >= 0, t >> 1, -((-t) >> 1))


def exp_on_interval_between_negative_one_quarter_and_0_excl(a) -> np.ndarray:
    """exp(a) for a Q0.31 ``a`` in [-1/4, 0): a degree-4 Taylor polynomial around -1/8."""
    exp_minus_one_eighth = 1895147668  # exp(-1/8) in Q0.31
    one_third = 715827883  # 1/3 in Q0.31
    x = wrap32(np.asarray(a, dtype=np.int64) + (1 << 28))  # a + 1/8
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    tail = rounding_divide_by_pot(wrap32(srdhm(wrap32(x4_over_4 + x3), one_third) + x2), 1)
    return wrap32(exp_minus_one_eighth + srdhm(exp_minus_one_eighth, wrap32(x + tail)))


# exp(-2^k) in Q0.31 for k = -2 .. 4: the barrel shifter of exp_on_negative_values
_EXP_NEG_POT = (
    (-2, 1672461947),
    (-1, 1302514674),
    (0, 790015084),
    (1, 290630308),
    (2, 39332535),
    (3, 720401),
    (4, 242),
)


def exp_on_negative_values(a, integer_bits: int) -> np.ndarray:
    """exp(a) in Q0.31 for a ``FixedPoint<int32, integer_bits>`` ``a <= 0``: the polynomial on ``a mod 1/4``,
    times exp(-2^k) for each bit k of the rest; exactly 1 (INT32_MAX) at 0; 0 below -32 when integer_bits > 5."""
    a = np.asarray(a, dtype=np.int64)
    frac = 31 - integer_bits
    quarter = 1 << (frac - 2)
    a_mod = wrap32((a & (quarter - 1)) - quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(saturating_shift_left(a_mod, integer_bits))
    remainder = wrap32(a_mod - a)
    for k, multiplier in _EXP_NEG_POT:
        if integer_bits > k:
            bit = np.int64(1) << (frac + k)
            result = np.where((remainder & bit) != 0, srdhm(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, INT32_MAX, result)


def _newton_reciprocal_of_half_denominator(half_denominator: np.ndarray) -> np.ndarray:
    """Three Newton-Raphson steps for 1/d, d = half_denominator in [1/2, 1), starting from 48/17 - 32/17 d;
    returns Q2.29."""
    x = wrap32(1515870810 + srdhm(half_denominator, -1010580540))  # 48/17 + (-32/17) d, Q2.29
    for _ in range(3):
        one_minus = wrap32((1 << 29) - srdhm(half_denominator, x))  # 1 - d x, Q2.29
        x = wrap32(x + saturating_shift_left(srdhm(x, one_minus), 2))  # Q4.27 product rescaled to Q2.29
    return x


def one_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """1 / (1 + a) in Q0.31 for a Q0.31 ``a`` in [0, 1)."""
    x = _newton_reciprocal_of_half_denominator(rounding_half_sum(a, INT32_MAX))
    return saturating_shift_left(x, 1)  # ExactMulByPot<-1> (Q1.30, same raw), then Rescale<0>


def one_minus_x_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """(1 - a) / (1 + a) in Q0.31 for a Q0.31 ``a`` in [0, 1)."""
    x = _newton_reciprocal_of_half_denominator(rounding_half_sum(a, INT32_MAX))
    return saturating_shift_left(wrap32(x - (1 << 29)), 2)  # x - 1 in Q2.29, Rescale<0>


def logistic(a, integer_bits: int) -> np.ndarray:
    """1 / (1 + exp(-a)) in Q0.31 for a ``FixedPoint<int32, integer_bits>``; exactly 1/2 (2^30) at 0."""
    a = np.asarray(a, dtype=np.int64)
    positive = a > 0
    magnitude = np.where(positive, a, wrap32(-a))
    if_positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(wrap32(-magnitude), integer_bits))
    if_negative = wrap32(INT32_MAX - if_positive)
    return np.where(a == 0, 1 << 30, np.where(positive, if_positive, if_negative))


def tanh(a, integer_bits: int) -> np.ndarray:
    """tanh(a) in Q0.31 for a ``FixedPoint<int32, integer_bits>``: (1 - exp(-2|a|)) / (1 + exp(-2|a|)), signed;
    exactly 0 at 0."""
    a = np.asarray(a, dtype=np.int64)
    negative = a < 0
    n = np.where(negative, a, wrap32(-a))
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))  # exp(2n): raw kept
    return np.where(a == 0, 0, np.where(negative, wrap32(-t), t))


def count_leading_zeros32(x) -> np.ndarray:
    """Leading zero bits of ``x`` as a uint32 (32 for 0)."""
    x = np.asarray(x, dtype=np.int64) & 0xFFFFFFFF
    bits = np.zeros(x.shape, dtype=np.int64)
    nonzero = x > 0
    bits[nonzero] = np.floor(np.log2(x[nonzero].astype(np.float64))).astype(np.int64) + 1
    # float64 log2 can round up just below a power of two: correct by one where needed
    bits = np.where(nonzero & ((np.int64(1) << np.maximum(bits - 1, 0)) > x), bits - 1, bits)
    return 32 - bits


def get_reciprocal(x, x_integer_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's GetReciprocal of a positive ``FixedPoint<int32, x_integer_digits>``: ``x`` is normalised to
    ``1 + f`` (f in [0, 1)) by shifting out its headroom; returns ``(1 / (1 + f)`` in Q0.31, the number of bits
    by which x exceeds 1)``."""
    x = np.asarray(x, dtype=np.int64)
    headroom_plus_one = count_leading_zeros32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted_minus_one = wrap32(((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one), num_bits_over_unit
