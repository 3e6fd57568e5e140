"""layernorm, softmax, argmax, quantize and split16 on every backend, every forced ISA and 1 and 2 threads equal the
NumPy reference, bit for bit: same values, dtypes and result types, same errors (type, message, flat index).

A backend that does not have one of these ops yet is skipped for that op, saying so. Cases are a fixed,
seeded set of edge inputs (constant rows, eps 0, int16 extremes, every frac_bits, per-channel requant, every
rescale scheme for softmax's multiplier, logits far below the row maximum, masks with fully masked rows,
T = 1, N = 1, argmax ties, quantize halves and values beyond the clamp, non-finite input, every int16 value through
split16 at its extreme parameters) plus a bounded
hypothesis run of random ones.
"""

from __future__ import annotations

import functools
import inspect
import math
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import BackendConfig, load_backend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cross_backend import RANDOM_EXAMPLES, SCHEMES, Case, accumulator, assert_same, requant, tensor

from intref import ops
from intref.ops import SoftmaxParams
from intref.spec import Accumulator, Requant, quantize_multiplier, scheme_limits

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
LOG2E_Q8 = 256 / math.log(2)  # softmax's multiplier is s_x * log2(e) * 256


def outcome(fn, case: Case):
    """('ok', result) or ('error', exception); the call must leave its input arrays as they were (bytes: NaN)."""
    arrays = [a for a in (*case.args, *case.kwargs.values()) if isinstance(a, np.ndarray)]
    before = [a.tobytes() for a in arrays]
    try:
        result = "ok", fn(*case.args, **case.kwargs)
    except Exception as exc:  # every exception is part of the contract
        result = "error", exc
    assert [a.tobytes() for a in arrays] == before, f"{case}: an input array was modified"
    return result


def method(backend, op: str):
    """The backend's ``op``, or a skip naming what is missing."""
    fn = getattr(backend, op, None)
    if fn is None:
        pytest.skip(f"backend '{backend.name}' has no {op} yet")
    return fn


def check(case: Case, backend) -> None:
    expected = reference_outcome(case)
    actual = outcome(method(backend, case.op), case)
    assert_same(case, expected, actual)
    if expected[0] == "ok":  # a NumPy scalar where the reference gives one, an array where it gives one
        exp_t = expected[1] if isinstance(expected[1], tuple) else (expected[1],)
        act_t = actual[1] if isinstance(actual[1], tuple) else (actual[1],)
        assert [type(a) for a in act_t] == [type(e) for e in exp_t], f"{case}: result types differ"


_reference_cache: dict[int, tuple] = {}


def reference_outcome(case: Case):
    """The reference's outcome, once per case object (the fixed cases run on every backend configuration)."""
    key = id(case)
    if key not in _reference_cache:
        _reference_cache[key] = (case, outcome(getattr(ops, case.op), case))
    return _reference_cache[key][1]


# ----------------------------------------------------------------------------------------------- layernorm


def rows(rng, shape, dtype, mode: str) -> np.ndarray:
    """Inputs for a row-wise op: random, constant rows, rows at the type's extremes or alternating them."""
    info = np.iinfo(dtype)
    if mode == "constant":
        return np.repeat(tensor(rng, shape[:-1] + (1,), dtype), shape[-1], axis=-1)
    if mode == "alternating":
        x = np.full(shape, info.min, dtype=dtype)
        x[..., 1::2] = info.max
        return x
    if mode == "one_off":  # constant but for one element: the largest normalised value
        x = np.full(shape, info.min, dtype=dtype)
        x[..., -1] = info.max
        return x
    return tensor(rng, shape, dtype, mode=mode)


