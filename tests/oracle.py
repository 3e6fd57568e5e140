"""An independent oracle for intref's integer arithmetic: plain Python integers and fractions, no NumPy.

Each rescale scheme is written the way its public source states it (gemmlowp's
``SaturatingRoundingDoublingHighMul`` with its sign-dependent nudge and C's truncating division,
``RoundingDivideByPOT`` with mask and threshold, TFLite's single-rounding ``MultiplyByQuantizedMultiplier``,
the TOSA pseudocode ``apply_scale_32`` / ``apply_scale_16`` with their REQUIREs, HAWQ-V3's dyadic
``z * m / 2^e`` and ONNX's round half to even), not the way intref computes it, so that agreement between the
two means something. The ops are plain loops over small tensors given as nested lists, following the
definitions in the docstrings of :mod:`intref.ops`.

Errors are raised as :class:`OracleRescaleError` / :class:`OracleOverflow` carrying the flat index (C order)
of the first offending element; the tests translate them into the exceptions intref must raise.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# The width (bits, two's complement) of the value each scheme accepts.
VALUE_BITS = {"tflite_double": 32, "single": 32, "tosa_double": 32, "tosa_scale16": 48, "dyadic": 64, "onnx": 64}
SHIFT_IS_LEFT = {"tflite_double": True, "single": True}
# Legal shifts: TFLite [-31, 30]; TOSA [2, 62]; intref's own bounds for dyadic and onnx.
SHIFT_RANGE = {
    "tflite_double": (-31, 30),
    "single": (-31, 30),
    "tosa_double": (2, 62),
    "tosa_scale16": (2, 62),
    "dyadic": (0, 62),
    "onnx": (0, 200),
}


class OracleRescaleError(Exception):
    """A rescale requirement failed. ``kind`` is one of width, left_shift, result, tosa_value."""

    def __init__(self, kind: str, index: int = 0, value: int = 0) -> None:
        super().__init__(f"{kind} at {index} (value {value})")
        self.kind, self.index, self.value = kind, index, value


class OracleOverflow(Exception):
    """An accumulator did not fit under the ``error`` policy."""

    def __init__(self, index: int, value: int) -> None:
        super().__init__(f"overflow at {index} (value {value})")
        self.index, self.value = index, value


def fits(value: int, bits: int) -> bool:
    return -(1 << (bits - 1)) <= value < (1 << (bits - 1))


# ----------------------------------------------------------------------------------------------- rounding


def round_fraction(q: Fraction, mode: str) -> int:
    """Round an exact rational by the textbook definition of each mode."""
    q = Fraction(q)
    below = math.floor(q)
    above = below + 1
    rest = q - below  # in [0, 1)
    if mode == "floor":
        return below
    if mode == "trunc":
        return below if q >= 0 or rest == 0 else above
    if rest == 0:
        return below
    if rest != Fraction(1, 2):
        return above if rest > Fraction(1, 2) else below
    if mode == "half_up":
        return above
    if mode == "half_away":
        return above if q > 0 else below
    if mode == "half_even":
        return below if below % 2 == 0 else above
    raise ValueError(mode)


# ---------------------------------------------------------------------------------------- C primitives


def c_div(a: int, b: int) -> int:
    """C's integer division: the quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    """gemmlowp: the high 32 bits of 2*a*b, rounded with a nudge of 2^30 (or 1 - 2^30 when negative)."""
    overflow = a == b == INT32_MIN
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    high = c_div(ab + nudge, 1 << 31)
    return INT32_MAX if overflow else high


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    """gemmlowp: arithmetic right shift, plus one when the remainder exceeds a sign-dependent threshold."""
    assert 0 <= exponent <= 31
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


# ------------------------------------------------------------------------------------------------ schemes


def tflite_double(x: int, multiplier: int, shift: int) -> int:
    """TFLite ``MultiplyByQuantizedMultiplier`` (double rounding)."""
    left, right = (shift, 0) if shift > 0 else (0, -shift)
    shifted = x * (1 << left)
    if not fits(shifted, 32):
        raise OracleRescaleError("left_shift")
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def tflite_single(x: int, multiplier: int, shift: int) -> int:
    """TFLite ``MultiplyByQuantizedMultiplier`` built with ``TFLITE_SINGLE_ROUNDING``."""
    total_shift = 31 - shift
    rnd = 1 << (total_shift - 1)
    result = (x * multiplier + rnd) >> total_shift
    if not fits(result, 32):
        raise OracleRescaleError("result")
    return result


