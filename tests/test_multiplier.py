"""Multiplier derivation (quantize_multiplier for every scheme) and divide_multiplier against the oracle."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracle import (
    SHIFT_RANGE,
    divide_multiplier,
    float32_value,
    hawq_batch_frexp,
    represented,
    round_fraction,
    tflite_quantize_multiplier,
    tosa_quantize_multiplier,
)

from intref.spec import (
    divide_multiplier as intref_divide,
)
from intref.spec import (
    quantize_multiplier,
    quantize_multipliers,
    represented_scale,
    rescale,
)

ALL_SCHEMES = ("tflite_double", "single", "tosa_double", "tosa_scale16", "dyadic", "onnx")


@st.composite
def scales(draw, min_exp: int = -1074, max_exp: int = 1023):
    """Positive finite floats spread over binary exponents (log-uniform), with exact ties among them."""
    exp = draw(st.integers(min_exp, max_exp))
    kind = draw(st.sampled_from(["random", "tie31", "tie15", "near_one", "power"]))
    if kind == "random":
        q = draw(st.floats(0.5, 1.0, exclude_max=True))
    elif kind == "tie31":  # q * 2^31 is k + 1/2
        q = (2 * draw(st.integers(2**30, 2**31 - 1)) + 1) / 2**32
    elif kind == "tie15":  # q * 2^15 is k + 1/2
        q = (2 * draw(st.integers(2**14, 2**15 - 1)) + 1) / 2**16
    elif kind == "near_one":  # rounds up to the carry
        q = 1.0 - draw(st.sampled_from([2**-53, 2**-40, 2**-33, 2**-32, 2**-17, 2**-16]))
    else:
        q = 0.5
    value = math.ldexp(q, exp)
    if value == 0.0 or math.isinf(value):
        value = math.ldexp(0.75, min(max(exp, -1000), 1000))
    return value


def exact(scale: float) -> Fraction:
    return Fraction(scale)


# ---------------------------------------------------------------------------------------- TFLite schemes


@pytest.mark.parametrize("scheme", ["tflite_double", "single"])
@given(scale=scales(), negative=st.booleans())
def test_tflite_quantize_multiplier(scheme, scale, negative):
    if negative and scheme == "tflite_double":
        scale = -scale
    try:
        want = tflite_quantize_multiplier(scale, single=scheme == "single")
    except ValueError:
        with pytest.raises(ValueError, match="too large"):
            quantize_multiplier(scale, scheme)
        return
    got = quantize_multiplier(scale, scheme)
    assert tuple(int(v) for v in got) == want


def test_tflite_carry_flush_and_clamp():
    for scheme in ("tflite_double", "single"):
        assert quantize_multiplier(0.0, scheme) == (0, 0)
        assert quantize_multiplier(1.0, scheme) == (2**30, 1)
        assert quantize_multiplier(0.25, scheme) == (2**30, -1)
        # q * 2^31 = 2^31 - 1/2 rounds away to 2^31 and carries into the exponent
        assert quantize_multiplier(1.0 - 2**-32, scheme) == (2**30, 1)
        assert quantize_multiplier(1.0 - 2**-31, scheme) == (2**31 - 1, 0)
        # ties of q * 2^31 round away from zero (std::round)
        assert quantize_multiplier((2 * 2**30 + 1) / 2**32, scheme) == (2**30 + 1, 0)
        # exponent -31 is kept, -32 flushes to zero, unless the carry brings it back to -31
        assert quantize_multiplier(2.0**-32, scheme) == (2**30, -31)
        assert quantize_multiplier(2.0**-33, scheme) == (0, 0)
        assert quantize_multiplier((1.0 - 2**-33) * 2.0**-32, scheme) == (2**30, -31)
        assert quantize_multiplier(5e-324, scheme) == (0, 0)
        # the largest left shift that is kept is 30
        assert quantize_multiplier(2.0**29, scheme) == (2**30, 30)
    assert quantize_multiplier(2.0**30, "single") == (2**31 - 1, 30)
    assert quantize_multiplier(1e300, "single") == (2**31 - 1, 30)
    assert quantize_multiplier((1.0 - 2**-32) * 2.0**30, "single") == (2**31 - 1, 30)  # carry, then clamp
    with pytest.raises(ValueError, match="too large"):
        quantize_multiplier(2.0**30, "tflite_double")
    assert quantize_multiplier(-0.25, "tflite_double") == (-(2**30), -1)
    assert quantize_multiplier(-(2 * 2**30 + 1) / 2**32, "tflite_double") == (-(2**30) - 1, 0)  # away from zero
    assert quantize_multiplier(-(1.0 - 2**-32), "tflite_double") == (-(2**31), 0)  # -2^31 fits: no carry


# ------------------------------------------------------------------------------------------ TOSA schemes


@pytest.mark.parametrize("scheme, bits", [("tosa_double", 31), ("tosa_scale16", 15)])
@given(scale=scales())
def test_tosa_quantize_multiplier(scheme, bits, scale):
    try:
        want = tosa_quantize_multiplier(scale, bits)
    except ValueError:
        with pytest.raises(ValueError, match="too large"):
            quantize_multiplier(scale, scheme)
        return
    got = quantize_multiplier(scale, scheme)
    assert tuple(int(v) for v in got) == want


@pytest.mark.parametrize("scheme, bits", [("tosa_double", 31), ("tosa_scale16", 15)])
def test_tosa_edges(scheme, bits):
    m, s = quantize_multiplier(0.0, scheme)
    assert m == 0 and 2 <= s <= 62
    assert quantize_multiplier(1.0, scheme) == (2 ** (bits - 1), bits - 1)
    assert quantize_multiplier(1.0 - 2.0 ** -(bits + 1), scheme) == (2 ** (bits - 1), bits - 1)  # carry
    assert quantize_multiplier(2.0**-60, scheme) == (2 ** (bits - 1) >> (bits + 59 - 62), 62)  # shift capped
    assert quantize_multiplier(2.0**-200, scheme) == (0, 62)
    assert quantize_multiplier(2.0 ** (bits - 3), scheme) == (2 ** (bits - 1), 2)
    with pytest.raises(ValueError, match="too large"):
        quantize_multiplier(2.0 ** (bits - 2), scheme)  # would need shift 1


# ----------------------------------------------------------------------------------------------- dyadic


def dyadic_oracle(scale: float) -> tuple[int, int]:
    """HAWQ batch_frexp, with intref's documented carry at 2^31 and rounding of exponents above 62."""
    if scale == 0.0:
        return 0, 0
    m, e = hawq_batch_frexp(scale)
    if m == 2**31:
        m, e = m // 2, e - 1
    if e > 62:
        m, e = round_fraction(Fraction(m, 2 ** (e - 62)), "half_up"), 62
    if e < 0:
        raise ValueError
    return m, e


