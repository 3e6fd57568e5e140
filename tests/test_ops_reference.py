"""Every op of intref.ops against the oracle's loops, on random small inputs and edge cases, plus validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from oracle import (
    INT32_MAX,
    INT32_MIN,
    SHIFT_RANGE,
    VALUE_BITS,
    OracleOverflow,
    OracleRescaleError,
    Q,
    add_flat,
    clamp,
    conv1d_exact,
    conv_output_length,
    finish,
    linear_exact,
    lut,
    mean_over_time,
    mul_flat,
    tflite_quantize_multiplier,
)

from intref import ops
from intref.backends import compare
from intref.spec import (
    POLICIES,
    Accumulator,
    AccumulatorOverflowError,
    Requant,
    RescaleError,
    pack_int4,
    quantize_multipliers,
)

SCHEMES = ("tflite_double", "single", "tosa_double", "tosa_scale16", "dyadic", "onnx")
MULT_MAX = {"tosa_scale16": 2**15 - 1, "onnx": 2**24 - 1}
FEW = max(10, settings.default.max_examples // 2)


def acc_dtype(bits: int) -> np.dtype:
    return np.dtype(np.int32 if bits <= 32 else np.int64)


def expect(op: str, run, oracle, y_dtype, y_shape, held_shape=None, held_dtype=None) -> None:
    """``run()`` (which returns ``(y, acc)``) agrees with ``oracle()`` (flat y, flat acc), errors included."""
    try:
        y_flat, held_flat = oracle()
    except Exception as exc:
        note_outcome(type(exc).__name__)
        raise_expected(op, run, exc)
        return
    note_outcome("value")
    held_shape = y_shape if held_shape is None else held_shape
    expected = (
        np.array(y_flat, dtype=y_dtype).reshape(y_shape),
        np.array(held_flat, dtype=held_dtype or y_dtype).reshape(held_shape),
    )
    mismatch = compare(op, expected, run())
    assert mismatch is None, str(mismatch)


def note_outcome(outcome: str) -> None:
    if currently_in_test_context():
        event(outcome)


def raise_expected(op: str, run, oracle_error: Exception) -> None:
    """``run()`` raises what the oracle's error stands for, at the same flat index."""
    try:
        raise oracle_error
    except OracleOverflow as exc:
        with pytest.raises(AccumulatorOverflowError) as info:
            run()
        assert (info.value.op, info.value.index, info.value.value) == (op, exc.index, exc.value)
        return
    except OracleRescaleError as exc:
        with pytest.raises(RescaleError) as info:
            run()
        assert (info.value.index, info.value.value) == (exc.index, exc.value)
        return
    except ValueError:
        with pytest.raises(ValueError):
            run()


# ------------------------------------------------------------------------------------------- strategies


def oracle_q(rq: Requant | None) -> Q | None:
    if rq is None:
        return None
    return Q(rq.scheme, rq.multiplier.tolist(), rq.shift.tolist(), rq.zero_point, rq.lo, rq.hi)