def tosa_apply_scale_32(value: int, multiplier: int, shift: int, double_round: bool = True) -> int:
    """TOSA pseudocode ``apply_scale_32``."""
    assert multiplier >= 0 and 2 <= shift <= 62
    if not (-(1 << (shift - 1)) <= value < (1 << (shift - 1))):
        raise OracleRescaleError("tosa_value")
    rnd = 1 << (shift - 1)
    if double_round and shift > 31:
        rnd += (1 << 30) if value >= 0 else -(1 << 30)
    result = (value * multiplier + rnd) >> shift
    if not fits(result, 32):
        raise OracleRescaleError("result")
    return result


def tosa_apply_scale_16(value: int, multiplier: int, shift: int) -> int:
    """TOSA pseudocode ``apply_scale_16`` (48-bit value, 16-bit multiplier)."""
    assert 0 <= multiplier < (1 << 15) and 2 <= shift <= 62
    rnd = 1 << (shift - 1)
    result = (value * multiplier + rnd) >> shift
    if not fits(result, 32):
        raise OracleRescaleError("result")
    return result


def _saturate64(v: int) -> int:
    return min(max(v, INT64_MIN), INT64_MAX)


def dyadic(z: int, m: int, e: int) -> int:
    """HAWQ-V3 ``round(z * m / 2^e)`` with ties to even, computed exactly."""
    return _saturate64(round_fraction(Fraction(z * m, 1 << e), "half_even"))


def onnx(acc: int, m: int, e: int) -> int:
    """ONNX: the exact product with the float32 scale ``m * 2^-e``, rounded half to even."""
    return _saturate64(round_fraction(Fraction(acc * m, 1 << e), "half_even"))


SCHEMES = {
    "tflite_double": tflite_double,
    "single": tflite_single,
    "tosa_double": lambda v, m, s: tosa_apply_scale_32(v, m, s, True),
    "tosa_scale16": tosa_apply_scale_16,
    "dyadic": dyadic,
    "onnx": onnx,
}


def rescale_one(acc: int, multiplier: int, shift: int, scheme: str) -> int:
    if not fits(acc, VALUE_BITS[scheme]):
        raise OracleRescaleError("width")
    return SCHEMES[scheme](acc, multiplier, shift)


def per_channel(param, i: int, channels: int):
    """Parameter of flat element ``i`` when parameters are a scalar or a vector along the last axis."""
    if isinstance(param, Sequence):
        return param[0] if len(param) == 1 else param[i % channels]
    return param


# The order in which intref's documentation says the requirements are checked, each over the whole tensor.
CHECK_ORDER = {
    "tflite_double": ("width", "left_shift"),
    "single": ("width", "result"),
    "tosa_double": ("width", "tosa_value", "result"),
    "tosa_scale16": ("width", "result"),
    "dyadic": ("width",),
    "onnx": ("width",),
}


def rescale_flat(values: list[int], channels: int, multiplier, shift, scheme: str) -> list[int]:
    """Rescale a flat C-order list whose last axis has ``channels`` entries.

    Errors follow the documented order: the first requirement (in ``CHECK_ORDER``) that any element fails,
    named at the first element failing it.
    """
    out, failures = [], {}
    for i, v in enumerate(values):
        try:
            out.append(rescale_one(v, per_channel(multiplier, i, channels), per_channel(shift, i, channels), scheme))
        except OracleRescaleError as exc:
            failures.setdefault(exc.kind, (i, v))
    for kind in CHECK_ORDER[scheme]:
        if kind in failures:
            raise OracleRescaleError(kind, *failures[kind])
    return out


# ------------------------------------------------------------------------------------------- accumulator