def layernorm_case(rng, t, c, dtype=np.int8, mode="random", scheme=None, frac_bits=None, eps=None, label=""):
    scheme = scheme or str(rng.choice(SCHEMES))
    x = rows(rng, (t, c), dtype, mode)
    gamma = tensor(rng, (c,), np.int16 if rng.integers(0, 3) else np.int8)
    if rng.integers(0, 5) == 0:
        gamma[:] = gamma.max()  # same scale everywhere: equal accumulators expose rounding
    frac_bits = int(rng.integers(0, 25)) if frac_bits is None else frac_bits
    if eps is None:
        eps = int(rng.choice([0, 0, 1, int(rng.integers(1, 10**6)), c * c * 1000]))
    beta_kind = str(rng.choice(["none", "small", "high"]))
    beta = None if beta_kind == "none" else tensor(rng, (c,), np.int32)
    if beta_kind == "small":
        beta = (beta >> 12).astype(np.int32)
    typical = 2.0**frac_bits * float(np.abs(gamma.astype(np.int64)).max() + 1)
    rq = requant(rng, c, typical, scheme)
    info = np.iinfo(dtype)
    kwargs = dict(
        x_zp=int(rng.choice([0, info.min, info.max, rng.integers(-100, 100)])),
        eps=eps,
        frac_bits=frac_bits,
        acc=accumulator(rng, rq),
        return_acc=bool(rng.integers(0, 2)),
    )
    name = label or f"T{t} C{c} {np.dtype(dtype).name} {mode} F{frac_bits} eps{eps} {scheme}"
    return Case("layernorm", (x, gamma, beta, rq), kwargs, name)


def layernorm_cases(rng) -> list[Case]:
    cases = []
    for t, c in ((1, 1), (1, 2), (2, 3), (7, 17), (5, 144), (3, 257), (0, 4)):
        for dtype in (np.int8, np.int16):
            for mode in ("random", "constant", "min", "max", "alternating", "one_off", "small"):
                cases.append(layernorm_case(rng, t, c, dtype, mode))
    for frac_bits in range(25):
        cases.append(layernorm_case(rng, 3, 33, np.int16, "random", frac_bits=frac_bits, eps=0))
    for scheme in SCHEMES:  # a per-channel requant from real scales, and raw legal parameters
        c = 19
        x = rows(rng, (4, c), np.int8, "random")
        gamma = tensor(rng, (c,), np.int16)
        beta = tensor(rng, (c,), np.int32) >> 10
        rq = Requant.from_scale(rng.uniform(2e-8, 2e-6, c), scheme, zero_point=3)
        cases.append(Case("layernorm", (x, gamma, beta.astype(np.int32), rq), dict(return_acc=True), f"{scheme} pc"))
        limits = scheme_limits(scheme)
        raw = Requant(scheme, np.full(c, limits.multiplier[1]), rng.integers(*limits.shift, c, endpoint=True))
        cases.append(Case("layernorm", (x, gamma, None, raw), dict(frac_bits=24), f"{scheme} raw"))
    small = np.random.default_rng(1).integers(-2, 3, (64, 3)).astype(np.int8)  # small variances: D is 1, 2, 3 ...
    exact = Requant("single", 2**30, 0, 0, INT32_MIN, INT32_MAX)
    for eps in range(12):
        args = (small, np.ones(3, np.int8), None, exact)
        cases.append(Case("layernorm", args, dict(eps=eps, frac_bits=24), f"eps {eps}"))
    c = 1290  # int16 rows this wide are the widest whose variance fits 64 bits
    x = rows(rng, (2, c), np.int16, "alternating")
    ones = np.ones(c, np.int16)
    cases.append(Case("layernorm", (x, ones, None, Requant("dyadic", 1, 0, 0, INT32_MIN, INT32_MAX)), {}, "widest"))
    return cases


# ------------------------------------------------------------------------------------------------- softmax


SOFTMAX_OUTPUTS = ((255, -128), (255, 0), (65535, -32768), (65535, 0), (1, 0), (100, -50))  # (out_max, out_zp)


def softmax_params(rng, scheme: str, scale: float | None = None, out=None) -> SoftmaxParams:
    out_max, out_zp = out or SOFTMAX_OUTPUTS[int(rng.integers(0, len(SOFTMAX_OUTPUTS)))]
    if scale is None:
        scale = 2.0 ** rng.uniform(-14, 1)
    m, s = quantize_multiplier(scale * LOG2E_Q8, scheme)
    return SoftmaxParams(scheme, m, s, out_max, out_zp)


def raw_softmax_params(rng, scheme: str) -> SoftmaxParams:
    """Any legal (multiplier, shift): large ones trip the scheme's range checks on wide logits."""
    limits = scheme_limits(scheme)
    m = int(rng.choice([limits.multiplier[1], int(rng.integers(0, limits.multiplier[1] + 1)), 0, 1]))
    s = int(rng.integers(limits.shift[0], limits.shift[1] + 1))
    return SoftmaxParams(scheme, m, s)


