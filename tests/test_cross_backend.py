"""Every op on every backend, every forced ISA and 1 and 2 threads equals the NumPy reference, bit for bit.

Cases are a fixed, seeded set with awkward sizes (T = 1, odd channel counts, K not a multiple of 4 or 64, long
kernels, dilations, strides, paddings), edge values (all -128, all 127, zero points at the extremes, exact ties
for every scheme), int8 and int4 weights, every scheme and policy; a bounded hypothesis run adds random ones.
Errors must match too: same exception type, message and (for arithmetic errors) flat index.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
from conftest import BackendConfig, load_backend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intref import ops
from intref.backends import compare
from intref.spec import (
    POLICIES,
    Accumulator,
    AccumulatorOverflowError,
    PackedInt4,
    Requant,
    RescaleError,
    pack_int4,
    quantize_multiplier,
    quantize_multipliers,
    scheme_limits,
)

SCHEMES = ("tflite_double", "single", "tosa_double", "tosa_scale16", "dyadic", "onnx")
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
RANDOM_EXAMPLES = max(8, settings.default.max_examples // 4)


@dataclass
class Case:
    op: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""

    def __str__(self) -> str:
        return f"{self.op}[{self.label}]"


def _arrays(case: Case) -> list[np.ndarray]:
    found = [a for a in case.args if isinstance(a, np.ndarray)]
    return found + [a.data for a in case.args if isinstance(a, PackedInt4)]


def outcome(fn: Callable, case: Case):
    """('ok', result) or ('error', exception); the call must leave its input arrays as they were."""
    before = [a.copy() for a in _arrays(case)]
    try:
        result = "ok", fn(*case.args, **case.kwargs)
    except Exception as exc:  # every exception is part of the contract
        result = "error", exc
    for old, new in zip(before, _arrays(case), strict=True):
        assert np.array_equal(old, new), f"{case}: an input array was modified"
    return result


def error_signature(exc: Exception) -> tuple:
    sig = (type(exc), str(exc))
    if isinstance(exc, AccumulatorOverflowError):
        sig += (exc.op, exc.index, exc.value, exc.bits)
    if isinstance(exc, RescaleError):
        sig += (exc.scheme, exc.index, exc.value, exc.reason)
    return sig


def assert_same(case: Case, expected, actual) -> None:
    (e_kind, e_val), (a_kind, a_val) = expected, actual
    if e_kind == "error" or a_kind == "error":
        assert e_kind == a_kind, f"{case}: reference {e_kind} {e_val!r}, backend {a_kind} {a_val!r}"
        assert error_signature(a_val) == error_signature(e_val), f"{case}: {a_val!r} != {e_val!r}"
        return
    try:
        mismatch = compare(case.op, e_val, a_val)
    except AssertionError as exc:
        raise AssertionError(f"{case}: {exc}") from None
    assert mismatch is None, f"{case}: {mismatch}"


# ----------------------------------------------------------------------------------------- case builders


def tensor(rng: np.random.Generator, shape, dtype=np.int8, mode: str = "random") -> np.ndarray:
    info = np.iinfo(dtype)
    if mode == "min":
        return np.full(shape, info.min, dtype=dtype)
    if mode == "max":
        return np.full(shape, info.max, dtype=dtype)
    if mode == "small":
        return np.asarray(rng.integers(-3, 4, size=shape)).astype(dtype)
    return np.asarray(rng.integers(int(info.min), int(info.max) + 1, size=shape, dtype=np.int64)).astype(dtype)


def requant(rng: np.random.Generator, channels: int, typical: float, scheme: str, kind: str | None = None):
    """A realistic Requant from quantize_multipliers, or one at the extremes of the legal parameters."""
    kind = kind or ("extreme" if rng.integers(0, 5) == 0 else "realistic")
    per_channel = rng.integers(0, 2) == 1
    shape = (channels,) if per_channel else ()
    if kind == "realistic":
        m, s = quantize_multipliers(2.0 ** rng.uniform(-3, 2, size=shape) * 127 / typical, scheme)
    else:
        limits = scheme_limits(scheme)
        m = np.full(shape, rng.choice([limits.multiplier[1], limits.multiplier[1] // 2 + 1, 1]), dtype=np.int64)
        s = rng.integers(limits.shift[0], limits.shift[1] + 1, size=shape)
    zp = int(rng.choice([0, -128, 127, rng.integers(-128, 128)]))
    lo, hi = [(-128, 127), (zp, 127), (-(2**15), 2**15 - 1)][rng.integers(0, 3)]
    return Requant(scheme, m, s, zp, lo, hi)


def accumulator(rng: np.random.Generator, rq: Requant | None) -> Accumulator:
    width = 64 if rq is None else scheme_limits(rq.scheme).value_bits
    bits = [b for b in (16, 24, 32, 32, 32, 48, 64) if b <= width]
    return Accumulator(str(rng.choice(POLICIES)), int(rng.choice(bits)))


def weights(rng: np.random.Generator, shape, kind: str):
    if kind == "int8":
        return tensor(rng, shape)
    if kind in ("min", "max"):
        return tensor(rng, shape, mode=kind)
    narrow = kind == "int4_narrow"
    return pack_int4(rng.integers(-7 if narrow else -8, 8, size=shape), narrow=narrow)


def bias(rng: np.random.Generator, n: int, kind: str):
    if kind == "none":
        return None
    if kind == "high":
        return (INT32_MAX - rng.integers(0, 3000, size=n)).astype(np.int32)
    return rng.integers(-(2**18), 2**18, size=n).astype(np.int32)


def linear_case(rng, k: int, n: int, lead=(3,), x_mode="random", w_kind="int8", scheme=None, label="") -> Case:
    scheme = scheme or str(rng.choice(SCHEMES))
    x = tensor(rng, lead + (k,), mode=x_mode)
    rq = None if rng.integers(0, 6) == 0 else requant(rng, n, 128 * 64 * np.sqrt(k), scheme)
    kwargs = dict(
        x_zp=int(rng.choice([0, -128, 127, rng.integers(-128, 128)])),
        requant=rq,
        acc=accumulator(rng, rq),
        return_acc=bool(rng.integers(0, 2)),
    )
    b = bias(rng, n, str(rng.choice(["none", "small", "small", "high"])))
    return Case("linear", (x, weights(rng, (n, k), w_kind), b), kwargs, label or f"K{k} N{n} {w_kind} {x_mode}")


def conv_case(rng, t, c, k, stride=1, dilation=1, padding=0, depthwise=False, c_out=None, w_kind="int8", label=""):
    c_out = c if depthwise else (c_out or c)
    scheme = str(rng.choice(SCHEMES))
    x = tensor(rng, (t, c), mode=str(rng.choice(["random", "random", "min", "max"])))
    w = weights(rng, (c_out, 1 if depthwise else c, k), w_kind)
    rq = (
        None
        if rng.integers(0, 6) == 0
        else requant(rng, c_out, 128 * 64 * np.sqrt(k * (1 if depthwise else c)), scheme)
    )
    kwargs = dict(
        x_zp=int(rng.choice([0, -128, 127, rng.integers(-128, 128)])),
        requant=rq,
        acc=accumulator(rng, rq),
        stride=stride,
        dilation=dilation,
        padding=padding,
        groups=c if depthwise else 1,
        return_acc=bool(rng.integers(0, 2)),
    )
    b = bias(rng, c_out, str(rng.choice(["none", "small", "high"])))
    name = (
        label or f"T{t} C{c}->{c_out} k{k} s{stride} d{dilation} p{padding} {'dw' if depthwise else 'dense'} {w_kind}"
    )
    return Case("conv1d", (x, w, b), kwargs, name)


def requantize_case(rng, shape, dtype, scheme=None, kind=None, label="") -> Case:
    scheme = scheme or str(rng.choice(SCHEMES))
    x = tensor(rng, shape, dtype, mode=str(rng.choice(["random", "random", "min", "max", "small"])))
    typical = {np.int8: 128.0, np.int16: 2.0**15, np.int32: 2.0**31}[dtype]
    rq = requant(rng, shape[-1] if shape else 1, typical, scheme, kind)
    info = np.iinfo(dtype)
    zp = int(rng.choice([0, info.min, info.max, rng.integers(-100, 100)]))
    kwargs = dict(x_zp=zp, acc=accumulator(rng, rq), return_acc=bool(rng.integers(0, 2)))
    return Case("requantize", (x, rq), kwargs, label or f"{np.dtype(dtype).name}{shape} {scheme} {kind}")


def add_case(rng, a_shape, b_shape, a_dtype=np.int8, b_dtype=np.int8, scheme=None, label="") -> Case:
    scheme = scheme or str(rng.choice(SCHEMES))
    a, b = tensor(rng, a_shape, a_dtype), tensor(rng, b_shape, b_dtype)
    if rng.integers(0, 4) == 0:
        a = tensor(rng, a_shape, a_dtype, mode=str(rng.choice(["min", "max"])))
    channels = np.broadcast_shapes(a_shape, b_shape)[-1]
    left_shift = 20 if np.int16 not in (a_dtype, b_dtype) else 14
    a_zp = int(np.iinfo(a_dtype).max if rng.integers(0, 3) == 0 else 0)
    b_zp = int(np.iinfo(b_dtype).min // 2 if rng.integers(0, 3) == 0 else 0)
    shape = (channels,) if rng.integers(0, 2) else ()
    a_scale, b_scale = 2.0 ** rng.uniform(-8, 0, size=shape), 2.0 ** rng.uniform(-8, 0, size=shape)
    twice = 2 * np.maximum(a_scale, b_scale)
    am, ash = quantize_multipliers(a_scale / twice, scheme)
    bm, bsh = quantize_multipliers(b_scale / twice, scheme)
    out = requant(rng, channels, 64.0 * 2.0**left_shift, scheme)
    params = ops.AddParams(a_zp, b_zp, left_shift, am, ash, bm, bsh, out)
    kwargs = dict(acc=accumulator(rng, out), return_acc=bool(rng.integers(0, 2)))
    return Case("add", (a, b, params), kwargs, label or f"{a_shape}+{b_shape} {scheme}")


def mul_case(rng, a_shape, b_shape, a_dtype=np.int8, b_dtype=np.int8, scheme=None, label="") -> Case:
    scheme = scheme or str(rng.choice(SCHEMES))
    a, b = tensor(rng, a_shape, a_dtype), tensor(rng, b_shape, b_dtype)
    channels = np.broadcast_shapes(a_shape, b_shape)[-1]
    rq = requant(rng, channels, float(np.iinfo(a_dtype).max) * float(np.iinfo(b_dtype).max), scheme)
    a_zp = int(rng.choice([0, np.iinfo(a_dtype).min, np.iinfo(a_dtype).max]))
    b_zp = int(rng.choice([0, np.iinfo(b_dtype).max, 3]))
    kwargs = dict(a_zp=a_zp, b_zp=b_zp, acc=accumulator(rng, rq), return_acc=bool(rng.integers(0, 2)))
    return Case("mul", (a, b, rq), kwargs, label or f"{a_shape}*{b_shape} {scheme}")


def mean_case(rng, t, c, dtype=np.int8, scheme=None, label="") -> Case:
    scheme = scheme or str(rng.choice(SCHEMES))
    x = tensor(rng, (t, c), dtype, mode=str(rng.choice(["random", "random", "min", "max"])))
    rq = requant(rng, c, float(np.iinfo(dtype).max), scheme)
    zp = int(rng.choice([0, np.iinfo(dtype).min, np.iinfo(dtype).max]))
    kwargs = dict(x_zp=zp, acc=accumulator(rng, rq), return_acc=bool(rng.integers(0, 2)))
    return Case("mean_over_time", (x, rq), kwargs, label or f"T{t} C{c} {np.dtype(dtype).name} {scheme}")


def lut_case(rng, shape, x_dtype, t_dtype) -> Case:
    size = 256 if x_dtype == np.int8 else 65536
    x = tensor(rng, shape, x_dtype)
    x.flat[0] = np.iinfo(x_dtype).min
    x.flat[-1] = np.iinfo(x_dtype).max
    return Case("lut", (x, tensor(rng, (size,), t_dtype)), {}, f"{shape} {np.dtype(x_dtype).name}")


def clamp_case(rng, shape, dtype, lo, hi) -> Case:
    return Case("clamp", (tensor(rng, shape, dtype), lo, hi), {}, f"{shape} {np.dtype(dtype).name} [{lo}, {hi}]")


def tie_cases() -> list[Case]:
    """Every scheme at scales 1/2, 1/4, 1/8 on every small accumulator: exact ties decide the rounding."""
    out = []
    x = np.arange(-64, 64, dtype=np.int32).reshape(16, 8)
    for scheme in SCHEMES:
        for scale in (0.5, 0.25, 0.125, 0.75):
            m, s = quantize_multiplier(scale, scheme)
            rq = Requant(scheme, np.int64(m), np.int64(s))
            out.append(Case("requantize", (x, rq), dict(return_acc=True), f"ties {scheme} {scale}"))
            rq8 = Requant(scheme, np.full(8, m), np.full(8, s), zero_point=3)
            out.append(
                Case("mul", (x[:, :8].astype(np.int8), np.int8(1) + np.zeros(8, np.int8), rq8), {}, f"ties {scheme}")
            )
    return out


@functools.cache
def fixed_cases() -> tuple[Case, ...]:
    rng = np.random.default_rng(20240611)
    cases: list[Case] = []
    for k in (1, 3, 4, 63, 64, 65, 143, 577):
        for n, lead in ((1, (1,)), (3, (5,)), (17, (2, 3)), (65, (4,))):
            cases.append(linear_case(rng, k, n, lead, w_kind=str(rng.choice(["int8", "int4", "int4_narrow"]))))
    for x_mode, w_kind in (("min", "min"), ("max", "max"), ("min", "max"), ("max", "int4"), ("min", "int4_narrow")):
        for scheme in SCHEMES:
            cases.append(linear_case(rng, 577, 5, (2,), x_mode, w_kind, scheme))
    # A few rows (a decoder step) against many output channels: blocks of 64 channels and their remainder.
    for rows in (1, 2, 3, 4):
        for k, n in ((1, 64), (65, 130), (224, 201), (896, 67)):
            cases.append(linear_case(rng, k, n, (rows,), label=f"few rows {rows} K{k} N{n}"))
    for k, dilation, stride in (
        (1, 1, 1),
        (3, 2, 1),
        (9, 1, 2),
        (9, 8, 3),
        (31, 3, 1),
        (87, 1, 1),
        (87, 8, 2),
        (5, 5, 3),
    ):
        span = dilation * (k - 1)
        for t in (1, 2, 7, span + 3):
            for c, depthwise in ((1, False), (3, True), (17, False), (65, True), (5, False)):
                padding = [0, span // 2, (span, 1), (0, span + 2)][int(rng.integers(0, 4))]
                if t + sum(padding if isinstance(padding, tuple) else (padding, padding)) <= span:
                    padding = (span, span)  # keep at least one output
                w_kind = str(rng.choice(["int8", "int8", "int4", "int4_narrow"]))
                cases.append(conv_case(rng, t, c, k, stride, dilation, padding, depthwise, c_out=c + 2, w_kind=w_kind))
    cases.append(conv_case(rng, 3, 2, 9, 1, 1, 0, False, label="no output (T_out = 0)"))
    for dtype in (np.int8, np.int16, np.int32):
        for shape in ((1,), (7,), (3, 5), (2, 3, 17), (1, 65), ()):
            cases.append(requantize_case(rng, shape, dtype, kind="realistic"))
            cases.append(requantize_case(rng, shape, dtype, kind="extreme"))
    cases += tie_cases()
    for a_shape, b_shape in (((3, 5), (3, 5)), ((3, 5), (5,)), ((7,), (3, 7)), ((4, 1), (1, 3)), ((1,), (65,))):
        for dtypes in ((np.int8, np.int8), (np.int16, np.int8), (np.int16, np.int16)):
            cases.append(add_case(rng, a_shape, b_shape, *dtypes))
            cases.append(mul_case(rng, a_shape, b_shape, *dtypes))
    for t in (1, 2, 3, 7, 100, 1001):
        for c in (1, 5, 17):
            cases.append(mean_case(rng, t, c, np.int8 if t % 2 else np.int16))
    for x_dtype in (np.int8, np.int16):
        for t_dtype in (np.int8, np.int16):
            for shape in ((1,), (3, 7), (2, 3, 65)):
                cases.append(lut_case(rng, shape, x_dtype, t_dtype))
    for dtype in (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        for lo, hi in ((0, int(info.max)), (int(info.min), int(info.max)), (-6, 6), (5, 5)):
            cases.append(clamp_case(rng, (3, 17), dtype, lo, hi))
    return tuple(cases)


@functools.cache
def error_cases() -> tuple[Case, ...]:
    """Calls the reference rejects: arithmetic errors (with a flat index) and validation errors."""
    rng = np.random.default_rng(7)
    x = tensor(rng, (4, 9))
    w = tensor(rng, (3, 9))
    high = np.array([0, INT32_MAX - 10, INT32_MAX], dtype=np.int32)
    rq_left = Requant("tflite_double", np.int64(2**30), np.int64(20))
    cases = [
        Case("linear", (np.full((4, 9), 127, np.int8), np.full((3, 9), 127, np.int8), high), {}, "overflow error"),
        Case(
            "linear",
            (np.full((2, 9), 127, np.int8), np.full((3, 9), 127, np.int8)),
            dict(acc=Accumulator("error", 16), name="enc.fc"),
            "16-bit overflow",
        ),
        Case("linear", (np.full((2, 9), 100, np.int8), w), dict(requant=rq_left), "left shift RescaleError"),
        Case(
            "conv1d",
            (np.full((6, 3), 127, np.int8), np.full((3, 1, 3), 127, np.int8)),
            dict(groups=3, acc=Accumulator("error", 16)),
            "dw 16-bit",
        ),
        Case(
            "conv1d",
            (np.full((6, 3), 127, np.int8), np.full((4, 3, 3), 127, np.int8), high[[0, 0, 1, 2]]),
            {},
            "dense bias",
        ),
        Case(
            "requantize",
            (np.array([0, 2**23, -(2**23) - 1], np.int32), Requant("single", 1, 0)),
            dict(acc=Accumulator("error", 24)),
            "24-bit",
        ),
        Case(
            "requantize", (np.array([[1, 2], [3, 4]], np.int32), Requant("tosa_double", 1, 2)), {}, "TOSA value range"
        ),
        Case(
            "mul",
            (np.full((2, 3), -128, np.int8), np.full((3,), -128, np.int8), Requant("single", 1, 0)),
            dict(a_zp=127, b_zp=127, acc=Accumulator("error", 16)),
            "mul 16-bit",
        ),
        Case(
            "mean_over_time",
            (np.full((300, 2), 127, np.int8), Requant("single", 2**30, 0)),
            dict(acc=Accumulator("error", 16)),
            "mean 16-bit",
        ),
        Case("mean_over_time", (np.zeros((4, 2), np.int8), Requant("single", 1, -31)), {}, "mean shift range"),
        Case("linear", (x.astype(np.int16), w), {}, "TypeError dtype"),
        Case("linear", (x, tensor(rng, (3, 8))), {}, "ValueError K"),
        Case("conv1d", (x, tensor(rng, (2, 4, 3))), {}, "ValueError channels"),
        Case("conv1d", (x, tensor(rng, (2, 9, 3))), dict(stride=0), "ValueError stride"),
        Case("requantize", (x.astype(np.float32), Requant("single", 1, 0)), {}, "TypeError float"),
        Case(
            "add",
            (x, tensor(rng, (4, 2)), ops.AddParams(0, 0, 20, 1, 0, 1, 0, Requant("single", 1, 0))),
            {},
            "broadcast",
        ),
        Case("mul", (x, x, Requant("single", np.ones(5, np.int64), np.int64(0))), {}, "channels"),
        Case("lut", (x, tensor(rng, (255,))), {}, "table size"),
        Case("clamp", (x, 5, 4), {}, "lo > hi"),
    ]
    a = np.full((3, 4), 127, np.int8)
    add_p = ops.AddParams(
        -128, 0, 20, np.int64(2**30), np.int64(4), np.int64(2**30), np.int64(0), Requant("tflite_double", 2**30, 0)
    )
    cases.append(Case("add", (a, np.zeros(4, np.int8), add_p), {}, "add left shift RescaleError"))
    return tuple(cases)


# ------------------------------------------------------------------------------------------------- tests


@functools.cache
def reference_outcome(kind: str, i: int):
    case = (fixed_cases() if kind == "fixed" else error_cases())[i]
    return outcome(getattr(ops, case.op), case)


@pytest.mark.parametrize("op", ops.OP_NAMES)
def test_fixed_cases_equal_reference(backend, op):
    cases = [(i, c) for i, c in enumerate(fixed_cases()) if c.op == op]
    if not cases:
        pytest.skip(f"no cross-backend cases for the new op {op!r} yet")
    for i, case in cases:
        assert_same(case, reference_outcome("fixed", i), outcome(getattr(backend, op), case))


def test_errors_equal_reference(backend):
    for i, case in enumerate(error_cases()):
        expected = reference_outcome("error", i)
        assert expected[0] == "error", f"{case}: the reference accepted it"
        assert_same(case, expected, outcome(getattr(backend, case.op), case))


def random_conv(rng: np.random.Generator) -> Case:
    k = int(rng.integers(1, 88))
    dilation = int(rng.integers(1, 9 if k <= 20 else 3))
    span = dilation * (k - 1)
    padding = (int(rng.integers(0, span + 2)), int(rng.integers(0, span + 2)))
    t = int(rng.integers(1, 40)) + int(rng.integers(0, 2)) * max(0, span - sum(padding))
    c = int(rng.integers(1, 40))
    w_kind = str(rng.choice(["int8", "int4", "int4_narrow"]))
    depthwise = bool(rng.integers(0, 2))
    return conv_case(
        rng, t, c, k, int(rng.integers(1, 4)), dilation, padding, depthwise, int(rng.integers(1, 40)), w_kind
    )


RANDOM_BUILDERS = {
    "linear": lambda rng: linear_case(
        rng,
        int(rng.integers(1, 700)),
        int(rng.integers(1, 70)),
        (int(rng.integers(1, 6)),),
        w_kind=str(rng.choice(["int8", "int4", "int4_narrow"])),
    ),
    "conv1d": lambda rng: random_conv(rng),
    "requantize": lambda rng: requantize_case(
        rng,
        (int(rng.integers(1, 9)), int(rng.integers(1, 70))),
        [np.int8, np.int16, np.int32][rng.integers(0, 3)],
        kind=str(rng.choice(["realistic", "extreme"])),
    ),
    "add": lambda rng: add_case(rng, (int(rng.integers(1, 5)), 7), (7,), [np.int8, np.int16][rng.integers(0, 2)]),
    "mul": lambda rng: mul_case(rng, (int(rng.integers(1, 5)), 1), (1, 9), [np.int8, np.int16][rng.integers(0, 2)]),
    "mean_over_time": lambda rng: mean_case(
        rng, int(rng.integers(1, 400)), int(rng.integers(1, 70)), [np.int8, np.int16][rng.integers(0, 2)]
    ),
}


@settings(max_examples=RANDOM_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=st.sampled_from(sorted(RANDOM_BUILDERS)), seed=st.integers(0, 2**32 - 1))
def test_random_cases_equal_reference(backend, op, seed):
    case = RANDOM_BUILDERS[op](np.random.default_rng(seed))
    assert_same(case, outcome(getattr(ops, op), case), outcome(getattr(backend, op), case))


@pytest.mark.parametrize("scheme, m, s", [("onnx", 2**24 - 1, 200), ("dyadic", 2**31 - 1, 0)])
def test_zero_d_big_product_equals_reference(backend, scheme, m, s):
    """A 0-d tensor whose rescale needs more than 64-bit products (the reference's big-integer path)."""
    x = np.array(-(2**31), dtype=np.int32)
    kwargs = dict(x_zp=INT32_MAX, acc=Accumulator("error", 64), return_acc=True)
    case = Case("requantize", (x, Requant(scheme, np.int64(m), np.int64(s))), kwargs, "0-d " + scheme)
    expected = outcome(ops.requantize, case)
    assert expected[0] == "ok", f"the reference failed: {expected[1]!r}"
    assert_same(case, expected, outcome(backend.requantize, case))


def large_cases() -> list[Case]:
    """Big enough that a backend splits the work across threads."""
    rng = np.random.default_rng(99)
    return [
        linear_case(rng, 577, 65, (300,), scheme="single", label="large linear"),
        linear_case(rng, 143, 33, (257,), w_kind="int4", scheme="tosa_double", label="large linear int4"),
        linear_case(rng, 224, 5001, (1,), scheme="single", label="one row, many channels"),
        linear_case(rng, 577, 1500, (3,), scheme="tflite_double", label="three rows, many channels"),
        conv_case(rng, 401, 65, 9, 1, 2, 8, False, c_out=63, label="large dense conv"),
        conv_case(rng, 503, 144, 9, 1, 1, 4, True, label="large depthwise conv"),
        conv_case(rng, 300, 33, 87, 2, 1, (43, 43), True, w_kind="int4", label="large long depthwise"),
        requantize_case(rng, (300, 65), np.int32, scheme="dyadic", label="large requantize"),
        add_case(rng, (300, 65), (65,), scheme="tflite_double", label="large add"),
        mul_case(rng, (300, 65), (300, 65), scheme="single", label="large mul"),
        mean_case(rng, 2001, 65, scheme="tflite_double", label="large mean"),
    ]


def test_thread_counts_give_identical_bytes(backend_variant, configure):
    if backend_variant.name == "numpy":
        pytest.skip("the reference has no threads")
    b = load_backend(backend_variant.name)
    for case in large_cases():
        results = []
        for threads in (1, 2):
            with configure(BackendConfig(backend_variant.name, backend_variant.isa, threads)):
                results.append(outcome(getattr(b, case.op), case))
        assert_same(case, outcome(getattr(ops, case.op), case), results[0])
        assert_same(case, results[0], results[1])
        if results[0][0] == "ok":
            one = results[0][1] if isinstance(results[0][1], tuple) else (results[0][1],)
            two = results[1][1] if isinstance(results[1][1], tuple) else (results[1][1],)
            assert [r.tobytes() for r in one] == [r.tobytes() for r in two], (
                f"{case}: bytes differ between 1 and 2 threads"
            )


def test_native_controls():
    load_backend("native")
    import intref.backends.native as native

    isas = native.available_isas()
    assert isas and all(isinstance(i, str) for i in isas)
    before_isa, before_threads = native.get_isa(), native.get_threads()
    try:
        for isa in isas:
            native.set_isa(isa)
            assert native.get_isa() == isa
        native.set_threads(1)
        assert native.get_threads() == 1
        native.set_threads(2)
        assert native.get_threads() == 2
    finally:
        native.set_isa(before_isa)
        native.set_threads(before_threads)


def test_numba_controls():
    load_backend("numba")
    import intref.backends.numba_backend as nb

    before = nb.get_threads()
    try:
        nb.set_threads(1)
        assert nb.get_threads() == 1
    finally:
        nb.set_threads(before)
