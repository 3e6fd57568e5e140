"""intref.spec.gemmlowp against plain Python integers (tests/gemmlowp_oracle.py), and the TFLite softmax, logistic
and tanh ops of intref.ops.tflite_nonlinear against the oracle's row-by-row kernels and their own Prepare rules.
(tests/test_tflite_nonlinear_tflm.py compares the ops with TensorFlow Lite Micro itself.)"""

from __future__ import annotations

import math

import gemmlowp_oracle as orc
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from intref.ops import tflite_nonlinear as tn
from intref.spec import gemmlowp as gl
from intref.spec.errors import RescaleError

I32 = st.integers(-(2**31), 2**31 - 1)
I32_EDGES = (-(2**31), -(2**31) + 1, -(2**30), -1, 0, 1, 2**30, 2**31 - 1)
I32_ARRAYS = st.lists(I32, min_size=1, max_size=64)


def f32s(lo: float, hi: float) -> st.SearchStrategy[float]:
    """float32 values (as TFLite stores scales) between lo and hi."""
    return st.floats(lo, hi).map(lambda v: float(np.float32(v)))


def arr(values) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def check(got: np.ndarray, want: list[int]) -> None:
    assert got.dtype == np.int64
    assert got.tolist() == want


# ---- primitives ----


@given(I32_ARRAYS, I32_ARRAYS)
@example([-(2**31)], [-(2**31)])  # the one saturating product
@example([-(2**31), 2**31 - 1, -1, 1], [2**31 - 1, -(2**31), 1, -1])
@example([1, -1, 3, -3], [2**30, 2**30, 2**30, 2**30])  # products exactly at ties: +-1/2, +-3/2
def test_saturating_rounding_doubling_high_mul(a, b):
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    check(
        gl.saturating_rounding_doubling_high_mul(arr(a), arr(b)), [orc.srdhm(x, y) for x, y in zip(a, b, strict=True)]
    )


def test_srdhm_ties_go_toward_plus_infinity():
    half = 2**30  # x * 2^30 / 2^31 = x / 2
    got = gl.saturating_rounding_doubling_high_mul(arr([1, -1, 3, -3, 5, -5]), half).tolist()
    assert got == [1, 0, 2, -1, 3, -2]


@given(st.lists(I32, min_size=1, max_size=16))
@example(list(I32_EDGES))
@example([1, -1, 3, -3, 2**31 - 1, -(2**31)])
def test_rounding_divide_by_pot_every_exponent(xs):
    x = arr(xs)[:, None]
    e = np.arange(32)[None, :]
    check(gl.rounding_divide_by_pot(x, e).ravel(), [orc.rdbpot(v, k) for v in xs for k in range(32)])


def test_rounding_divide_by_pot_ties_away_from_zero():
    assert gl.rounding_divide_by_pot(arr([1, -1, 3, -3, 5, -5]), 1).tolist() == [1, -1, 2, -2, 3, -3]
    assert gl.rounding_divide_by_pot(arr([2**30, -(2**30), -(2**31)]), 31).tolist() == [1, -1, -1]


@given(st.lists(I32, min_size=1, max_size=16))
@example(list(I32_EDGES))
@example([2**15 - 1, 2**15, -(2**15), -(2**15) - 1, 2**16])
def test_saturating_rounding_multiply_by_pot_every_exponent(xs):
    for e in range(-31, 32):
        check(gl.saturating_rounding_multiply_by_pot(arr(xs), e), [orc.srmbpot(v, e) for v in xs])


@given(I32_ARRAYS, I32_ARRAYS)
@example([2**31 - 1, -(2**31), 1, -1, 0], [2**31 - 1, -(2**31), 0, 0, -1])
def test_rounding_half_sum(a, b):
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    check(gl.rounding_half_sum(arr(a), arr(b)), [orc.rounding_half_sum(x, y) for x, y in zip(a, b, strict=True)])


