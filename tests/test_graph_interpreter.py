"""The interpreter: inputs, backends, the tracer hook, check mode and the node-kind registry."""

from __future__ import annotations

import numpy as np
import pytest

from intref import backends, ops
from intref.errors import (
    AccumulatorOverflowError,
    BackendMismatchError,
    IntrefFormatError,
    IntrefInputError,
    NodeError,
)
from intref.graph import Attr, ModelBuilder, NodeKind, Tracer, get_kind, kinds, register
from intref.ops import AddParams
from intref.spec import Accumulator, Requant, pack_int4
from intref.vectors.synthetic import demo_input, demo_model

BACKENDS = ["numpy", "native", "numba"]


def backend_or_skip(name: str):
    try:
        return backends.get(name)
    except backends.BackendUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def demo():
    return demo_model()


def small_model():
    """x -> linear (int4) -> add with a second input -> clamp, with per-channel parameters."""
    rng = np.random.default_rng(1)
    b = ModelBuilder("small")
    x = b.input("x", "int8", ("T", 6), scale=0.1, zero_point=2)
    r = b.input("r", "int8", ("T", 4), scale=0.2, zero_point=0)
    w = pack_int4(rng.integers(-8, 8, (4, 6)).astype(np.int8))
    rq = Requant.from_scale([0.01, 0.02, 0.03, 0.04], "single", zero_point=-1)
    h = b.node(
        "linear",
        "fc",
        [x],
        "h",
        params={"w": w, "bias": np.arange(4, dtype=np.int32) * 100},
        attrs={"x_zp": 2},
        requant=rq,
        scale=0.2,
    )
    p = AddParams.from_scales(0.2, -1, 0.2, 0, 0.3, 0, scheme="tflite_double")
    s = b.node("add", "sum", [h, r], "s", requant=p, scale=0.3)
    b.output(b.node("clamp", "relu", [s], "y", attrs={"lo": 0, "hi": 127}))
    return b.build(), w, rq, p


def test_run_matches_the_reference_ops():
    model, w, rq, p = small_model()
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, (5, 6), dtype=np.int8)
    r = rng.integers(-128, 128, (5, 4), dtype=np.int8)
    h = ops.linear(x, w, np.arange(4, dtype=np.int32) * 100, x_zp=2, requant=rq)
    want = ops.clamp(ops.add(h, r, p), 0, 127)
    got = model.run({"x": x, "r": r}, backend="numpy")
    assert list(got) == ["y"] and got["y"].dtype == np.int8
    assert np.array_equal(got["y"], want)


def test_input_forms_are_equivalent():
    model, *_ = small_model()
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (4, 6), dtype=np.int8)
    r = rng.integers(-128, 128, (4, 4), dtype=np.int8)
    a = model.run({"r": r, "x": x}, backend="numpy")["y"]
    b = model.run([x, r], backend="numpy")["y"]
    assert np.array_equal(a, b)
    demo = demo_model()
    xi = demo_input()
    single = demo.run(xi, backend="numpy")
    named = demo.run({"x": xi}, backend="numpy")
    assert all(np.array_equal(single[k], named[k]) for k in single)


@pytest.mark.parametrize(
    "inputs, match",
    [
        (lambda x, r: {"x": x}, "missing inputs"),
        (lambda x, r: {"x": x, "r": r, "q": r}, "unknown inputs"),
        (lambda x, r: x, "takes 2 inputs"),
        (lambda x, r: [x], "takes 2 inputs"),
        (lambda x, r: {"x": x.astype(np.int16), "r": r}, "dtype int16"),
        (lambda x, r: {"x": x[:, :5], "r": r}, "shape"),
        (lambda x, r: {"x": x, "r": r[:3]}, "T = 4 elsewhere"),
        (lambda x, r: {"x": x.tolist(), "r": r}, "numpy array"),
        (lambda x, r: 5, "a dict, a list or an array"),
    ],
)
def test_bad_inputs_are_named(inputs, match):
    model, *_ = small_model()
    x = np.zeros((4, 6), dtype=np.int8)
    r = np.zeros((4, 4), dtype=np.int8)
    with pytest.raises(IntrefInputError, match=match):
        model.run(inputs(x, r), backend="numpy")


def test_tracer_records_inputs_accumulator_and_outputs(demo):
    x = demo_input()
    tracer = Tracer()
    out = demo.run(x, backend="numpy", trace=tracer)
    assert [r.name for r in tracer] == [n.name for n in demo.nodes]
    stem = tracer["stem"]
    assert stem.inputs[0] is x or np.array_equal(stem.inputs[0], x)
    y, acc = ops.conv1d(
        x,
        demo.constants["stem.w"],
        demo.constants["stem.bias"],
        x_zp=3,
        padding=(1, 1),
        requant=demo.node("stem").requant,
        return_acc=True,
    )
    assert stem.acc.dtype == np.int32 and np.array_equal(stem.acc, acc)
    assert np.array_equal(stem.outputs[0], y)
    assert tracer["act"].acc is None and tracer["relu"].acc is None  # lut, clamp: no accumulator
    assert tracer["pw"].acc.dtype == np.int32  # 24-bit accumulator held in int32
    assert np.array_equal(tracer["logits"].outputs[0], out["logits"])
    assert set(tracer["pool"].runtime_params) == {"multiplier_t", "shift_t"}


