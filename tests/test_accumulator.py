"""Accumulator policies (error, wrap, saturate) at every width 16..64 against the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracle import INT64_MAX, INT64_MIN, OracleOverflow, hold

from intref.spec import POLICIES, Accumulator, AccumulatorOverflowError, IntrefError


def expect_hold(values: np.ndarray, bits: int, policy: str, op: str = "op") -> None:
    acc = Accumulator(policy, bits)
    try:
        want = hold(values.ravel().tolist(), bits, policy)
    except OracleOverflow as exc:
        with pytest.raises(AccumulatorOverflowError) as info:
            acc.apply(values, op=op)
        err = info.value
        assert (err.op, err.index, err.value, err.bits) == (op, exc.index, exc.value, bits)
        assert f"{op}: accumulator overflow at flat index {exc.index}" in str(err)
        return
    got = acc.apply(values, op=op)
    assert got.dtype == (np.int32 if bits <= 32 else np.int64) and got.shape == values.shape
    assert got.ravel().tolist() == want


def around_edges(bits: int) -> st.SearchStrategy[int]:
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    near = [v for d in (-2, -1, 0, 1, 2) for v in (lo + d, hi + d) if INT64_MIN <= v <= INT64_MAX]
    return st.one_of(st.integers(INT64_MIN, INT64_MAX), st.integers(lo, hi), st.sampled_from(near))


@given(data=st.data(), bits=st.integers(16, 64), policy=st.sampled_from(POLICIES))
def test_policies_match_oracle(data, bits, policy):
    rows, cols = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4))
    values = data.draw(st.lists(around_edges(bits), min_size=rows * cols, max_size=rows * cols))
    expect_hold(np.array(values, dtype=np.int64).reshape(rows, cols), bits, policy, op="layer3.conv")


@pytest.mark.parametrize("bits", range(16, 65))
def test_every_width_exactly(bits):
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    values = [lo, hi, 0, -1]
    if bits < 64:
        values += [lo - 1, hi + 1, 2 * hi + 2, INT64_MIN, INT64_MAX, 3 * (hi + 1) + 5]
    values = np.array([v for v in values if INT64_MIN <= v <= INT64_MAX], dtype=np.int64)
    for policy in POLICIES:
        expect_hold(values, bits, policy)
    wrapped = Accumulator("wrap", bits).apply(values).tolist()
    assert all((w - v) % (1 << bits) == 0 and lo <= w <= hi for w, v in zip(wrapped, values.tolist(), strict=True))


def test_known_values():
    assert Accumulator("wrap", 16).apply(np.array([32768, -32769, 65536 + 5])).tolist() == [-32768, 32767, 5]
    assert Accumulator("saturate", 24).apply(np.array([2**23, -(2**23) - 1, 7])).tolist() == [2**23 - 1, -(2**23), 7]
    assert Accumulator("wrap", 32).apply(np.array([2**31])).tolist() == [-(2**31)]
    with pytest.raises(AccumulatorOverflowError) as info:
        Accumulator().apply(np.array([[0, 1], [2**31, -(2**31) - 1]]), op="linear")
    assert info.value.index == 2 and info.value.value == 2**31 and info.value.op == "linear"
    assert isinstance(info.value, OverflowError) and isinstance(info.value, IntrefError)


def test_defaults_and_validation():
    acc = Accumulator()
    assert (acc.policy, acc.bits, acc.bounds, acc.dtype) == ("error", 32, (-(2**31), 2**31 - 1), np.int32)
    assert Accumulator("wrap", 33).dtype == np.int64
    assert Accumulator("wrap", 16).dtype == np.int32
    for bad in (15, 65, 0, True, 32.0, "32"):
        with pytest.raises(ValueError, match="bits"):
            Accumulator("error", bad)
    with pytest.raises(ValueError, match="policy"):
        Accumulator("clip", 32)
    Accumulator("error", np.int64(24))
