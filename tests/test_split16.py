"""split16: an int16 tensor as two int8 halves.

The op against an oracle in plain Python integers (every int16 value, hypothesis-drawn parameters), against the
``requantize`` + ``add`` pair it replaces in the quantised attention (every int16 value), and as a graph node with
two outputs: building, running, the file round trip, load-time errors and golden vectors.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intref import ops
from intref.errors import IntrefFormatError
from intref.graph import ModelBuilder, Tracer, loads
from intref.graph.container import parse, serialize
from intref.graph.model import METADATA_KEY
from intref.ops import AddParams
from intref.spec import Requant
from intref.vectors.check import check
from intref.vectors.export import export
from intref.vectors.verify import verify

ALL_INT16 = np.arange(-(2**15), 2**15, dtype=np.int16)
# The quantised attention's 15-bit probabilities: p * 32640 with zero point -16384, split at 128.
P_ZP, P_MAX = -16384, 32640


def oracle(x: int, x_zp: int, shift: int, hi_zp: int) -> tuple[int, int]:
    """The definition in Python integers: floor((v + 2^(shift-1)) / 2^shift) is v / 2^shift rounded half up."""
    v = x - x_zp
    hi = min(max((v + 2 ** (shift - 1)) // 2**shift + hi_zp, -128), 127)
    lo = min(max(v - 2**shift * (hi - hi_zp), -128), 127)
    return hi, lo


@settings(max_examples=30, deadline=None)
@given(
    x_zp=st.integers(-(2**15), 2**15 - 1),
    shift=st.integers(1, 14),
    hi_zp=st.integers(-128, 127),
)
def test_every_int16_value_equals_the_integer_oracle(x_zp, shift, hi_zp):
    hi, lo = ops.split16(ALL_INT16, x_zp=x_zp, shift=shift, hi_zp=hi_zp)
    expected = [oracle(int(x), x_zp, shift, hi_zp) for x in ALL_INT16[:: 1 + (2**16 // 4099)]]
    got = list(zip(hi[:: 1 + (2**16 // 4099)].tolist(), lo[:: 1 + (2**16 // 4099)].tolist(), strict=True))
    assert got == expected
    # the whole range at once, with the oracle vectorised in int64 exactly as written above
    v = ALL_INT16.astype(np.int64) - x_zp
    h = np.clip((v + 2 ** (shift - 1)) // 2**shift + hi_zp, -128, 127)
    assert np.array_equal(hi, h) and np.array_equal(lo, np.clip(v - 2**shift * (h - hi_zp), -128, 127))


@pytest.mark.parametrize(
    ("x", "x_zp", "shift", "hi_zp", "hi", "lo"),
    [
        (64, 0, 7, 0, 1, -64),  # a tie rounds up
        (-64, 0, 7, 0, 0, -64),  # a negative tie rounds up too (toward +inf)
        (63, 0, 7, 0, 0, 63),
        (-65, 0, 7, 0, -1, 63),
        (32767, 0, 1, 0, 127, 127),  # hi clamps, then lo clamps
        (-32768, 0, 1, 0, -128, -128),
        (16256, P_ZP, 7, -128, 127, 0),  # the largest probability, 32640
        (P_ZP, P_ZP, 7, -128, -128, 0),  # probability 0
    ],
)
def test_known_values(x, x_zp, shift, hi_zp, hi, lo):
    got = ops.split16(np.array([x], np.int16), x_zp=x_zp, shift=shift, hi_zp=hi_zp)
    assert (int(got[0][0]), int(got[1][0])) == (hi, lo) == oracle(x, x_zp, shift, hi_zp)


def test_probabilities_reconstruct_exactly():
    p = np.arange(P_ZP, P_ZP + P_MAX + 1, dtype=np.int16)
    hi, lo = ops.split16(p, x_zp=P_ZP, shift=7, hi_zp=-128)
    assert np.array_equal(128 * (hi.astype(np.int64) + 128) + lo, p.astype(np.int64) - P_ZP)
    assert hi.min() == -128 and hi.max() == 127 and lo.min() >= -64 and lo.max() <= 64


def test_equals_the_requantize_and_add_it_replaces():
    """The quantised attention split its probabilities with a single-rounding requantize (scale 1/128, zero point
    -128) and an exact TFLite ADD; split16 gives the same bytes for every int16 input."""
    hi = ops.requantize(ALL_INT16, Requant.from_scale(1 / 128, "single", -128, -128, 127), x_zp=P_ZP)
    out = Requant("tflite_double", np.int64(2**30), np.int64(-13), 0, -128, 127)  # x 2^-14
    params = AddParams(
        a_zp=P_ZP, b_zp=-128, left_shift=15,
        a_multiplier=np.int64(2**30), a_shift=np.int64(0),  # x 1/2
        b_multiplier=np.int64(-(2**30)), b_shift=np.int64(7),  # x -64
        out=out,
    )  # fmt: skip
    lo = ops.add(ALL_INT16, hi, params)
    got = ops.split16(ALL_INT16, x_zp=P_ZP, shift=7, hi_zp=-128)
    assert np.array_equal(got[0], hi) and np.array_equal(got[1], lo)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(shift=0), ValueError, "shift must be an integer in \\[1, 14\\]"),
        (dict(shift=15), ValueError, "shift"),
        (dict(x_zp=40000), ValueError, "x_zp = 40000 is outside the int16 range"),
        (dict(hi_zp=-129), ValueError, "hi_zp = -129 is outside the int8 range"),
    ],
)
def test_bad_parameters_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        ops.split16(ALL_INT16[:4], **kwargs)


def test_other_dtypes_are_refused():
    with pytest.raises(TypeError, match="must have dtype int16"):
        ops.split16(np.zeros(3, np.int8))


# ------------------------------------------------------------------------------------------------- graph node


def probability_model():
    """int16 probabilities -> split16 -> hi V and lo V -> added: the quantised attention's P V."""
    rng = np.random.default_rng(3)
    b = ModelBuilder("split", architecture="test")
    p = b.input("p", "int16", ("T", 9), scale=1 / P_MAX, zero_point=P_ZP)
    vt = b.constant("vT", rng.integers(-128, 128, (4, 9)).astype(np.int8), scale=0.05)
    hi, lo = b.node(
        "split16", "p.split", [p], ["p.hi", "p.lo"], attrs={"x_zp": P_ZP, "shift": 7, "hi_zp": -128},
        scale=[128 / P_MAX, 1 / P_MAX], zero_point=[-128, 0],
    )  # fmt: skip
    parts = [
        b.node("matmul", f"ctx.{part}", [t, vt], f"ctx.{part}", attrs={"a_zp": zp}, requant=Requant.from_scale(
            s * 0.05 / 1e-4, "single", 0, -32768, 32767), scale=1e-4)
        for part, t, zp, s in (("hi", hi, -128, 128 / P_MAX), ("lo", lo, 0, 1 / P_MAX))
    ]  # fmt: skip
    y = b.node("add", "ctx", parts, "ctx", requant=AddParams.from_scales(
        1e-4, 0, 1e-4, 0, 2e-3, 0, "single", -128, 127, left_shift=15), scale=2e-3)  # fmt: skip
    b.output(y)
    return b.build()