@given(st.lists(st.integers(-(2**29), -1) | I32, min_size=1, max_size=32))
@example([-(2**29), -1, -(2**28), 0, -(2**31), 2**31 - 1])
def test_exp_on_interval_between_negative_one_quarter_and_0_excl(xs):
    got = gl.exp_on_interval_between_negative_one_quarter_and_0_excl(arr(xs))
    check(got, [orc.exp_quarter(v) for v in xs])


@given(st.lists(st.integers(-(2**31), 0) | I32, min_size=1, max_size=32), st.integers(0, 29))
@example(list(I32_EDGES), 0)
@example(list(I32_EDGES), 5)
@example(list(I32_EDGES), 6)
@example(list(I32_EDGES), 29)
def test_exp_on_negative_values(xs, integer_bits):
    check(gl.exp_on_negative_values(arr(xs), integer_bits), [orc.exp_negative(v, integer_bits) for v in xs])


@given(st.lists(st.integers(0, 2**31 - 1) | I32, min_size=1, max_size=32))
@example(list(I32_EDGES))
def test_one_over_one_plus_x_and_one_minus_x_over_one_plus_x(xs):
    check(gl.one_over_one_plus_x_for_x_in_0_1(arr(xs)), [orc.one_over_one_plus_x(v) for v in xs])
    check(gl.one_minus_x_over_one_plus_x_for_x_in_0_1(arr(xs)), [orc.one_minus_x_over_one_plus_x(v) for v in xs])


@given(st.lists(I32, min_size=1, max_size=32), st.integers(0, 28))
@example(list(I32_EDGES), 0)
@example(list(I32_EDGES), 4)
@example(list(I32_EDGES), 28)
def test_logistic_and_tanh(xs, integer_bits):
    check(gl.logistic(arr(xs), integer_bits), [orc.logistic(v, integer_bits) for v in xs])
    check(gl.tanh(arr(xs), integer_bits), [orc.tanh(v, integer_bits) for v in xs])


@given(st.lists(I32, min_size=1, max_size=32))
def test_logistic_at_29_integer_bits(xs):
    check(gl.logistic(arr(xs), 29), [orc.logistic(v, 29) for v in xs])


def test_all_integer_bits_exhaustively_on_a_grid():
    """Every supported integer_bits on 4001 raws spread over int32 (a grid hypothesis may not reach)."""
    xs = np.linspace(-(2**31), 2**31 - 1, 4001).astype(np.int64).tolist()
    for ib in range(30):
        check(gl.exp_on_negative_values(arr(xs), ib), [orc.exp_negative(v, ib) for v in xs])
        check(gl.logistic(arr(xs), ib), [orc.logistic(v, ib) for v in xs])
        if ib <= 28:
            check(gl.tanh(arr(xs), ib), [orc.tanh(v, ib) for v in xs])


def test_functions_are_accurate_and_exact_at_zero():
    raw = np.linspace(-(2**31), 0, 20001).astype(np.int64)  # Q5.26 in [-32, 0]
    assert np.abs(gl.exp_on_negative_values(raw, 5) / 2**31 - np.exp(raw / 2**26)).max() < 1.3e-6
    q4 = np.linspace(-(2**31), 2**31 - 1, 20001).astype(np.int64)  # Q4.27 in [-16, 16)
    x = q4 / 2**27
    assert np.abs(gl.logistic(q4, 4) / 2**31 - 1 / (1 + np.exp(-x))).max() < 1e-6
    assert np.abs(gl.tanh(q4, 4) / 2**31 - np.tanh(x)).max() < 2e-6
    assert int(gl.exp_on_negative_values(0, 5)) == 2**31 - 1
    assert int(gl.logistic(0, 4)) == 2**30 and int(gl.tanh(0, 4)) == 0


