"""Every rescale scheme of intref.spec.rescale (and Requant) against the independent oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracle import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    SHIFT_RANGE,
    VALUE_BITS,
    OracleRescaleError,
    Q,
    requant_flat,
    rescale_flat,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    tflite_double,
    tosa_apply_scale_32,
)

from intref.spec import SCHEMES, Requant, RescaleError, check_params, dtype_for_range, rescale, scheme_limits
from intref.spec.rescale import REASON_LEFT_SHIFT, REASON_RESULT, REASON_TOSA_VALUE, reason_width

ALL_SCHEMES = ("tflite_double", "single", "tosa_double", "tosa_scale16", "dyadic", "onnx")
MULTIPLIER_RANGE = {  # from the public sources (int32 / non-negative / int16 / 24-bit float32 significand)
    "tflite_double": (INT32_MIN, INT32_MAX),
    "single": (0, INT32_MAX),
    "tosa_double": (0, INT32_MAX),
    "tosa_scale16": (0, 2**15 - 1),
    "dyadic": (0, INT32_MAX),
    "onnx": (0, 2**24 - 1),
}
REASONS = {"left_shift": REASON_LEFT_SHIFT, "result": REASON_RESULT, "tosa_value": REASON_TOSA_VALUE}


def reason_of(kind: str, scheme: str) -> str:
    return reason_width(VALUE_BITS[scheme]) if kind == "width" else REASONS[kind]


def test_scheme_table_matches_sources():
    assert set(SCHEMES) == set(ALL_SCHEMES)
    for scheme in ALL_SCHEMES:
        limits = scheme_limits(scheme)
        assert limits.multiplier == MULTIPLIER_RANGE[scheme]
        assert limits.shift == SHIFT_RANGE[scheme]
        assert limits.value_bits == VALUE_BITS[scheme]
        assert limits.shift_is_left == (scheme in ("tflite_double", "single"))


def expect_rescale(acc, multiplier, shift, scheme: str) -> None:
    """intref's rescale equals the oracle element for element, or raises the oracle's error at the same index."""
    acc = np.asarray(acc, dtype=np.int64)
    m, s = np.asarray(multiplier, dtype=np.int64), np.asarray(shift, dtype=np.int64)
    shape = np.broadcast_shapes(acc.shape, m.shape, s.shape)
    full = np.broadcast_to(acc, shape)
    channels = shape[-1] if shape else 1
    try:
        want = rescale_flat(full.ravel().tolist(), channels, m.tolist(), s.tolist(), scheme)
    except OracleRescaleError as exc:
        with pytest.raises(RescaleError) as info:
            rescale(acc, m, s, scheme)
        err = info.value
        assert (err.scheme, err.index, err.value) == (scheme, exc.index, exc.value)
        assert err.reason == reason_of(exc.kind, scheme)
        return
    got = rescale(acc, m, s, scheme)
    assert got.dtype == np.int64 and got.shape == shape
    assert got.ravel().tolist() == want


# ------------------------------------------------------------------------------------------- strategies


def edge_ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    edges = [v for v in (lo, lo + 1, -2, -1, 0, 1, 2, hi - 1, hi) if lo <= v <= hi]
    return st.one_of(st.integers(lo, hi), st.sampled_from(edges))


def multipliers(scheme: str) -> st.SearchStrategy[int]:
    lo, hi = MULTIPLIER_RANGE[scheme]
    top = hi.bit_length()
    powers = [v for v in (1 << (top - 1), 3 << (top - 2), 1 << (top - 2)) if lo <= v <= hi]
    realistic = st.integers(1 << (top - 1), hi)  # a normalised multiplier, as quantize_multiplier makes
    negative = [st.integers(lo, -(1 << 30))] if lo < 0 else []
    return st.one_of(edge_ints(lo, hi), st.sampled_from(powers), realistic, *negative)


def accumulators(scheme: str, in_width: bool = False) -> st.SearchStrategy[int]:
    bits = VALUE_BITS[scheme]
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    parts = [edge_ints(lo, hi), st.integers(-300, 300), st.integers(-(2**20), 2**20)]
    if bits < 64 and not in_width:
        parts.append(st.sampled_from([lo - 1, hi + 1]))  # outside the scheme's width: a RescaleError
    return st.one_of(*parts)


@st.composite
def rescale_cases(draw, scheme: str, in_width: bool = False):
    """(acc [R, C], multiplier scalar or [C], shift scalar or [C])."""
    rows, channels = draw(st.integers(1, 3)), draw(st.integers(1, 5))
    in_width = in_width or draw(st.booleans())
    n = rows * channels
    acc = draw(st.lists(accumulators(scheme, in_width), min_size=n, max_size=n))
    lo, hi = SHIFT_RANGE[scheme]
    shifts = edge_ints(lo, hi)
    if scheme == "tflite_double":  # mostly right shifts, so that results exist
        shifts = st.one_of(shifts, st.integers(-31, 0))

    def param(strategy):
        if draw(st.booleans()):
            return draw(strategy)
        return draw(st.lists(strategy, min_size=channels, max_size=channels))

    return np.array(acc, dtype=np.int64).reshape(rows, channels), param(multipliers(scheme)), param(shifts)


# ----------------------------------------------------------------------------------------- properties


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
@given(data=st.data())
def test_rescale_matches_oracle(scheme, data):
    acc, m, s = data.draw(rescale_cases(scheme))
    expect_rescale(acc, m, s, scheme)


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_ties_and_small_values_grid(scheme):
    """Every small accumulator against multipliers that make exact ties, at every legal shift."""
    lo, hi = SHIFT_RANGE[scheme]
    top = MULTIPLIER_RANGE[scheme][1].bit_length()
    mults = [0, 1, 3, 1 << (top - 1), 3 << (top - 2), 5 << (top - 3), MULTIPLIER_RANGE[scheme][1]]
    if scheme == "tflite_double":
        mults += [INT32_MIN, -(1 << 30), -(3 << 29)]
    acc = np.arange(-70, 71, dtype=np.int64)[:, None]
    for shift in range(lo, min(hi, 70) + 1):
        if scheme == "tflite_double" and shift > 24:
            continue  # left shifts of 2^25 and above overflow int32 for |acc| = 70; covered elsewhere
        expect_rescale(acc, np.array(mults), shift, scheme)


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_extreme_values_at_every_shift(scheme):
    lo, hi = SHIFT_RANGE[scheme]
    mlo, mhi = MULTIPLIER_RANGE[scheme]
    vlo, vhi = -(2 ** (VALUE_BITS[scheme] - 1)), 2 ** (VALUE_BITS[scheme] - 1) - 1
    values = [vlo, vlo + 1, vhi - 1, vhi, INT32_MIN, INT32_MAX, -1, 0, 1]
    for shift in range(lo, hi + 1):
        for m in sorted({mlo, mhi, mhi // 2 + 1, 1, 0}):
            for v in values:
                expect_rescale([v], m, shift, scheme)


@given(x=st.integers(INT32_MIN, INT32_MAX), m=st.integers(0, INT32_MAX), shift=st.integers(-31, 0))
def test_tosa_double_round_equals_tflite_double(x, m, shift):
    """TOSA apply_scale_32(double_round) with shift 31 - s is TFLite's double rounding with shift s <= 0."""
    tosa_shift = 31 - shift
    tfl = int(rescale(np.array([x]), m, shift, "tflite_double")[0])
    assert tfl == tflite_double(x, m, shift)
    if not -(2 ** (tosa_shift - 1)) <= x < 2 ** (tosa_shift - 1):
        with pytest.raises(RescaleError):
            rescale(np.array([x]), m, tosa_shift, "tosa_double")
        return
    assert int(rescale(np.array([x]), m, tosa_shift, "tosa_double")[0]) == tfl
    assert tosa_apply_scale_32(x, m, tosa_shift) == tfl  # the oracle agrees with itself across sources