def hold(values: list[int], bits: int, policy: str) -> list[int]:
    """Hold exact sums in a ``bits``-wide two's complement register under ``policy``."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    out = []
    for i, v in enumerate(values):
        if lo <= v <= hi:
            out.append(v)
        elif policy == "error":
            raise OracleOverflow(i, v)
        elif policy == "wrap":
            out.append((v - lo) % (1 << bits) + lo)
        else:
            out.append(hi if v > hi else lo)
    return out


# --------------------------------------------------------------------------------------------- requant


@dataclass(frozen=True)
class Q:
    """An output quantisation: scheme, scalar or per-channel (multiplier, shift), zero point, clamp bounds."""

    scheme: str
    multiplier: int | list[int]
    shift: int | list[int]
    zero_point: int = 0
    lo: int = -128
    hi: int = 127

    def dtype(self) -> str:
        for name, bits in (("int8", 8), ("int16", 16), ("int32", 32)):
            if fits(self.lo, bits) and fits(self.hi, bits):
                return name
        raise ValueError("clamp range does not fit int32")


def requant_flat(held: list[int], channels: int, q: Q) -> list[int]:
    scaled = rescale_flat(held, channels, q.multiplier, q.shift, q.scheme)
    return [min(max(q.zero_point + v, q.lo), q.hi) for v in scaled]


def finish(exact: list[int], channels: int, bits: int, policy: str, q: Q | None) -> tuple[list[int], list[int]]:
    """Accumulator policy, then (optionally) requantisation: returns (y, held accumulator) as flat lists."""
    held = hold(exact, bits, policy)
    return (held if q is None else requant_flat(held, channels, q)), held


# ------------------------------------------------------------------------------------------- multipliers


def _frexp(scale: float) -> tuple[Fraction, int]:
    q, e = math.frexp(scale)
    return Fraction(q), e


def tflite_quantize_multiplier(scale: float, single: bool) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplier``; the single-rounding build caps a left shift above 30."""
    if scale == 0.0:
        return 0, 0
    q, shift = _frexp(scale)
    q_fixed = round_fraction(q * (1 << 31), "half_away")  # TfLiteRound is std::round
    assert abs(q_fixed) <= 1 << 31
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        if single:
            return (1 << 31) - 1, 30
        raise ValueError("left shift above 30")
    return q_fixed, shift


def tosa_quantize_multiplier(scale: float, bits: int) -> tuple[int, int]:
    """TOSA's scale32 (bits 31) / scale16 (bits 15) derivation; shifts above 62 drop multiplier bits."""
    mantissa, exponent = _frexp(scale)
    shifted = round_fraction(mantissa * (1 << bits), "half_away")
    if shifted == 1 << bits:
        shifted //= 2
        exponent += 1
    shift = bits - exponent
    if shift > 62:
        shifted >>= shift - 62
        shift = 62
    if shift < 2:
        raise ValueError("shift below 2")
    return shifted, shift


def hawq_batch_frexp(scale: float, max_bit: int = 31) -> tuple[int, int]:
    """HAWQ-V3 ``batch_frexp``: m = round_half_up(mantissa * 2^31), e = 31 - exponent (m may reach 2^31)."""
    mantissa, exponent = _frexp(scale)
    return round_fraction(mantissa * (1 << max_bit), "half_up"), max_bit - exponent


def float32_value(scale: float) -> Fraction:
    """The float32 nearest ``scale`` (round to nearest even), as an exact rational; ValueError when infinite."""
    try:
        return Fraction(struct.unpack("<f", struct.pack("<f", scale))[0])
    except OverflowError:
        raise ValueError("scale outside the float32 range") from None


def divide_multiplier(multiplier: int, shift: int, count: int, scheme: str) -> tuple[int, int]:
    """The documented integer rule: k = floor(log2 count), m' = round_half_up(m * 2^k / count), shift by k."""
    k = count.bit_length() - 1
    new_m = round_fraction(Fraction(multiplier << k, count), "half_up")
    new_s = shift - k if SHIFT_IS_LEFT.get(scheme, False) else shift + k
    lo, hi = SHIFT_RANGE[scheme]
    if not lo <= new_s <= hi:
        raise ValueError("shift leaves its range")
    return new_m, new_s


def represented(multiplier: int, shift: int, scheme: str) -> Fraction:
    """The exact real number a (multiplier, shift) pair stands for."""
    exponent = shift - 31 if SHIFT_IS_LEFT.get(scheme, False) else -shift
    return Fraction(multiplier) * (Fraction(2) ** exponent)


# ------------------------------------------------------------------------------------------------- int4