def mask_for(rng, shape, kind: str) -> np.ndarray | None:
    if kind == "none":
        return None
    n = shape[-1]
    if kind == "causal" and len(shape) >= 2:
        return np.tril(np.ones((shape[-2], n), dtype=bool))
    if kind == "keys":  # one flag per key, shared by every row
        return rng.random(n) < 0.7
    if kind == "empty_rows":  # every second row fully masked
        m = rng.random(shape) < 0.5
        m.reshape(-1, n)[::2] = False
        return m
    if kind == "column":  # last axis 1: whole rows on or off
        return rng.random(shape[:-1] + (1,)) < 0.5
    if kind == "nothing":
        return np.zeros(shape, dtype=bool)
    return rng.random(shape) < 0.6


def softmax_case(rng, shape, dtype, scheme=None, mask="none", mode="random", raw=False, label="") -> Case:
    scheme = scheme or str(rng.choice(SCHEMES))
    x = rows(rng, shape, dtype, mode)
    params = raw_softmax_params(rng, scheme) if raw else softmax_params(rng, scheme)
    kwargs = {} if mask == "none" else dict(mask=mask_for(rng, shape, mask))
    name = label or f"{shape} {np.dtype(dtype).name} {scheme} {mode} mask={mask} raw={raw}"
    return Case("softmax", (x, params), kwargs, name)


def softmax_cases(rng) -> list[Case]:
    cases = []
    for shape in ((1,), (1, 1), (5, 1), (7,), (3, 8), (2, 3, 17), (0, 5), (4, 65)):
        for dtype in (np.int8, np.int16, np.int32):
            for scheme in SCHEMES:
                mode = str(rng.choice(["random", "random", "constant", "alternating", "one_off", "small"]))
                cases.append(softmax_case(rng, shape, dtype, scheme, mode=mode))
                cases.append(softmax_case(rng, shape, dtype, scheme, raw=True))
    for kind in ("random", "causal", "keys", "empty_rows", "column", "nothing"):
        for shape in ((6, 6), (2, 5, 5), (1, 9)):
            cases.append(softmax_case(rng, shape, str(rng.choice(["int8", "int16", "int32"])), mask=kind))
    # every scheme and output type at a fixed logit scale: the rounding of each path shows
    x = np.arange(-300, 1, dtype=np.int16).reshape(7, 43)
    for scheme in SCHEMES:
        for out in ((255, -128), (65535, -32768), (65535, 0)):
            params = softmax_params(rng, scheme, 0.03, out)
            cases.append(Case("softmax", (x, params), {}, f"ramp {scheme} out{out}"))
    # int16 logits, enough of them that a backend may tabulate exp(x - max) per call instead of per element
    for scheme in SCHEMES:
        for raw in (False, True):
            mode, label = ("random" if raw else "small"), f"int16 {scheme} raw={raw}"
            cases.append(softmax_case(rng, (2, 190, 190), np.int16, scheme, "empty_rows", mode, raw, label))
    cases += far_logit_cases(rng)
    # rows longer than the kernels' parameter blocks
    cases.append(softmax_case(rng, (2, 5000), np.int16, "tflite_double", mask="keys", label="N 5000"))
    # a [T, T] mask shared by heads, and a mask given as a non-contiguous view
    x = tensor(rng, (3, 11, 11), np.int16)
    causal = np.tril(np.ones((11, 11), dtype=bool))
    cases.append(Case("softmax", (x, softmax_params(rng, "single")), dict(mask=causal), "heads causal"))
    cases.append(Case("softmax", (x, softmax_params(rng, "dyadic")), dict(mask=causal.T[:, ::-1]), "view mask"))
    return cases