@given(st.lists(st.integers(-(2**31), 2**32 - 1), min_size=1, max_size=32))
@example([0, 1, 2**31 - 1, 2**31, 2**32 - 1, -1, -(2**31)])
def test_count_leading_zeros(xs):
    check(gl.count_leading_zeros(arr(xs)), [orc.clz32(v) for v in xs])
    assert gl.count_leading_zeros(arr([2**k for k in range(32)])).tolist() == [31 - k for k in range(32)]


@given(st.lists(st.integers(1, 2**31 - 1) | st.integers(-(2**31), -1), min_size=1, max_size=32), st.integers(0, 31))
@example([1, 2**31 - 1, -(2**31), -1, 2**19], 12)
def test_get_reciprocal(xs, integer_bits):
    recip, over = gl.get_reciprocal(arr(xs), integer_bits)
    want = [orc.get_reciprocal(v, integer_bits) for v in xs]
    check(recip, [w[0] for w in want])
    check(np.asarray(over, dtype=np.int64), [w[1] for w in want])
    for x, r, o in zip(xs, recip.tolist(), over.tolist(), strict=True):
        if x > 0:  # 1/x in x's own scale, to about 2^-28 relative
            assert math.isclose(r / 2**31 / 2.0**o, 2 ** (31 - integer_bits) / x, rel_tol=2**-27)


def test_get_reciprocal_refuses_zero():
    with pytest.raises(ValueError, match="nonzero"):
        gl.get_reciprocal(arr([5, 0]), 12)


def test_primitives_validate_exponents():
    with pytest.raises(ValueError, match="exponent"):
        gl.rounding_divide_by_pot(arr([1]), 32)
    with pytest.raises(ValueError, match="exponent"):
        gl.saturating_rounding_multiply_by_pot(arr([1]), -32)
    with pytest.raises(ValueError, match="integer_bits"):
        gl.exp_on_negative_values(arr([-1]), 30)
    with pytest.raises(ValueError, match="integer_bits"):
        gl.tanh(arr([-1]), 29)


def test_scalars_broadcast():
    assert gl.logistic(np.int64(2**27), 4).shape == ()
    assert gl.saturating_rounding_doubling_high_mul(arr([[1], [2]]), arr([2**31 - 1, 2**30])).shape == (2, 2)


# ---- float32 and the int16 tables ----


@given(st.lists(st.floats(-70000, 70000, width=32), min_size=1, max_size=64))
@example([0.5, -0.5, 1.5, -2.5, 0.49999997, -0.49999997, 8388607.5, 0.0, -0.0])
def test_round_half_away_f32(xs):
    got = gl.round_half_away_f32(np.array(xs, dtype=np.float32))
    assert got.dtype == np.float32
    assert got.tolist() == [orc.roundf(v) for v in xs]


@given(
    f32s(1e-6, 2**-10),
    st.integers(-32768, 32767),
    f32s(1e-6, 1.0),
    st.integers(-32768, 32767),
    st.sampled_from(["exp", "reciprocal", "tanh"]),
)
def test_lut_populate_int16(in_scale, in_zp, out_scale, out_zp, fn):
    """Over inputs within +-64 (exp stays finite in float32, so does every entry)."""
    if fn == "reciprocal" and in_scale * (-32768 - in_zp) <= -0.5:
        return  # 1/(1 + x) near its pole
    scalar = {
        "exp": lambda v: orc.f32(math.exp(v)),
        "reciprocal": lambda v: orc.f32(1 / orc.f32(1 + v)),
        "tanh": lambda v: orc.f32(math.tanh(v)),
    }[fn]
    vector = {
        "exp": lambda v: np.exp(v.astype(np.float64)).astype(np.float32),
        "reciprocal": lambda v: np.float32(1) / (np.float32(1) + v),
        "tanh": lambda v: np.tanh(v.astype(np.float64)).astype(np.float32),
    }[fn]
    got = gl.lut_populate_int16(in_scale, in_zp, out_scale, out_zp, vector)
    assert got.dtype == np.int16 and got.shape == (513,)
    assert got.tolist() == orc.lut_populate_int16(in_scale, in_zp, out_scale, out_zp, scalar)