def pack_int4(values: list[int]) -> list[int]:
    """Element 2i in the low nibble of byte i, 2i+1 in the high nibble, zero padding."""
    out = [0] * ((len(values) + 1) // 2)
    for i, v in enumerate(values):
        out[i // 2] |= (v & 0xF) << (4 * (i % 2))
    return out


def unpack_int4(data: list[int], count: int) -> list[int]:
    out = []
    for i in range(count):
        nibble = (data[i // 2] >> (4 * (i % 2))) & 0xF
        out.append(nibble - 16 if nibble >= 8 else nibble)
    return out


# --------------------------------------------------------------------------------------------------- ops


def linear_exact(x_rows: list[list[int]], w: list[list[int]], bias: list[int], x_zp: int) -> list[int]:
    """Flat [R, N] exact sums ``bias[n] + sum_k (x[r, k] - x_zp) * w[n, k]``."""
    out = []
    for row in x_rows:
        for n, w_row in enumerate(w):
            out.append(bias[n] + sum((xv - x_zp) * wv for xv, wv in zip(row, w_row, strict=True)))
    return out


def conv_output_length(t: int, k: int, stride: int, dilation: int, pad: tuple[int, int]) -> int:
    span = t + pad[0] + pad[1] - dilation * (k - 1) - 1
    return span // stride + 1 if span >= 0 else 0


def conv1d_exact(
    x: list[list[int]],
    w: list[list[list[int]]],
    bias: list[int],
    x_zp: int,
    stride: int,
    dilation: int,
    pad: tuple[int, int],
    depthwise: bool,
) -> tuple[list[int], int]:
    """Flat [T_out, C_out] exact sums of the time-major cross-correlation; returns (sums, T_out)."""
    t_len, c_out, k = len(x), len(w), len(w[0][0])
    t_out = conv_output_length(t_len, k, stride, dilation, pad)
    out = []
    for t in range(t_out):
        for o in range(c_out):
            total = bias[o]
            for j in range(k):
                pos = t * stride + j * dilation - pad[0]
                if not 0 <= pos < t_len:
                    continue  # padding holds x_zp
                if depthwise:
                    total += (x[pos][o] - x_zp) * w[o][0][j]
                else:
                    total += sum((x[pos][i] - x_zp) * w[o][i][j] for i in range(len(w[o])))
            out.append(total)
    return out, t_out


def add_flat(
    a: list[int],
    b: list[int],
    channels: int,
    a_zp: int,
    b_zp: int,
    left_shift: int,
    a_mult,
    b_mult,
    bits: int,
    policy: str,
    out: Q,
) -> tuple[list[int], list[int]]:
    """TFLite ADD on already broadcast flat inputs: each side centred, shifted left, rescaled; sum; requant."""
    a_scaled = rescale_flat([(v - a_zp) << left_shift for v in a], channels, a_mult[0], a_mult[1], out.scheme)
    b_scaled = rescale_flat([(v - b_zp) << left_shift for v in b], channels, b_mult[0], b_mult[1], out.scheme)
    return finish([p + q for p, q in zip(a_scaled, b_scaled, strict=True)], channels, bits, policy, out)


def mul_flat(
    a: list[int], b: list[int], channels: int, a_zp: int, b_zp: int, bits: int, policy: str, out: Q
) -> tuple[list[int], list[int]]:
    return finish([(p - a_zp) * (q - b_zp) for p, q in zip(a, b, strict=True)], channels, bits, policy, out)


def mean_over_time(x: list[list[int]], x_zp: int, bits: int, policy: str, q: Q) -> tuple[list[int], list[int]]:
    """Column sums over T, then the requant with its multiplier divided by T (per channel)."""
    t_len, channels = len(x), len(x[0])
    sums = [sum(x[t][c] - x_zp for t in range(t_len)) for c in range(channels)]

    def divided(m, s):
        return divide_multiplier(m, s, t_len, q.scheme)

    if isinstance(q.multiplier, list) or isinstance(q.shift, list):
        n = max(len(p) for p in (q.multiplier, q.shift) if isinstance(p, list))
        pairs = [divided(per_channel(q.multiplier, c, n), per_channel(q.shift, c, n)) for c in range(n)]
        qt = Q(q.scheme, [p[0] for p in pairs], [p[1] for p in pairs], q.zero_point, q.lo, q.hi)
    else:
        m, s = divided(q.multiplier, q.shift)
        qt = Q(q.scheme, m, s, q.zero_point, q.lo, q.hi)
    return finish(sums, channels, bits, policy, qt)


def lut(x: list[int], table: list[int], x_min: int) -> list[int]:
    return [table[v - x_min] for v in x]


def clamp(x: list[int], lo: int, hi: int) -> list[int]:
    return [lo if v < lo else hi if v > hi else v for v in x]
