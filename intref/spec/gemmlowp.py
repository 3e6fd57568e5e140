"""gemmlowp's fixed-point arithmetic and the TFLite helpers built on it, exactly, vectorised.

TFLite's integer softmax, logistic and tanh are written in gemmlowp's ``FixedPoint<int32, I>``: an int32 ``raw``
standing for ``raw / 2^(31 - I)`` (``QI.(31-I)``). Every function here takes and returns raw values as int64
NumPy arrays holding int32 values (anything ``np.asarray`` turns into integers is accepted) and broadcasts like
NumPy. The C++ rules this follows:

- a product of two fixed-point values is ``saturating_rounding_doubling_high_mul`` of their raws, and its integer
  bits are the sum of theirs;
- ``Rescale<J>`` of a ``QI`` value is ``saturating_rounding_multiply_by_pot(raw, I - J)``: a saturating left shift
  to fewer integer bits, a rounding right shift to more; ``ExactMulByPot`` changes the integer bits, not the raw;
- sums, differences and negations wrap in 32 bits (undefined in C++, two's complement on every TFLite target);
  they cannot overflow on the inputs the TFLite kernels pass, and wrapping makes every int32 input well defined.

The polynomial and Newton-Raphson constants are gemmlowp's (Q0.31 or Q2.29 raws, given with their values).

The second part holds the TFLite helpers (``kernels/internal/common.h``) the kernels use beside gemmlowp:
``count_leading_zeros``, ``get_reciprocal``, the int16 lookup tables with linear interpolation (``LUTPopulate``
for int16 builds them in float32 at Prepare time; ``lut_lookup_int16`` reads them in integers) and the fixed
Q0.16 sigmoid table of the int16 logistic and tanh kernels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .rounding import div_pow2

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
ONE_Q0 = INT32_MAX  # FixedPoint<int32, 0>::One(): 1 is not representable, the largest raw stands for it
ONE_Q2 = 1 << 29  # FixedPoint<int32, 2>::One()


def wrap32(x) -> np.ndarray:
    """Two's complement wrap to int32: the C++ int32 sum, difference and negation on every TFLite target."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + 2**31) & 0xFFFFFFFF) - 2**31


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul (ARM VQRDMULH): ``a * b / 2^31`` rounded to nearest, ties toward +inf;
    the one product that does not fit, INT32_MIN * INT32_MIN, saturates to INT32_MAX."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    # gemmlowp adds +2^30 or 1 - 2^30 by the product's sign and truncates toward zero: that is round half up
    high = div_pow2(a * b, 31, "half_up")
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, high)


def _exponent(name: str, exponent, lo: int, hi: int) -> np.ndarray:
    e = np.asarray(exponent)
    if not np.issubdtype(e.dtype, np.integer):
        raise ValueError(f"{name}: exponent must be an integer, got dtype {e.dtype}")
    if np.any((e < lo) | (e > hi)):
        raise ValueError(f"{name}: exponent must be in [{lo}, {hi}], got {exponent}")
    return e.astype(np.int64)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """RoundingDivideByPOT: ``x / 2^exponent`` rounded to nearest, ties away from zero; exponent in [0, 31]
    (scalar or broadcasting array)."""
    e = _exponent("rounding_divide_by_pot", exponent, 0, 31)
    return div_pow2(np.asarray(x, dtype=np.int64), e, "half_away")


def saturating_rounding_multiply_by_pot(x, exponent: int) -> np.ndarray:
    """SaturatingRoundingMultiplyByPOT<exponent>: ``x * 2^exponent``. A positive exponent is a left shift that
    saturates to INT32_MIN / INT32_MAX once ``|x| > 2^(31-exponent) - 1``; a negative one is
    ``rounding_divide_by_pot(x, -exponent)`` (ties away from zero); exponent in [-31, 31]."""
    exponent = int(_exponent("saturating_rounding_multiply_by_pot", exponent, -31, 31))
    x = np.asarray(x, dtype=np.int64)
    if exponent <= 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def rescale_integer_bits(x, src_integer_bits: int, dst_integer_bits: int) -> np.ndarray:
    """gemmlowp ``Rescale<dst>`` of a ``Q(src)`` raw: ``saturating_rounding_multiply_by_pot(x, src - dst)``."""
    return saturating_rounding_multiply_by_pot(x, src_integer_bits - dst_integer_bits)