def far_logit_cases(rng) -> list[Case]:
    """Logits far below their row maximum, with multipliers whose rescale of them would fail a scheme check:
    the difference is clamped first, so they get e = 0 (for every scheme, both table and per-element paths)."""
    wide = np.array([[0, -(2**31), 5], [7, 7, 7]], np.int32)
    late = np.zeros((2, 3, 5), np.int32)
    late[1, 2, 3:] = -(2**30)
    many = np.zeros((300, 250), np.int8)  # as many logits as an int8 difference has values; rows 0-2 constant
    many[3:] = rng.integers(-128, 128, (297, 250))
    fill = tensor(rng, (4, 40), np.int32) >> 12
    fill[:, 25:] = INT32_MIN  # an additive mask fill
    params = [
        SoftmaxParams("tflite_double", 2**30, 3),
        SoftmaxParams("tflite_double", 2**30, 30),
        SoftmaxParams("single", INT32_MAX, 30),
        SoftmaxParams("single", 2**30, 0),
        SoftmaxParams("tosa_double", INT32_MAX, 2),
        SoftmaxParams("tosa_double", 2**30, 33),
        SoftmaxParams("tosa_scale16", 2**15 - 1, 2),
        SoftmaxParams("dyadic", INT32_MAX, 0),
        SoftmaxParams("onnx", 2**24 - 1, 0),
    ]
    cases = []
    for p in params:
        label = f"far {p.scheme} {p.multiplier} {p.shift}"
        cases.append(Case("softmax", (wide, p), {}, label))
        cases.append(Case("softmax", (late, p), {}, label + " 3-D"))
        cases.append(Case("softmax", (many, p), dict(mask=many > -100), label + " int8"))
        cases.append(Case("softmax", (many.astype(np.int16) * 200, p), {}, label + " int16"))
        cases.append(Case("softmax", (fill, p), {}, label + " mask fill"))
    return cases


# -------------------------------------------------------------------------------------------------- argmax


def argmax_case(rng, shape, dtype, offset="none", mode="random", label="") -> Case:
    x = rows(rng, shape, dtype, mode)
    if mode == "ties" and x.size:
        x.reshape(-1, shape[-1])[:, :] = rng.integers(0, 3, (math.prod(shape[:-1]), shape[-1]))
    off = None
    if offset == "random":
        off = rng.integers(-3, 4, shape[-1]).astype(np.int32)
    elif offset == "extreme":
        off = rng.choice(np.array([INT32_MIN, INT32_MAX, 0], np.int32), shape[-1])
    name = label or f"{shape} {np.dtype(dtype).name} {mode} offset={offset}"
    return Case("argmax", (x, off), {}, name)


def argmax_cases(rng) -> list[Case]:
    cases = []
    for shape in ((1,), (7,), (5, 1), (3, 191), (2, 3, 4), (0, 3), (4, 0, 2)):
        for dtype in (np.int8, np.int16, np.int32):
            for mode in ("random", "ties", "min", "max", "constant"):
                for offset in ("none", "random", "extreme"):
                    cases.append(argmax_case(rng, shape, dtype, offset, mode))
    blank = np.zeros(191, np.int32)
    blank[190] = 2  # a CTC blank offset on tied frames: the offset decides
    cases.append(Case("argmax", (np.zeros((4, 191), np.int8), blank), {}, "blank offset"))
    cases.append(Case("argmax", (tensor(rng, (191, 9), np.int8).T, None), {}, "non-contiguous"))
    return cases


# ------------------------------------------------------------------------------------------------ quantize


def quantize_cases(rng) -> list[Case]:
    cases = []
    halves = (np.arange(-40, 41, dtype=np.float32) + np.float32(0.5)).reshape(9, 9)
    for scale in (1.0, 0.5, 0.25, 2.0**-10):
        cases.append(Case("quantize", (halves * np.float32(scale), scale), {}, f"halves at scale {scale}"))
    cases.append(Case("quantize", (halves, 1.0, 3, -5, 12), {}, "halves clamped, zp 3"))
    normal = rng.standard_normal((13, 80)).astype(np.float32)
    for scale, zp, lo, hi in (
        (0.05, 0, -128, 127),
        (0.01, -128, -128, 127),
        (0.1, 127, -128, 127),
        (1e-3, 0, -(2**15), 2**15 - 1),
        (1e-9, 5, INT32_MIN, INT32_MAX),
        (3.0, 0, 0, 255),
        (1e300, 0, -128, 127),  # every quotient rounds to 0
        (5e-324, 1, -128, 127),  # a subnormal scale: quotients overflow to +-inf, then clamp
    ):
        cases.append(Case("quantize", (normal * np.float32(7), scale, zp, lo, hi), {}, f"normal {scale} {zp} {lo}"))
    big = np.array([3.4e38, -3.4e38, 1e20, -1e20, 0.0, -0.0, 1e-45, -1e-45], dtype=np.float32)
    cases.append(Case("quantize", (big, 0.5, 0, INT32_MIN, INT32_MAX), {}, "beyond int32"))
    near = (np.float32(0.1) * (np.arange(-500, 500, dtype=np.float32) + np.float32(0.5))).astype(np.float32)
    cases.append(Case("quantize", (near, 0.1), {}, "near-halves of an inexact scale"))
    cases.append(Case("quantize", (np.array(2.5, np.float32), 1.0), {}, "0-d"))
    cases.append(Case("quantize", (np.zeros((3, 0), np.float32), 1.0), {}, "empty"))
    cases.append(Case("quantize", (normal.T, 0.02), {}, "non-contiguous"))
    cases.append(Case("quantize", (normal[0], 0.02, 0, -(2**15), 2**15), {}, "int32 range"))
    return cases