def probabilities(t: int = 6) -> np.ndarray:
    rng = np.random.default_rng(t)
    return rng.integers(P_ZP, P_ZP + P_MAX + 1, (t, 9)).astype(np.int16)


@pytest.fixture(scope="module")
def model():
    return probability_model()


def test_the_node_runs_the_op_and_declares_both_outputs(model):
    x = probabilities()
    tracer = Tracer()
    model.run({"p": x}, backend="numpy", trace=tracer)
    rec = tracer["p.split"]
    hi, lo = ops.split16(x, x_zp=P_ZP, shift=7, hi_zp=-128)
    assert np.array_equal(rec.outputs[0], hi) and np.array_equal(rec.outputs[1], lo)
    assert model.node("p.split").spec.outputs == ("p.hi", "p.lo")
    assert model.tensors["p.hi"].zero_point == -128 and model.tensors["p.lo"].scale == pytest.approx(1 / P_MAX)
    assert np.array_equal(tracer["ctx.lo"].inputs[0], lo)


@pytest.mark.parametrize("backend", ["native", "numba"])
def test_backends_equal_the_reference(model, backend):
    from intref.backends import BackendUnavailable

    try:
        model.run({"p": probabilities(2)}, backend=backend)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    x = probabilities(31)
    model.run({"p": x}, backend=backend, check="numpy")  # every node's outputs compared


