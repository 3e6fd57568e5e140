"""`vectors export`: per-node files, manifest, npy/memh/C writers, determinism."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from intref.errors import VectorsError
from intref.graph import Tracer
from intref.spec import represented_scale
from intref.vectors.common import sha256_file
from intref.vectors.export import export
from intref.vectors.formats import memh_text, npy_bytes, read_memh
from intref.vectors.synthetic import demo_input, demo_model


@pytest.fixture(scope="module")
def model():
    return demo_model()


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    out = tmp_path_factory.mktemp("vec") / "golden"
    manifest = export(model, demo_input(), out, formats=("npy", "memh", "c"), backend="numpy")
    return out, manifest


def test_manifest_describes_every_file(model, exported):
    out, manifest = exported
    assert manifest == json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "intref-vectors" and manifest["backend"] == "numpy"
    assert manifest["model"]["sha256"] == model.sha256 == sha256_file(out / "model.intref")
    assert len(manifest["input_sha256"]) == 64
    assert manifest["formats"] == ["npy", "memh", "c"]
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert on_disk == set(manifest["files"])
    for rel, info in manifest["files"].items():
        assert sha256_file(out / rel) == info["sha256"], rel
        if info["format"] in ("npy", "memh"):
            assert info["dtype"] and isinstance(info["shape"], list), rel
    assert [n["name"] for n in manifest["nodes"]] == [n.name for n in model.nodes]
    assert manifest["outputs"] == {"logits": "nodes/011_logits/y.npy", "head": "nodes/012_head/y.npy"}


def test_node_files_hold_the_traced_values(model, exported):
    out, manifest = exported
    tracer = Tracer()
    model.run(demo_input(), backend="numpy", trace=tracer)
    for node, record in zip(manifest["nodes"], tracer, strict=True):
        files = node["files"]
        assert np.array_equal(np.load(out / files["y"]["npy"]), record.outputs[0])
        role = record.node.kind.inputs[0]
        assert np.array_equal(np.load(out / files[role]["npy"]), record.inputs[0])
        if record.acc is not None:
            acc = np.load(out / files["acc"]["npy"])
            assert acc.dtype == record.acc.dtype and np.array_equal(acc, record.acc)
        else:
            assert "acc" not in files
    roles = {n["name"]: set(n["files"]) for n in manifest["nodes"]}
    assert roles["stem"] == {"x", "w", "bias", "multiplier", "shift", "acc", "y"}
    assert roles["dw"] == {"x", "w", "w.packed", "multiplier", "shift", "acc", "y"}  # int4: unpacked and packed
    assert roles["act"] == {"x", "table", "y"}
    assert {"multiplier_t", "shift_t"} <= roles["pool"]  # the multiplier divided by T at run time
    assert roles["res"] >= {"a", "b", "a_multiplier", "a_shift", "b_multiplier", "b_shift", "acc", "y"}
    w = np.load(out / "nodes/002_dw/w.npy")
    packed = np.load(out / "nodes/002_dw/w.packed.npy")
    assert w.dtype == np.int8 and packed.dtype == np.uint8 and np.array_equal(model.constants["dw.w"].unpack(), w)


def test_params_json(model, exported):
    out, _ = exported
    stem = json.loads((out / "nodes/000_stem/params.json").read_text())
    assert stem["op"] == "conv1d" and stem["requant"] == {
        "scheme": "tflite_double",
        "zero_point": -2,
        "lo": -128,
        "hi": 127,
    }
    assert stem["acc"] == {"policy": "error", "bits": 32}
    assert stem["attrs"] == {"x_zp": 3, "stride": 1, "dilation": 1, "padding": [1, 1], "groups": 1}
    assert stem["scales"]["x"]["scale"] == 0.05 and stem["scales"]["x"]["zero_point"] == 3
    assert len(stem["scales"]["w"]["scale"]) == 16
    r = stem["rescale"]
    rel = np.abs(np.array(r["represented_scale"]) / np.array(r["float_scale"]) - 1)
    assert rel.max() < 2**-30  # the multiplier represents the float scale it came from
    b = model.node("stem").requant
    assert np.allclose(r["represented_scale"], represented_scale(b.multiplier, b.shift, b.scheme), rtol=0)
    relu = json.loads((out / "nodes/003_relu/params.json").read_text())
    assert relu["attrs"] == {"lo": 0, "hi": 127} and relu["requant"] is None


def test_memh_files_match_the_npy_files(exported):
    out, manifest = exported
    for rel, info in manifest["files"].items():
        if info["format"] != "memh":
            continue
        arr = read_memh((out / rel).read_text(), info["dtype"], tuple(info["shape"]), rel)
        assert np.array_equal(arr, np.load(out / rel.replace(".memh", ".npy"))), rel
    lines = (out / "nodes/002_dw/w.memh").read_text().splitlines()
    assert lines[0].startswith("//") and all(len(v) == 1 for v in lines[1:])  # int4: one hex digit
    acc = (out / "nodes/000_stem/acc.memh").read_text().splitlines()
    assert all(len(v) == 8 for v in acc[1:])


def test_memh_two_complement_widths():
    text = memh_text(np.array([-1, -128, 127, 0], dtype=np.int8), "int8", "t")
    assert text.splitlines()[1:] == ["ff", "80", "7f", "00"]
    text = memh_text(np.array([-(2**31), -1], dtype=np.int32), "int32", "t")
    assert text.splitlines()[1:] == ["80000000", "ffffffff"]
    assert memh_text(np.array([-8, 7, -1], dtype=np.int8), "int4", "t").splitlines()[1:] == ["8", "7", "f"]
    with_addresses = "// c\n@2 0a\n@0 ff 01 // two words\n"
    assert list(read_memh(with_addresses, "int8", (3,))) == [-1, 1, 10]
    with pytest.raises(VectorsError, match="hex word"):
        read_memh("xx\n", "int8", (1,))
    with pytest.raises(VectorsError, match="needs 2"):
        read_memh("00\n", "int8", (2,))


def test_npy_writer_is_numpy_compatible(tmp_path):
    for arr in [
        np.arange(5, dtype=np.int8),
        np.zeros((2, 3), np.int32),
        np.array(-7, np.int16),
        np.zeros((0, 4), np.int64),
        np.arange(6, dtype=">i4").reshape(2, 3),
        np.arange(4, dtype=np.uint8),
    ]:
        path = tmp_path / "a.npy"
        data = npy_bytes(arr)
        path.write_bytes(data)
        back = np.load(path)
        assert back.shape == arr.shape and np.array_equal(back, arr) and back.dtype.byteorder in "<|="
        assert (10 + int.from_bytes(data[8:10], "little")) % 64 == 0


def test_export_is_deterministic(model, exported, tmp_path):
    out, _ = exported
    again = tmp_path / "again"
    export(model, demo_input(), again, formats=("npy", "memh", "c"), backend="numpy")
    for path in out.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (again / path.relative_to(out)).read_bytes(), path


def test_export_refuses_to_overwrite(model, exported, tmp_path):
    out, _ = exported
    target = tmp_path / "copy"
    shutil.copytree(out, target)
    with pytest.raises(VectorsError, match="not empty"):
        export(model, demo_input(), target)
    export(model, demo_input(), target, force=True)  # npy only now: the memh and C files are gone
    assert not list(target.rglob("*.memh")) and (target / "manifest.json").exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(VectorsError, match="not golden vectors"):
        export(model, demo_input(), foreign, force=True)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_c_headers_compile_and_hold_the_values(exported, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler")
    out, manifest = exported
    includes = "\n".join(f'#include "{out / n["header"]}"' for n in manifest["nodes"])
    checks = []
    for n in manifest["nodes"]:
        ident = f"n{n['index']:03d}_{n['name']}"
        y = np.load(out / n["files"]["y"]["npy"]).astype(np.int64)
        checks.append(
            f"    sum = 0; for (i = 0; i < {ident.upper()}_Y_LEN; i++) sum += {ident}_params.y[i];\n"
            f'    printf("%s %lld %d\\n", {ident}_params.name, sum, (int){ident}_params.index);'
        )
        n["_sum"] = int(y.sum())
    src = tmp_path / "t.c"
    src.write_text(
        "#include <stdio.h>\n"
        + includes
        + "\nint main(void) {\n    long long sum; int i;\n"
        + "\n".join(checks)
        + "\n    return 0;\n}\n"
    )
    exe = tmp_path / "t"
    subprocess.run(
        [cc, "-std=c99", "-Wall", "-Werror", "-Wno-unused-const-variable", "-o", str(exe), str(src)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    lines = subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=60).stdout.splitlines()
    assert lines == [f"{n['name']} {n['_sum']} {n['index']}" for n in manifest["nodes"]]


def test_unknown_format_is_refused(model, tmp_path):
    with pytest.raises(VectorsError, match="unknown formats"):
        export(model, demo_input(), tmp_path / "x", formats=("npy", "vhdl"))