@st.composite
def requants(draw, channels: int, typical_acc: float = 2000.0, allow_none: bool = False, scheme: str | None = None):
    """A Requant (per-tensor or per-channel) for ``channels`` outputs, realistic or extreme, or None."""
    if allow_none and draw(st.integers(0, 5)) == 0:
        return None
    scheme = scheme or draw(st.sampled_from(SCHEMES))
    per_channel = draw(st.booleans())
    shape = (channels,) if per_channel else ()
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.integers(0, 4)):  # realistic: about 127 / typical_acc, times a random factor
        scales = 2.0 ** rng.uniform(-3, 2, size=shape) * 127 / typical_acc
        m, s = quantize_multipliers(scales, scheme)
    else:  # extremes of the legal parameter space
        lo, hi = SHIFT_RANGE[scheme]
        top = MULT_MAX.get(scheme, INT32_MAX)
        m = np.array(draw(st.sampled_from([top, top // 2 + 1, 1, 0])), dtype=np.int64)
        s = rng.integers(lo, hi + 1, size=shape)
        m = np.broadcast_to(m, shape).copy()
    out = draw(st.sampled_from(["int8", "relu", "int16", "int32"]))
    if out == "int8":
        zp, lo, hi = draw(st.integers(-128, 127)), -128, 127
    elif out == "relu":
        zp = draw(st.integers(-128, 127))
        lo, hi = zp, min(127, zp + draw(st.integers(0, 60)))
    elif out == "int16":
        zp, lo, hi = draw(st.integers(-(2**15), 2**15 - 1)), -(2**15), 2**15 - 1
    else:
        zp, lo, hi = draw(st.sampled_from([0, INT32_MIN, INT32_MAX, -7])), INT32_MIN, INT32_MAX
    return Requant(scheme, m, s, zp, lo, hi)


def accumulators(requant: Requant | None) -> st.SearchStrategy[Accumulator]:
    width = 64 if requant is None else VALUE_BITS[requant.scheme]
    bits = [b for b in (16, 24, 32, 32, 32, 48, 64) if b <= width]
    return st.builds(Accumulator, st.sampled_from(POLICIES), st.sampled_from(bits))


def int8_tensor(rng: np.random.Generator, shape, mode: str) -> np.ndarray:
    if mode == "min":
        return np.full(shape, -128, dtype=np.int8)
    if mode == "max":
        return np.full(shape, 127, dtype=np.int8)
    if mode == "alternate":
        return np.where(np.arange(int(np.prod(shape))).reshape(shape) % 2, 127, -128).astype(np.int8)
    return rng.integers(-128, 128, size=shape).astype(np.int8)


modes = st.sampled_from(["random", "random", "min", "max", "alternate"])


@st.composite
def weights(draw, rng: np.random.Generator, shape):
    """(weights to pass: int8 or PackedInt4, the same values as int8)."""
    kind = draw(st.sampled_from(["int8", "int8", "int4", "int4_narrow", "extreme"]))
    if kind == "int8":
        w = rng.integers(-128, 128, size=shape).astype(np.int8)
        return w, w
    if kind == "extreme":
        w = np.full(shape, draw(st.sampled_from([-128, 127])), dtype=np.int8)
        return w, w
    narrow = kind == "int4_narrow"
    w = rng.integers(-7 if narrow else -8, 8, size=shape).astype(np.int8)
    return pack_int4(w, narrow=narrow), w


@st.composite
def biases(draw, rng: np.random.Generator, n: int):
    kind = draw(st.sampled_from(["none", "small", "small", "high", "low"]))
    if kind == "none":
        return None
    if kind == "small":
        return rng.integers(-(2**16), 2**16, size=n).astype(np.int32)
    if kind == "high":
        return (INT32_MAX - rng.integers(0, 5000, size=n)).astype(np.int32)
    return (INT32_MIN + rng.integers(0, 5000, size=n)).astype(np.int32)


# ---------------------------------------------------------------------------------------------- linear


@st.composite
def linear_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = draw(st.sampled_from([1, 2, 3, 4, 5, 7, 8, 16, 33, 63, 65]))
    n = draw(st.integers(1, 9))
    lead = draw(st.sampled_from([(), (1,), (3,), (2, 3), (1, 1)]))
    x = int8_tensor(rng, lead + (k,), draw(modes))
    w, w_vals = draw(weights(rng, (n, k)))
    bias = draw(biases(rng, n))
    rq = draw(requants(n, typical_acc=128 * 64 * np.sqrt(k), allow_none=True))
    acc = draw(accumulators(rq))
    x_zp = draw(st.one_of(st.integers(-128, 127), st.sampled_from([-128, 127, 0])))
    return x, w, w_vals, bias, x_zp, rq, acc


@given(case=linear_cases())
def test_linear(case):
    x, w, w_vals, bias, x_zp, rq, acc = case
    n, k = w_vals.shape
    b = [0] * n if bias is None else bias.tolist()
    q = oracle_q(rq)

    def oracle():
        return finish(linear_exact(x.reshape(-1, k).tolist(), w_vals.tolist(), b, x_zp), n, acc.bits, acc.policy, q)

    def run():
        return ops.linear(x, w, bias, x_zp=x_zp, requant=rq, acc=acc, return_acc=True)

    y_dtype = acc_dtype(acc.bits) if q is None else q.dtype()
    expect("linear", run, oracle, y_dtype, x.shape[:-1] + (n,), held_dtype=acc_dtype(acc.bits))


def test_linear_without_return_acc_and_default_name():
    x = np.array([[1, 2, 3]], dtype=np.int8)
    w = np.array([[1, 1, 1], [-1, 0, 2]], dtype=np.int8)
    assert ops.linear(x, w).tolist() == [[6, 5]]
    assert ops.linear(x, w).dtype == np.int32
    with pytest.raises(AccumulatorOverflowError, match="fc1: accumulator overflow at flat index 1"):
        ops.linear(x, w, np.array([0, INT32_MAX], dtype=np.int32), name="fc1")


# ---------------------------------------------------------------------------------------------- conv1d


@st.composite
def conv_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    depthwise = draw(st.booleans())
    big = draw(st.integers(0, 4)) == 0
    if big:  # long kernels and dilations: few channels
        k, c_in, c_out = draw(st.integers(10, 87)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
        t = draw(st.integers(1, 40))
    else:
        k, c_in, c_out = draw(st.integers(1, 9)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
        t = draw(st.integers(1, 14))
    if depthwise:
        c_out = c_in
    dilation, stride = draw(st.integers(1, 8)), draw(st.integers(1, 3))
    span = dilation * (k - 1)
    if draw(st.booleans()):
        padding = draw(st.integers(0, span // 2 + 1))
    else:
        padding = (draw(st.integers(0, span + 1)), draw(st.integers(0, span + 1)))
    x = int8_tensor(rng, (t, c_in), draw(modes))
    w, w_vals = draw(weights(rng, (c_out, 1 if depthwise else c_in, k)))
    bias = draw(biases(rng, c_out))
    rq = draw(requants(c_out, typical_acc=128 * 64 * np.sqrt(k * (1 if depthwise else c_in)), allow_none=True))
    acc = draw(accumulators(rq))
    x_zp = draw(st.one_of(st.integers(-128, 127), st.sampled_from([-128, 127, 0])))
    return x, w, w_vals, bias, x_zp, rq, acc, stride, dilation, padding, depthwise


@given(case=conv_cases())
def test_conv1d(case):
    x, w, w_vals, bias, x_zp, rq, acc, stride, dilation, padding, depthwise = case
    c_out, _, k = w_vals.shape
    pad = (padding, padding) if isinstance(padding, int) else padding
    b = [0] * c_out if bias is None else bias.tolist()
    q = oracle_q(rq)
    t_out = conv_output_length(x.shape[0], k, stride, dilation, pad)
    assert ops.output_length(x.shape[0], k, stride, dilation, pad) == t_out

    def oracle():
        exact, _ = conv1d_exact(x.tolist(), w_vals.tolist(), b, x_zp, stride, dilation, pad, depthwise)
        return finish(exact, c_out, acc.bits, acc.policy, q)

    def run():
        return ops.conv1d(
            x,
            w,
            bias,
            x_zp=x_zp,
            requant=rq,
            acc=acc,
            stride=stride,
            dilation=dilation,
            padding=padding,
            groups=x.shape[1] if depthwise else 1,
            return_acc=True,
        )

    y_dtype = acc_dtype(acc.bits) if q is None else q.dtype()
    expect("conv1d", run, oracle, y_dtype, (t_out, c_out), held_dtype=acc_dtype(acc.bits))


CONV_EDGES = [  # (T, C_in, C_out, k, stride, dilation, padding, depthwise)
    (1, 3, 5, 1, 1, 1, 0, False),
    (1, 3, 3, 3, 1, 1, 1, True),
    (1, 1, 1, 87, 1, 8, (344, 344), False),
    (2, 3, 3, 87, 3, 1, (43, 43), True),
    (30, 1, 2, 87, 1, 1, 0, False),
    (5, 5, 5, 9, 3, 8, (40, 0), True),
    (5, 5, 3, 9, 2, 8, (0, 40), False),
    (7, 7, 7, 2, 2, 1, (1, 0), True),
    (9, 3, 3, 4, 3, 2, (0, 2), False),
]


@pytest.mark.parametrize("t, c_in, c_out, k, stride, dilation, padding, depthwise", CONV_EDGES)
def test_conv1d_edge_shapes(t, c_in, c_out, k, stride, dilation, padding, depthwise):
    rng = np.random.default_rng(k * 1000 + t)
    x = rng.integers(-128, 128, size=(t, c_in)).astype(np.int8)
    w = rng.integers(-128, 128, size=(c_out, 1 if depthwise else c_in, k)).astype(np.int8)
    bias = rng.integers(-1000, 1000, size=c_out).astype(np.int32)
    pad = (padding, padding) if isinstance(padding, int) else padding
    exact, t_out = conv1d_exact(x.tolist(), w.tolist(), bias.tolist(), -3, stride, dilation, pad, depthwise)
    got = ops.conv1d(
        x, w, bias, x_zp=-3, stride=stride, dilation=dilation, padding=padding, groups=c_in if depthwise else 1
    )
    assert got.dtype == np.int32 and got.shape == (t_out, c_out) and got.ravel().tolist() == exact


def test_conv1d_known_values():
    x = np.array([[1], [2], [3], [4], [5]], dtype=np.int8)
    w = np.array([[[1, 10, 100]]], dtype=np.int8)
    assert ops.conv1d(x, w).ravel().tolist() == [321, 432, 543]
    assert ops.conv1d(x, w, padding=1).ravel().tolist() == [210, 321, 432, 543, 54]
    assert ops.conv1d(x, w, padding=(2, 0), stride=2).ravel().tolist() == [100, 321, 543]
    assert ops.conv1d(x, w, dilation=2).ravel().tolist() == [1 + 30 + 500]
    assert ops.conv1d(x, w, padding=1, x_zp=1).ravel().tolist() == [100, 210, 321, 432, 43]
    assert ops.conv1d(x, w, dilation=3).shape == (0, 1)  # the kernel spans more than the input


def test_conv1d_depthwise_vs_dense_diagonal():
    rng = np.random.default_rng(7)
    x = rng.integers(-128, 128, size=(11, 3)).astype(np.int8)
    wd = rng.integers(-128, 128, size=(3, 1, 5)).astype(np.int8)
    dense = np.zeros((3, 3, 5), dtype=np.int8)
    for c in range(3):
        dense[c, c] = wd[c, 0]
    kw = dict(padding=(3, 1), dilation=2, stride=2, x_zp=5)
    assert np.array_equal(ops.conv1d(x, wd, groups=3, **kw), ops.conv1d(x, dense, **kw))


# ------------------------------------------------------------------------------------- elementwise ops


@st.composite
def int_tensor(draw, dtype, shape, rng):
    info = np.iinfo(dtype)
    mode = draw(modes)
    if mode == "min":
        return np.full(shape, info.min, dtype=dtype)
    if mode == "max":
        return np.full(shape, info.max, dtype=dtype)
    if dtype == np.int32 and draw(st.booleans()):
        return rng.integers(-(2**20), 2**20, size=shape).astype(dtype)
    return rng.integers(int(info.min), int(info.max) + 1, size=shape, dtype=np.int64).astype(dtype)


@st.composite
def requantize_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from([np.int8, np.int16, np.int32]))
    shape = draw(st.sampled_from([(5,), (1,), (3, 4), (2, 1, 3), (7, 3)]))
    x = draw(int_tensor(dtype, shape, rng))
    info = np.iinfo(dtype)
    x_zp = draw(st.one_of(st.integers(int(info.min), int(info.max)), st.sampled_from([int(info.min), int(info.max)])))
    typical = {np.int8: 128.0, np.int16: 2.0**15, np.int32: 2.0**20}[dtype]
    rq = draw(requants(shape[-1], typical_acc=typical))
    return x, x_zp, rq, draw(accumulators(rq))


@given(case=requantize_cases())
def test_requantize(case):
    x, x_zp, rq, acc = case
    q = oracle_q(rq)

    def oracle():
        return finish([v - x_zp for v in x.ravel().tolist()], x.shape[-1], acc.bits, acc.policy, q)

    def run():
        return ops.requantize(x, rq, x_zp=x_zp, acc=acc, return_acc=True)

    expect("requantize", run, oracle, q.dtype(), x.shape, held_dtype=acc_dtype(acc.bits))


BROADCASTS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((4,), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (1, 4)), ((1,), (5,))]


@st.composite
def add_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a_shape, b_shape = draw(st.sampled_from(BROADCASTS))
    a_dtype, b_dtype = draw(st.sampled_from([np.int8, np.int16])), draw(st.sampled_from([np.int8, np.int16]))
    a, b = draw(int_tensor(a_dtype, a_shape, rng)), draw(int_tensor(b_dtype, b_shape, rng))
    channels = np.broadcast_shapes(a_shape, b_shape)[-1]
    scheme = draw(st.sampled_from(SCHEMES))
    left_shift = draw(st.sampled_from([20, 15, 14, 7, 0]))
    zps = []
    for dt in (a_dtype, b_dtype):
        info = np.iinfo(dt)
        zps.append(draw(st.one_of(st.integers(int(info.min), int(info.max)), st.just(0), st.just(int(info.max)))))
    per_channel = draw(st.booleans())
    shape = (channels,) if per_channel else ()
    a_scale, b_scale = 2.0 ** rng.uniform(-8, 0, size=shape), 2.0 ** rng.uniform(-8, 0, size=shape)
    twice_max = 2 * np.maximum(a_scale, b_scale)
    a_m, a_s = quantize_multipliers(a_scale / twice_max, scheme)
    b_m, b_s = quantize_multipliers(b_scale / twice_max, scheme)
    out = draw(requants(channels, typical_acc=64.0 * 2.0**left_shift, scheme=scheme))
    params = ops.AddParams(zps[0], zps[1], left_shift, a_m, a_s, b_m, b_s, out)
    return a, b, params, draw(accumulators(out))


@given(case=add_cases())
def test_add(case):
    a, b, p, acc = case
    q = oracle_q(p.out)
    shape = np.broadcast_shapes(a.shape, b.shape)
    fa, fb = (np.broadcast_to(v, shape).ravel().tolist() for v in (a, b))
    am, bm = (p.a_multiplier.tolist(), p.a_shift.tolist()), (p.b_multiplier.tolist(), p.b_shift.tolist())

    def oracle():
        for v, zp in ((a, p.a_zp), (b, p.b_zp)):  # the inputs' centred range must survive the left shift in int32
            info = np.iinfo(v.dtype)
            if max(int(info.max) - zp, zp - int(info.min)) << p.left_shift > INT32_MAX:
                raise ValueError("left_shift")
        return add_flat(fa, fb, shape[-1], p.a_zp, p.b_zp, p.left_shift, am, bm, acc.bits, acc.policy, q)

    def run():
        return ops.add(a, b, p, acc=acc, return_acc=True)

    expect("add", run, oracle, q.dtype(), shape, held_dtype=acc_dtype(acc.bits))


def test_add_from_scales_matches_tflite_example():
    p = ops.AddParams.from_scales(0.5, 3, 0.25, -2, 0.5, 0, scheme="tflite_double")
    a = np.array([3, 5, 7, -128, 127], dtype=np.int8)
    b = np.array([-2, 2, -6, -128, 127], dtype=np.int8)
    # real values: a*0.5 + b*0.25 = [0, 1 + 1, 2 - 1, ...]; output scale 0.5
    assert ops.add(a, b, p)[:3].tolist() == [0, 4, 2]
    assert ops.add(a, b, p).dtype == np.int8


@pytest.mark.parametrize("scheme", ["tflite_double", "single"])
@given(
    a_scale=st.floats(2**-12, 1.0),
    b_scale=st.floats(2**-12, 1.0),
    out_scale=st.floats(2**-10, 2.0),
    zps=st.tuples(st.integers(-128, 127), st.integers(-128, 127), st.integers(-128, 127)),
    seed=st.integers(0, 2**32 - 1),
)
def test_add_from_scales_follows_tflite(scheme, a_scale, b_scale, out_scale, zps, seed):
    """TFLite's derivation, and the result is the real sum to within one output step (before clamping)."""
    p = ops.AddParams.from_scales(a_scale, zps[0], b_scale, zps[1], out_scale, zps[2], scheme=scheme)
    twice = 2 * max(a_scale, b_scale)
    single = scheme == "single"
    assert (int(p.a_multiplier), int(p.a_shift)) == tflite_quantize_multiplier(a_scale / twice, single)
    assert (int(p.b_multiplier), int(p.b_shift)) == tflite_quantize_multiplier(b_scale / twice, single)
    out = tflite_quantize_multiplier(twice / ((1 << 20) * out_scale), single)
    assert (int(p.out.multiplier), int(p.out.shift), p.out.zero_point, p.left_shift) == (*out, zps[2], 20)
    rng = np.random.default_rng(seed)
    a, b = (rng.integers(-128, 128, size=50).astype(np.int8) for _ in range(2))
    y = ops.add(a, b, p).astype(np.int64)
    real = (a_scale * (a.astype(np.float64) - zps[0]) + b_scale * (b.astype(np.float64) - zps[1])) / out_scale + zps[2]
    inside = (real > -127) & (real < 126)
    assert np.all(np.abs(y[inside] - real[inside]) <= 1.0)


@st.composite
def mul_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a_shape, b_shape = draw(st.sampled_from(BROADCASTS))
    a_dtype, b_dtype = draw(st.sampled_from([np.int8, np.int16])), draw(st.sampled_from([np.int8, np.int16]))
    a, b = draw(int_tensor(a_dtype, a_shape, rng)), draw(int_tensor(b_dtype, b_shape, rng))
    zps = [draw(st.integers(int(np.iinfo(dt).min), int(np.iinfo(dt).max))) for dt in (a_dtype, b_dtype)]
    channels = np.broadcast_shapes(a_shape, b_shape)[-1]
    typical = float(np.iinfo(a_dtype).max) * float(np.iinfo(b_dtype).max)
    rq = draw(requants(channels, typical_acc=typical))
    return a, b, zps[0], zps[1], rq, draw(accumulators(rq))


@given(case=mul_cases())
def test_mul(case):
    a, b, a_zp, b_zp, rq, acc = case
    q = oracle_q(rq)
    shape = np.broadcast_shapes(a.shape, b.shape)
    fa, fb = (np.broadcast_to(v, shape).ravel().tolist() for v in (a, b))

    def oracle():
        return mul_flat(fa, fb, shape[-1], a_zp, b_zp, acc.bits, acc.policy, q)

    def run():
        return ops.mul(a, b, rq, a_zp=a_zp, b_zp=b_zp, acc=acc, return_acc=True)

    expect("mul", run, oracle, q.dtype(), shape, held_dtype=acc_dtype(acc.bits))


@st.composite
def mean_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from([np.int8, np.int16]))
    t = draw(st.one_of(st.integers(1, 9), st.sampled_from([16, 31, 100, 1000])))
    c = draw(st.integers(1, 6))
    x = draw(int_tensor(dtype, (t, c), rng))
    info = np.iinfo(dtype)
    x_zp = draw(st.integers(int(info.min), int(info.max)))
    rq = draw(requants(c, typical_acc=float(info.max)))
    return x, x_zp, rq, draw(accumulators(rq))


@given(case=mean_cases())
def test_mean_over_time(case):
    x, x_zp, rq, acc = case
    q = oracle_q(rq)

    def oracle():
        return mean_over_time(x.tolist(), x_zp, acc.bits, acc.policy, q)

    def run():
        return ops.mean_over_time(x, rq, x_zp=x_zp, acc=acc, return_acc=True)

    expect("mean_over_time", run, oracle, q.dtype(), (x.shape[1],), held_dtype=acc_dtype(acc.bits))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_mean_over_time_every_length(scheme):
    """The divided multiplier depends on T: many lengths, means large enough that a wrong count shows."""
    rng = np.random.default_rng(5)
    rq = Requant.from_scale(np.array([1.0, 0.75, 0.5]), scheme, zero_point=-3, lo=-(2**15), hi=2**15 - 1)
    for t in [*range(1, 18), 31, 32, 33, 63, 64, 65, 99, 100, 101, 255, 256, 257, 1000, 1023, 1024, 1025, 4097]:
        x = rng.integers(5000, 2**15, size=(t, 3)).astype(np.int16)
        x[:, 1] = -x[:, 1]
        expect(
            "mean_over_time",
            lambda x=x: ops.mean_over_time(x, rq, x_zp=7, return_acc=True),
            lambda x=x: mean_over_time(x.tolist(), 7, 32, "error", oracle_q(rq)),
            "int16",
            (3,),
            held_dtype="int32",
        )


def test_mean_over_time_known_values():
    x = np.array([[1, -4], [2, -4], [4, -5]], dtype=np.int8)
    rq = Requant("single", np.int64(2**30), np.int64(1))  # scale 1.0
    assert ops.mean_over_time(x, rq).tolist() == [2, -4]  # 7/3 -> 2, -13/3 -> -4
    assert ops.mean_over_time(x, rq, x_zp=1).tolist() == [1, -5]  # 4/3 -> 1, -16/3 -> -5


@given(
    seed=st.integers(0, 2**32 - 1),
    x_dtype=st.sampled_from([np.int8, np.int16]),
    t_dtype=st.sampled_from([np.int8, np.int16]),
)
@settings(max_examples=FEW)
def test_lut(seed, x_dtype, t_dtype):
    rng = np.random.default_rng(seed)
    size = 256 if x_dtype == np.int8 else 65536
    info, tinfo = np.iinfo(x_dtype), np.iinfo(t_dtype)
    table = rng.integers(int(tinfo.min), int(tinfo.max) + 1, size=size).astype(t_dtype)
    x = rng.integers(int(info.min), int(info.max) + 1, size=(3, 5)).astype(x_dtype)
    x.flat[:2] = [info.min, info.max]
    got = ops.lut(x, table)
    want = np.array(lut(x.ravel().tolist(), table.tolist(), int(info.min)), dtype=t_dtype).reshape(x.shape)
    assert compare("lut", want, got) is None


def test_lut_every_int8_entry():
    table = (np.arange(256) // 2 - 64).astype(np.int8)
    x = np.arange(-128, 128, dtype=np.int8)
    assert ops.lut(x, table).tolist() == lut(x.tolist(), table.tolist(), -128)


@given(seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from([np.int8, np.int16, np.int32]), data=st.data())
@settings(max_examples=FEW)
def test_clamp(seed, dtype, data):
    info = np.iinfo(dtype)
    lo = data.draw(st.integers(int(info.min), int(info.max)))
    hi = data.draw(st.integers(lo, int(info.max)))
    x = np.random.default_rng(seed).integers(int(info.min), int(info.max) + 1, size=(4, 3), dtype=np.int64)
    x = x.astype(dtype)
    got = ops.clamp(x, lo, hi)
    assert compare("clamp", np.array(clamp(x.ravel().tolist(), lo, hi), dtype=dtype).reshape(x.shape), got) is None


# ---------------------------------------------------------------------------------------------- errors


def _rq(n=None, scheme="single"):
    m = np.full(n, 2**30) if n else np.int64(2**30)
    return Requant(scheme, m, np.zeros_like(m) if n else np.int64(0))


X8 = np.zeros((4, 3), dtype=np.int8)
W8 = np.zeros((2, 3), dtype=np.int8)
CW = np.zeros((2, 3, 3), dtype=np.int8)
ADDP = ops.AddParams(0, 0, 20, np.int64(2**30), np.int64(0), np.int64(2**30), np.int64(0), _rq())

TYPE_ERRORS = [
    ("linear x float", lambda: ops.linear(X8.astype(np.float32), W8)),
    ("linear x int16", lambda: ops.linear(X8.astype(np.int16), W8)),
    ("linear x list", lambda: ops.linear(X8.tolist(), W8)),
    ("linear w int16", lambda: ops.linear(X8, W8.astype(np.int16))),
    ("linear bias int64", lambda: ops.linear(X8, W8, np.zeros(2, dtype=np.int64))),
    ("linear zp float", lambda: ops.linear(X8, W8, x_zp=1.0)),
    ("linear acc", lambda: ops.linear(X8, W8, acc="error")),
    ("linear requant", lambda: ops.linear(X8, W8, requant=(2**30, 0))),
    ("conv x int32", lambda: ops.conv1d(X8.astype(np.int32), CW)),
    ("conv w uint8", lambda: ops.conv1d(X8, CW.astype(np.uint8))),
    ("requantize x float", lambda: ops.requantize(X8.astype(np.float64), _rq())),
    ("requantize x uint8", lambda: ops.requantize(X8.astype(np.uint8), _rq())),
    ("add a int32", lambda: ops.add(X8.astype(np.int32), X8, ADDP)),
    ("add params", lambda: ops.add(X8, X8, _rq())),
    ("mul b int32", lambda: ops.mul(X8, X8.astype(np.int32), _rq())),
    ("lut x int32", lambda: ops.lut(X8.astype(np.int32), np.zeros(256, dtype=np.int8))),
    ("lut table int32", lambda: ops.lut(X8, np.zeros(256, dtype=np.int32))),
    ("clamp x float", lambda: ops.clamp(X8.astype(np.float32), 0, 1)),
    ("mean x int32", lambda: ops.mean_over_time(X8.astype(np.int32), _rq())),
]

VALUE_ERRORS = [
    ("linear K mismatch", lambda: ops.linear(X8, np.zeros((2, 4), dtype=np.int8))),
    ("linear w 3-D", lambda: ops.linear(X8, CW)),
    ("linear bias length", lambda: ops.linear(X8, W8, np.zeros(3, dtype=np.int32))),
    ("linear zp range", lambda: ops.linear(X8, W8, x_zp=128)),
    ("linear requant channels", lambda: ops.linear(X8, W8, requant=_rq(3))),
    ("linear acc wider than scheme", lambda: ops.linear(X8, W8, requant=_rq(), acc=Accumulator("wrap", 48))),
    ("linear int4 shape", lambda: ops.linear(X8, pack_int4(np.zeros((2, 4), dtype=np.int8)))),
    ("conv x 1-D", lambda: ops.conv1d(X8[0], CW)),
    ("conv channels", lambda: ops.conv1d(X8, np.zeros((2, 4, 3), dtype=np.int8))),
    ("conv groups", lambda: ops.conv1d(X8, CW, groups=2)),
    ("conv depthwise shape", lambda: ops.conv1d(X8, np.zeros((2, 1, 3), dtype=np.int8), groups=3)),
    ("conv kernel 0", lambda: ops.conv1d(X8, np.zeros((2, 3, 0), dtype=np.int8))),
    ("conv stride 0", lambda: ops.conv1d(X8, CW, stride=0)),
    ("conv dilation 0", lambda: ops.conv1d(X8, CW, dilation=0)),
    ("conv padding negative", lambda: ops.conv1d(X8, CW, padding=-1)),
    ("conv padding triple", lambda: ops.conv1d(X8, CW, padding=(1, 1, 1))),
    ("conv bias length", lambda: ops.conv1d(X8, CW, np.zeros(3, dtype=np.int32))),
    ("requantize none", lambda: ops.requantize(X8, None)),
    ("requantize channels", lambda: ops.requantize(X8, _rq(4))),
    ("requantize zp range", lambda: ops.requantize(X8, _rq(), x_zp=-129)),
    ("add broadcast", lambda: ops.add(X8, np.zeros((4, 2), dtype=np.int8), ADDP)),
    ("add left shift", lambda: ops.add(X8.astype(np.int16), X8, ADDP)),
    ("mul broadcast", lambda: ops.mul(X8, np.zeros((2,), dtype=np.int8), _rq())),
    ("mul none", lambda: ops.mul(X8, X8, None)),
    ("mul zp range", lambda: ops.mul(X8, X8, _rq(), b_zp=200)),
    ("lut table size", lambda: ops.lut(X8, np.zeros(255, dtype=np.int8))),
    ("lut table 2-D", lambda: ops.lut(X8, np.zeros((256, 1), dtype=np.int8))),
    ("clamp lo > hi", lambda: ops.clamp(X8, 3, 2)),
    ("clamp out of dtype", lambda: ops.clamp(X8, -129, 0)),
    ("mean empty", lambda: ops.mean_over_time(X8[:0], _rq())),
    ("mean 3-D", lambda: ops.mean_over_time(X8[None], _rq())),
    ("mean channels", lambda: ops.mean_over_time(X8, _rq(2))),
    ("mean shift range", lambda: ops.mean_over_time(np.zeros((4, 3), np.int8), Requant("single", 1, -31))),
    ("add params left shift", lambda: ops.AddParams(0, 0, 31, 1, 0, 1, 0, _rq())),
]


@pytest.mark.parametrize("name, call", TYPE_ERRORS, ids=[c[0] for c in TYPE_ERRORS])
def test_type_errors(name, call):
    with pytest.raises(TypeError):
        call()


@pytest.mark.parametrize("name, call", VALUE_ERRORS, ids=[c[0] for c in VALUE_ERRORS])
def test_value_errors(name, call):
    with pytest.raises(ValueError):
        call()


def test_error_messages_name_the_node():
    with pytest.raises(ValueError, match="^enc.fc: x has 3 input features"):
        ops.linear(X8, np.zeros((2, 4), dtype=np.int8), name="enc.fc")
    with pytest.raises(TypeError, match="^block2.dw: x must have dtype int8"):
        ops.conv1d(X8.astype(np.int16), CW, name="block2.dw")