def test_trace_hook_can_inject_a_fault(demo):
    x = demo_input()
    clean = demo.run(x, backend="numpy")

    def flip(record):
        if record.name == "gate":
            y = record.outputs[0].copy()
            y[0, 0] ^= 0x10
            return [y]
        return None

    faulty = demo.run(x, backend="numpy", trace=flip)
    assert not np.array_equal(clean["logits"], faulty["logits"])
    with pytest.raises(IntrefInputError, match="wrong number, type or shape"):
        demo.run(x, backend="numpy", trace=lambda r: [r.outputs[0].astype(np.int64)])


@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_gives_the_reference_result(demo, name):
    be = backend_or_skip(name)
    x = demo_input()
    want = demo.run(x, backend="numpy")
    got = demo.run(x, backend=be, check="numpy")  # stops at the first node that differs, if any
    for k in want:
        assert got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]), k


class _Faulty:
    """A backend that is numpy except for one node, whose output has one element changed."""

    name = "faulty"

    def __init__(self, node: str, index: tuple[int, ...]) -> None:
        self.node, self.index = node, index
        self.ref = backends.get("numpy")

    def __getattr__(self, op):
        fn = getattr(self.ref, op)

        def call(*args, **kwargs):
            out = fn(*args, **kwargs)
            if kwargs.get("name") != self.node:
                return out
            y = (out[0] if isinstance(out, tuple) else out).copy()
            y[self.index] += 1
            return (y, out[1]) if isinstance(out, tuple) else y

        return call


def test_check_mode_stops_at_the_first_differing_node(demo):
    x = demo_input()
    with pytest.raises(BackendMismatchError) as info:
        demo.run(x, backend=_Faulty("dw", (3, 5)), check="numpy")
    err = info.value
    assert err.node == "dw" and err.index == (3, 5) and err.count == 1
    assert err.backends == ("faulty", "numpy")
    assert err.values[0] == err.values[1] + 1
    assert "node 'dw' (conv1d)" in str(err) and "(3, 5)" in str(err)


def test_check_mode_reports_an_error_on_one_side_only():
    b = ModelBuilder("overflow")
    x = b.input("x", "int8", (2, 2))
    b.output(
        b.node(
            "linear",
            "fc",
            [x],
            "y",
            params={"w": np.full((1, 2), 127, dtype=np.int8), "bias": np.array([2**31 - 100], dtype=np.int32)},
        )
    )
    model = b.build()
    x = np.full((2, 2), 127, dtype=np.int8)
    with pytest.raises(AccumulatorOverflowError, match="fc: accumulator overflow"):
        model.run(x, backend="numpy", check="numpy")  # both raise the same error: it propagates

    class Silent(_Faulty):
        def __getattr__(self, op):
            return lambda *a, **k: (np.zeros((2, 1), np.int32),) * 2

    with pytest.raises(BackendMismatchError, match="returned normally"):
        model.run(x, backend="numpy", check=Silent("fc", (0, 0)))


def test_runtime_only_problems_name_the_node():
    b = ModelBuilder("mean")
    x = b.input("x", "int8", ("T", 2))
    b.output(
        b.node("mean_over_time", "pool", [x], "y", requant=Requant("tflite_double", np.int64(2**30), np.int64(-30)))
    )
    model = b.build()
    model.run(np.ones((1, 2), dtype=np.int8), backend="numpy")
    with pytest.raises(NodeError, match="node 'pool' \\(mean_over_time\\)"):
        model.run(np.ones((8, 2), dtype=np.int8), backend="numpy")  # 1/8 moves the shift below -31


def test_accumulator_policies_flow_through():
    b = ModelBuilder("wrap")
    x = b.input("x", "int8", (1, 2))
    params = {"w": np.full((1, 2), 127, dtype=np.int8), "bias": np.array([2**31 - 100], dtype=np.int32)}
    b.output(b.node("linear", "fc", [x], "y", params=params, acc=Accumulator("wrap", 32)))
    y = b.build().run(np.full((1, 2), 127, dtype=np.int8), backend="numpy")["y"]
    assert y.dtype == np.int32 and y[0, 0] == 2**31 - 100 + 2 * 127 * 127 - 2**32


def test_registry_is_open_to_new_node_kinds():
    if "test_scale_by" not in kinds():

        @register
        class ScaleBy(NodeKind):
            """A data-movement-only test kind: y = x * factor in int32 (no backend op needed)."""

            op = "test_scale_by"
            attrs = {"factor": Attr(default=1, lo=-4, hi=4)}

            def infer(self, bound, inputs):
                return [("int32", inputs[0].shape)]

            def call(self, backend, bound, args):
                return [args[0].astype(np.int32) * bound.attrs["factor"]], None

    assert "test_scale_by" in kinds() and isinstance(get_kind("test_scale_by"), NodeKind)
    b = ModelBuilder("custom")
    x = b.input("x", "int8", ("T",))
    b.output(b.node("test_scale_by", "s", [x], "y", attrs={"factor": -3}))
    model = b.build()
    assert list(model.run(np.array([1, -2], dtype=np.int8), backend="numpy")["y"]) == [-3, 6]
    with pytest.raises(ValueError, match="already registered"):
        register(type("Again", (NodeKind,), {"op": "test_scale_by"}))
    with pytest.raises(IntrefFormatError, match="unknown op"):
        get_kind("no_such_op")


def test_core_kinds_cover_the_arithmetic_ops():
    core = {"linear", "conv1d", "requantize", "add", "mul", "lut", "clamp", "mean_over_time"}
    assert core <= set(kinds())