# ------------------------------------------------------------------------------------------------- split16

ALL_INT16 = np.arange(-(2**15), 2**15, dtype=np.int16)


def split16_cases(rng) -> list[Case]:
    """Every int16 value (clamps of hi and lo both ways, every rounding tie) at the probability parameters and at
    the extremes of each parameter; odd shapes, 0-d, empty, strided and byte-swapped inputs."""
    cases = []
    for zp, shift, hzp in ((-16384, 7, -128), (0, 1, 0), (0, 14, 0), (32767, 7, 127), (-32768, 14, -128), (5, 3, -7)):
        kwargs = dict(x_zp=zp, shift=shift, hi_zp=hzp)
        cases.append(Case("split16", (ALL_INT16,), kwargs, f"all int16, zp {zp} shift {shift} hi_zp {hzp}"))
    grid = ALL_INT16[rng.permutation(ALL_INT16.size)[: 7 * 13 * 11]].reshape(7, 13, 11)
    cases.append(Case("split16", (grid,), dict(x_zp=-16384, hi_zp=-128), "3-d, odd sizes"))
    cases.append(Case("split16", (grid[:, ::3, ::-2],), dict(x_zp=100, shift=5), "strided"))
    cases.append(Case("split16", (grid.astype(">i2"),), dict(x_zp=-16384, hi_zp=-128), "big-endian"))
    cases.append(Case("split16", (np.array(-129, np.int16),), dict(shift=7), "0-d"))
    cases.append(Case("split16", (np.zeros((0, 4), np.int16),), {}, "empty"))
    return cases


def random_split16(rng) -> Case:
    shape = tuple(int(d) for d in rng.integers(0, 40, int(rng.integers(1, 4))))
    x = tensor(rng, shape, np.int16, str(rng.choice(["random", "random", "min", "max", "small"])))
    kwargs = dict(
        x_zp=int(rng.integers(-(2**15), 2**15)), shift=int(rng.integers(1, 15)), hi_zp=int(rng.integers(-128, 128))
    )
    return Case("split16", (x,), kwargs, f"{shape} {kwargs}")


@functools.cache
def fixed_cases() -> dict[str, tuple[Case, ...]]:
    rng = np.random.default_rng(20241122)
    return {
        "layernorm": tuple(layernorm_cases(rng)),
        "softmax": tuple(softmax_cases(rng)),
        "argmax": tuple(argmax_cases(rng)),
        "quantize": tuple(quantize_cases(rng)),
        "split16": tuple(split16_cases(rng)),
    }


@pytest.mark.parametrize("op", ops.NN_OP_NAMES)
def test_signature_equals_reference(backend, op):
    assert inspect.signature(method(backend, op)) == inspect.signature(getattr(ops, op))


@pytest.mark.parametrize("op", ops.NN_OP_NAMES)
def test_fixed_cases_equal_reference(backend, op):
    method(backend, op)
    for case in fixed_cases()[op]:
        check(case, backend)


# ---------------------------------------------------------------------------------------------------- errors