def rounding_half_sum(a, b) -> np.ndarray:
    """RoundingHalfSum (ARM VRHADD): ``(a + b) / 2`` rounded to nearest, ties away from zero (exact in 64 bits)."""
    s = np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64)
    return div_pow2(s, 1, "half_away")


def exp_on_interval_between_negative_one_quarter_and_0_excl(a) -> np.ndarray:
    """exp(a) in Q0.31 for a Q0.31 ``a`` in [-1/4, 0): the degree-4 Taylor polynomial around -1/8, every product
    rounded by ``saturating_rounding_doubling_high_mul`` and the two halvings by ``rounding_divide_by_pot``."""
    srdhm = saturating_rounding_doubling_high_mul
    exp_minus_one_eighth = 1895147668  # exp(-1/8)
    one_third = 715827883  # 1/3
    x = wrap32(np.asarray(a, dtype=np.int64) + (1 << 28))  # x = a + 1/8
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    # x^4/24 + x^3/6 + x^2/2 = ((x^4/4 + x^3) / 3 + x^2) / 2
    tail = rounding_divide_by_pot(wrap32(srdhm(wrap32(x4_over_4 + x3), one_third) + x2), 1)
    return wrap32(exp_minus_one_eighth + srdhm(exp_minus_one_eighth, wrap32(x + tail)))


# exp(-2^k) in Q0.31, k = -2 .. 4: the barrel shifter of exp_on_negative_values
_EXP_OF_MINUS_POWER_OF_TWO = (
    (-2, 1672461947),  # exp(-1/4)
    (-1, 1302514674),  # exp(-1/2)
    (0, 790015084),  # exp(-1)
    (1, 290630308),  # exp(-2)
    (2, 39332535),  # exp(-4)
    (3, 720401),  # exp(-8)
    (4, 242),  # exp(-16)
)


def _integer_bits(name: str, integer_bits: int, hi: int) -> int:
    if isinstance(integer_bits, bool) or not isinstance(integer_bits, (int, np.integer)):
        raise ValueError(f"{name}: integer_bits must be an integer, got {integer_bits!r}")
    if not 0 <= int(integer_bits) <= hi:
        raise ValueError(f"{name}: integer_bits must be in [0, {hi}], got {integer_bits}")
    return int(integer_bits)


def exp_on_negative_values(a, integer_bits: int) -> np.ndarray:
    """exp(a) in Q0.31 for a ``Q(integer_bits)`` ``a <= 0`` (integer_bits in [0, 29]).

    ``a`` is split into ``r = (a mod 1/4) - 1/4`` in [-1/4, 0), whose exp is the polynomial (after a saturating
    rescale to Q0.31), and ``r - a``, whose set bits 2^k (k = -2 .. min(4, integer_bits - 1)) each multiply the
    result by the constant exp(-2^k) (rounded products). Exactly ONE_Q0 at 0; 0 below -32 when integer_bits > 5.
    """
    integer_bits = _integer_bits("exp_on_negative_values", integer_bits, 29)
    a = np.asarray(a, dtype=np.int64)
    fractional_bits = 31 - integer_bits
    quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_quarter = wrap32((a & (quarter - 1)) - quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale_integer_bits(a_mod_quarter_minus_quarter, integer_bits, 0)
    )
    remainder = wrap32(a_mod_quarter_minus_quarter - a)
    for k, exp_minus_two_to_k in _EXP_OF_MINUS_POWER_OF_TWO:
        if integer_bits > k:
            bit_set = (remainder & (np.int64(1) << (fractional_bits + k))) != 0
            result = np.where(bit_set, saturating_rounding_doubling_high_mul(result, exp_minus_two_to_k), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)  # a < -32
    return np.where(a == 0, ONE_Q0, result)