def test_lut_populate_int16_refuses_nan_entries():
    with pytest.raises(ValueError, match="NaN"):  # an infinite sample gives inf - inf in its bias
        gl.lut_populate_int16(0.01, 0, 1e-3, 0, lambda v: np.where(v > 0, np.float32(np.inf), np.float32(0)))
    with pytest.raises(ValueError, match="NaN"):
        gl.lut_populate_int16(0.01, 0, 1e-3, 0, lambda v: np.full_like(v, np.nan))
    with pytest.raises(TypeError, match="float32"):
        gl.lut_populate_int16(0.01, 0, 1e-3, 0, lambda v: v.astype(np.float64))


@pytest.mark.skipif(orc.LIBM is None, reason="no C math library to load")
def test_softmax_tables_equal_those_built_with_the_c_librarys_expf():
    """TFLite builds the exp table with the C library's expf, which is not always correctly rounded; the table
    intref builds with correctly rounded exp is the same one."""
    r = 65535.0
    assert tn.SOFTMAX_EXP_LUT.tolist() == orc.lut_populate_int16(10 / r, 32767, 2 / r, 0, orc.expf)
    recip = orc.lut_populate_int16(1 / r, -32768, 2 / r, 0, lambda v: orc.f32(1 / orc.f32(1 + v)))
    assert tn.SOFTMAX_ONE_OVER_ONE_PLUS_X_LUT.tolist() == recip
    assert tn.SOFTMAX_EXP_LUT[-1] == 32767 and tn.SOFTMAX_ONE_OVER_ONE_PLUS_X_LUT[0] == 32767


@given(st.lists(st.integers(-32768, 32767), min_size=513, max_size=513), st.lists(st.integers(-32768, 32767)))
@example([32767, -32768] * 256 + [0], [-32768, -1, 0, 127, 128, 32767])
def test_lut_lookup_int16(lut, values):
    got = gl.lut_lookup_int16(arr(values), np.array(lut, dtype=np.int16))
    check(got, [orc.lut_lookup_int16(v, lut) for v in values])


def test_lut_lookup_int16_validates():
    with pytest.raises(ValueError, match="int16 range"):
        gl.lut_lookup_int16(arr([32768]), tn.SOFTMAX_EXP_LUT)
    with pytest.raises(ValueError, match="513"):
        gl.lut_lookup_int16(arr([0]), np.zeros(512, dtype=np.int16))


# ---- the ops against the oracle's kernels ----

F32_SCALES = f32s(1e-3, 0.5)


