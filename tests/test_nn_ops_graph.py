"""Node kinds of transformer/conformer layers: layernorm, softmax, argmax, quantize, matmul, transpose, slice, concat.

Each kind loads, validates (a bad node fails on loading with its name), runs exactly as the op it maps to, survives
the file round trip, and works with golden-vector export and check.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from intref import ops
from intref.errors import IntrefFormatError
from intref.graph import ModelBuilder, Tracer, loads
from intref.graph.container import parse, serialize
from intref.graph.model import METADATA_KEY
from intref.ops import SoftmaxParams
from intref.spec import Requant
from intref.vectors.check import check
from intref.vectors.export import export

T, C, H = 6, 8, 4
RNG = np.random.default_rng(7)


def attention_model():
    """quantize -> layernorm -> q, k, v -> per-head scores/softmax/context -> concat -> argmax: every new kind."""
    b = ModelBuilder("nn-ops", architecture="test")
    x = b.input("x", "float32", ("T", C))
    q = b.node(
        "quantize", "in", [x], "xq", params={"scale": np.float32(0.05)}, attrs={"zero_point": 3, "lo": -128, "hi": 127},
        scale=0.05, zero_point=3,
    )  # fmt: skip
    gamma = RNG.integers(-3000, 3000, C).astype(np.int16)
    beta = RNG.integers(-5000, 5000, C).astype(np.int32)
    ln = b.node(
        "layernorm", "ln", [q], "ln", params={"gamma": gamma, "beta": beta},
        attrs={"x_zp": 3, "eps": 40, "frac_bits": 10}, requant=Requant.from_scale(2e-5, "single", 0),
    )  # fmt: skip
    heads = []
    for j in range(2):
        w = RNG.integers(-127, 128, (H, C)).astype(np.int8)
        qj = b.node("linear", f"q{j}", [ln], f"q{j}", params={"w": w}, requant=Requant.from_scale(0.004, "single", 0))
        kj = b.node("linear", f"k{j}", [ln], f"k{j}", params={"w": w[::-1].copy()},
                    requant=Requant.from_scale(0.004, "single", 0))  # fmt: skip
        vj = b.node("slice", f"v{j}", [ln], f"v{j}", attrs={"start": j * H, "stop": (j + 1) * H})
        vt = b.node("transpose", f"vT{j}", [vj], f"vT{j}")
        s = b.node("matmul", f"s{j}", [qj, kj], f"s{j}")  # raw int32 scores
        p = b.node("softmax", f"p{j}", [s], f"p{j}", requant=Requant.from_scale(0.02, "single", -128, -128, 127))
        heads.append(b.node("matmul", f"c{j}", [p, vt], f"c{j}", attrs={"a_zp": -128},
                            requant=Requant.from_scale(1 / 255, "single", 0)))  # fmt: skip
    ctx = b.node("concat", "ctx", heads, "ctx")
    offset = np.zeros(2 * H, dtype=np.int32)
    offset[-1] = -5
    y = b.node("argmax", "frames", [ctx], "frames", params={"offset": offset})
    b.output(y, ctx)
    return b.build()


def sample(t: int = T) -> np.ndarray:
    return RNG.normal(0, 2, (t, C)).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    return attention_model()


def test_runs_like_the_ops_it_maps_to(model):
    x = sample()
    tracer = Tracer()
    out = model.run({"x": x}, backend="numpy", trace=tracer)
    xq = ops.quantize(x, float(np.float32(0.05)), 3)
    assert np.array_equal(tracer["in"].outputs[0], xq)
    ln_node = model.node("ln")
    ln = ops.layernorm(xq, ln_node.extra["gamma"], ln_node.extra["beta"], ln_node.requant, x_zp=3, eps=40)
    assert np.array_equal(tracer["ln"].outputs[0], ln)
    q0, k0 = tracer["q0"].outputs[0], tracer["k0"].outputs[0]
    scores = ops.linear(q0, k0)
    assert np.array_equal(tracer["s0"].outputs[0], scores)
    assert np.array_equal(tracer["s0"].acc, scores)
    r = model.node("p0").requant
    p = ops.softmax(scores, SoftmaxParams("single", int(r.multiplier), int(r.shift), 255, -128))
    assert np.array_equal(tracer["p0"].outputs[0], p)
    v0 = ln[:, :H]
    assert np.array_equal(tracer["vT0"].outputs[0], v0.T)
    c0 = ops.linear(p, np.ascontiguousarray(v0.T), x_zp=-128, requant=model.node("c0").requant)
    assert np.array_equal(tracer["c0"].outputs[0], c0)
    ctx = np.concatenate([tracer["c0"].outputs[0], tracer["c1"].outputs[0]], axis=-1)
    assert np.array_equal(out["ctx"], ctx)
    offset = model.node("frames").extra["offset"]
    assert np.array_equal(out["frames"], ops.argmax(ctx, offset))
    assert out["frames"].dtype == np.int32 and out["frames"].shape == (T,)


def test_round_trip_through_the_file(model):
    again = loads(model.to_bytes())
    assert again.to_bytes() == model.to_bytes()
    x = sample(9)
    a, b = model.run({"x": x}, backend="numpy"), again.run({"x": x}, backend="numpy")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert again.node("ctx").kind.inputs == ("x0", "x1")


def _edit(model, node_name: str, change) -> bytes:
    """The model's file with one node of the graph document changed by ``change(node_dict)``."""
    c = parse(model.to_bytes())
    doc = json.loads(c.metadata[METADATA_KEY])
    node = next(n for n in doc["nodes"] if n["name"] == node_name)
    change(node, doc)
    return serialize({METADATA_KEY: json.dumps(doc)}, c.arrays)