@given(x=st.integers(INT32_MIN, INT32_MAX), m=st.integers(0, INT32_MAX), shift=st.integers(-31, 30))
def test_single_differs_from_double_by_at_most_one(x, m, shift):
    try:
        d = int(rescale(np.array([x]), m, shift, "tflite_double")[0])
        s = int(rescale(np.array([x]), m, shift, "single")[0])
    except RescaleError:
        return
    assert abs(d - s) <= 1


# ------------------------------------------------------------------------------------------ known vectors


def test_known_vectors():
    quarter = (1 << 30, -1)  # 0.5 * 2^-1
    assert rescale(np.array([-6]), *quarter, "tflite_double").tolist() == [-2]
    assert rescale(np.array([-6]), *quarter, "single").tolist() == [-1]
    assert rescale(np.array([-6]), 1 << 30, 32, "tosa_double").tolist() == [-2]
    assert rescale(np.array([6, -2, 2, -10]), *quarter, "tflite_double").tolist() == [2, -1, 1, -3]
    assert rescale(np.array([6, -2, 2, -10]), *quarter, "single").tolist() == [2, 0, 1, -2]
    # dyadic / onnx: ties to even (1.5 -> 2, 2.5 -> 2, -2.5 -> -2)
    for scheme in ("dyadic", "onnx"):
        assert rescale(np.array([3, 5, -5, -3, 7]), 1, 1, scheme).tolist() == [2, 2, -2, -2, 4]
    # tosa_scale16: one rounding, ties up
    assert rescale(np.array([3, 5, -5, -3]), 1, 2, "tosa_scale16").tolist() == [1, 1, -1, -1]
    assert rescale(np.array([2, -2, 6, -6]), 1, 2, "tosa_scale16").tolist() == [1, 0, 2, -1]


