"""gemmlowp's fixed-point primitives against plain Python integers written as gemmlowp states them, and the
transcendental functions against math within their documented accuracy (the kernels that use them are compared
with TFLite Micro element for element in test_tflite_conformance.py)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from intref.spec import gemmlowp_fixedpoint as fp

I32 = st.integers(-(2**31), 2**31 - 1)


def c_div(a: int, b: int) -> int:
    """C's integer division: truncation toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def oracle_srdhm(a: int, b: int) -> int:
    if a == b == -(2**31):
        return 2**31 - 1
    ab = a * b
    nudge = 2**30 if ab >= 0 else 1 - 2**30
    return c_div(ab + nudge, 2**31)


def oracle_rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if remainder > threshold else 0)


@given(I32, I32)
def test_srdhm(a, b):
    assert int(fp.srdhm(np.int64(a), np.int64(b))) == oracle_srdhm(a, b)


@given(I32, st.integers(0, 31))
def test_rounding_divide_by_pot(x, e):
    got = int(fp.rounding_divide_by_pot(np.int64(x), e))
    assert got == oracle_rdbpot(x, e)
    if e:  # ties away from zero
        exact = x / 2**e
        assert abs(got - exact) <= 0.5 and (abs(got - exact) < 0.5 or abs(got) > abs(exact))


@given(I32, st.integers(1, 30))
def test_saturating_shift_left(x, e):
    want = max(-(2**31), min(2**31 - 1, x << e))
    threshold = (1 << (31 - e)) - 1
    if -threshold <= x <= threshold:
        assert want == x << e
    assert int(fp.saturating_shift_left(np.int64(x), e)) == want


@given(I32, I32)
def test_rounding_half_sum(a, b):
    s = a + b
    assert int(fp.rounding_half_sum(np.int64(a), np.int64(b))) == c_div(s + (1 if s >= 0 else -1), 2)


def test_exp_logistic_tanh_are_accurate_and_exact_at_zero():
    raw = np.linspace(-(2**31), 0, 20001).astype(np.int64)  # Q5.26 values in [-32, 0]
    got = fp.exp_on_negative_values(raw, 5) / 2**31
    assert np.abs(got - np.exp(raw / 2**26)).max() < 2e-8 * 64
    assert int(fp.exp_on_negative_values(np.int64(0), 5)) == 2**31 - 1
    q4 = np.linspace(-(2**31), 2**31 - 1, 20001).astype(np.int64)  # Q4.27 in [-16, 16)
    x = q4 / 2**27
    assert np.abs(fp.logistic(q4, 4) / 2**31 - 1 / (1 + np.exp(-x))).max() < 1e-6
    assert np.abs(fp.tanh(q4, 4) / 2**31 - np.tanh(x)).max() < 2e-6
    assert int(fp.logistic(np.int64(0), 4)) == 2**30 and int(fp.tanh(np.int64(0), 4)) == 0


@given(st.integers(1, 2**31 - 1), st.integers(0, 31))
def test_get_reciprocal(x, integer_bits):
    recip, over = fp.get_reciprocal(np.int64(x), integer_bits)
    assert int(over) == integer_bits - (32 - x.bit_length())
    # 1/x = recip * 2^-31 * 2^-(bits over unit) in the value's own scale, to within 2^-28 relative
    value = x / 2 ** (31 - integer_bits)
    assert math.isclose(int(recip) / 2**31 / 2 ** int(over), 1 / value, rel_tol=2**-27)
