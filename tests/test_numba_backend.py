"""The numba backend against the reference ops: same values, dtypes, shapes and errors, element for element.

These are the numba-specific checks (kernel paths, tilings, chunked sums, error precedence, threads); the
generic properties every backend shares live in the cross-backend tests.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from intref import ops
from intref.backends import get
from intref.ops import AddParams
from intref.spec import (
    POLICIES,
    SCHEMES,
    Accumulator,
    AccumulatorOverflowError,
    IntrefError,
    Requant,
    RescaleError,
    pack_int4,
)
from intref.spec.rescale import REASON_LEFT_SHIFT, REASON_RESULT, REASON_TOSA_VALUE

numba = pytest.importorskip("numba")
nbm = pytest.importorskip("intref.backends.numba_backend")
NUMBA = get("numba")
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


# --- comparing one call on both backends ---------------------------------------------------------------------


def _outcome(fn):
    try:
        return fn(), None
    except (IntrefError, ValueError, TypeError) as exc:
        return None, exc


def _error_fields(exc: Exception) -> tuple:
    if isinstance(exc, AccumulatorOverflowError):
        return ("overflow", exc.op, exc.index, exc.value, exc.bits)
    if isinstance(exc, RescaleError):
        return ("rescale", exc.scheme, exc.index, exc.value, exc.reason)
    return (type(exc).__name__, str(exc))


def same(op: str, *args, **kwargs):
    """Run ``op`` on the reference and on numba; assert identical results or identical errors."""
    expected, exp_err = _outcome(lambda: getattr(ops, op)(*args, **kwargs))
    actual, act_err = _outcome(lambda: getattr(NUMBA, op)(*args, **kwargs))
    if exp_err is not None:
        assert act_err is not None, f"{op}: reference raised {exp_err!r}, numba returned a result"
        assert type(act_err) is type(exp_err), f"{op}: {act_err!r} instead of {exp_err!r}"
        assert _error_fields(act_err) == _error_fields(exp_err)
        assert str(act_err) == str(exp_err)
        return exp_err
    assert act_err is None, f"{op}: numba raised {act_err!r}, the reference did not"
    exp_t = expected if isinstance(expected, tuple) else (expected,)
    act_t = actual if isinstance(actual, tuple) else (actual,)
    assert len(act_t) == len(exp_t)
    for e, a in zip(exp_t, act_t, strict=True):
        assert type(a) is type(e)
        assert a.dtype == e.dtype and a.shape == e.shape, f"{op}: {a.dtype}{a.shape} vs {e.dtype}{e.shape}"
        if not np.array_equal(a, e):
            bad = np.flatnonzero((np.asarray(a) != np.asarray(e)).ravel())
            raise AssertionError(f"{op}: {bad.size} elements differ, first at {bad[0]}")
    return expected


# --- random parameters -----------------------------------------------------------------------------------------


def random_acc(rng, scheme: str | None) -> Accumulator:
    top = SCHEMES[scheme].value_bits if scheme else 64
    bits = int(rng.choice([b for b in (16, 20, 24, 31, 32, 33, 40, 48, 63, 64) if b <= top]))
    return Accumulator(str(rng.choice(POLICIES)), bits)


def random_requant(rng, scheme: str, channels: int, magnitude: float, raw: bool = False) -> Requant:
    """Scales that bring accumulators of about ``magnitude`` into the int8 range, per channel or not; with
    ``raw``, any legal parameters (which often trip the scheme's checks)."""
    shape = (channels,) if rng.random() < 0.6 else ()
    lo, hi = (-128, 127) if rng.random() < 0.7 else (-(2**15), 2**15 - 1)
    zp = int(rng.integers(lo // 2, hi // 2 + 1))
    if raw:
        limits = SCHEMES[scheme]
        m = rng.integers(limits.multiplier[0], limits.multiplier[1] + 1, shape, dtype=np.int64)
        s = rng.integers(limits.shift[0], limits.shift[1] + 1, shape, dtype=np.int64)
        return Requant(scheme, m, s, zp, lo, hi)
    scale = rng.uniform(0.3, 3.0, min(channels, 16) if shape else ()) * 100.0 / max(magnitude, 1.0)
    rq = Requant.from_scale(scale, scheme, zp, lo, hi)
    if shape and channels > 16:  # deriving thousands of multipliers is slow: repeat sixteen of them
        rq = Requant(scheme, np.resize(rq.multiplier, channels), np.resize(rq.shift, channels), zp, lo, hi)
    return rq


def int8(rng, shape, lo=-128, hi=127) -> np.ndarray:
    return rng.integers(lo, hi + 1, shape, dtype=np.int8)


def weights(rng, shape, int4: bool):
    if int4:
        narrow = bool(rng.random() < 0.3)
        return pack_int4(rng.integers(-7 if narrow else -8, 8, shape), narrow=narrow)
    return int8(rng, shape)


# --- linear ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_linear_random(scheme):
    rng = np.random.default_rng(sorted(SCHEMES).index(scheme))
    for case in range(40):
        k = int(rng.choice([1, 3, 7, 63, 64, 65, 129]))
        n = int(rng.integers(1, 40))
        lead = [(), (1,), (int(rng.integers(1, 9)),), (2, int(rng.integers(1, 7)))][case % 4]
        x = int8(rng, (*lead, k))
        w = weights(rng, (n, k), int4=case % 3 == 0)
        bias = None if case % 5 == 0 else rng.integers(-(2**20), 2**20, n).astype(np.int32)
        acc = random_acc(rng, scheme)
        requant = None if case % 7 == 0 else random_requant(rng, scheme, n, 50.0 * k, raw=case % 6 == 5)
        same(
            "linear", x, w, bias, x_zp=int(rng.integers(-128, 128)), requant=requant, acc=acc, return_acc=bool(case % 2)
        )


def test_linear_odd_shapes_and_layouts():
    rng = np.random.default_rng(1)
    rq = Requant.from_scale(rng.uniform(1e-4, 1e-3, 33), "tflite_double", 5)
    w = int8(rng, (33, 70))
    x = int8(rng, (70, 9)).T  # not contiguous
    same("linear", x, w, requant=rq)
    same("linear", x[::2], w, requant=rq, return_acc=True)
    same("linear", int8(rng, (0, 70)), w, requant=rq, return_acc=True)  # no rows
    same("linear", int8(rng, (4, 0)), int8(rng, (33, 0)), rng.integers(-9, 9, 33).astype(np.int32), requant=rq)
    same("linear", int8(rng, (3, 70)), int8(rng, (0, 70)))  # no outputs
    same("linear", int8(rng, (1, 71)), pack_int4(rng.integers(-8, 8, (5, 71))), return_acc=True)  # odd K int4


def test_linear_sums_longer_than_an_int32_chunk():
    # 140000 products of (-128 - 127) * -128 exceed int32 by far: the kernel adds int32 chunks into int64.
    k = 140_000
    x = np.full((2, k), -128, dtype=np.int8)
    w = np.full((3, k), -128, dtype=np.int8)
    w[1] = 127
    for acc in (Accumulator("error", 64), Accumulator("wrap", 32), Accumulator("saturate", 40)):
        same("linear", x, w, x_zp=127, acc=acc, return_acc=True)
    same("linear", x, w, x_zp=127, acc=Accumulator("error", 48))  # overflow at a known index
    rq = Requant.from_scale(1e-12, "dyadic")
    same("linear", x, w, x_zp=127, requant=rq, acc=Accumulator("error", 64), return_acc=True)


# --- conv1d ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depthwise", [False, True])
def test_conv1d_random(depthwise):
    rng = np.random.default_rng(7 + depthwise)
    schemes = sorted(SCHEMES)
    for case in range(60):
        k = int(rng.choice([1, 2, 3, 5, 9, 16, 31, 87])) if case % 10 else 1
        c_in = int(rng.choice([1, 3, 8, 17, 64]))
        c_out = c_in if depthwise else int(rng.integers(1, 24))
        stride = int(rng.integers(1, 4))
        dilation = int(rng.integers(1, 9))
        t = int(rng.choice([0, 1, 2, 5, 30, 100]))
        pad = (int(rng.integers(0, 3 * k)), int(rng.integers(0, 3 * k))) if case % 3 else int(rng.integers(0, k))
        zp = int(rng.integers(-128, 128))
        x = int8(rng, (t, c_in))
        w = weights(rng, (c_out, 1 if depthwise else c_in, k), int4=case % 4 == 0)
        bias = rng.integers(-(2**16), 2**16, c_out).astype(np.int32) if case % 2 else None
        scheme = schemes[case % len(schemes)]
        acc = random_acc(rng, scheme)
        requant = None if case % 9 == 0 else random_requant(rng, scheme, c_out, 40.0 * k * (1 if depthwise else c_in))
        same(
            "conv1d",
            x,
            w,
            bias,
            x_zp=zp,
            requant=requant,
            acc=acc,
            stride=stride,
            dilation=dilation,
            padding=pad,
            groups=c_in if depthwise else 1,
            return_acc=bool(case % 2),
        )


def test_conv1d_layouts_and_edges():
    rng = np.random.default_rng(3)
    x = int8(rng, (16, 40)).T  # [40, 16], not contiguous
    rq = Requant.from_scale(1e-3, "single", -3)
    same("conv1d", x, int8(rng, (16, 1, 5)), groups=16, padding=(4, 0), requant=rq)  # causal depthwise
    same("conv1d", x, int8(rng, (8, 16, 3)), padding=1, stride=2, requant=rq, return_acc=True)
    same("conv1d", x[:2], int8(rng, (8, 16, 7)), padding=2, requant=rq)  # no output frames
    same("conv1d", x[:1], int8(rng, (8, 16, 7)), padding=3, requant=rq)  # T = 1, all but one tap padding
    same("conv1d", x, int8(rng, (1, 1, 3)), requant=rq)  # wrong channel count: the reference's ValueError
    # a tap sum longer than one int32 chunk (k > 65536 in one channel)
    k = 70_000
    same(
        "conv1d",
        np.full((k + 2, 1), -128, np.int8),
        np.full((1, 1, k), -128, np.int8),
        x_zp=127,
        acc=Accumulator("error", 64),
        return_acc=True,
    )


# --- requantize: every scheme's rounding corners ---------------------------------------------------------------


def corner_values() -> np.ndarray:
    base = [INT32_MIN, INT32_MIN + 1, -(2**30), -(2**24) - 1, -257, -129, -128, -3, -2, -1, 0, 1, 2, 3, 127, 128]
    base += [255, 2**24 + 1, 2**30, INT32_MAX - 1, INT32_MAX]
    return np.array(base, dtype=np.int32)


TIE_PARAMS = {
    # (multiplier, shift) pairs whose products land exactly on halves for many inputs
    "tflite_double": [
        (2**30, -1),
        (2**30, -2),
        (2**30, 0),
        (INT32_MIN, -1),
        (INT32_MIN, 0),
        (-(2**30), -3),
        (2**30, 3),
    ],
    "single": [(2**30, -1), (2**30, -4), (2**30, 0), (2**30 + 1, -2), (INT32_MAX, 30), (1, -31)],
    "tosa_double": [(2**30, 32), (2**30, 31), (2**30, 33), (2**29, 40), (3, 2), (INT32_MAX, 62)],
    "tosa_scale16": [(2**14, 16), (2**14, 15), (3, 2), (2**15 - 1, 62)],
    "dyadic": [(2**30, 31), (2**30, 32), (3, 1), (1, 0), (INT32_MAX, 62), (5, 62)],
    "onnx": [(2**23, 24), (2**23, 25), (3, 1), (1, 0), (2**24 - 1, 200), (2**23, 80)],
}


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_requantize_ties_and_corners(scheme):
    rng = np.random.default_rng(11)
    ramp = np.arange(-300, 301, dtype=np.int32)
    inputs = [ramp, corner_values(), rng.integers(INT32_MIN, INT32_MAX, 999, dtype=np.int64).astype(np.int32)]
    for m, s in TIE_PARAMS[scheme]:
        for x in inputs:
            for zp in (0, INT32_MIN, INT32_MAX, -5):
                for acc in (Accumulator(), Accumulator("wrap"), Accumulator("saturate", 24), Accumulator("error", 33)):
                    for lo, hi in ((-128, 127), (INT32_MIN, INT32_MAX)):
                        rq = Requant(scheme, np.int64(m), np.int64(s), 7, lo, hi)
                        same("requantize", x, rq, x_zp=zp, acc=acc, return_acc=True)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_requantize_random_params(scheme):
    rng = np.random.default_rng(5)
    for case in range(30):
        dtype = [np.int8, np.int16, np.int32][case % 3]
        info = np.iinfo(dtype)
        shape = [(17,), (3, 5), (2, 3, 4), (40000,), (0, 4)][case % 5]
        x = rng.integers(info.min, info.max, shape, endpoint=True, dtype=np.int64).astype(dtype)
        channels = shape[-1]
        rq = random_requant(rng, scheme, channels, float(info.max), raw=case % 2 == 0)
        zp = int(rng.integers(info.min, info.max, endpoint=True))
        same("requantize", x, rq, x_zp=zp, acc=random_acc(rng, scheme), return_acc=bool(case % 2))


def test_requantize_wide_products_fall_back_exactly():
    # A 64-bit accumulator times a dyadic/onnx multiplier can exceed 2^63: the spec's exact path decides.
    x = np.array([INT32_MIN, INT32_MAX, -(2**31) + 5, 12345, -1, 0], dtype=np.int32)
    for scheme, m, s in (("dyadic", INT32_MAX, 0), ("dyadic", INT32_MAX, 3), ("onnx", 2**24 - 1, 0), ("onnx", 3, 70)):
        rq = Requant(scheme, np.int64(m), np.int64(s), 0, INT32_MIN, INT32_MAX)
        for zp in (INT32_MAX, INT32_MIN, 0):
            same("requantize", x, rq, x_zp=zp, acc=Accumulator("error", 64), return_acc=True)
    same("requantize", x, Requant("dyadic", np.int64(0), np.int64(0)), acc=Accumulator("error", 64))


# --- errors: the same first element, the same precedence ------------------------------------------------------


def test_overflow_reports_first_flat_index():
    rng = np.random.default_rng(2)
    x = int8(rng, (6, 50), 100, 127)
    w = int8(rng, (7, 50), 100, 127)
    w[3] = 0  # column 3 never overflows
    err = same("linear", x, w, acc=Accumulator("error", 16), requant=Requant.from_scale(1e-3, "single"))
    assert isinstance(err, AccumulatorOverflowError) and err.index == 0
    x[0] = 0  # the first overflow moves to the second row
    w[0] = 0
    err = same("linear", x, w, acc=Accumulator("error", 20))
    assert isinstance(err, AccumulatorOverflowError)
    xd = np.zeros((20, 4), np.int8)
    xd[13, 2] = 127
    err = same(
        "conv1d",
        xd,
        np.full((4, 1, 3), 127, np.int8),
        groups=4,
        padding=1,
        acc=Accumulator("error", 16),
        bias=np.full(4, 2**15 - 127 * 127 + 10, np.int32),
    )
    assert isinstance(err, AccumulatorOverflowError) and err.index == 12 * 4 + 2


def test_rescale_errors_and_their_order():
    x = np.array([0, 1, 2**20, -(2**20), 2**30, 5], dtype=np.int32)
    # tflite_double: the left shift overflows int32
    err = same("requantize", x, Requant("tflite_double", np.int64(2**30), np.int64(12)))
    assert isinstance(err, RescaleError) and err.reason == REASON_LEFT_SHIFT and err.index == 2
    # single: the result does not fit int32
    err = same("requantize", x, Requant("single", np.int64(INT32_MAX), np.int64(30), 0, INT32_MIN, INT32_MAX))
    assert isinstance(err, RescaleError) and err.reason == REASON_RESULT and err.index == 2
    # tosa_double: a value error anywhere wins over a result error at a lower index
    xt = np.array([0, 2**29, 3, -(2**31)], dtype=np.int32)
    err = same("requantize", xt, Requant("tosa_double", np.int64(INT32_MAX), np.array([2, 2, 2, 31]), 0, -128, 127))
    assert isinstance(err, RescaleError) and err.reason == REASON_TOSA_VALUE and err.index == 1
    err = same("requantize", xt[:3], Requant("tosa_double", np.int64(INT32_MAX), np.int64(30), 0, -128, 127))
    assert isinstance(err, RescaleError) and err.reason == REASON_TOSA_VALUE and err.index == 1
    err = same("requantize", xt[:1] + 2**20, Requant("tosa_double", np.int64(INT32_MAX), np.int64(2), 0, -128, 127))
    assert isinstance(err, RescaleError) and err.reason == REASON_TOSA_VALUE
    # (a TOSA double result cannot leave int32 once its value check passed: v < 2^(s-1), m < 2^31)
    xr = np.array([0, 1000, 2**24, 2**25], dtype=np.int32)
    err = same("requantize", xr, Requant("tosa_scale16", np.int64(2**15 - 1), np.int64(2), 0, -128, 127))
    assert isinstance(err, RescaleError) and err.reason == REASON_RESULT and err.index == 2
    # an accumulator overflow comes before any rescale error
    err = same(
        "requantize", xr, Requant("tosa_scale16", np.int64(2**15 - 1), np.int64(2)), acc=Accumulator("error", 16)
    )
    assert isinstance(err, AccumulatorOverflowError) and err.index == 2


def test_add_error_precedence():
    a = np.array([[0, 100, -100, 50]], dtype=np.int8)
    b = np.array([[120, 0, 1, -128]], dtype=np.int8)
    out = Requant("tosa_double", np.int64(2**30), np.int64(40), 0, -128, 127)
    # input a fails its value range at index 1 while b fails at index 0: a's error is raised
    p = AddParams(
        0, 0, 20, np.int64(2**30), np.array([40, 27, 40, 40]), np.int64(2**30), np.array([27, 40, 40, 40]), out
    )
    err = same("add", a, b, p)
    assert isinstance(err, RescaleError) and err.index == 1 and err.value == 100 << 20
    p = AddParams(0, 0, 20, np.int64(2**30), np.int64(40), np.int64(2**30), np.array([27, 40, 40, 40]), out)
    err = same("add", a, b, p)
    assert isinstance(err, RescaleError) and err.index == 0 and err.value == 120 << 20
    # the sum overflows a 16-bit accumulator before the output rescale runs
    p = AddParams(0, 0, 20, np.int64(2**30), np.int64(29), np.int64(2**30), np.int64(29), out)
    err = same("add", a, b, p, acc=Accumulator("error", 16))
    assert isinstance(err, AccumulatorOverflowError) and err.index == 0
    # the output rescale itself fails (tflite_double left shift)
    out_t = Requant("tflite_double", np.int64(2**30), np.int64(30))
    p = AddParams(0, 0, 20, np.int64(2**30), np.int64(0), np.int64(2**30), np.int64(0), out_t)
    err = same("add", a, b, p)
    assert isinstance(err, RescaleError) and err.reason == REASON_LEFT_SHIFT


def test_mul_and_mean_errors():
    a = np.array([[-32768, 5], [7, 32767]], dtype=np.int16)
    b = np.array([[32767, 0], [0, -32768]], dtype=np.int16)
    rq = Requant.from_scale(1e-6, "single")
    err = same("mul", a, b, rq, a_zp=32767, b_zp=-32768)
    assert isinstance(err, AccumulatorOverflowError) and err.index == 0
    same("mul", a, b, rq, a_zp=32767, b_zp=-32768, acc=Accumulator("wrap"), return_acc=True)
    # mean: the divided multiplier's ValueError (a parameter for this T) comes before an overflow of the sums
    x = np.full((3000, 2), 32767, dtype=np.int16)
    tiny = Requant("tosa_double", np.int64(1), np.int64(62))  # dividing by T pushes the shift past 62
    err = same("mean_over_time", x, tiny, acc=Accumulator("error", 24))
    assert isinstance(err, ValueError)
    fine = Requant("tosa_double", np.int64(2**30), np.int64(40))
    err = same("mean_over_time", x, fine, acc=Accumulator("error", 24))
    assert isinstance(err, AccumulatorOverflowError)


# --- elementwise ops -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_add_and_mul_random(scheme):
    rng = np.random.default_rng(13)
    shapes = [((5,), (5,)), ((4, 1, 6), (3, 6)), ((2, 3), (1,)), ((40000,), (40000,)), ((3, 0), (3, 0))]
    for case in range(24):
        sa, sb = shapes[case % len(shapes)]
        da, db = [(np.int8, np.int8), (np.int16, np.int8), (np.int16, np.int16)][case % 3]
        a = rng.integers(np.iinfo(da).min, np.iinfo(da).max, sa, endpoint=True).astype(da)
        b = rng.integers(np.iinfo(db).min, np.iinfo(db).max, sb, endpoint=True).astype(db)
        azp, bzp = int(rng.integers(-100, 100)), int(rng.integers(-100, 100))
        channels = np.broadcast_shapes(sa, sb)[-1]
        out = random_requant(rng, scheme, channels, 2.0**30, raw=case % 5 == 4)
        left = 20 if da == np.int8 and db == np.int8 else 12
        a_rq = random_requant(rng, scheme, channels, 2.0**28)
        b_rq = random_requant(rng, scheme, channels, 2.0**28)
        params = AddParams(azp, bzp, left, a_rq.multiplier, a_rq.shift, b_rq.multiplier, b_rq.shift, out)
        same("add", a, b, params, acc=random_acc(rng, scheme), return_acc=bool(case % 2))
        mrq = random_requant(rng, scheme, channels, 2.0**14 if da == np.int8 else 2.0**28, raw=case % 5 == 4)
        same("mul", a, b, mrq, a_zp=azp, b_zp=bzp, acc=random_acc(rng, scheme), return_acc=bool(case % 2))


def test_from_scales_add_and_expanding_params():
    rng = np.random.default_rng(17)
    a, b = int8(rng, (30, 8)), int8(rng, (30, 8))
    for scheme in sorted(SCHEMES):
        if scheme == "tosa_scale16":
            continue  # its 15-bit multipliers cannot carry TFLite's 2^20 input shift scales
        params = AddParams.from_scales(0.05, 3, 0.11, -7, 0.09, 1, scheme=scheme)
        same("add", a, b, params, return_acc=True)
    # parameters that broadcast the output to a larger shape than the inputs' (handled by the reference)
    col = int8(rng, (30, 1))
    rq = Requant.from_scale(rng.uniform(0.01, 0.1, 4), "single")
    same("mul", col, col, rq)
    same("requantize", col, rq)
    same("mul", np.array(3, np.int8), np.array(-4, np.int8), Requant.from_scale(0.5, "single"))  # 0-d
    same("requantize", np.array(3, np.int32), Requant.from_scale(0.5, "single"), return_acc=True)


def test_lut_clamp_mean():
    rng = np.random.default_rng(19)
    t8 = int8(rng, (256,))
    t16 = rng.integers(-(2**15), 2**15, 65536).astype(np.int16)
    for x in (int8(rng, (7, 5)), int8(rng, (9, 4)).T, np.array(-128, np.int8), int8(rng, (0,))):
        same("lut", x, t8)
        same("lut", x, t8.astype(np.int16))
        same("clamp", x, -10, 10)
    x16 = rng.integers(-(2**15), 2**15, (50, 3)).astype(np.int16)
    same("lut", x16, t16)
    same("lut", x16, t8)  # wrong table size: the reference's error
    same("clamp", x16, -300, 301)
    same("clamp", rng.integers(INT32_MIN, INT32_MAX, 10, dtype=np.int64).astype(np.int32), INT32_MIN, 0)
    same("clamp", x16, 5, 4)
    for scheme in sorted(SCHEMES):
        for x in (int8(rng, (1, 6)), int8(rng, (37, 6)), x16):
            rq = random_requant(rng, scheme, x.shape[1], 1.0)
            same(
                "mean_over_time", x, rq, x_zp=int(rng.integers(-100, 100)), acc=random_acc(rng, scheme), return_acc=True
            )


# --- threads, registry -----------------------------------------------------------------------------------------


def test_thread_count_does_not_change_bytes():
    rng = np.random.default_rng(23)
    x = int8(rng, (37, 96))
    w = int8(rng, (70, 96))
    bias = rng.integers(-(2**16), 2**16, 70).astype(np.int32)
    rq = Requant.from_scale(rng.uniform(1e-4, 1e-3, 70), "tflite_double", 3)
    xd = int8(rng, (90, 48))
    wd = int8(rng, (48, 1, 9))
    ar = rng.integers(-(2**15), 2**15, (3, 20000)).astype(np.int16)
    calls = [
        lambda: NUMBA.linear(x, w, bias, x_zp=3, requant=rq, return_acc=True),
        lambda: NUMBA.linear(x[:1], w, bias, requant=rq, return_acc=True),  # T = 1: outputs split across threads
        lambda: NUMBA.conv1d(xd, wd, groups=48, padding=8, dilation=2, requant=Requant.from_scale(1e-3, "single")),
        lambda: NUMBA.conv1d(xd, int8(np.random.default_rng(0), (16, 48, 3)), padding=1, return_acc=True),
        lambda: NUMBA.mul(ar, ar[::-1], Requant.from_scale(1e-7, "dyadic"), return_acc=True),
    ]

    def run_all() -> list[bytes]:
        out = []
        for call in calls:
            result = call()
            out += [r.tobytes() for r in (result if isinstance(result, tuple) else (result,))]
        return out

    previous = nbm.get_threads()
    try:
        runs = []
        for threads in (1, numba.config.NUMBA_NUM_THREADS, 1):
            nbm.set_threads(threads)
            runs.append(run_all())
        assert runs[0] == runs[1] == runs[2]
    finally:
        nbm.set_threads(previous)


def test_overflow_index_does_not_depend_on_threads():
    x = np.zeros((64, 32), np.int8)
    x[[40, 9, 50], :] = 127
    w = np.full((12, 32), 127, np.int8)
    previous = nbm.get_threads()
    try:
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            nbm.set_threads(threads)
            err = same("linear", x, w, acc=Accumulator("error", 16))
            assert err.index == 9 * 12
    finally:
        nbm.set_threads(previous)


def test_registry_and_thread_settings(monkeypatch):
    assert NUMBA.name == "numba"
    assert isinstance(NUMBA, nbm.NumbaBackend)
    assert 1 <= nbm.get_threads() <= numba.config.NUMBA_NUM_THREADS
    for bad in (0, -1, 10**6, 1.5, True):
        with pytest.raises(ValueError):
            nbm.set_threads(bad)
    previous = nbm.get_threads()
    try:
        monkeypatch.setenv("INTREF_THREADS", "1")
        nbm._threads_from_env()
        assert nbm.get_threads() == 1
        monkeypatch.setenv("INTREF_THREADS", "100000")  # more than numba has: all of them
        nbm._threads_from_env()
        assert nbm.get_threads() == numba.config.NUMBA_NUM_THREADS
        monkeypatch.setenv("INTREF_THREADS", "two")
        with pytest.raises(ValueError, match="INTREF_THREADS"):
            nbm._threads_from_env()
    finally:
        nbm.set_threads(previous)


def test_unavailable_without_numba():
    script = (
        "import sys; sys.modules['numba'] = None\n"
        "from intref import backends\n"
        "try:\n    backends.get('numba')\nexcept backends.BackendUnavailable as exc:\n    print('unavailable:', exc)\n"
        "print(backends.get('auto').name in ('native', 'numpy'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "unavailable:" in result.stdout and "numba is not installed" in result.stdout
    assert result.stdout.strip().endswith("True")


def _swapped(a: np.ndarray) -> np.ndarray:
    """The same values in the other byte order (e.g. >i2 on a little-endian machine)."""
    return a.astype(a.dtype.newbyteorder("S"))


def test_byte_swapped_inputs_give_the_reference_values():
    rng = np.random.default_rng(11)
    x16 = rng.integers(-32768, 32768, size=(7, 9)).astype(np.int16)
    x8 = rng.integers(-128, 128, size=(5, 12)).astype(np.int8)
    w = rng.integers(-128, 128, size=(3, 12)).astype(np.int8)
    bias = rng.integers(-1000, 1000, size=3).astype(np.int32)
    acc32 = rng.integers(-(2**20), 2**20, size=(4, 6)).astype(np.int32)
    table = rng.integers(-32768, 32768, size=65536).astype(np.int16)
    rq = Requant("single", np.full(3, 1 << 30, dtype=np.int32), np.full(3, -4, dtype=np.int32))
    rq6 = Requant("tflite_double", np.full(6, 1 << 30, dtype=np.int32), np.full(6, -3, dtype=np.int32))
    cases = [
        ("clamp", (_swapped(x16), -100, 100), {}),
        ("lut", (_swapped(x16), _swapped(table)), {}),
        ("linear", (x8, w, _swapped(bias)), {"requant": rq}),
        ("requantize", (_swapped(acc32), rq6), {}),
        ("argmax", (_swapped(x16),), {}),
    ]
    numba_backend, reference = get("numba"), get("numpy")
    for op, args, kwargs in cases:
        expected = getattr(reference, op)(*args, **kwargs)
        got = getattr(numba_backend, op)(*args, **kwargs)
        assert got.shape == expected.shape and got.dtype.type == expected.dtype.type, op
        assert np.array_equal(got, expected), op