def _newton_reciprocal_of_half_denominator(half_denominator: np.ndarray) -> np.ndarray:
    """1 / d in Q2.29 for a Q0.31 ``d`` in [1/2, 1): x0 = 48/17 - 32/17 d, then three Newton-Raphson steps
    x += Rescale<2>(x (1 - d x)), each product rounded, the rescale a saturating left shift by 2."""
    srdhm = saturating_rounding_doubling_high_mul
    x = wrap32(1515870810 + srdhm(half_denominator, -1010580540))  # 48/17 and -32/17 in Q2.29
    for _ in range(3):
        one_minus_dx = wrap32(ONE_Q2 - srdhm(half_denominator, x))
        x = wrap32(x + rescale_integer_bits(srdhm(x, one_minus_dx), 4, 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """1 / (1 + a) in Q0.31 for a Q0.31 ``a`` in [0, 1): Newton-Raphson on ``d = rounding_half_sum(a, ONE_Q0)``
    gives 1/d = 2/(1 + a) in Q2.29, read as Q1.30 (ExactMulByPot<-1>) and rescaled to Q0.31 with saturation."""
    x = _newton_reciprocal_of_half_denominator(rounding_half_sum(a, ONE_Q0))
    return rescale_integer_bits(x, 1, 0)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """(1 - a) / (1 + a) in Q0.31 for a Q0.31 ``a`` in [0, 1): 2/(1 + a) as above, minus 1 in Q2.29 (wrapping),
    rescaled to Q0.31 with saturation."""
    x = _newton_reciprocal_of_half_denominator(rounding_half_sum(a, ONE_Q0))
    return rescale_integer_bits(wrap32(x - ONE_Q2), 2, 0)


def logistic_on_positive_values(a, integer_bits: int) -> np.ndarray:
    """1 / (1 + exp(-a)) in Q0.31 for a ``Q(integer_bits)`` ``a > 0``: one_over_one_plus_x of exp(-a)."""
    a = np.asarray(a, dtype=np.int64)
    return one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(wrap32(-a), integer_bits))


def logistic(a, integer_bits: int) -> np.ndarray:
    """1 / (1 + exp(-a)) in Q0.31 for any ``Q(integer_bits)`` ``a`` (integer_bits in [0, 29]): the positive-values
    helper on |a| (negation wraps), ``ONE_Q0 - it`` for a < 0, exactly 2^30 (1/2) at 0."""
    a = np.asarray(a, dtype=np.int64)
    positive = a > 0
    if_positive = logistic_on_positive_values(np.where(positive, a, wrap32(-a)), integer_bits)
    if_negative = wrap32(ONE_Q0 - if_positive)
    return np.where(a == 0, 1 << 30, np.where(positive, if_positive, if_negative))


def neg_tanh_on_negative_values(a, integer_bits: int) -> np.ndarray:
    """-tanh(a) in Q0.31 for a ``Q(integer_bits)`` ``a < 0``: (1 - e) / (1 + e) with e = exp(2a), where 2a is
    the same raw read with one more integer bit (ExactMulByPot<1>), so integer_bits is at most 28."""
    integer_bits = _integer_bits("neg_tanh_on_negative_values", integer_bits, 28)
    return one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(a, integer_bits + 1))


def tanh(a, integer_bits: int) -> np.ndarray:
    """tanh(a) in Q0.31 for any ``Q(integer_bits)`` ``a`` (integer_bits in [0, 28]): the negative-values helper on
    -|a| (negation wraps), negated (wrapping) for a < 0; exactly 0 at 0."""
    a = np.asarray(a, dtype=np.int64)
    negative = a < 0
    t = neg_tanh_on_negative_values(np.where(negative, a, wrap32(-a)), integer_bits)
    return np.where(a == 0, 0, np.where(negative, wrap32(-t), t))