@functools.cache
def error_cases() -> dict[str, tuple[Case, ...]]:
    """Calls the reference rejects: arithmetic errors (with a flat index) and validation errors."""
    rng = np.random.default_rng(5)
    x = tensor(rng, (4, 9))
    g = tensor(rng, (9,), np.int16)
    rq = Requant.from_scale(1e-6, "single")
    big16 = np.full((3, 9), 32767, np.int16)
    big16[:, ::2] = -32768
    layernorm = [
        Case("layernorm", (x, g, None, rq), dict(acc=Accumulator("error", 16), frac_bits=24), "16-bit overflow"),
        Case("layernorm", (big16, g, None, rq), dict(acc=Accumulator("error", 24), frac_bits=20), "24-bit overflow"),
        Case("layernorm", (x, g, None, Requant("tflite_double", 2**30, 30)), dict(frac_bits=8), "left shift"),
        Case("layernorm", (x, g, None, Requant("tosa_double", 2**30, 2)), dict(frac_bits=8), "TOSA value range"),
        Case("layernorm", (x, g, None, Requant("single", INT32_MAX, 30)), {}, "single result"),
        Case("layernorm", (x, g[:8], None, rq), {}, "gamma length"),
        Case("layernorm", (x, g.astype(np.int32), None, rq), {}, "gamma dtype"),
        Case("layernorm", (x, g, np.zeros(9, np.int64), rq), {}, "beta dtype"),
        Case("layernorm", (x.astype(np.int32), g, None, rq), {}, "x dtype"),
        Case("layernorm", (x[0], g, None, rq), {}, "x 1-D"),
        Case("layernorm", (x[:, :0], g[:0], None, rq), {}, "no channels"),
        Case("layernorm", (x, g, None, rq), dict(frac_bits=25), "frac_bits 25"),
        Case("layernorm", (x, g, None, rq), dict(eps=-1), "eps < 0"),
        Case("layernorm", (x, g, None, None), {}, "no requant"),
        Case("layernorm", (x, g, None, rq), dict(x_zp=200), "x_zp range"),
        Case("layernorm", (x, g, None, Requant("single", np.ones(4, np.int64), 0)), {}, "requant channels"),
        Case("layernorm", (x, g, None, rq), dict(acc=Accumulator("wrap", 48)), "acc wider than scheme"),
        Case("layernorm", (np.zeros((1, 1291), np.int16), np.ones(1291, np.int16), None, rq), {}, "too wide"),
    ]
    p = SoftmaxParams("single", 2**30, 0)
    softmax = [
        Case("softmax", (x.astype(np.float32), p), {}, "x float"),
        Case("softmax", (x, (2**30, 0)), {}, "params type"),
        Case("softmax", (np.array(3, np.int8), p), {}, "0-d"),
        Case("softmax", (x[:, :0], p), {}, "empty last axis"),
        Case("softmax", (x, p), dict(mask=np.ones((4, 9), np.int8)), "mask dtype"),
        Case("softmax", (x, p), dict(mask=np.ones((4, 8), bool)), "mask shape"),
        Case("softmax", (x[0], p), dict(mask=np.ones((2, 9), bool)), "mask with more dimensions"),
    ]
    argmax = [
        Case("argmax", (x.astype(np.float32), None), {}, "x float"),
        Case("argmax", (np.array(1, np.int8), None), {}, "0-d"),
        Case("argmax", (x[:, :0], None), {}, "no classes"),
        Case("argmax", (x, np.zeros(8, np.int32)), {}, "offset length"),
        Case("argmax", (x, np.zeros(9, np.int64)), {}, "offset dtype"),
        Case("argmax", (x.astype(np.uint8), None), {}, "x uint8"),
    ]
    f = rng.standard_normal((3, 4)).astype(np.float32)
    bad = f.copy()
    bad[1, 2] = np.nan
    quantize = [
        Case("quantize", (bad, 0.1), {}, "NaN"),
        Case("quantize", (np.where(f > 0, np.float32(np.inf), f), 0.1), {}, "+inf"),
        Case("quantize", (np.full(3, -np.inf, np.float32), 0.1), {}, "-inf"),
        Case("quantize", (np.array(np.nan, np.float32), 0.1), {}, "0-d NaN"),
        Case("quantize", (f.astype(np.float64), 0.1), {}, "float64 input"),
        Case("quantize", (f, 0.0), {}, "scale 0"),
        Case("quantize", (f, -0.1), {}, "scale < 0"),
        Case("quantize", (f, float("inf")), {}, "scale inf"),
        Case("quantize", (f, 1), {}, "int scale"),
        Case("quantize", (f, 0.1, 200), {}, "zero point outside"),
        Case("quantize", (f, 0.1, 0, 5, 4), {}, "lo > hi"),
        Case("quantize", (f, 0.1, 0, INT32_MIN - 1, 0), {}, "range beyond int32"),
        Case("quantize", (f, 0.1, 1.0), {}, "float zero point"),
    ]
    x16 = tensor(rng, (5, 7), np.int16)
    split16 = [
        Case("split16", (x16.astype(np.int8),), {}, "x int8"),
        Case("split16", (x16.astype(np.int32),), {}, "x int32"),
        Case("split16", (x16.astype(np.uint16),), {}, "x uint16"),
        Case("split16", (x16,), dict(shift=0), "shift 0"),
        Case("split16", (x16,), dict(shift=15), "shift 15"),
        Case("split16", (x16,), dict(shift=True), "shift bool"),
        Case("split16", (x16,), dict(shift=7.0), "shift float"),
        Case("split16", (x16,), dict(x_zp=32768), "x_zp beyond int16"),
        Case("split16", (x16,), dict(hi_zp=128), "hi_zp beyond int8"),
        Case("split16", (x16,), dict(hi_zp=-129), "hi_zp below int8"),
        Case("split16", (x16.tolist(),), {}, "a list"),
    ]
    return {
        "layernorm": tuple(layernorm),
        "softmax": tuple(softmax),
        "argmax": tuple(argmax),
        "quantize": quantize,
        "split16": tuple(split16),
    }


