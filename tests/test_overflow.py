"""Constructed accumulator overflows in every op, every backend and every native ISA.

Under ``error`` the op raises AccumulatorOverflowError naming the op and the first flat index; under ``wrap`` the
accumulator is the exact sum modulo 2^bits; under ``saturate`` it is the exact sum clamped. The expected values
come from the oracle's exact integer sums. Some cases have partial sums beyond int32 whose total (bias included)
fits, which only a backend that accumulates wider than 32 bits gets right under ``error`` and ``saturate``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from oracle import (
    INT32_MAX,
    INT32_MIN,
    OracleOverflow,
    Q,
    add_flat,
    conv1d_exact,
    finish,
    linear_exact,
    mean_over_time,
    mul_flat,
)

from intref import ops
from intref.backends import compare
from intref.spec import POLICIES, Accumulator, AccumulatorOverflowError, Requant


@dataclass(frozen=True)
class OverflowCase:
    label: str
    op: str
    make: Callable[[], tuple[tuple, dict]]  # -> (args, kwargs) without acc
    bits: int
    # (policy) -> (flat y, flat held), raising OracleOverflow under "error"
    oracle: Callable[[str], tuple[list[int], list[int]]]
    y_dtype: str
    shape: tuple[int, ...]

    def __str__(self) -> str:
        return self.label


def q_of(rq: Requant | None) -> Q | None:
    if rq is None:
        return None
    return Q(rq.scheme, rq.multiplier.tolist(), rq.shift.tolist(), rq.zero_point, rq.lo, rq.hi)


def acc_name(bits: int) -> str:
    return "int32" if bits <= 32 else "int64"


# ------------------------------------------------------------------------------------------------- cases


def linear_bias_case(k: int, bits: int, rq: Requant | None) -> OverflowCase:
    """Rows of zeros, 127 and -128 against a bias at both int32 ends: overflow first at (1, 2), then (2, 3)."""
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    @functools.lru_cache(maxsize=1)
    def make():
        x = np.stack([np.zeros(k), np.full(k, 127), np.full(k, -128)]).astype(np.int8)
        w = np.zeros((4, k), dtype=np.int8)
        w[2:, :] = 1
        w[0, : k // 2] = 3
        bias = np.array([5, -5, min(hi, INT32_MAX) - 100, max(lo, INT32_MIN) + 100], dtype=np.int32)
        return (x, w, bias), dict(requant=rq)

    @functools.lru_cache(maxsize=1)
    def exact():
        (x, w, bias), _ = make()
        return linear_exact(x.tolist(), w.tolist(), bias.tolist(), 0)

    def oracle(policy):
        return finish(exact(), 4, bits, policy, q_of(rq))

    y_dtype = acc_name(bits) if rq is None else q_of(rq).dtype()
    return OverflowCase(f"linear bias K{k} {bits}-bit", "linear", make, bits, oracle, y_dtype, (3, 4))


def linear_long_case(k: int, bias_value: int) -> OverflowCase:
    """K large with extreme values: partial sums pass 2^31 (x - x_zp = 255, w = 127)."""

    @functools.lru_cache(maxsize=1)
    def make():
        x = np.full((2, k), 127, dtype=np.int8)
        x[0, 1000:] = -128  # row 0 stays small: x - x_zp is 0 after the first 1000 entries
        w = np.full((3, k), 127, dtype=np.int8)
        w[1, 1::2] = -127
        w[2, :] = -127
        bias = np.full(3, bias_value, dtype=np.int32)
        return (x, w, bias), dict(x_zp=-128)

    @functools.lru_cache(maxsize=1)
    def exact():
        (x, w, bias), kw = make()
        return linear_exact(x.tolist(), w.tolist(), bias.tolist(), kw["x_zp"])

    def oracle(policy):
        return finish(exact(), 3, 32, policy, None)

    return OverflowCase(f"linear K{k} bias {bias_value}", "linear", make, 32, oracle, "int32", (2, 3))


def conv_case(depthwise: bool, bits: int, k: int, dilation: int, stride: int, padding, t: int = 40) -> OverflowCase:
    """Input that turns from x_zp to 127 half way, kernel of 127s, bias near the top: overflow from mid-sequence."""
    c = 3
    c_out = c if depthwise else 5
    hi = 2 ** (bits - 1) - 1
    pad = (padding, padding) if isinstance(padding, int) else padding

    @functools.lru_cache(maxsize=1)
    def make():
        x = np.full((t, c), -7, dtype=np.int8)
        x[t // 2 :, :] = 127
        x[t // 2 :, 1] = -128
        w = np.full((c_out, 1 if depthwise else c, k), 127, dtype=np.int8)
        bias = np.array([hi - 20000 * (o + 1) for o in range(c_out)], dtype=np.int32)
        kw = dict(x_zp=-7, stride=stride, dilation=dilation, padding=padding, groups=c if depthwise else 1)
        return (x, w, bias), kw

    @functools.lru_cache(maxsize=1)
    def exact():
        (x, w, bias), _ = make()
        return conv1d_exact(x.tolist(), w.tolist(), bias.tolist(), -7, stride, dilation, pad, depthwise)[0]

    def oracle(policy):
        return finish(exact(), c_out, bits, policy, None)

    t_out = ops.output_length(t, k, stride, dilation, pad)
    kind = "depthwise" if depthwise else "dense"
    label = f"conv1d {kind} k{k} d{dilation} s{stride} {bits}-bit"
    return OverflowCase(label, "conv1d", make, bits, oracle, acc_name(bits), (t_out, c_out))


def requantize_case(bits: int) -> OverflowCase:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    rq = Requant("single", np.array([2**30, 2**30 + 1, 2**31 - 1]), np.array([-8, -9, -10]), 3, -128, 127)

    def make():
        x = np.array([[0, 5, -5], [hi - 9, hi + 11, 1], [lo + 10, lo - 11, -(2**31)]], dtype=np.int64)
        return (x.clip(INT32_MIN, INT32_MAX).astype(np.int32), rq), dict(x_zp=10)

    def oracle(policy):
        (x, _), kw = make()
        return finish([v - kw["x_zp"] for v in x.ravel().tolist()], 3, bits, policy, q_of(rq))

    return OverflowCase(f"requantize {bits}-bit", "requantize", make, bits, oracle, "int8", (3, 3))


def add_case(bits: int, a_shift: int) -> OverflowCase:
    """TFLite ADD whose two rescaled inputs (each near 2^31 with a left shift) sum beyond the accumulator."""
    out = Requant("tflite_double", np.int64(2**30), np.int64(-20), 0, -128, 127)
    params = ops.AddParams(
        -128, -128, 20, np.int64(2**31 - 1), np.int64(a_shift), np.int64(2**31 - 1), np.int64(2), out
    )

    def make():
        a = np.array([[-128, 0, 127, 127], [127, -128, 127, 100]], dtype=np.int8)
        b = np.array([-128, 127, 127, -100], dtype=np.int8)
        return (a, b, params), {}

    def oracle(policy):
        (a, b, _), _ = make()
        fa, fb = a.ravel().tolist(), np.broadcast_to(b, a.shape).ravel().tolist()
        mults = (2**31 - 1, a_shift), (2**31 - 1, 2)
        return add_flat(fa, fb, 4, -128, -128, 20, *mults, bits, policy, q_of(out))

    return OverflowCase(f"add {bits}-bit a_shift {a_shift}", "add", make, bits, oracle, "int8", (2, 4))


def mul_case(bits: int) -> OverflowCase:
    """int16 x int16 with zero points at the extremes: 65535^2 passes 2^31."""
    rq = Requant("tosa_double", np.int64(2**30), np.int64(40), 0, -(2**15), 2**15 - 1)

    def make():
        a = np.array([[-32768, 32767, -32768], [100, 32767, 32767]], dtype=np.int16)
        b = np.array([[1, 1, 1], [-32768, 32767, -32768]], dtype=np.int16)
        return (a, b, rq), dict(a_zp=-32768, b_zp=32767)

    def oracle(policy):
        (a, b, _), kw = make()
        return mul_flat(a.ravel().tolist(), b.ravel().tolist(), 3, kw["a_zp"], kw["b_zp"], bits, policy, q_of(rq))

    return OverflowCase(f"mul int16 {bits}-bit", "mul", make, bits, oracle, "int16", (2, 3))


def mean_case(t: int, dtype, bits: int) -> OverflowCase:
    info = np.iinfo(dtype)
    rq = Requant("single", np.int64(2**30), np.int64(0), 0, -128, 127)

    @functools.lru_cache(maxsize=1)
    def make():
        x = np.zeros((t, 3), dtype=dtype)
        x[:, 1] = info.max
        x[:, 2] = info.min
        x[0, 0] = info.max
        return (x, rq), dict(x_zp=int(info.min) if dtype == np.int16 else 0)

    @functools.lru_cache(maxsize=1)
    def rows():
        return make()[0][0].tolist()

    def oracle(policy):
        return mean_over_time(rows(), make()[1]["x_zp"], bits, policy, q_of(rq))

    return OverflowCase(
        f"mean_over_time T{t} {np.dtype(dtype).name} {bits}-bit", "mean_over_time", make, bits, oracle, "int8", (3,)
    )


CASES = [
    linear_bias_case(577, 32, None),
    linear_bias_case(63, 32, Requant("single", np.int64(2**30), np.int64(-20))),
    linear_bias_case(65, 16, None),
    linear_bias_case(143, 24, Requant("tflite_double", np.full(4, 2**30), np.full(4, -10))),
    linear_long_case(66313, 0),
    linear_long_case(66313, -(10**7)),
    linear_long_case(140001, 0),
    conv_case(False, 32, 9, 2, 1, 4),
    conv_case(True, 32, 87, 1, 2, (0, 43), t=200),
    conv_case(True, 16, 3, 1, 1, 1),
    conv_case(False, 24, 5, 3, 3, (0, 6)),
    requantize_case(16),
    requantize_case(24),
    add_case(32, 3),
    add_case(24, 0),
    mul_case(32),
    mul_case(16),
    mean_case(32769, np.int16, 32),
    mean_case(300, np.int8, 16),
    mean_case(70000, np.int8, 24),
]


def test_cases_overflow_somewhere_but_not_at_index_zero():
    for case in CASES:
        with pytest.raises(OracleOverflow) as info:
            case.oracle("error")
        assert info.value.index > 0, case


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_overflow_policy(backend, case, policy):
    args, kwargs = case.make()
    acc = Accumulator(policy, case.bits)
    run = functools.partial(getattr(backend, case.op), *args, acc=acc, return_acc=True, **kwargs)
    if policy == "error":
        with pytest.raises(OracleOverflow) as want:
            case.oracle(policy)
        with pytest.raises(AccumulatorOverflowError) as got:
            run()
        err = got.value
        assert (err.op, err.index, err.value, err.bits) == (case.op, want.value.index, want.value.value, case.bits)
        named = functools.partial(getattr(backend, case.op), *args, acc=acc, name="block7.layer", **kwargs)
        with pytest.raises(
            AccumulatorOverflowError, match=rf"^block7.layer: accumulator overflow at flat index {err.index}:"
        ):
            named()
        return
    y, held = case.oracle(policy)
    expected = (
        np.array(y, dtype=case.y_dtype).reshape(case.shape),
        np.array(held, dtype=acc_name(case.bits)).reshape(case.shape),
    )
    mismatch = compare(case.op, expected, run())
    assert mismatch is None, f"{case} {policy}: {mismatch}"
