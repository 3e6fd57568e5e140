"""The decoder ops: ``embed`` against the plain-integer oracle, the cache data movement ``concat_rows`` and
``tail_rows``, their load-time checks, and a graph with several inputs (ids, positions, a cache) on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import rescale_one

from intref import backends, ops
from intref.errors import IntrefFormatError, IntrefInputError
from intref.graph import ModelBuilder
from intref.spec import Requant, pack_int4, quantize_multipliers

SCHEMES = ("tflite_double", "single", "tosa_double", "dyadic")


def embed_oracle(ids, positions, table, pos_table, m, s, scheme, lo, hi) -> list[list[int]]:
    """Row by row with Python integers: rescale(table[id][c], m[id], s[id]) + pos[p][c], clamped."""
    out = []
    for i, p in zip(ids.tolist(), positions.tolist(), strict=True):
        row = []
        for c in range(table.shape[1]):
            v = rescale_one(int(table[i, c]), int(m[i]), int(s[i]), scheme) + int(pos_table[p, c])
            row.append(min(max(v, lo), hi))
        out.append(row)
    return out


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    scheme=st.sampled_from(SCHEMES),
    n=st.integers(1, 6),
    width=st.integers(1, 9),
    int4=st.booleans(),
)
def test_embed_equals_the_oracle(seed, scheme, n, width, int4):
    rng = np.random.default_rng(seed)
    vocab, positions = 11, 7
    codes = rng.integers(-8 if int4 else -128, 8 if int4 else 128, size=(vocab, width)).astype(np.int8)
    table = pack_int4(codes) if int4 else codes
    pos_table = rng.integers(-(2**15), 2**15, size=(positions, width)).astype(np.int16)
    m, s = quantize_multipliers(2.0 ** rng.uniform(-4, 10, size=vocab), scheme)
    rq = Requant(scheme, m, s, 0, -(2**15), 2**15 - 1)
    ids = rng.integers(0, vocab, size=n).astype(np.int32)
    pos = rng.integers(0, positions, size=n).astype(np.int32)
    y = ops.embed(ids, pos, table, pos_table, rq)
    assert y.dtype == np.int16 and y.shape == (n, width)
    assert y.tolist() == embed_oracle(ids, pos, codes, pos_table, m, s, scheme, -(2**15), 2**15 - 1)


def _outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except Exception as exc:  # the error is part of the contract
        return "error", (type(exc), str(exc))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), scheme=st.sampled_from((*SCHEMES, "tosa_scale16", "onnx")), int4=st.booleans())
def test_a_backend_embed_equals_the_reference(backend, seed, scheme, int4):
    """Backends with their own embed (native: the C requantize on the gathered rows) give the reference's values,
    dtype and errors: random tables, 0 to 5 ids, out-of-range ids, and left shifts that overflow tflite_double."""
    if not hasattr(backend, "embed"):
        pytest.skip(f"backend '{backend.name}' runs the reference embed")
    rng = np.random.default_rng(seed)
    vocab, width, positions = int(rng.integers(1, 40)), int(rng.integers(1, 30)), int(rng.integers(1, 9))
    codes = rng.integers(-8 if int4 else -128, 8 if int4 else 128, size=(vocab, width)).astype(np.int8)
    table = pack_int4(codes) if int4 else codes
    pos_table = rng.integers(-(2**15), 2**15, size=(positions, width)).astype(np.int16)
    m, s = quantize_multipliers(2.0 ** rng.uniform(-4, 30 if scheme == "tflite_double" else 10, size=vocab), scheme)
    lo, hi = [(-(2**15), 2**15 - 1), (-128, 127), (-(2**31), 2**31 - 1)][int(rng.integers(0, 3))]
    rq = Requant(scheme, m, s, 0, lo, hi)
    n = int(rng.integers(0, 6))
    ids = rng.integers(0, vocab + int(rng.integers(0, 2)), size=n).astype(np.int32)
    at = rng.integers(0, positions, size=n).astype(np.int32)
    expected = _outcome(ops.embed, ids, at, table, pos_table, rq)
    actual = _outcome(backend.embed, ids, at, table, pos_table, rq)
    assert actual[0] == expected[0], (expected, actual)
    if expected[0] == "error":
        assert actual[1] == expected[1]
    else:
        assert actual[1].dtype == expected[1].dtype and np.array_equal(actual[1], expected[1])


def test_embed_rejects_bad_arguments():
    table = np.zeros((4, 3), np.int8)
    pos = np.zeros((5, 3), np.int16)
    rq = Requant("single", np.full(4, 2**30), np.zeros(4, np.int64), 0, -(2**15), 2**15 - 1)
    ids, at = np.array([1, 2], np.int32), np.array([0, 1], np.int32)
    with pytest.raises(IntrefInputError, match="id 4 at index 1 is outside"):
        ops.embed(np.array([0, 4], np.int32), at, table, pos, rq)
    with pytest.raises(IntrefInputError, match="position 5 at index 0"):
        ops.embed(ids, np.array([5, 0], np.int32), table, pos, rq)
    with pytest.raises(TypeError, match="ids must have dtype int32"):
        ops.embed(ids.astype(np.int64), at, table, pos, rq)
    with pytest.raises(ValueError, match="2 ids but 1 positions"):
        ops.embed(ids, at[:1], table, pos, rq)
    with pytest.raises(ValueError, match="zero point must be 0"):
        ops.embed(ids, at, table, pos, Requant("single", 2**30, 0, 3, -(2**15), 2**15 - 1))
    three = Requant("single", np.full(3, 2**30), np.zeros(3, np.int64), 0, -(2**15), 2**15 - 1)
    with pytest.raises(ValueError, match="3 channels for 4 table rows"):
        ops.embed(ids, at, table, pos, three)
    with pytest.raises(ValueError, match="position rows have 2 entries"):
        ops.embed(ids, at, table, pos[:, :2], rq)


def decoder_model():
    """ids, positions, a cache -> embed -> linear (q) ; cache + new rows -> last row: the shape of a decoder step."""
    rng = np.random.default_rng(3)
    b = ModelBuilder("step")
    ids = b.input("ids", "int32", ("n",))
    at = b.input("positions", "int32", ("n",))
    past = b.input("past", "int8", ("t0", 4), scale=0.05, zero_point=0)
    table = b.constant("table", rng.integers(-127, 128, (9, 4)).astype(np.int8))
    rq = Requant.from_scale(rng.uniform(0.5, 2.0, 9), "single", 0, -(2**15), 2**15 - 1)
    x = b.node(
        "embed", "embed", [ids, at], "x",
        params={"table": table, "positions_table": rng.integers(-500, 500, (6, 4)).astype(np.int16)},
        requant=rq, scale=0.01,
    )  # fmt: skip
    x8 = b.node("requantize", "x8", [x], "x8", requant=Requant.from_scale(0.2, "single"), scale=0.05)
    k = b.node(
        "linear", "k", [x8], "k", params={"w": rng.integers(-127, 128, (4, 4)).astype(np.int8)},
        requant=Requant.from_scale(0.01, "single"), scale=0.05,
    )  # fmt: skip
    cache = b.node("concat_rows", "cache", [past, k], "cache", shape=("t", 4), scale=0.05, zero_point=0)
    last = b.node("tail_rows", "last", [cache], "last", attrs={"count": 1}, scale=0.05, zero_point=0)
    b.output(cache, last)
    return b.build()


@pytest.mark.parametrize("backend", ["numpy", "native", "numba"])
def test_a_decoder_step_graph_runs_on_every_backend(backend):
    try:
        be = backends.get(backend)
    except backends.BackendUnavailable as exc:
        pytest.skip(str(exc))
    model = decoder_model()
    past = np.zeros((0, 4), np.int8)
    outs = []
    for step, token in enumerate([3, 8, 0]):  # the prefix is one run with an empty cache; then one token per run
        inputs = {"ids": np.array([token], np.int32), "positions": np.array([step], np.int32), "past": past}
        got = model.run(inputs, backend=be)
        ref = model.run(inputs, backend="numpy")
        for name in ("cache", "last"):
            assert got[name].dtype == ref[name].dtype and np.array_equal(got[name], ref[name])
        assert got["cache"].shape == (step + 1, 4)
        assert np.array_equal(got["cache"][:-1], past) and np.array_equal(got["last"], got["cache"][-1:])
        past = got["cache"]
        outs.append(got["last"])
    again = model.run(
        {
            "ids": np.array([3, 8, 0], np.int32),
            "positions": np.arange(3, dtype=np.int32),
            "past": np.zeros((0, 4), np.int8),
        },
        backend=be,
    )
    assert np.array_equal(again["cache"], np.concatenate(outs)), "rows do not depend on how the steps were split"


def test_decoder_step_errors_name_the_input():
    model = decoder_model()
    base = {"ids": np.array([1], np.int32), "positions": np.array([0], np.int32), "past": np.zeros((0, 4), np.int8)}
    with pytest.raises(IntrefInputError, match="embed: id 9 at index 0 is outside"):
        model.run({**base, "ids": np.array([9], np.int32)}, backend="numpy")
    with pytest.raises(IntrefInputError, match="input 'past'"):
        model.run({**base, "past": np.zeros((2, 5), np.int8)}, backend="numpy")
    with pytest.raises(IntrefInputError, match="input 'positions'"):
        model.run({**base, "positions": np.zeros(2, np.int32)}, backend="numpy")


def test_load_time_checks_of_the_decoder_ops():
    b = ModelBuilder("bad")
    a = b.input("a", "int8", ("t", 4), scale=0.1, zero_point=0)
    c = b.input("c", "int16", ("t", 4), scale=0.1, zero_point=0)
    d = b.input("d", "int8", ("t", 3), scale=0.1, zero_point=0)
    ids = b.input("ids", "int32", ("n",))
    with pytest.raises(ValueError, match="is int16, a is int8"):
        b.node("concat_rows", "x", [a, c], "x", shape=("u", 4))
    with pytest.raises(ValueError, match="4 columns, b has 3"):
        b.node("concat_rows", "x", [a, d], "x", shape=("u", 4))
    with pytest.raises(ValueError, match="attribute count"):
        b.node("tail_rows", "y", [a], "y", attrs={"count": 0})
    table = b.constant("table", np.zeros((5, 4), np.int8))
    with pytest.raises(ValueError, match="per-row parameters for 5 table rows"):
        b.node(
            "embed", "e", [ids, ids], "e",
            params={"table": table, "positions_table": np.zeros((2, 4), np.int16)},
            requant=Requant("single", np.full(3, 2**30), np.zeros(3, np.int64), 0, -(2**15), 2**15 - 1),
        )  # fmt: skip
    with pytest.raises(ValueError, match="positions_table rows have 3 entries"):
        b.node(
            "embed", "e2", [ids, ids], "e",
            params={"table": table, "positions_table": np.zeros((2, 3), np.int16)},
            requant=Requant("single", 2**30, 0, 0, -(2**15), 2**15 - 1),
        )  # fmt: skip
    with pytest.raises(ValueError, match="takes int32"):
        b.node(
            "embed", "e3", [a, ids], "e3",
            params={"table": table, "positions_table": np.zeros((2, 4), np.int16)},
            requant=Requant("single", 2**30, 0, 0, -(2**15), 2**15 - 1),
        )  # fmt: skip


def test_a_decoder_step_round_trips_through_the_file():
    model = decoder_model()
    from intref.graph import loads

    again = loads(model.to_bytes())
    inputs = {
        "ids": np.array([2, 5], np.int32),
        "positions": np.array([0, 1], np.int32),
        "past": np.ones((3, 4), np.int8),
    }
    for name, value in model.run(inputs, backend="numpy").items():
        assert np.array_equal(value, again.run(inputs, backend="numpy")[name])
    doc = model.graph.to_json()
    doc["nodes"][0]["attrs"] = {"count": 1}
    with pytest.raises(IntrefFormatError):
        from intref.graph.model import Model

        Model.from_parts(doc, dict(model.stored))