def test_srdhm_saturation_and_rdbpot():
    assert saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX
    assert rounding_divide_by_pot(-3, 1) == -2 and rounding_divide_by_pot(3, 1) == 2
    assert rescale(np.array([INT32_MIN]), INT32_MIN, 0, "tflite_double").tolist() == [INT32_MAX]
    assert rescale(np.array([INT32_MIN]), INT32_MIN, -1, "tflite_double").tolist() == [1 << 30]
    assert rescale(np.array([INT32_MIN]), INT32_MAX, 0, "tflite_double").tolist() == [INT32_MIN + 1]
    assert rescale(np.array([INT32_MAX]), INT32_MIN, 0, "tflite_double").tolist() == [INT32_MIN + 1]
    # ties of the high multiply go toward +inf: -0.5 -> 0, 0.5 -> 1
    assert rescale(np.array([-1, 1]), 1 << 30, 0, "tflite_double").tolist() == [0, 1]


@pytest.mark.parametrize(
    "scheme, m, s",
    [
        ("tflite_double", INT32_MIN, -31),
        ("single", INT32_MAX, -31),
        ("tosa_double", INT32_MAX, 62),
        ("tosa_scale16", 2**15 - 1, 62),
        ("dyadic", 3, 5),
        ("onnx", 3, 5),
        ("dyadic", 2**30, 5),  # big-integer path
        ("onnx", 2**24 - 1, 200),  # big-integer path
    ],
)
def test_zero_dimensional_accumulator(scheme, m, s):
    """A 0-d accumulator gives the 0-d version of the 1-element result."""
    values = [INT32_MIN, -1, 5, INT32_MAX] + ([2**40, -(2**50)] if VALUE_BITS[scheme] == 64 else [])
    for v in values:
        got = rescale(np.array(v, dtype=np.int64), m, s, scheme)
        assert np.ndim(got) == 0 and got.dtype == np.int64
        assert int(got) == int(rescale(np.array([v]), m, s, scheme)[0])


def test_int64_saturation_of_exact_schemes():
    for scheme in ("dyadic", "onnx"):
        m = MULTIPLIER_RANGE[scheme][1]
        got = rescale(np.array([INT64_MAX, INT64_MIN, 1 << 30, -(1 << 30)]), m, 0, scheme)
        assert got.tolist() == [INT64_MAX, INT64_MIN, (1 << 30) * m, -(1 << 30) * m]
        expect_rescale([INT64_MAX, INT64_MIN, 1 << 33, -(1 << 33), 1 << 32], m, 0, scheme)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64])
