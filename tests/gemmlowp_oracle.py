"""An independent oracle for gemmlowp's fixed point and TFLite's softmax, logistic and tanh kernels: plain Python
integers (and Python floats rounded to float32 for the int16 table build), one scalar at a time, no NumPy.

Each primitive is written from what it means, not from how intref vectorises it: SaturatingRoundingDoublingHighMul
as C's truncating division of the nudged product, RoundingDivideByPOT as |x| / 2^e rounded half up with the sign
put back, the saturating shift as a clamp of the exact product, and the fixed-point functions as the gemmlowp
templates read on ``FixedPoint`` values (a product adds integer bits, ``Rescale`` shifts, sums wrap in 32 bits).
The kernels are loops over rows and elements, as the TFLite Micro reference kernels are.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import struct
from collections.abc import Callable, Sequence

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def i32(x: int) -> int:
    """int32 two's complement wrap (C++ sums on TFLite's targets)."""
    return ((x + 2**31) % 2**32) - 2**31


def c_div(a: int, b: int) -> int:
    """C integer division: the quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def srdhm(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def rdbpot(x: int, e: int) -> int:
    """x / 2^e to nearest, ties away from zero."""
    assert 0 <= e <= 31
    magnitude = (abs(x) + ((1 << e) >> 1)) >> e
    return magnitude if x >= 0 else -magnitude


def srmbpot(x: int, e: int) -> int:
    """x * 2^e: saturated to int32 for e > 0, rounded (ties away) for e < 0."""
    if e >= 0:
        return max(INT32_MIN, min(INT32_MAX, x * 2**e))
    return rdbpot(x, -e)


def rescale(x: int, src_bits: int, dst_bits: int) -> int:
    return srmbpot(x, src_bits - dst_bits)


def rounding_half_sum(a: int, b: int) -> int:
    return rdbpot(a + b, 1)


def exp_quarter(a: int) -> int:
    """exp on [-1/4, 0), Q0.31."""
    c = 1895147668  # exp(-1/8)
    third = 715827883
    x = i32(a + 2**28)
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    poly = srmbpot(i32(srdhm(i32(srmbpot(x4, -2) + x3), third) + x2), -1)
    return i32(c + srdhm(c, i32(x + poly)))


EXP_BARREL = {-2: 1672461947, -1: 1302514674, 0: 790015084, 1: 290630308, 2: 39332535, 3: 720401, 4: 242}


def exp_negative(a: int, ib: int) -> int:
    frac = 31 - ib
    quarter = 1 << (frac - 2)
    r = i32((a & (quarter - 1)) - quarter)
    result = exp_quarter(rescale(r, ib, 0))
    remainder = i32(r - a)
    for k in range(-2, 5):
        if ib > k and remainder & (1 << (frac + k)):
            result = srdhm(result, EXP_BARREL[k])
    if ib > 5 and a < -32 * 2**frac:
        result = 0
    return INT32_MAX if a == 0 else result


def _newton(half_denominator: int) -> int:
    x = i32(1515870810 + srdhm(half_denominator, -1010580540))
    for _ in range(3):
        x = i32(x + rescale(srdhm(x, i32(2**29 - srdhm(half_denominator, x))), 4, 2))
    return x


def one_over_one_plus_x(a: int) -> int:
    return rescale(_newton(rounding_half_sum(a, INT32_MAX)), 1, 0)


def one_minus_x_over_one_plus_x(a: int) -> int:
    return rescale(i32(_newton(rounding_half_sum(a, INT32_MAX)) - 2**29), 2, 0)


def logistic(a: int, ib: int) -> int:
    if a == 0:
        return 1 << 30
    magnitude = a if a > 0 else i32(-a)
    p = one_over_one_plus_x(exp_negative(i32(-magnitude), ib))
    return p if a > 0 else i32(INT32_MAX - p)


def tanh(a: int, ib: int) -> int:
    if a == 0:
        return 0
    n = a if a < 0 else i32(-a)
    t = one_minus_x_over_one_plus_x(exp_negative(n, ib + 1))
    return i32(-t) if a < 0 else t


def clz32(x: int) -> int:
    return 32 - (x % 2**32).bit_length()


def get_reciprocal(x: int, ib: int) -> tuple[int, int]:
    h = clz32(x)
    shifted = i32(((x % 2**32) << h) % 2**32 - 2**31)
    return one_over_one_plus_x(shifted), ib - h


def mbqm(x: int, m: int, shift: int) -> int:
    """TFLite's double-rounding MultiplyByQuantizedMultiplier (the int32 product before it must not overflow)."""
    left, right = max(shift, 0), max(-shift, 0)
    assert INT32_MIN <= x * 2**left <= INT32_MAX
    return rdbpot(srdhm(x * 2**left, m), right)


# ---- float32 and the int16 tables ----


def f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def roundf(x: float) -> float:
    """C roundf on a float32 value: |x| + 0.5 is exact in double for float32 inputs below 2^29."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def _libm() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("m")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    for fn in ("expf", "logf"):
        getattr(lib, fn).restype = ctypes.c_float
        getattr(lib, fn).argtypes = [ctypes.c_float]
    return lib


LIBM = _libm()


def expf(x: float) -> float:
    """The C library's expf where it loads, else exp correctly rounded to float32."""
    return LIBM.expf(x) if LIBM is not None else f32(math.exp(x))


def lut_populate_int16(in_scale: float, in_zp: int, out_scale: float, out_zp: int, fn: Callable) -> list[int]:
    """LUTPopulate<int16_t>: every operation rounded to float32, one entry at a time."""
    in_scale, out_scale = f32(in_scale), f32(out_scale)
    in_min = f32(in_scale * (-32768 - in_zp))
    in_max = f32(in_scale * (32767 - in_zp))
    out_min = f32(out_scale * (-32768 - out_zp))
    out_max = f32(out_scale * (32767 - out_zp))
    step = f32(f32(in_max - in_min) / 512)
    half = f32(step / 2)
    inv = f32(65536 / f32(out_max - out_min))
    lut = []
    for i in range(512):
        x = f32(in_min + f32(i * step))
        val, mid, nxt = fn(x), fn(f32(x + half)), fn(f32(in_min + f32((i + 1) * step)))
        sample = roundf(f32(val * inv))
        interp = roundf(f32(f32(f32(nxt * inv) + sample) / 2))
        bias = roundf(f32(f32(interp - roundf(f32(mid * inv))) / 2))
        lut.append(int(min(max(f32(sample - bias), -32768.0), 32767.0)))
    lut.append(int(min(max(roundf(f32(fn(in_max) * inv)), -32768.0), 32767.0)))
    return lut


def i16(x: int) -> int:
    return ((x + 2**15) % 2**16) - 2**15


def lut_lookup_int16(value: int, lut: Sequence[int]) -> int:
    index = 256 + (value >> 7)
    slope = i16(lut[index + 1] - lut[index])
    return i16(lut[index] + ((slope * (value & 0x7F) + 64) >> 7))


# ---- the kernels, row by row ----


def softmax_int8(row: Sequence[int], m: int, left_shift: int, diff_min: int, out_bits: int) -> list[int]:
    lo, hi = -(2 ** (out_bits - 1)), 2 ** (out_bits - 1) - 1
    top = max(row)
    exps = []
    total = 0
    for v in row:
        d = v - top
        if d >= diff_min:
            e = exp_negative(srdhm(d * 2**left_shift, m), 5)
            exps.append(e)
            total = i32(total + rescale(e, 0, 12))
        else:
            exps.append(None)
    recip, over = get_reciprocal(total, 12)
    exponent = over + 31 - out_bits
    assert 0 <= exponent <= 31
    return [lo if e is None else max(lo, min(hi, rdbpot(srdhm(recip, e), exponent) + lo)) for e in exps]


def softmax_int16(row: Sequence[int], m: int, shift: int, exp_lut: Sequence[int], recip_lut: Sequence[int]):
    top = max(row)
    exps = [lut_lookup_int16(max(-32768, min(32767, mbqm(v - top, m, shift) + 32767)), exp_lut) for v in row]
    total = i32(sum(exps))
    h = clz32(total)
    shifted = ((total << (h - 1)) + (1 << 13)) >> 14
    recip = lut_lookup_int16(max(-32768, min(32767, shifted - 98304)), recip_lut)
    rs = 31 - h
    return [max(0, min(32767, (e * recip + (1 << (rs - 1))) >> rs)) for e in exps]


def sigmoid_int8(v: int, zp: int, radius: int, m: int, shift: int, tanh_: bool) -> int:
    d = v - zp
    if d <= -radius:
        return -128
    if d >= radius:
        return 127
    q4 = mbqm(d, m, shift)
    if tanh_:
        return max(-128, min(127, rdbpot(tanh(q4, 4), 24)))
    return max(-128, min(127, rdbpot(logistic(q4, 4), 23) - 128))


def sigmoid_int16(v: int, m: int, shift: int, table: Sequence[int], tanh_: bool) -> int:
    if m == 0:
        m, shift = 3 << shift, 0
    x = (v * m + ((1 << (shift - 1)) if shift else 0)) >> shift
    a = abs(x)
    frac_bits = 8 if tanh_ else 9
    seg = a >> frac_bits
    if seg >= 255:
        r = (0xFFFF << 8) if tanh_ else (0x7FFF << 10)
    else:
        r = (table[seg] << frac_bits) + (a & ((1 << frac_bits) - 1)) * (table[seg + 1] - table[seg])
    if tanh_:
        r = r - 2**23 + 2**7 if x >= 0 else -r + 2**23 + 2**7 - 1
        return i16(r >> 8)
    r = r + 2**9 if x >= 0 else 2**25 - r + 2**9 - 1
    return i16(r >> 10)