@pytest.mark.parametrize("op", ops.NN_OP_NAMES)
def test_errors_equal_reference(backend, op):
    method(backend, op)
    for case in error_cases()[op]:
        assert reference_outcome(case)[0] == "error", f"{case}: the reference accepted it"
        check(case, backend)


# ---------------------------------------------------------------------------------------------------- random


def random_quantize(rng) -> Case:
    shape = tuple(int(d) for d in rng.integers(1, 30, int(rng.integers(1, 4))))
    scale = float(2.0 ** rng.uniform(-20, 4))
    x = (rng.standard_normal(shape) * scale * float(2.0 ** rng.uniform(0, 10))).astype(np.float32)
    if rng.integers(0, 2):  # exact halves of the scale where representable
        x = ((np.round(x / scale) + 0.5) * scale).astype(np.float32)
    lo, hi = [(-128, 127), (0, 255), (-(2**15), 2**15 - 1), (INT32_MIN, INT32_MAX)][int(rng.integers(0, 4))]
    zp = int(rng.integers(lo, hi, endpoint=True))
    return Case("quantize", (x, scale, zp, lo, hi), {}, f"{shape} scale {scale} zp {zp}")


RANDOM_BUILDERS = {
    "layernorm": lambda rng: layernorm_case(
        rng,
        int(rng.integers(1, 12)),
        int(rng.integers(1, 300)),
        [np.int8, np.int16][int(rng.integers(0, 2))],
        str(rng.choice(["random", "random", "constant", "small", "one_off"])),
    ),
    "softmax": lambda rng: softmax_case(
        rng,
        (int(rng.integers(1, 5)), int(rng.integers(1, 9)), int(rng.integers(1, 70))),
        [np.int8, np.int16, np.int32][int(rng.integers(0, 3))],
        mask=str(rng.choice(["none", "random", "causal", "keys", "empty_rows", "column"])),
        mode=str(rng.choice(["random", "random", "small", "one_off"])),
        raw=bool(rng.integers(0, 4) == 0),
    ),
    "argmax": lambda rng: argmax_case(
        rng,
        (int(rng.integers(1, 40)), int(rng.integers(1, 200))),
        [np.int8, np.int16, np.int32][int(rng.integers(0, 3))],
        str(rng.choice(["none", "random", "extreme"])),
        str(rng.choice(["random", "ties", "small"])),
    ),
    "quantize": random_quantize,
    "split16": random_split16,
}