@given(scale=scales())
def test_dyadic_quantize_multiplier(scale):
    try:
        want = dyadic_oracle(scale)
    except ValueError:
        with pytest.raises(ValueError, match="too large"):
            quantize_multiplier(scale, "dyadic")
        return
    got = tuple(int(v) for v in quantize_multiplier(scale, "dyadic"))
    assert got == want
    hawq_m, hawq_e = hawq_batch_frexp(scale)
    if hawq_e <= 62:  # same real number as HAWQ's own pair (which may hold m = 2^31)
        assert represented(*got, "dyadic") == Fraction(hawq_m, 2**hawq_e)


@pytest.mark.parametrize("scale", [1.7 * 2.0**-95, 2.0**-200, 5e-324])
def test_dyadic_tiny_scales_round_to_zero(scale):
    assert tuple(int(v) for v in quantize_multiplier(scale, "dyadic")) == dyadic_oracle(scale) == (0, 62)


@given(z=st.integers(-(2**40), 2**40), scale=scales(min_exp=-31, max_exp=8))
def test_dyadic_rescale_is_hawq_rounding(z, scale):
    """rescale(z, m, e) is HAWQ-V3's round(z * m / 2^e) (ties to even), computed exactly."""
    m, e = quantize_multiplier(scale, "dyadic")
    hawq_m, hawq_e = hawq_batch_frexp(scale)
    want = round_fraction(Fraction(z * hawq_m, 2**hawq_e), "half_even")
    assert rescale(np.array([z]), m, e, "dyadic").tolist() == [want]


# -------------------------------------------------------------------------------------------------- onnx


@given(scale=scales(min_exp=-160, max_exp=30))
def test_onnx_quantize_multiplier_is_the_float32_scale(scale):
    f32 = float32_value(scale)
    if f32 >= 2**24:
        with pytest.raises(ValueError):
            quantize_multiplier(scale, "onnx")
        return
    m, e = (int(v) for v in quantize_multiplier(scale, "onnx"))
    assert 0 <= m < 2**24 and 0 <= e <= 200
    assert represented(m, e, "onnx") == f32  # error 0 against the float32 scale
    if f32 >= 2.0**-126:  # normal float32: m is the full 24-bit significand
        assert m >= 2**23


@pytest.mark.parametrize("scale", [2.0**24, 1e30, 1e39, 1.7e308])
def test_onnx_scale_beyond_range_is_a_value_error(scale):
    with pytest.raises(ValueError, match="onnx"):
        quantize_multiplier(scale, "onnx")


@given(acc=st.integers(-(2**62), 2**62), scale=scales(min_exp=-60, max_exp=4))
def test_onnx_rescale_is_round_half_even_of_float32_product(acc, scale):
    m, e = quantize_multiplier(scale, "onnx")
    want = round_fraction(acc * float32_value(scale), "half_even")
    want = min(max(want, -(2**63)), 2**63 - 1)
    assert rescale(np.array([acc]), m, e, "onnx").tolist() == [want]


def test_onnx_ties_to_even():
    m, e = quantize_multiplier(0.5, "onnx")
    assert rescale(np.arange(-5, 6), m, e, "onnx").tolist() == [-2, -2, -2, -1, 0, 0, 0, 1, 2, 2, 2]