def test_accumulator_dtypes(dtype):
    info = np.iinfo(dtype)
    acc = np.array([max(info.min, INT32_MIN), 0, 1, min(info.max, INT32_MAX)], dtype=dtype)
    expect_rescale(acc.astype(np.int64), 1 << 30, -1, "single")
    assert rescale(acc, 1 << 30, -1, "single").tolist() == rescale(acc.astype(np.int64), 1 << 30, -1, "single").tolist()


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_illegal_parameters_name_the_parameter(scheme):
    lo, hi = SHIFT_RANGE[scheme]
    mlo, mhi = MULTIPLIER_RANGE[scheme]
    acc = np.zeros((2, 3), dtype=np.int64)
    for bad in (lo - 1, hi + 1):
        with pytest.raises(ValueError, match=r"shift = "):
            rescale(acc, 1, bad, scheme)
    for bad in (mlo - 1, mhi + 1):
        with pytest.raises(ValueError, match=r"multiplier = "):
            rescale(acc, bad, lo, scheme)
    with pytest.raises(ValueError, match=r"multiplier\[2\]"):
        rescale(acc, np.array([1, 1, mhi + 1]), lo, scheme)
    with pytest.raises(ValueError, match=r"shift\[1\]"):
        rescale(acc, 1, np.array([lo, hi + 1, lo]), scheme)
    with pytest.raises(ValueError, match="multiplier must be integers"):
        rescale(acc, 0.5, lo, scheme)
    with pytest.raises(ValueError, match="shift must be integers"):
        rescale(acc, 1, np.array([float(lo)]), scheme)
    with pytest.raises(ValueError, match="multiplier"):
        rescale(acc, np.ones((1, 3), dtype=np.int64), lo, scheme)
    with pytest.raises(ValueError, match="accumulator"):
        rescale(acc.astype(np.float64), 1, lo, scheme)
    with pytest.raises(ValueError, match="accumulator"):
        rescale(np.array([2**63], dtype=np.uint64), 1, lo, scheme)
    if mlo >= 0:
        with pytest.raises(ValueError, match=r"multiplier = -1"):
            check_params(scheme, -1, lo)


def test_unknown_scheme():
    with pytest.raises(ValueError, match="scheme"):
        rescale(np.array([1]), 1, 1, "tflite")


@pytest.mark.parametrize(
    "scheme, acc, m, s, index, kind",
    [
        ("tflite_double", [[0, 1, 2], [3, 1 << 29, -(1 << 30) - 1]], 1 << 30, 2, 4, "left_shift"),
        ("tflite_double", [[0, 1, 2], [3, 4, 1 << 31]], 1 << 30, -1, 5, "width"),
        ("single", [[0, INT32_MAX, INT32_MIN], [3, 4, 5]], INT32_MAX, 30, 1, "result"),
        ("single", [[0, 1], [-(1 << 31) - 1, 0]], 1, 0, 2, "width"),
        ("tosa_double", [[0, 1, 2], [4, 3, -5]], 1, 3, 3, "tosa_value"),
        ("tosa_double", [[0, -4], [3, 4]], 1, 3, 3, "tosa_value"),
        ("tosa_scale16", [[0, 1 << 40], [1 << 46, 0]], 2**15 - 1, 2, 1, "result"),
        ("tosa_scale16", [[0, 1], [1 << 47, 0]], 1, 2, 2, "width"),
    ],
)
def test_data_dependent_errors_name_the_first_flat_index(scheme, acc, m, s, index, kind):
    acc = np.array(acc, dtype=np.int64)
    with pytest.raises(RescaleError) as info:
        rescale(acc, m, s, scheme)
    assert info.value.index == index and info.value.value == acc.ravel()[index]
    assert info.value.reason == reason_of(kind, scheme)
    assert f"element {index}" in str(info.value)
    expect_rescale(acc, m, s, scheme)


def test_per_channel_error_index():
    acc = np.array([[0, 0, 0], [0, 0, 8]], dtype=np.int64)
    with pytest.raises(RescaleError) as info:
        rescale(acc, 1, np.array([30, 30, 4]), "tosa_double")
    assert info.value.index == 5


def test_error_order_is_requirement_by_requirement():
    """Documented: one requirement at a time over the whole tensor (width first); the first element failing it."""
    acc = np.array([1 << 30, 1 << 33], dtype=np.int64)  # element 0: left shift overflows; element 1: too wide
    with pytest.raises(RescaleError) as info:
        rescale(acc, 1 << 30, 2, "tflite_double")
    assert (info.value.index, info.value.reason) == (1, reason_width(32))
    acc = np.array([[0, 1 << 40], [5, -(1 << 50)]], dtype=np.int64)
    with pytest.raises(RescaleError) as info:
        rescale(acc, 2**15 - 1, 2, "tosa_scale16")  # element 1: result too large; element 3: too wide
    assert (info.value.index, info.value.reason) == (3, reason_width(48))
    expect_rescale(acc, 2**15 - 1, 2, "tosa_scale16")