# ---- TFLite helpers (tensorflow/lite/kernels/internal/common.h) ----


def count_leading_zeros(x) -> np.ndarray:
    """CountLeadingZeros of ``x`` read as a uint32 (its low 32 bits): 32 for 0."""
    v = np.asarray(x, dtype=np.int64) & 0xFFFFFFFF
    bits = np.zeros(v.shape, dtype=np.int64)
    for step in (16, 8, 4, 2, 1):  # binary search for the bit length, exact in integers
        big = v >= (np.int64(1) << step)
        bits = bits + np.where(big, step, 0)
        v = np.where(big, v >> step, v)
    return 32 - (bits + (v > 0))


def get_reciprocal(x, x_integer_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """TFLite's GetReciprocal of a ``Q(x_integer_bits)`` ``x > 0``: shifting x left by its leading zeros (as a
    uint32) normalises it to ``1 + f`` with f in [0, 1); returns ``(1 / (1 + f)`` in Q0.31 by
    ``one_over_one_plus_x_for_x_in_0_1``, ``num_bits_over_unit = x_integer_bits - leading zeros)``, so that
    1/x = reciprocal * 2^-num_bits_over_unit. x = 0 (a shift by 32 in C) is refused."""
    x = np.asarray(x, dtype=np.int64)
    if np.any(wrap32(x) == 0):
        raise ValueError("get_reciprocal: x must be nonzero (TFLite shifts a uint32 by 32 for 0)")
    headroom_plus_one = count_leading_zeros(x)
    num_bits_over_unit = x_integer_bits - headroom_plus_one
    shifted_minus_one = wrap32(((x & 0xFFFFFFFF) << headroom_plus_one) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one), num_bits_over_unit


INT16_LUT_SIZE = 513  # 512 segments of the int16 range, plus the end point of the last one


def round_half_away_f32(x) -> np.ndarray:
    """C ``roundf`` (TfLiteRound on float): to the nearest integer, ties away from zero, exactly in float32."""
    x = np.asarray(x, dtype=np.float32)
    whole = np.trunc(x)
    with np.errstate(invalid="ignore"):  # inf - inf: infinities and NaN come back as they are
        up = np.abs(x - whole) >= np.float32(0.5)  # the fraction is exact in float32
    return (whole + np.where(up, np.sign(x), np.float32(0))).astype(np.float32)


def lut_populate_int16(
    input_scale: float,
    input_zero_point: int,
    output_scale: float,
    output_zero_point: int,
    transform: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """TFLite's ``LUTPopulate<int16_t>`` (float32): the 513-entry table of ``transform`` over the int16 input range.

    Every step is a float32 operation as the C++ does it (scales and zero points are first taken as float32 and
    int). With ``lo, hi`` the dequantised ends of the int16 input range, ``step = (hi - lo) / 512`` and
    ``k = 65536 / (out_max - out_min)``: entry i (< 512) is ``round(f(x_i) k) - bias_i`` with
    ``x_i = lo + i step`` and ``bias_i = round((round((f(x_(i+1)) k + round(f(x_i) k)) / 2) -
    round(f(x_i + step/2) k)) / 2)`` (half the error of linear interpolation at the segment's midpoint), clamped
    to int16; entry 512 is ``round(f(hi) k)``, clamped. ``round`` is ``roundf``. ``transform`` maps float32
    arrays to float32 arrays (the C++ transform, e.g. ``expf`` correctly rounded).
    """
    f32 = np.float32
    in_scale, out_scale = f32(input_scale), f32(output_scale)
    in_zp, out_zp = int(input_zero_point), int(output_zero_point)
    input_min = in_scale * f32(-32768 - in_zp)
    input_max = in_scale * f32(32767 - in_zp)
    output_min = out_scale * f32(-32768 - out_zp)
    output_max = out_scale * f32(32767 - out_zp)
    nb_steps = INT16_LUT_SIZE - 1
    step = (input_max - input_min) / f32(nb_steps)
    half_step = step / f32(2)
    scaling_inv = f32(65536) / (output_max - output_min)

    def f(v: np.ndarray) -> np.ndarray:
        out = np.asarray(transform(np.asarray(v, dtype=np.float32)))
        if out.dtype != np.float32:
            raise TypeError(f"lut_populate_int16: transform must return float32, got {out.dtype}")
        return out

    with np.errstate(over="ignore", invalid="ignore"):  # infinities clamp as in C; NaN is refused below
        i = np.arange(nb_steps, dtype=np.float32)
        start = input_min + i * step
        val = f(start)
        val_midpoint = f(start + half_step)
        val_next = f(input_min + (i + f32(1)) * step)
        sample = round_half_away_f32(val * scaling_inv)
        midpoint_interp = round_half_away_f32((val_next * scaling_inv + sample) / f32(2))
        midpoint = round_half_away_f32(val_midpoint * scaling_inv)
        bias = round_half_away_f32((midpoint_interp - midpoint) / f32(2))
        lut = np.empty(INT16_LUT_SIZE, dtype=np.float32)
        lut[:nb_steps] = sample - bias
        lut[nb_steps] = round_half_away_f32(f(np.asarray([input_max], dtype=np.float32)) * scaling_inv)[0]
    if np.any(np.isnan(lut)):
        raise ValueError("lut_populate_int16: an entry is NaN (C leaves its conversion to int16 undefined)")
    return np.clip(lut, f32(-32768), f32(32767)).astype(np.int16)


def lut_lookup_int16(value, lut: np.ndarray) -> np.ndarray:
    """TFLite's int16 ``LUTLookup``: the top 9 bits of ``value`` (an int16) pick segment ``256 + (value >> 7)``;
    the low 7 bits interpolate, ``base + ((slope * (value & 127) + 64) >> 7)``, with ``slope`` the difference of
    the segment's ends wrapped to int16 and the sum wrapped to int16 (both as the C++ stores them)."""
    v = np.asarray(value, dtype=np.int64)
    if np.any((v < -32768) | (v > 32767)):
        raise ValueError("lut_lookup_int16: value must be in the int16 range")
    table = np.asarray(lut, dtype=np.int64)
    if table.shape != (INT16_LUT_SIZE,):
        raise ValueError(f"lut_lookup_int16: lut must have {INT16_LUT_SIZE} entries, got shape {table.shape}")
    index = 256 + (v >> 7)
    base = table[index]
    slope = ((table[index + 1] - base + 2**15) & 0xFFFF) - 2**15
    return (((base + ((slope * (v & 0x7F) + 64) >> 7)) + 2**15) & 0xFFFF) - 2**15


# sigmoid(i / 24) in Q0.16 for i = 0 .. 255, TFLite's table for the int16 LOGISTIC and TANH kernels. Its entries
# are tuned for linear interpolation (not the nearest Q0.16 value of sigmoid), so they are data, not a formula.
# fmt: off
SIGMOID_TABLE_UINT16: np.ndarray = np.array(
    [
        32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064,
        42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464,
        50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503,
        56823, 57133, 57433, 57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
        60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666,
        62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968,
        64030, 64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687,
        64721, 64754, 64786, 64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
        65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258, 65269, 65280, 65291,
        65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367, 65374, 65381, 65387, 65393, 65399, 65404,
        65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465,
        65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
        65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516,
        65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524, 65525, 65525,
        65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530,
        65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
        65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
        65535,
    ],
    dtype=np.int64,
)
# fmt: on
SIGMOID_TABLE_UINT16.setflags(write=False)