# ------------------------------------------------------------------------------------------ error bounds


BOUNDS = {  # documented relative error against the float64 scale (onnx: against the float32 scale)
    "tflite_double": Fraction(1, 2**31),
    "single": Fraction(1, 2**31),
    "tosa_double": Fraction(1, 2**31),
    "tosa_scale16": Fraction(1, 2**15),
    "dyadic": Fraction(1, 2**31),
    "onnx": Fraction(0),
}
NORMAL_RANGE = {  # scales for which each bound is stated (normal inputs, no flush, no shift cap, no refusal)
    "tflite_double": (-31, 29),
    "single": (-31, 29),
    "tosa_double": (-31, 28),
    "tosa_scale16": (-47, 12),
    "dyadic": (-31, 30),
    "onnx": (-126, 23),
}


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
@given(data=st.data())
def test_documented_error_bounds(scheme, data):
    lo, hi = NORMAL_RANGE[scheme]
    scale = data.draw(scales(min_exp=lo, max_exp=hi))
    m, s = (int(v) for v in quantize_multiplier(scale, scheme))
    reference = float32_value(scale) if scheme == "onnx" else exact(scale)
    error = abs(represented(m, s, scheme) - reference)
    assert error <= BOUNDS[scheme] * reference
    assert represented_scale(m, s, scheme) == float(represented(m, s, scheme))  # exact in float64


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_bad_scales(scheme):
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="finite"):
            quantize_multiplier(bad, scheme)
    if scheme != "tflite_double":
        with pytest.raises(ValueError, match=">= 0"):
            quantize_multiplier(-0.5, scheme)
    with pytest.raises(ValueError, match="scheme"):
        quantize_multiplier(0.5, "double")


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_quantize_multipliers_per_channel(scheme):
    scales_ = np.array([[0.5, 0.001, 3.0], [1e-5, 0.0, 0.75]])
    m, s = quantize_multipliers(scales_, scheme)
    assert m.dtype == np.int64 and s.dtype == np.int64 and m.shape == s.shape == scales_.shape
    for idx, value in np.ndenumerate(scales_):
        assert (m[idx], s[idx]) == quantize_multiplier(float(value), scheme)


# ------------------------------------------------------------------------------------- divide_multiplier


@st.composite
def divide_cases(draw):
    scheme = draw(st.sampled_from(ALL_SCHEMES))
    lo, hi = SHIFT_RANGE[scheme]
    top = {"tosa_scale16": 15, "onnx": 24}.get(scheme, 31)
    mlo = -(2**31) if scheme == "tflite_double" else 0
    m = draw(st.one_of(st.integers(mlo, 2**top - 1), st.integers(2 ** (top - 1), 2**top - 1)))
    count = draw(st.one_of(st.integers(1, 64), st.integers(1, 2**31 - 1), st.sampled_from([1, 2, 3, 2**31 - 1])))
    shift = draw(st.integers(lo, hi))
    return scheme, m, shift, count


@given(case=divide_cases(), per_channel=st.booleans())
def test_divide_multiplier_matches_rule(case, per_channel):
    scheme, m, shift, count = case
    try:
        want = divide_multiplier(m, shift, count, scheme)
    except ValueError:
        with pytest.raises(ValueError, match="shift"):
            intref_divide(m, shift, count, scheme)
        return
    if per_channel:
        got_m, got_s = intref_divide(np.array([m, m]), np.array([shift, shift]), count, scheme)
        assert got_m.dtype == np.int64 and got_m.tolist() == [want[0]] * 2 and got_s.tolist() == [want[1]] * 2
    else:
        got_m, got_s = intref_divide(m, shift, count, scheme)
        assert (int(got_m), int(got_s)) == want
    # what it stands for: the scale over count, to within half a unit of the new multiplier
    unit = represented(1, want[1], scheme)
    assert abs(represented(*want, scheme) - represented(m, shift, scheme) / count) <= unit / 2
    if m >= 0:
        assert Fraction(m, 2) <= want[0] <= m


def test_divide_multiplier_errors():
    with pytest.raises(ValueError, match="count"):
        intref_divide(2**30, 0, 0, "single")
    with pytest.raises(ValueError, match="count"):
        intref_divide(2**30, 0, 2**31, "single")
    with pytest.raises(ValueError, match="shift"):
        intref_divide(2**30, -31, 2, "single")  # would need shift -32
    with pytest.raises(ValueError, match="shift"):
        intref_divide(2**30, 62, 2, "tosa_double")
    assert tuple(int(v) for v in intref_divide(2**30, 0, 1, "single")) == (2**30, 0)
    assert tuple(int(v) for v in intref_divide(2**30, 0, 4, "single")) == (2**30, -2)
    assert tuple(int(v) for v in intref_divide(2**30, 40, 4, "tosa_double")) == (2**30, 42)
    assert tuple(int(v) for v in intref_divide(3 * 2**29, 40, 3, "dyadic")) == (2**30, 41)