@settings(max_examples=RANDOM_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
@pytest.mark.parametrize("op", ops.NN_OP_NAMES)
def test_random_cases_equal_reference(backend, op, seed):
    fn = method(backend, op)
    case = RANDOM_BUILDERS[op](np.random.default_rng(seed))
    assert_same(case, outcome(getattr(ops, op), case), outcome(fn, case))


# --------------------------------------------------------------------------------------------------- threads


def large_cases() -> list[Case]:
    """Big enough that a backend splits the work across threads (over half a million elements each)."""
    rng = np.random.default_rng(77)
    rq = Requant.from_scale(rng.uniform(1e-6, 1e-5, 144), "tflite_double", 3)
    gamma = tensor(rng, (144,), np.int16)
    beta = tensor(rng, (144,), np.int32) >> 8
    x = tensor(rng, (4, 400, 400), np.int16)
    fill = np.zeros((12000, 50), np.int32)  # additive mask fills far below the maximum
    fill[2345, 17], fill[11999, 0] = -(2**30), -(2**31)
    spike = np.full((4000, 144), 5, np.int8)  # one row overflows a 24-bit accumulator
    spike[1777, 3] = 127
    return [
        Case("layernorm", (tensor(rng, (4000, 144)), gamma, beta.astype(np.int32), rq), dict(return_acc=True)),
        Case("softmax", (x, softmax_params(rng, "single", 1e-3)), dict(mask=np.tril(np.ones((400, 400), bool)))),
        Case("softmax", (x.astype(np.int32) * 1000, softmax_params(rng, "dyadic", 1e-6, (65535, 0))), {}),
        Case("argmax", (tensor(rng, (3000, 191), np.int16), tensor(rng, (191,), np.int32) >> 20), {}),
        Case("quantize", (rng.standard_normal((4000, 144)).astype(np.float32), 0.02), {}),
        Case("split16", (np.resize(ALL_INT16, (5, 1000, 900)),), dict(x_zp=-16384, hi_zp=-128)),
        Case("softmax", (fill, SoftmaxParams("tflite_double", 2**30, 3)), {}, "mask fill"),
        Case(
            "layernorm",
            (spike, np.full(144, 2**15 - 1, np.int16), None, Requant.from_scale(1e-6, "single")),
            dict(acc=Accumulator("error", 24), frac_bits=20),
            "late overflow",
        ),
    ]


def test_thread_counts_give_identical_bytes(backend_variant, configure):
    if backend_variant.name == "numpy":
        pytest.skip("the reference has no threads")
    b = load_backend(backend_variant.name)
    cases = [c for c in large_cases() if getattr(b, c.op, None) is not None]
    if not cases:
        pytest.skip(f"backend '{b.name}' has none of {', '.join(ops.NN_OP_NAMES)} yet")
    for case in cases:
        results = []
        for threads in (1, 2):
            with configure(BackendConfig(backend_variant.name, backend_variant.isa, threads)):
                results.append(outcome(getattr(b, case.op), case))
        expected = outcome(getattr(ops, case.op), case)
        assert expected[0] == ("error" if case.label.startswith("late") else "ok"), f"{case}: {expected[1]!r}"
        assert_same(case, expected, results[0])
        assert_same(case, results[0], results[1])
        if expected[0] == "error":
            continue
        one, two = (r[1] if isinstance(r[1], tuple) else (r[1],) for r in results)
        assert [r.tobytes() for r in one] == [r.tobytes() for r in two], f"{case}: bytes differ between 1 and 2 threads"


# ------------------------------------------------------------------------------------------ numba specifics


def test_numba_softmax_finishes_without_the_reference(monkeypatch):
    """The numba kernel finishes every softmax itself (its fall-back to the reference is for rescales the
    clamp rules out, so it must never run), on the per-element and the table path alike."""
    numba_backend = load_backend("numba")
    import intref.backends.numba_nn as numba_nn

    def refuse(*args, **kwargs):
        raise AssertionError("the numba softmax fell back to the reference")

    monkeypatch.setattr(numba_nn, "ops", SimpleNamespace(softmax=refuse))
    for case in fixed_cases()["softmax"]:
        check(case, numba_backend)


def test_numba_isqrt_is_exact():
    """LayerNorm's root: floor(sqrt(v)) for every int64 v >= 0, checked at squares, their neighbours and 2^k."""
    load_backend("numba")
    from intref.backends.numba_nn_kernels import ISQRT_MAX, isqrt

    roots = [0, 1, 2, 3, 46340, 46341, 2**31 - 1, 2**31, 94906265, 94906266, ISQRT_MAX - 1, ISQRT_MAX]
    roots += [int(r) for r in np.random.default_rng(3).integers(0, ISQRT_MAX, 300)]
    values = {2**63 - 1} | {2**k + d for k in range(63) for d in (-1, 0, 1)}
    values |= {r * r + d for r in roots for d in (-1, 0, 1) if 0 <= r * r + d < 2**63}
    for v in sorted(values):
        assert isqrt(np.int64(v)) == math.isqrt(v), v
