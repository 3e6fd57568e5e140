"""Seeded synthetic material for the golden vectors shipped in ``vectors/`` (built by ``vectors/build.py``).

``demo_model`` is a small time-major graph that uses every op of the arithmetic core, every rescale scheme,
int8 and int4 (full and narrow) weights, int16 activations and every accumulator policy. Its requantisation
scales are calibrated on a seeded input so that outputs use their range (and saturate a little).
``op_cases`` lists op-level conformance cases aimed at ties, saturation, INT32 extremes and shift limits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import ops
from ..graph import Model, ModelBuilder
from ..ops import AddParams
from ..spec import Accumulator, Requant, pack_int4, rescale, scheme_limits

SEED = 20261122
DEMO_T = 12
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _out_scale(real: np.ndarray, room: float = 100.0) -> float:
    """A scale mapping the 99th percentile of |real| to ``room`` (so a few values saturate)."""
    top = float(np.percentile(np.abs(real), 99.0))
    return top / room if top > 0 else 1.0


def _table(fn, in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    q = np.arange(-128, 128)
    real = fn((q - in_zp) * in_scale)
    return np.clip(np.round(real / out_scale) + out_zp, -128, 127).astype(np.int8)


def _silu(r):
    return r / (1.0 + np.exp(-r))


def _sigmoid(r):
    return 1.0 / (1.0 + np.exp(-r))


def demo_input(seed: int = SEED + 1, t: int = DEMO_T) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, (t, 8), dtype=np.int8)


def demo_model(seed: int = SEED) -> Model:
    rng = np.random.default_rng(seed)
    c = 16
    vocab = ["<blank>", "a", "b", "c", "d", "e", "f", "g", "h", "|"]
    b = ModelBuilder(
        "intref-demo",
        architecture="synthetic-demo",
        vocabulary=vocab,
        frontend={"kind": "features", "features": 8, "note": "synthetic int8 features, no audio front end"},
        decoder={"kind": "ctc_greedy", "blank": 0, "word_boundary": 9},
        source="synthetic (intref.vectors.synthetic.demo_model)",
        recipe={"seed": seed, "weights": "uniform random", "calibration": "99th percentile of a seeded input"},
    )
    cal = np.random.default_rng(seed + 2).integers(-128, 128, (2 * DEMO_T, 8), dtype=np.int8)
    sx, zx = 0.05, 3
    x = b.input("x", "int8", ("T", 8), scale=sx, zero_point=zx)

    # stem: dense conv, int8 weights, per-channel tflite_double
    w = rng.integers(-127, 128, (c, 8, 3), dtype=np.int8)
    sw = 0.002 * (1 + rng.random(c))
    bias = rng.integers(-3000, 3000, c, dtype=np.int32)
    acc = ops.conv1d(cal, w, bias, x_zp=zx, padding=(1, 1))
    s_stem = _out_scale(acc * sx * sw)
    rq = Requant.from_scale(sx * sw / s_stem, "tflite_double", zero_point=-2)
    h = b.node(
        "conv1d",
        "stem",
        [x],
        "h_stem",
        params={"w": b.constant("stem.w", w, scale=sw, zero_point=0), "bias": bias},
        attrs={"x_zp": zx, "padding": (1, 1)},
        requant=rq,
        scale=s_stem,
    )
    cal = rq.apply(acc)

    # act: SiLU as a 256-entry table
    s_act, z_act = 0.03, -100
    table = _table(_silu, s_stem, -2, s_act, z_act)
    h = b.node("lut", "act", [h], "h_act", params={"table": table}, scale=s_act, zero_point=z_act)
    act = cal = ops.lut(cal, table)

    # dw: depthwise dilated conv, int4 weights (full range), per-channel single rounding
    w4 = pack_int4(rng.integers(-8, 8, (c, 1, 5)).astype(np.int8))
    sw = 0.05 * (1 + rng.random(c))
    acc = ops.conv1d(cal, w4, None, x_zp=z_act, dilation=2, padding=(4, 4), groups=c)
    s_dw = _out_scale(acc * s_act * sw)
    rq = Requant.from_scale(s_act * sw / s_dw, "single", zero_point=0)
    h = b.node(
        "conv1d",
        "dw",
        [h],
        "h_dw",
        params={"w": b.constant("dw.w", w4, scale=sw, zero_point=0)},
        attrs={"x_zp": z_act, "dilation": 2, "padding": (4, 4), "groups": c},
        requant=rq,
        scale=s_dw,
    )
    cal = ops.clamp(rq.apply(acc), 0, 127)

    # relu: clamp at the zero point
    h = b.node("clamp", "relu", [h], "h_relu", attrs={"lo": 0, "hi": 127})

    # pw: pointwise conv, narrow int4 weights, no requant: a 24-bit saturating accumulator is the output
    w4n = pack_int4(rng.integers(-7, 8, (c, c, 1)).astype(np.int8), narrow=True)
    sw = 0.04
    pw_acc = Accumulator("saturate", 24)
    acc = ops.conv1d(cal, w4n, None, acc=pw_acc)
    h = b.node(
        "conv1d",
        "pw",
        [h],
        "h_pw",
        params={"w": b.constant("pw.w", w4n, scale=sw, zero_point=0)},
        acc=pw_acc,
        scale=s_dw * sw,
        zero_point=0,
    )

    # pw_rq: int32 -> int8, per-tensor tosa_double
    s_pw = _out_scale(acc * s_dw * sw)
    rq = Requant.from_scale(s_dw * sw / s_pw, "tosa_double", zero_point=5)
    h = b.node("requantize", "pw_rq", [h], "h_pw_rq", requant=rq, scale=s_pw)
    cal = rq.apply(acc)

    # res: residual add, dyadic
    s_res = _out_scale((cal.astype(np.float64) - 5) * s_pw + (act.astype(np.float64) - z_act) * s_act)
    add_p = AddParams.from_scales(s_pw, 5, s_act, z_act, s_res, -3, scheme="dyadic")
    h = b.node("add", "res", [h, "h_act"], "h_res", requant=add_p, scale=s_res)
    res = cal = ops.add(cal, act, add_p)

    # gate: x * sigmoid(x), the sigmoid as a table and the product with onnx rounding
    table = _table(_sigmoid, s_res, -3, 1 / 256, -128)
    sig_h = b.node("lut", "sig", [h], "h_sig", params={"table": table}, scale=1 / 256, zero_point=-128)
    sig = ops.lut(cal, table)
    prod = (res.astype(np.float64) + 3) * (sig.astype(np.float64) + 128)
    s_gate = _out_scale(prod * s_res / 256)
    rq = Requant.from_scale(s_res / 256 / s_gate, "onnx", zero_point=1)
    h = b.node("mul", "gate", [h, sig_h], "h_gate", attrs={"a_zp": -3, "b_zp": -128}, requant=rq, scale=s_gate)
    gate = cal = ops.mul(res, sig, rq, a_zp=-3, b_zp=-128)

    # down: strided dense conv to int16, tosa_scale16, wrapping 32-bit accumulator
    w = rng.integers(-127, 128, (c, c, 3), dtype=np.int8)
    sw = 0.003 * (1 + rng.random(c))
    wrap = Accumulator("wrap", 32)
    acc = ops.conv1d(cal, w, None, x_zp=1, stride=2, padding=(1, 1), acc=wrap)
    s_down = _out_scale(acc * s_gate * sw, room=20000.0)
    rq = Requant.from_scale(s_gate * sw / s_down, "tosa_scale16", zero_point=0, lo=-32768, hi=32767)
    h = b.node(
        "conv1d",
        "down",
        [h],
        "h_down",
        params={"w": b.constant("down.w", w, scale=sw, zero_point=0)},
        attrs={"x_zp": 1, "stride": 2, "padding": (1, 1)},
        requant=rq,
        acc=wrap,
        scale=s_down,
        shape=("T2", c),
    )
    cal = rq.apply(acc)

    # pool: mean over time of int16, tflite_double (the multiplier is divided by T when it runs)
    s_pool = _out_scale(cal.mean(axis=0) * s_down)
    rq = Requant.from_scale(s_down / s_pool, "tflite_double", zero_point=0)
    pooled = b.node("mean_over_time", "pool", [h], "h_pool", requant=rq, scale=s_pool)
    pool_cal = ops.mean_over_time(cal, rq)

    # logits: per-frame linear, int8 weights, single rounding
    w = rng.integers(-127, 128, (len(vocab), c), dtype=np.int8)
    sw = 0.004 * (1 + rng.random(len(vocab)))
    bias = rng.integers(-2000, 2000, len(vocab), dtype=np.int32)
    acc = ops.linear(gate, w, bias, x_zp=1)
    s_log = _out_scale(acc * s_gate * sw)
    rq = Requant.from_scale(s_gate * sw / s_log, "single", zero_point=0)
    logits = b.node(
        "linear",
        "logits",
        ["h_gate"],
        "logits",
        params={"w": b.constant("logits.w", w, scale=sw, zero_point=0), "bias": bias},
        attrs={"x_zp": 1},
        requant=rq,
        scale=s_log,
    )

    # head: utterance-level linear on the pooled vector, int4 weights, tosa_double per channel
    w4 = pack_int4(rng.integers(-8, 8, (4, c)).astype(np.int8))
    sw = 0.05 * (1 + rng.random(4))
    acc = ops.linear(pool_cal, w4)
    s_head = _out_scale(acc * s_pool * sw)
    rq = Requant.from_scale(s_pool * sw / s_head, "tosa_double", zero_point=0)
    head = b.node(
        "linear",
        "head",
        [pooled],
        "head",
        params={"w": b.constant("head.w", w4, scale=sw, zero_point=0)},
        requant=rq,
        scale=s_head,
    )
    b.output(logits, head)
    return b.build()


# --- op-level conformance cases ---


@dataclass
class Case:
    op: str
    name: str
    purpose: str
    inputs: dict[str, np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    requant: dict[str, Any] | None = None
    acc: dict[str, Any] | None = None


# (multiplier, shift) giving 0.5 and 0.25 under each scheme, and a "neutral" shift for a Q31 multiplier.
HALF_QUARTER = {
    "tflite_double": ((2**30, 0), (2**30, -1)),
    "single": ((2**30, 0), (2**30, -1)),
    "tosa_double": ((2**30, 31), (2**30, 32)),
    "tosa_scale16": ((2**14, 15), (2**14, 16)),
    "dyadic": ((2**30, 31), (2**30, 32)),
    "onnx": ((2**23, 24), (2**23, 25)),
}


def _rq(scheme: str, zp: int = 0, lo: int = -128, hi: int = 127) -> dict[str, Any]:
    return {"scheme": scheme, "zero_point": zp, "lo": lo, "hi": hi}


def _mult(m, s) -> dict[str, np.ndarray]:
    return {"multiplier": np.asarray(m, dtype=np.int32), "shift": np.asarray(s, dtype=np.int32)}


def _legal(values: list[int], m: int, s: int, scheme: str) -> list[int]:
    """The values a scheme accepts with (m, s): each checked alone, so a case never fails by accident."""
    kept = []
    for v in values:
        try:
            rescale(np.array([v], dtype=np.int64), m, s, scheme)
            kept.append(v)
        except (ValueError, ArithmeticError):
            pass
    return kept


def _columns(columns: list[list[int]]) -> np.ndarray:
    """Per-channel columns of different lengths as one [N, C] int32 array (short columns repeat their values)."""
    n = max(len(col) for col in columns)
    return np.array([[col[i % len(col)] for col in columns] for i in range(n)], dtype=np.int32)


EXTREMES = [
    INT32_MIN,
    INT32_MIN + 1,
    -(2**30),
    -(2**16) - 1,
    -65536,
    -255,
    -3,
    -2,
    -1,
    0,
    1,
    2,
    3,
    255,
    65535,
    2**16 + 1,
    2**30,
    INT32_MAX - 1,
    INT32_MAX,
]


def _requantize_cases() -> Iterator[Case]:
    for scheme, limits in sorted((s, scheme_limits(s)) for s in HALF_QUARTER):
        (m_half, s_half), (m_q, s_q) = HALF_QUARTER[scheme]
        x = np.repeat(np.arange(-10, 11, dtype=np.int32)[:, None], 2, axis=1)
        yield Case(
            "requantize",
            f"{scheme}_ties",
            f"{scheme}: x * 0.5 and x * 0.25 for x in -10..10 (every tie)",
            {"x": x},
            _mult([m_half, m_q], [s_half, s_q]),
            {"x_zp": 0},
            _rq(scheme),
        )
        mlo, mhi = max(limits.multiplier[0], 0), limits.multiplier[1]
        slo, shi = limits.shift
        pairs = [(mhi, shi), (mhi, slo), (1, slo), (1, shi), (mlo, slo), (m_half, s_half)]
        cols = [_legal(EXTREMES, m, s, scheme) or [0] for m, s in pairs]
        ms, ss = zip(*pairs, strict=True)
        yield Case(
            "requantize",
            f"{scheme}_shift_limits",
            f"{scheme}: multipliers and shifts at the ends of their legal ranges, on INT32 extremes",
            {"x": _columns(cols)},
            _mult(ms, ss),
            {"x_zp": 0},
            _rq(scheme, 0, INT32_MIN, INT32_MAX),
        )
        rng = np.random.default_rng(len(scheme))
        x = rng.integers(-(2**24), 2**24, (32, 3)).astype(np.int32)
        m = np.array([m_half, mhi, (mhi + 1) // 3], dtype=np.int64)
        s = np.array([s_half, s_half, s_half], dtype=np.int64)
        yield Case(
            "requantize",
            f"{scheme}_saturation",
            f"{scheme}: large accumulators clamped to int8 around zp 10",
            {"x": x},
            _mult(m, s),
            {"x_zp": 0},
            _rq(scheme, 10),
        )
    yield Case(
        "requantize",
        "tflite_double_left_shift_overflow",
        "tflite_double: x << shift overflows int32 (error)",
        {"x": np.array([1, -1, 2**20, 5], dtype=np.int32)},
        _mult(2**30, 12),
        {"x_zp": 0},
        _rq("tflite_double"),
    )
    yield Case(
        "requantize",
        "tosa_double_value_range",
        "tosa_double: value outside [-2^(shift-1), 2^(shift-1))",
        {"x": np.array([0, 3, 2**20, 1], dtype=np.int32)},
        _mult(2**30, 20),
        {"x_zp": 0},
        _rq("tosa_double"),
    )
    x = np.array([INT32_MIN, INT32_MAX, 0, -1], dtype=np.int32)
    for policy in ("error", "wrap", "saturate"):
        yield Case(
            "requantize",
            f"acc_{policy}",
            f"x - x_zp leaves int32 at INT32_MIN - 1 (policy {policy})",
            {"x": x},
            _mult(2**30, 32),
            {"x_zp": 1},
            _rq("tosa_double", 0, INT32_MIN, INT32_MAX),
            {"policy": policy, "bits": 32},
        )
    yield Case(
        "requantize",
        "acc24_wrap",
        "24-bit wrapping accumulator",
        {"x": np.array([2**23 - 1, 2**23, -(2**23), -(2**23) - 1, 2**31 - 1], dtype=np.int32)},
        _mult(2**30, 32),
        {"x_zp": 0},
        _rq("tosa_double", 0, INT32_MIN, INT32_MAX),
        {"policy": "wrap", "bits": 24},
    )
    yield Case(
        "requantize",
        "tflite_double_srdhm_saturation",
        "multiplier INT32_MIN: INT32_MIN * INT32_MIN saturates to INT32_MAX, other products negate",
        {"x": np.array([INT32_MIN, INT32_MAX, -1, 1, 0, -(2**30)], dtype=np.int32)},
        _mult(INT32_MIN, 0),
        {"x_zp": 0},
        _rq("tflite_double", 0, INT32_MIN, INT32_MAX),
    )
    yield Case(
        "requantize",
        "tflite_double_negative_multiplier",
        "negative multipliers (legal for tflite_double)",
        {"x": np.repeat(np.arange(-6, 7, dtype=np.int32)[:, None], 2, axis=1)},
        _mult([-(2**30), INT32_MIN], [-1, 0]),
        {"x_zp": 0},
        _rq("tflite_double"),
    )
    yield Case(
        "requantize",
        "int16_to_int16",
        "int16 input and output, tflite_double with a left shift",
        {"x": np.array([-32768, -1, 0, 1, 32767, 12345], dtype=np.int16)},
        _mult(2**30 + 12345, 3),
        {"x_zp": -5},
        _rq("tflite_double", 7, -32768, 32767),
    )


def _linear_cases() -> Iterator[Case]:
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, (5, 24), dtype=np.int8)
    w = rng.integers(-128, 128, (6, 24), dtype=np.int8)
    bias = rng.integers(-50000, 50000, 6, dtype=np.int32)
    m = rng.integers(2**30, 2**31, 6)
    yield Case(
        "linear",
        "int8_per_channel",
        "int8 weights, bias, per-channel tflite_double, x_zp -7",
        {"x": x},
        {"w": w, "bias": bias, **_mult(m, rng.integers(-12, -6, 6))},
        {"x_zp": -7},
        _rq("tflite_double", 3),
    )
    xe = np.array([[-128, 127, -128, 127, 0, -1, 1, -128], [127] * 8, [-128] * 8], dtype=np.int8)
    for narrow in (False, True):
        lo = -7 if narrow else -8
        we = np.array([[lo] * 8, [7] * 8, [lo, 7] * 4, [0, 1, -1, 2, -2, 3, -3, lo]], dtype=np.int8)
        yield Case(
            "linear",
            f"int4_{'narrow' if narrow else 'full'}_extremes",
            f"int4 weights at {lo} and 7 ({'narrow' if narrow else 'full'} range), int8 extremes, x_zp 127",
            {"x": xe},
            {"w": pack_int4(we, narrow=narrow), **_mult([2**31 - 1] * 4, [-8] * 4)},
            {"x_zp": 127},
            _rq("single", -1),
        )
    xo = np.array([[127, 127], [-128, 0]], dtype=np.int8)
    wo = np.array([[127, 127]], dtype=np.int8)
    bo = np.array([INT32_MAX - 10000], dtype=np.int32)
    for policy in ("error", "wrap", "saturate"):
        yield Case(
            "linear",
            f"acc_{policy}",
            f"bias near INT32_MAX plus products leaves int32 (policy {policy})",
            {"x": xo},
            {"w": wo, "bias": bo},
            {"x_zp": 0},
            None,
            {"policy": policy, "bits": 32},
        )
    yield Case(
        "linear",
        "acc24_saturate",
        "a 24-bit saturating accumulator, output unrequantised",
        {"x": np.full((2, 300), 127, dtype=np.int8)},
        {"w": np.full((3, 300), 127, dtype=np.int8)},
        {"x_zp": -128},
        None,
        {"policy": "saturate", "bits": 24},
    )
    yield Case(
        "linear",
        "batch_3d",
        "x with two leading dimensions, per-tensor dyadic, no bias",
        {"x": rng.integers(-128, 128, (2, 3, 16), dtype=np.int8)},
        {"w": rng.integers(-128, 128, (4, 16), dtype=np.int8), **_mult(1518500250, 40)},
        {"x_zp": 0},
        _rq("dyadic"),
    )


def _conv_cases() -> Iterator[Case]:
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, (10, 4), dtype=np.int8)
    yield Case(
        "conv1d",
        "dense_same_zp_padding",
        "dense k=3 'same' padding: padded positions hold x_zp = 17",
        {"x": x},
        {
            "w": rng.integers(-128, 128, (5, 4, 3), dtype=np.int8),
            "bias": rng.integers(-1000, 1000, 5, dtype=np.int32),
            **_mult(2**30 + 7, -9),
        },
        {"x_zp": 17, "padding": [1, 1]},
        _rq("tflite_double"),
    )
    yield Case(
        "conv1d",
        "depthwise_dilated_strided",
        "depthwise int4, k=3, dilation 3, stride 2, padding (2, 0)",
        {"x": x},
        {
            "w": pack_int4(rng.integers(-8, 8, (4, 1, 3)).astype(np.int8)),
            **_mult(rng.integers(2**14, 2**15, 4), [20, 21, 22, 62]),
        },
        {"x_zp": -1, "stride": 2, "dilation": 3, "padding": [2, 0], "groups": 4},
        _rq("tosa_scale16"),
    )
    yield Case(
        "conv1d",
        "pointwise_int4_narrow",
        "pointwise (k=1) narrow int4, per-channel onnx (ties to even)",
        {"x": x},
        {
            "w": pack_int4(rng.integers(-7, 8, (6, 4, 1)).astype(np.int8), narrow=True),
            **_mult([2**23] * 6, [25, 26, 27, 28, 29, 30]),
        },
        {"x_zp": 0},
        _rq("onnx"),
    )
    yield Case(
        "conv1d",
        "empty_output",
        "kernel span longer than the input: zero output frames",
        {"x": x[:3]},
        {"w": rng.integers(-128, 128, (2, 4, 5), dtype=np.int8), **_mult(2**30, 31)},
        {"x_zp": 0, "dilation": 2},
        _rq("tosa_double"),
    )
    yield Case(
        "conv1d",
        "extremes_acc_wrap",
        "all -128 inputs and weights with x_zp 127 wrap a 24-bit accumulator",
        {"x": np.full((6, 128), -128, dtype=np.int8)},
        {"w": np.full((2, 128, 3), -128, dtype=np.int8)},
        {"x_zp": 127, "padding": [2, 2]},
        None,
        {"policy": "wrap", "bits": 24},
    )


def _add_cases() -> Iterator[Case]:
    vals = np.arange(-128, 128, 17, dtype=np.int8)
    a, b = np.meshgrid(vals, vals, indexing="ij")
    a, b = a.astype(np.int8), b.astype(np.int8)
    for scheme in ("tflite_double", "single", "dyadic"):
        p = AddParams.from_scales(1.0, 0, 1.0, 0, 2.0, 0, scheme=scheme)
        yield Case(
            "add",
            f"{scheme}_ties",
            f"{scheme}: (a + b) / 2 on a grid of int8 pairs (half are ties)",
            {"a": a, "b": b},
            _add_params(p),
            {"a_zp": 0, "b_zp": 0, "left_shift": 20},
            _rq(scheme),
        )
    p = AddParams.from_scales(0.5, -128, 0.25, 127, 0.01, 3, scheme="tflite_double")
    yield Case(
        "add",
        "saturation",
        "small output scale: most sums saturate at -128 or 127",
        {"a": a, "b": b},
        _add_params(p),
        {"a_zp": -128, "b_zp": 127, "left_shift": 20},
        _rq("tflite_double", 3),
    )
    ai = np.array([[-32768, 32767, 0, -1], [1, 2, 3, 4]], dtype=np.int16)
    bi = np.array([32767, -32768, 5, -5], dtype=np.int16)
    p = AddParams.from_scales(0.001, 0, 0.002, 0, 0.003, 0, scheme="single", lo=-32768, hi=32767, left_shift=15)
    yield Case(
        "add",
        "int16_broadcast",
        "int16 inputs (left shift 15), b broadcast over rows, int16 output",
        {"a": ai, "b": bi},
        _add_params(p),
        {"a_zp": 0, "b_zp": 0, "left_shift": 15},
        _rq("single", 0, -32768, 32767),
    )


def _add_params(p: AddParams) -> dict[str, np.ndarray]:
    out = {
        "a_multiplier": p.a_multiplier,
        "a_shift": p.a_shift,
        "b_multiplier": p.b_multiplier,
        "b_shift": p.b_shift,
        "multiplier": p.out.multiplier,
        "shift": p.out.shift,
    }
    return {k: np.asarray(v, dtype=np.int32) for k, v in out.items()}


def _mul_cases() -> Iterator[Case]:
    e8 = np.array([-128, -127, -1, 0, 1, 126, 127], dtype=np.int8)
    a, b = (g.astype(np.int8) for g in np.meshgrid(e8, e8, indexing="ij"))
    yield Case(
        "mul",
        "int8_extremes",
        "every pair of int8 extremes, zero points 0, tflite_double",
        {"a": a, "b": b},
        _mult(2**30, -6),
        {"a_zp": 0, "b_zp": 0},
        _rq("tflite_double"),
    )
    yield Case(
        "mul",
        "int8_extremes_zp",
        "int8 extremes with zero points -128 and 127 (products up to 65025)",
        {"a": a, "b": b},
        _mult(2**30, -8),
        {"a_zp": -128, "b_zp": 127},
        _rq("single", -4),
    )
    e16 = np.array([-32768, -32767, -1, 0, 1, 32767], dtype=np.int16)
    a, b = (g.astype(np.int16) for g in np.meshgrid(e16, e16, indexing="ij"))
    yield Case(
        "mul",
        "int16_extremes",
        "-32768 * -32768 = 2^30 and friends, int16 output, tosa_double",
        {"a": a, "b": b},
        _mult(2**30, 46),
        {"a_zp": 0, "b_zp": 0},
        _rq("tosa_double", 0, -32768, 32767),
    )
    v = np.arange(-8, 9, dtype=np.int8)
    for scheme in ("onnx", "dyadic", "single"):
        m, s = HALF_QUARTER[scheme][1]
        yield Case(
            "mul",
            f"{scheme}_ties",
            f"{scheme}: a * b * 0.25 for small a, b (ties at odd products / 2)",
            {"a": v[:, None].copy(), "b": v[None, :].copy()},
            _mult(m, s),
            {"a_zp": 0, "b_zp": 0},
            _rq(scheme),
        )


def _lut_cases() -> Iterator[Case]:
    rng = np.random.default_rng(3)
    yield Case(
        "lut",
        "int8_all",
        "every int8 input through a random int8 table",
        {"x": np.arange(-128, 128, dtype=np.int8).reshape(16, 16)},
        {"table": rng.integers(-128, 128, 256, dtype=np.int8)},
    )
    x16 = np.array([-32768, -32767, -1, 0, 1, 32766, 32767], dtype=np.int16)
    yield Case(
        "lut",
        "int16_edges",
        "int16 inputs at the table's ends (65536 entries, int16 values)",
        {"x": x16},
        {"table": rng.integers(-32768, 32768, 65536, dtype=np.int16)},
    )


def _clamp_cases() -> Iterator[Case]:
    yield Case(
        "clamp",
        "int8_relu6",
        "ReLU6-style bounds on every int8 value",
        {"x": np.arange(-128, 128, dtype=np.int8)},
        attrs={"lo": -20, "hi": 100},
    )
    yield Case(
        "clamp",
        "int16_point",
        "lo = hi: every value becomes 5",
        {"x": np.array([-32768, 0, 5, 32767], dtype=np.int16)},
        attrs={"lo": 5, "hi": 5},
    )
    yield Case(
        "clamp",
        "int32_extremes",
        "bounds at INT32_MIN and INT32_MAX leave values alone",
        {"x": np.array(EXTREMES, dtype=np.int32)},
        attrs={"lo": INT32_MIN, "hi": INT32_MAX},
    )


def _mean_cases() -> Iterator[Case]:
    rng = np.random.default_rng(5)
    yield Case(
        "mean_over_time",
        "t1",
        "T = 1: the multiplier is not divided",
        {"x": rng.integers(-128, 128, (1, 6), dtype=np.int8)},
        _mult(2**30, 0),
        {"x_zp": 2},
        _rq("tflite_double"),
    )
    yield Case(
        "mean_over_time",
        "t7",
        "T = 7 (not a power of two): the reciprocal of T folded into M",
        {"x": rng.integers(-128, 128, (7, 6), dtype=np.int8)},
        _mult(2**30, 31),
        {"x_zp": -3},
        _rq("tosa_double"),
    )
    yield Case(
        "mean_over_time",
        "int16_long",
        "T = 100 int16 extremes",
        {"x": np.tile(np.array([[-32768, 32767, -1, 1]], dtype=np.int16), (100, 1))},
        _mult(2**30, 0),
        {"x_zp": 0},
        _rq("single", 0, -32768, 32767),
    )
    yield Case(
        "mean_over_time",
        "acc16_error",
        "the time sum leaves a 16-bit accumulator (policy error)",
        {"x": np.full((4, 2), 32767, dtype=np.int16)},
        _mult(2**30, 0),
        {"x_zp": 0},
        _rq("tflite_double", 0, -32768, 32767),
        {"policy": "error", "bits": 16},
    )
    yield Case(
        "mean_over_time",
        "shift_limit",
        "dividing by T = 8 moves the shift below -31: an error at run time",
        {"x": np.ones((8, 2), dtype=np.int8)},
        _mult(2**30, -30),
        {"x_zp": 0},
        _rq("tflite_double"),
    )


def op_cases() -> list[Case]:
    cases = [
        *_requantize_cases(),
        *_linear_cases(),
        *_conv_cases(),
        *_add_cases(),
        *_mul_cases(),
        *_lut_cases(),
        *_clamp_cases(),
        *_mean_cases(),
    ]
    names = [(c.op, c.name) for c in cases]
    assert len(set(names)) == len(names), "duplicate case names"
    return cases