def test_round_trip_through_the_file(model):
    again = loads(model.to_bytes())
    assert again.to_bytes() == model.to_bytes()
    x = probabilities(11)
    assert np.array_equal(model.run({"p": x})["ctx"], again.run({"p": x})["ctx"])


def _edit(model, change) -> bytes:
    c = parse(model.to_bytes())
    doc = json.loads(c.metadata[METADATA_KEY])
    change(next(n for n in doc["nodes"] if n["name"] == "p.split"), doc)
    return serialize({METADATA_KEY: json.dumps(doc)}, c.arrays)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda n, d: (n["outputs"].append("p.x"), d["tensors"].update({"p.x": dict(d["tensors"]["p.lo"])})),
            "split16 has 2 outputs \\(hi, lo\\), got 3",
        ),
        (lambda n, d: n["attrs"].update(shift=15), "attribute shift = 15 must hold integers in \\[1, 14\\]"),
        (lambda n, d: n["attrs"].update(hi_zp=300), "hi_zp"),
        (lambda n, d: d["tensors"]["p.lo"].update(dtype="int16"), "declared int16"),
        (lambda n, d: d["tensors"]["p"].update(dtype="int32"), "split16 takes int16"),
    ],
)
def test_bad_nodes_fail_on_loading_with_the_node_name(model, change, message):
    with pytest.raises(IntrefFormatError, match=message) as err:
        loads(_edit(model, change))
    assert "node 'p.split'" in str(err.value)


def test_builder_wants_a_scale_and_zero_point_per_output():
    b = ModelBuilder("split", architecture="test")
    p = b.input("p", "int16", ("T", 3))
    with pytest.raises(ValueError, match="one scale and one zero point per output"):
        b.node("split16", "s", [p], ["hi", "lo"], attrs={"x_zp": 0, "shift": 7, "hi_zp": 0}, scale=[1.0])
    with pytest.raises(ValueError, match="split16 has 2 outputs"):
        b.node("split16", "s", [p], "hi", attrs={"x_zp": 0, "shift": 7, "hi_zp": 0})


def test_golden_vectors_name_both_outputs(model, tmp_path):
    out = tmp_path / "golden"
    manifest = export(model, {"p": probabilities()}, out, formats=("npy", "memh"), backend="numpy")
    node = next(n for n in manifest["nodes"] if n["name"] == "p.split")
    assert node["outputs"] == {"y0": "p.hi", "y1": "p.lo"}
    assert set(node["files"]) == {"x", "y0", "y1"}
    params = json.loads((out / node["dir"] / "params.json").read_text())
    assert params["scales"]["y0"]["zero_point"] == -128 and params["scales"]["y1"]["tensor"] == "p.lo"
    results = check(out, ["numpy"])
    assert all(r.ok for r in results), [r.problems for r in results]


def test_verify_finds_a_flipped_bit_in_the_second_output(model, tmp_path):
    golden = tmp_path / "golden"
    manifest = export(model, {"p": probabilities()}, golden, backend="numpy")
    dump = tmp_path / "dump"
    export(model, {"p": probabilities()}, dump, backend="numpy")
    node = next(n for n in manifest["nodes"] if n["name"] == "p.split")
    lo_file = dump / node["dir"] / "y1.npy"
    lo = np.load(lo_file)
    lo[2, 5] ^= 1
    np.save(lo_file, lo)
    report = verify(golden, dump)
    assert not report.match
    first = report.divergent[0]
    assert first.name == "p.split" and first.status == "originated"
    bad = [t for t in first.tensors if not t.match]
    assert [t.role for t in bad] == ["y1"] and bad[0].first[0]["index"] == [2, 5]