@pytest.mark.parametrize(
    ("node", "change", "message"),
    [
        ("p0", lambda n, d: n["requant"].update(lo=-127), "must equal the zero point"),
        ("ln", lambda n, d: n["attrs"].update(frac_bits=30), "frac_bits"),
        ("v1", lambda n, d: n["attrs"].update(stop=99), "beyond the 8 entries"),
        ("v1", lambda n, d: n["attrs"].update(start=4, stop=4), "must be below stop"),
        ("in", lambda n, d: n["attrs"].update(zero_point=200), "outside"),
        ("s0", lambda n, d: n.update(inputs=["q0", "ln"]), "a has 4 features, b has 8"),
        ("ctx", lambda n, d: n.update(inputs=["c0", "s0"]), "int32"),
        ("frames", lambda n, d: n.update(inputs=["q1"]), "offset has 8 entries for 4 classes"),
        ("vT0", lambda n, d: n.update(inputs=["frames"]), "before it is produced"),
    ],
)
def test_bad_nodes_fail_on_loading_with_the_node_name(model, node, change, message):
    with pytest.raises(IntrefFormatError) as err:
        loads(_edit(model, node, change))
    assert message in str(err.value)
    if "before it is produced" not in message:
        assert f"node '{node}'" in str(err.value)


def test_quantize_scale_must_be_a_positive_float32_scalar(model):
    c = parse(model.to_bytes())
    arrays = dict(c.arrays)
    arrays["in.scale"] = np.float32(-1.0).reshape(())
    with pytest.raises(IntrefFormatError, match="positive finite"):
        loads(serialize(c.metadata, arrays))


def test_golden_vectors_export_and_check(model, tmp_path):
    out = tmp_path / "golden"
    manifest = export(model, {"x": sample()}, out, formats=("npy", "memh", "c"), backend="numpy")
    ctx = next(n for n in manifest["nodes"] if n["name"] == "ctx")
    assert set(ctx["files"]) == {"x0", "x1", "y"}
    scores = next(n for n in manifest["nodes"] if n["name"] == "s0")
    assert set(scores["files"]) == {"a", "b", "acc", "y"}
    results = check(out, ["numpy"])
    assert all(r.ok for r in results), [r.problems for r in results]