# --------------------------------------------------------------------------------------------- Requant


@st.composite
def requant_cases(draw):
    scheme = draw(st.sampled_from(ALL_SCHEMES))
    acc, m, s = draw(rescale_cases(scheme, in_width=True))  # Requant is fed by an accumulator of legal width
    lo = draw(st.sampled_from([-128, -(2**15), INT32_MIN, 0, -5]))
    hi = draw(st.sampled_from([127, 2**15 - 1, INT32_MAX, 6, 0]))
    if lo > hi:
        lo, hi = hi, lo
    zp = draw(st.one_of(st.integers(-128, 127), st.sampled_from([INT32_MIN, INT32_MAX, 0])))
    return acc, Q(scheme, m, s, zp, lo, hi)


@given(case=requant_cases())
def test_requant_matches_oracle(case):
    acc, q = case
    rq = Requant(q.scheme, np.array(q.multiplier), np.array(q.shift), q.zero_point, q.lo, q.hi)
    assert np.dtype(rq.out_dtype).name == q.dtype()
    try:
        want = requant_flat(acc.ravel().tolist(), acc.shape[-1], q)
    except OracleRescaleError as exc:
        with pytest.raises(RescaleError) as info:
            rq.apply(acc)
        assert info.value.index == exc.index
        return
    got = rq.apply(acc)
    assert got.dtype.name == q.dtype() and got.shape == acc.shape
    assert got.ravel().tolist() == want


def test_requant_saturates_at_output_range():
    rq = Requant("single", np.int64(1 << 30), np.int64(10), zero_point=10, lo=-128, hi=127)
    got = rq.apply(np.array([-(2**20), -1, 0, 1, 2**20], dtype=np.int32))
    assert got.dtype == np.int8 and got.tolist() == [-128, -128, 10, 127, 127]
    wide = Requant("tosa_double", np.int64(1 << 30), np.int64(31), zero_point=INT32_MAX, lo=INT32_MIN, hi=INT32_MAX)
    assert wide.apply(np.array([1 << 20, -(1 << 20)])).tolist() == [INT32_MAX, INT32_MAX - (1 << 19)]


def test_requant_zero_point_is_exact():
    """The zero point is added exactly even when the rescaled value sits at the int64 limits."""
    rq = Requant("dyadic", np.int64(1), np.int64(0), zero_point=-1, lo=-128, hi=127)
    assert rq.apply(np.array([INT64_MIN, INT64_MAX], dtype=np.int64)).tolist() == [-128, 127]
    rq = Requant("onnx", np.int64(2**24 - 1), np.int64(0), zero_point=INT32_MAX, lo=INT32_MIN, hi=INT32_MAX)
    assert rq.apply(np.array([INT64_MIN + 5, 2**40], dtype=np.int64)).tolist() == [INT32_MIN, INT32_MAX]


def test_dtype_for_range():
    assert dtype_for_range(-128, 127) is np.int8
    assert dtype_for_range(0, 128) is np.int16
    assert dtype_for_range(-129, 0) is np.int16
    assert dtype_for_range(-(2**15), 2**15) is np.int32
    with pytest.raises(ValueError):
        dtype_for_range(0, 2**31)


def test_requant_validation():
    with pytest.raises(ValueError, match="lo"):
        Requant("single", np.int64(1), np.int64(0), lo=5, hi=4)
    with pytest.raises(ValueError, match="zero_point"):
        Requant("single", np.int64(1), np.int64(0), zero_point=2**31)
    with pytest.raises(ValueError, match="zero_point"):
        Requant("single", np.int64(1), np.int64(0), zero_point=1.5)
    with pytest.raises(ValueError, match="hi"):
        Requant("single", np.int64(1), np.int64(0), hi=True)
    with pytest.raises(ValueError, match="shape"):
        Requant("single", np.array([1, 2]), np.array([0, 0, 0]))
    with pytest.raises(ValueError, match="shift"):
        Requant("tosa_double", np.int64(1), np.int64(1))
    assert Requant("single", np.array([1, 2, 3]), np.int64(0)).channels == 3
    assert Requant("single", np.int64(1), np.int64(0)).channels is None