def random_rows(rng: np.random.Generator, dtype, rows: int, n: int) -> np.ndarray:
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max + 1, (rows, n))
    x[0] = x[0, 0]  # all equal
    x[1, : n // 2 + 1] = info.max  # ties at the maximum
    x[2] = info.min
    x[2, -1] = info.max
    x[3] = rng.integers(info.max - 3, info.max + 1, n)  # near-ties
    return x.astype(dtype)


@given(F32_SCALES, st.sampled_from([1.0, 0.5, 2.0, 0.125]), st.sampled_from([np.int8, np.int16]), st.integers(1, 40))
def test_softmax_int8_input_against_oracle(scale, beta, out_dtype, n):
    out_q = (1 / 256, -128) if out_dtype == np.int8 else (1 / 65536, -32768)
    p = tn.SoftmaxTflite.from_quantization(scale, beta, *out_q, np.int8, out_dtype)
    x = random_rows(np.random.default_rng(n), np.int8, 6, n)
    got = tn.softmax_tflite(x, p)
    assert got.dtype == out_dtype and got.shape == x.shape
    bits = 8 * np.dtype(out_dtype).itemsize
    want = [orc.softmax_int8(r, p.input_multiplier, p.input_left_shift, p.diff_min, bits) for r in x.tolist()]
    assert got.tolist() == want


@given(f32s(1e-5, 0.02), st.sampled_from([1.0, 0.5, 2.0]), st.integers(1, 40))
def test_softmax_int16_against_oracle(scale, beta, n):
    p = tn.SoftmaxTflite.from_quantization(scale, beta, 1 / 32768, 0, np.int16, np.int16)
    x = random_rows(np.random.default_rng(n), np.int16, 6, n)
    exp_lut, recip_lut = tn.SOFTMAX_EXP_LUT.tolist(), tn.SOFTMAX_ONE_OVER_ONE_PLUS_X_LUT.tolist()
    want = [orc.softmax_int16(r, p.input_multiplier, p.input_left_shift, exp_lut, recip_lut) for r in x.tolist()]
    assert tn.softmax_tflite(x, p).tolist() == want


@given(f32s(2**-28, 7.9), st.integers(-128, 127))
@example(2**-28, 0)
@example(7.5, 0)
def test_logistic_and_tanh_int8_against_oracle(scale, zp):
    x = np.arange(-128, 128, dtype=np.int8)
    lp = tn.LogisticTflite.from_quantization(scale, zp, 1 / 256, -128)
    tp = tn.TanhTflite.from_quantization(scale, zp, 1 / 128, 0)
    for params, op, is_tanh in ((lp, tn.logistic_tflite, False), (tp, tn.tanh_tflite, True)):
        args = (params.input_zero_point, params.input_range_radius, params.input_multiplier, params.input_left_shift)
        want = [orc.sigmoid_int8(v, *args, is_tanh) for v in range(-128, 128)]
        got = op(x, params)
        assert got.dtype == np.int8 and got.tolist() == want


@given(f32s(1e-6, 2.0) | st.sampled_from([2.0**k for k in range(-16, -9)]))
@example(2**-12)
@example(2**-11)
def test_logistic_and_tanh_int16_against_oracle(scale):
    x = np.arange(-32768, 32768, 7, dtype=np.int16)
    table = gl.SIGMOID_TABLE_UINT16.tolist()
    for cls, op, is_tanh in ((tn.LogisticTflite, tn.logistic_tflite, False), (tn.TanhTflite, tn.tanh_tflite, True)):
        try:
            p = cls.from_quantization(scale, 0, 2**-15, 0, np.int16)
        except ValueError as exc:
            assert "too large" in str(exc) and scale > 1.3
            continue
        want = [orc.sigmoid_int16(v, p.input_multiplier, p.input_left_shift, table, is_tanh) for v in x.tolist()]
        assert op(x, p).tolist() == want


def test_int16_power_of_two_scales():
    assert tn.LogisticTflite.from_quantization(2**-12, 0, 2**-15, 0, np.int16).input_multiplier == 0
    assert tn.LogisticTflite.from_quantization(2**-11, 0, 2**-15, 0, np.int16).input_multiplier != 0
    assert tn.TanhTflite.from_quantization(2**-11, 0, 2**-15, 0, np.int16).input_multiplier == 0
    assert tn.TanhTflite.from_quantization(2**-10, 0, 2**-15, 0, np.int16).input_multiplier != 0
    # within CheckedLog2's 1e-3 tolerance on log2 a scale counts as a power of two
    assert tn.TanhTflite.from_quantization(2**-12 * 1.0005, 0, 2**-15, 0, np.int16).input_multiplier == 0
    assert tn.TanhTflite.from_quantization(2**-12 * 1.001, 0, 2**-15, 0, np.int16).input_multiplier != 0


def test_softmax_prepare_values():
    p = tn.SoftmaxTflite.from_quantization(0.1, 1.0, 1 / 256, -128)
    real = float(np.float32(0.1)) * 2**26
    assert p.input_multiplier * 2.0 ** (p.input_left_shift - 31) == pytest.approx(real, rel=2**-30)
    assert p.diff_min == -math.floor(31 * 2**26 / 2**p.input_left_shift)
    # the cap: beta * scale * 2^26 above 2^31 - 1 gives left shift 31 and diff_min 0
    big = tn.SoftmaxTflite.from_quantization(100.0, 1.0, 1 / 256, -128)
    assert (big.input_multiplier, big.input_left_shift, big.diff_min) == (2**31 - 1, 31, 0)
    x = np.array([[5, 5, 4, -128]], dtype=np.int8)
    assert tn.softmax_tflite(x, big).tolist() == [[0, 0, -128, -128]]


def test_softmax_edge_rows():
    p = tn.SoftmaxTflite.from_quantization(0.05, 1.0, 1 / 256, -128)
    one = tn.softmax_tflite(np.array([7], dtype=np.int8), p)
    assert one.tolist() == [127]  # a single entry is probability 1: 255/256 after the clamp
    assert tn.softmax_tflite(np.zeros((3, 4), dtype=np.int8), p).tolist() == [[-64] * 4] * 3  # 1/4 each
    # TFLite Micro aborts (TFLITE_CHECK on the output shift) once a row's sum of exps reaches 512 for int8 output
    with pytest.raises(ValueError, match="sum of exponentials"):
        tn.softmax_tflite(np.zeros((1, 512), dtype=np.int8), p)
    assert tn.softmax_tflite(np.zeros((1, 511), dtype=np.int8), p).tolist() == [[-127] * 511]  # 256/511 rounds to 1
    p16 = tn.SoftmaxTflite.from_quantization(0.05, 1.0, 1 / 65536, -32768, np.int8, np.int16)
    assert tn.softmax_tflite(np.zeros((1, 4095), dtype=np.int8), p16).tolist() == [[-32752] * 4095]
    with pytest.raises(ValueError, match="sum of exponentials"):
        tn.softmax_tflite(np.zeros((1, 4096), dtype=np.int8), p16)  # 4096 * 2^19 wraps int32


# ---- validation ----


def test_softmax_validation_names_the_parameter():
    make = tn.SoftmaxTflite.from_quantization
    with pytest.raises(ValueError, match="output_zero_point"):
        make(0.1, 1.0, 1 / 256, 0)
    with pytest.raises(ValueError, match="output_scale"):
        make(0.1, 1.0, 1 / 255, -128)
    with pytest.raises(ValueError, match="output_scale"):
        make(0.1, 1.0, 1 / 65000, -32768, np.int8, np.int16)
    assert make(0.1, 1.0, 1 / 65536 * 1.0009, -32768, np.int8, np.int16).out_dtype == np.int16
    with pytest.raises(ValueError, match="out_dtype"):
        make(0.1, 1.0, 1 / 256, -128, np.int16, np.int8)
    with pytest.raises(ValueError, match="in_dtype"):
        make(0.1, 1.0, 1 / 256, -128, np.uint8, np.int8)
    with pytest.raises(ValueError, match="input_zero_point"):
        make(0.001, 1.0, 1 / 32768, 0, np.int16, np.int16, input_zero_point=3)
    with pytest.raises(ValueError, match="input_scale"):
        make(-0.1, 1.0, 1 / 256, -128)
    with pytest.raises(ValueError, match="must exceed 1"):
        make(1e-9, 1.0, 1 / 256, -128)
    with pytest.raises(ValueError, match="beta"):
        make(0.1, math.inf, 1 / 256, -128)
    with pytest.raises(ValueError, match="input_left_shift"):
        tn.SoftmaxTflite(2**30, 32)
    with pytest.raises(ValueError, match="input_multiplier"):
        tn.SoftmaxTflite(2**31, 3)
    with pytest.raises(ValueError, match="diff_min"):
        tn.SoftmaxTflite(2**30, 20, -(2**20))
    p = make(0.1, 1.0, 1 / 256, -128)
    with pytest.raises(ValueError, match="dtype int8"):
        tn.softmax_tflite(np.zeros((2, 3), dtype=np.int16), p)
    with pytest.raises(ValueError, match="last axis"):
        tn.softmax_tflite(np.zeros((2, 0), dtype=np.int8), p)
    with pytest.raises(TypeError, match="SoftmaxTflite"):
        tn.softmax_tflite(np.zeros(3, dtype=np.int8), object())


def test_softmax_int16_left_shift_overflow_is_an_error():
    """TFLite shifts x - max left in int32 before the multiply; where that overflows (undefined in C) intref
    raises, as for every TFLite rescale."""
    p = tn.SoftmaxTflite.from_quantization(8.0, 1.0, 1 / 32768, 0, np.int16, np.int16)
    assert p.input_left_shift == 16
    with pytest.raises(RescaleError):
        tn.softmax_tflite(np.array([[32767, -32768]], dtype=np.int16), p)
    x = np.array([[0, -1, -32767]], dtype=np.int16)
    exp_lut, recip_lut = tn.SOFTMAX_EXP_LUT.tolist(), tn.SOFTMAX_ONE_OVER_ONE_PLUS_X_LUT.tolist()
    want = orc.softmax_int16(x[0].tolist(), p.input_multiplier, p.input_left_shift, exp_lut, recip_lut)
    assert tn.softmax_tflite(x, p).tolist() == [want]


def test_logistic_tanh_validation_names_the_parameter():
    with pytest.raises(ValueError, match="output_zero_point"):
        tn.LogisticTflite.from_quantization(0.1, 0, 1 / 256, 0)
    assert tn.TanhTflite.from_quantization(0.1, 0, 0.3, 17).input_zero_point == 0  # TANH checks no output param
    with pytest.raises(ValueError, match="input_zero_point"):
        tn.TanhTflite.from_quantization(0.1, 200, 1 / 128, 0)
    with pytest.raises(ValueError, match="input_scale"):
        tn.LogisticTflite.from_quantization(8.0, 0, 1 / 256, -128)
    with pytest.raises(ValueError, match="input_scale"):
        tn.LogisticTflite.from_quantization(2**-29, 0, 1 / 256, -128)
    with pytest.raises(ValueError, match="input_zero_point"):
        tn.TanhTflite.from_quantization(2**-12, 1, 2**-15, 0, np.int16)
    with pytest.raises(ValueError, match="output_scale"):
        tn.TanhTflite.from_quantization(2**-12, 0, 2**-14, 0, np.int16)
    with pytest.raises(ValueError, match="input_scale"):
        tn.TanhTflite.from_quantization(4.0, 0, 2**-15, 0, np.int16)
    with pytest.raises(ValueError, match="dtype"):
        tn.TanhTflite.from_quantization(0.1, 0, 1 / 128, 0, np.int32)
    with pytest.raises(ValueError, match="input_left_shift"):
        tn.LogisticTflite(np.int16, 0, 1)
    with pytest.raises(ValueError, match="input_multiplier"):
        tn.TanhTflite(np.int16, 40000, 3)
    with pytest.raises(ValueError, match="input_range_radius"):
        tn.TanhTflite(np.int8, 2**30, 20, 0, 10000)
    p = tn.TanhTflite.from_quantization(0.1, 0, 1 / 128, 0)
    with pytest.raises(ValueError, match="dtype int8"):
        tn.tanh_tflite(np.zeros(3, dtype=np.uint8), p)
    with pytest.raises(TypeError, match="TanhTflite"):
        tn.tanh_tflite(np.zeros(3, dtype=np.int8), tn.LogisticTflite.from_quantization(0.1, 0, 1 / 256, -128))
    with pytest.raises(TypeError, match="numpy array"):
        tn.logistic_tflite([1, 2], tn.LogisticTflite.from_quantization(0.1, 0, 1 / 256, -128))
