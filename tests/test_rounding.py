"""intref.spec.rounding against the textbook definition of each rounding mode (exact rationals)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracle import INT64_MAX, INT64_MIN, round_fraction

from intref.spec import ROUNDING_MODES, div_pow2, div_round

MODES = ROUNDING_MODES
int64s = st.one_of(
    st.integers(INT64_MIN, INT64_MAX),
    st.integers(-1000, 1000),
    st.sampled_from([INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX]),
)


@st.composite
def ties(draw, max_n: int = 62, bits: int = 64):
    """x = (2k + 1) * 2^(n-1): exactly half way between two multiples of 2^n."""
    n = draw(st.integers(1, max_n))
    limit = 2 ** (bits - 1 - n)  # keeps |x| below 2^(bits-1)
    k = draw(st.integers(-limit, limit - 1))
    return (2 * k + 1) << (n - 1), n


pow2_cases = st.lists(st.one_of(st.tuples(int64s, st.integers(0, 62)), ties()), min_size=1, max_size=20)


def test_known_vectors():
    expected = {  # value: (half_up, half_away, half_even, floor, trunc)
        Fraction(5, 2): (3, 3, 2, 2, 2),
        Fraction(-5, 2): (-2, -3, -2, -3, -2),
        Fraction(1, 2): (1, 1, 0, 0, 0),
        Fraction(-1, 2): (0, -1, 0, -1, 0),
        Fraction(3, 2): (2, 2, 2, 1, 1),
        Fraction(-3, 2): (-1, -2, -2, -2, -1),
        Fraction(-7, 4): (-2, -2, -2, -2, -1),
        Fraction(7, 4): (2, 2, 2, 1, 1),
        Fraction(-1, 4): (0, 0, 0, -1, 0),
        Fraction(3): (3, 3, 3, 3, 3),
    }
    assert MODES == ("half_up", "half_away", "half_even", "floor", "trunc")
    for value, want in expected.items():
        for mode, w in zip(MODES, want, strict=True):
            assert round_fraction(value, mode) == w, (value, mode)  # the oracle itself
            num, den = value.numerator, value.denominator
            assert int(div_round(num, den, mode)) == w, (value, mode)
            if den & (den - 1) == 0:
                assert int(div_pow2(num, den.bit_length() - 1, mode)) == w, (value, mode)


@pytest.mark.parametrize("mode", MODES)
@given(cases=pow2_cases)
def test_div_pow2_int64(mode, cases):
    x = np.array([c[0] for c in cases], dtype=np.int64)
    n = np.array([c[1] for c in cases], dtype=np.int64)
    got = div_pow2(x, n, mode)
    assert got.dtype == np.int64
    assert got.tolist() == [round_fraction(Fraction(a, 2**b), mode) for a, b in cases]


@pytest.mark.parametrize("mode", MODES)
@given(
    cases=st.lists(
        st.one_of(st.tuples(st.integers(-(2**200), 2**200), st.integers(0, 260)), ties(250, 256)),
        min_size=1,
        max_size=12,
    )
)
def test_div_pow2_big_object(mode, cases):
    x = np.array([c[0] for c in cases] + [0], dtype=object)[:-1]  # keep object dtype even for small values
    n = np.array([c[1] for c in cases], dtype=np.int64)
    got = div_pow2(x, n, mode)
    assert got.dtype == object
    assert [int(v) for v in got] == [round_fraction(Fraction(a, 2**b), mode) for a, b in cases]


@pytest.mark.parametrize("mode", MODES)
@given(x=int64s, n=st.integers(0, 62))
def test_div_pow2_python_scalars(mode, x, n):
    assert int(div_pow2(x, n, mode)) == round_fraction(Fraction(x, 2**n), mode)


@pytest.mark.parametrize("mode", MODES)
@given(
    cases=st.lists(
        st.one_of(
            st.tuples(int64s, st.integers(1, INT64_MAX)),
            st.tuples(st.integers(-(10**6), 10**6), st.integers(1, 64)),
            st.integers(-(2**40), 2**40).map(lambda k: (2 * k + 1, 2)),  # ties
            st.tuples(st.integers(-(2**30), 2**30), st.integers(1, 2**31)).map(
                lambda p: (p[0] * 2 * p[1] + p[1], 2 * p[1])
            ),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_div_round_int64(mode, cases):
    num = np.array([c[0] for c in cases], dtype=np.int64)
    den = np.array([c[1] for c in cases], dtype=np.int64)
    got = div_round(num, den, mode)
    assert got.dtype == np.int64
    assert got.tolist() == [round_fraction(Fraction(a, b), mode) for a, b in cases]


@pytest.mark.parametrize("mode", MODES)
@given(cases=st.lists(st.tuples(st.integers(-(2**150), 2**150), st.integers(1, 2**100)), min_size=1, max_size=10))
def test_div_round_big_object(mode, cases):
    num = np.array([c[0] for c in cases] + [0], dtype=object)[:-1]
    den = np.array([c[1] for c in cases] + [0], dtype=object)[:-1]
    got = div_round(num, den, mode)
    assert [int(v) for v in got] == [round_fraction(Fraction(a, b), mode) for a, b in cases]


def test_ties_at_every_shift():
    """Every n in 1..62, both signs, smallest and largest ties: the tie rule decides."""
    for n in range(1, 63):
        half = 1 << (n - 1)
        for x in (half, -half, 3 * half, -3 * half, INT64_MIN + half, INT64_MAX - half + 1):
            for mode in MODES:
                assert int(div_pow2(np.int64(x), n, mode)) == round_fraction(Fraction(x, 2**n), mode), (x, n, mode)


def test_zero_dimensional_object_arrays_stay_exact():
    big = 3 * 2**100 + 2**99  # 3.5 * 2^100: a tie at n = 100
    for mode, want in zip(MODES, (4, 4, 4, 3, 3), strict=True):
        got = div_pow2(np.array(big, dtype=object), 100, mode)
        assert got.shape == () and int(got) == want
        got = div_round(np.array(-big, dtype=object), np.array(2**100, dtype=object), mode)
        assert got.shape == () and int(got) == round_fraction(Fraction(-big, 2**100), mode)


def test_broadcasting_per_channel():
    x = np.arange(-12, 12, dtype=np.int64).reshape(4, 6)
    n = np.array([0, 1, 2, 3, 4, 62], dtype=np.int64)
    got = div_pow2(x, n, "half_even")
    assert got.shape == (4, 6)
    for (i, j), v in np.ndenumerate(got):
        assert v == round_fraction(Fraction(int(x[i, j]), 2 ** int(n[j])), "half_even")
    den = np.array([1, 2, 3, 4, 5, 7], dtype=np.int64)
    got = div_round(x, den, "half_away")
    for (i, j), v in np.ndenumerate(got):
        assert v == round_fraction(Fraction(int(x[i, j]), int(den[j])), "half_away")


def test_errors():
    with pytest.raises(ValueError, match="n"):
        div_pow2(np.array([1, 2]), np.array([1, -1]), "floor")
    with pytest.raises(ValueError, match="denominator"):
        div_round(np.array([1, 2]), np.array([1, 0]), "floor")
    with pytest.raises(ValueError, match="denominator"):
        div_round(5, -3, "half_up")
    with pytest.raises(ValueError, match="rounding mode"):
        div_pow2(np.array([3]), 1, "nearest")
    with pytest.raises(ValueError, match="rounding mode"):
        div_round(np.array([3]), 2, "up")
