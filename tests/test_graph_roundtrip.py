"""The model file: save then load gives the same graph and tensors, the bytes are deterministic, loading maps."""

from __future__ import annotations

import json

import numpy as np
import pytest

import intref
from intref.graph import ModelBuilder, load, loads
from intref.graph.container import parse, serialize
from intref.spec import Requant, pack_int4
from intref.vectors.synthetic import demo_input, demo_model


@pytest.fixture(scope="module")
def model():
    return demo_model()


def _same_tensors(a, b) -> None:
    assert sorted(a.stored) == sorted(b.stored)
    for name in a.stored:
        x, y = a.stored[name], b.stored[name]
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert np.array_equal(x, y), name


def test_save_load_gives_identical_graph_and_tensors(model, tmp_path):
    path = tmp_path / "m.intref"
    sha = model.save(path)
    loaded = intref.load(path)
    assert loaded.graph.to_json() == model.graph.to_json()
    _same_tensors(model, loaded)
    assert loaded.sha256 == sha
    assert loaded.to_bytes() == path.read_bytes()
    for name, value in model.constants.items():
        got = loaded.constants[name]
        assert type(got) is type(value)
        if hasattr(value, "unpack"):
            assert got.shape == value.shape and got.narrow == value.narrow
            assert np.array_equal(got.unpack(), value.unpack())


def test_bytes_are_deterministic(model, tmp_path):
    a, b = tmp_path / "a.intref", tmp_path / "b.intref"
    model.save(a)
    demo_model().save(b)  # built again from the same seed
    assert a.read_bytes() == b.read_bytes()
    load(a).save(b)  # and re-saved after loading
    assert a.read_bytes() == b.read_bytes()


def test_loaded_model_runs_like_the_built_one(model, tmp_path):
    path = tmp_path / "m.intref"
    model.save(path)
    x = demo_input()
    want = model.run(x, backend="numpy")
    got = load(path).run(x, backend="numpy")
    assert want.keys() == got.keys()
    for k in want:
        assert want[k].dtype == got[k].dtype and np.array_equal(want[k], got[k])


def test_loading_is_zero_copy_and_aligned(model, tmp_path):
    path = tmp_path / "m.intref"
    model.save(path)
    data = path.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    assert (8 + header_len) % 8 == 0
    header = json.loads(data[8 : 8 + header_len])
    for name, entry in header.items():
        if name != "__metadata__":
            size = {"I8": 1, "U8": 1, "I16": 2, "I32": 4, "I64": 8}[entry["dtype"]]
            assert entry["data_offsets"][0] % size == 0, name
    loaded = load(path)
    for name, arr in loaded.stored.items():
        assert not arr.flags.writeable, name  # a view of the read-only map, not a copy
        assert not arr.flags.owndata, name


def test_safetensors_library_reads_the_file(model, tmp_path):
    safetensors = pytest.importorskip("safetensors")
    path = tmp_path / "m.intref"
    model.save(path)
    with safetensors.safe_open(str(path), framework="numpy") as f:
        assert json.loads(f.metadata()["intref"])["format_version"] == intref.graph.FORMAT_VERSION
        names = set(f.keys())
        assert names == set(model.stored)
        for name in names:
            assert np.array_equal(f.get_tensor(name), model.stored[name])


def test_unaligned_foreign_layout_still_loads(model):
    # Another writer may order tensors so that an int32 starts at an odd offset: it loads (by copying).
    c = parse(model.to_bytes())
    odd = {"aaa.pad": np.zeros(3, dtype=np.uint8)}
    doc = json.loads(c.metadata["intref"])
    doc["tensors"]["aaa.pad"] = {"dtype": "uint8", "shape": [3], "scale": None, "zero_point": None}
    arrays = {**odd, **c.arrays}
    # serialize() aligns by element size; build an unaligned container by hand instead
    order = ["aaa.pad", *sorted(c.arrays)]
    header, chunks, pos = {"__metadata__": {"intref": json.dumps(doc)}}, [], 0
    for name in order:
        raw = np.ascontiguousarray(arrays[name]).tobytes()
        kind = {"int8": "I8", "uint8": "U8", "int32": "I32"}[arrays[name].dtype.name]
        header[name] = {"dtype": kind, "shape": list(arrays[name].shape), "data_offsets": [pos, pos + len(raw)]}
        chunks.append(raw)
        pos += len(raw)
    text = json.dumps(header).encode()
    m = loads(len(text).to_bytes(8, "little") + text + b"".join(chunks))
    x = demo_input()
    assert np.array_equal(m.run(x, backend="numpy")["logits"], model.run(x, backend="numpy")["logits"])


def test_metadata_and_provenance_round_trip(tmp_path):
    b = ModelBuilder(
        "tiny",
        architecture="test",
        vocabulary=["a", "b"],
        frontend={"rate": 16000},
        decoder={"blank": 0},
        source="unit test",
        source_sha256="0" * 64,
        recipe={"bits": 8},
    )
    x = b.input("x", "int8", ("T", 4), scale=0.1, zero_point=0)
    w = pack_int4(np.array([[1, -8, 7, 0], [3, 2, 1, 0]], dtype=np.int8))
    b.output(b.node("linear", "fc", [x], "y", params={"w": w}, requant=Requant.from_scale(0.05, "single"), scale=0.2))
    path = tmp_path / "tiny.intref"
    b.build().save(path)
    m = load(path)
    assert m.metadata["vocabulary"] == ["a", "b"] and m.metadata["frontend"] == {"rate": 16000}
    assert m.provenance["source_sha256"] == "0" * 64 and m.provenance["recipe"] == {"bits": 8}
    assert m.provenance["intref_version"] == intref.__version__
    assert m.tensors["fc.w"].dtype == "int4" and m.stored["fc.w"].shape == (2, 2)


def test_container_serialize_is_canonical():
    arrays = {"b": np.arange(3, dtype=np.int8), "a": np.arange(2, dtype=np.int32)}
    one = serialize({"k": "v"}, arrays)
    two = serialize({"k": "v"}, dict(reversed(list(arrays.items()))))
    assert one == two
    c = parse(one)
    assert c.metadata == {"k": "v"} and np.array_equal(c.arrays["a"], arrays["a"])
