"""The golden vectors shipped in vectors/: unchanged, reproducible, and passing `vectors check` on every backend."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from intref import backends
from intref.errors import VectorsError
from intref.graph import load
from intref.spec import SCHEMES
from intref.vectors.check import check, discover, format_results
from intref.vectors.common import sha256_file
from intref.vectors.export import export
from intref.vectors.formats import npy_bytes
from intref.vectors.manifest import hash_problems, load_manifest
from intref.vectors.synthetic import demo_input, demo_model

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
BACKENDS = ["numpy", "native", "numba"]


def backend_or_skip(name: str) -> str:
    try:
        backends.get(name)
    except backends.BackendUnavailable as exc:
        pytest.skip(str(exc))
    return name


def _build_script():
    spec = importlib.util.spec_from_file_location("vectors_build", VECTORS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_golden_files_match_their_recorded_sha256():
    manifest = load_manifest(VECTORS / "model")
    assert hash_problems(VECTORS / "model", manifest["files"]) == []
    cases = [d for kind, d in discover(VECTORS) if kind == "op"]
    assert len(cases) >= 40
    for case in cases:
        desc = json.loads((case / "desc.json").read_text())
        entries = [*desc["inputs"].values(), *desc["params"].values(), *(desc.get("expected") or {}).values()]
        entries += [e["packed"] for e in desc["params"].values() if "packed" in e]
        for e in entries:
            assert sha256_file(case / e["file"]) == e["sha256"], case / e["file"]


@pytest.mark.parametrize("name", BACKENDS)
def test_vectors_check_passes_on_every_backend(name):
    results = check(VECTORS, [backend_or_skip(name)])
    assert all(r.ok for r in results), format_results(results)
    assert {r.backend for r in results} == {name, "files"}


def test_rebuilding_gives_the_same_files(tmp_path):
    """Golden files change only when the spec does: a fresh build reproduces every shipped file."""
    _build_script().build(tmp_path)
    shipped = {
        p.relative_to(VECTORS) for p in VECTORS.rglob("*") if p.is_file() and p.parts[-2:] != ("vectors", "build.py")
    }
    shipped = {p for p in shipped if p.parts[0] in ("model", "ops")}
    built = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert shipped == built
    for rel in sorted(built):
        new, old = tmp_path / rel, VECTORS / rel
        if rel.name == "model.intref":  # the file records the intref version: compare the graph and tensors
            a, b = load(new), load(old)
            for m in (a, b):
                m.provenance.pop("intref_version", None)
            assert a.graph.to_json() == b.graph.to_json()
            assert all(np.array_equal(a.stored[k], b.stored[k]) for k in a.stored)
        elif rel.name == "manifest.json":
            a, b = json.loads(new.read_text()), json.loads(old.read_text())
            for m in (a, b):
                m.pop("intref_version")
                m["model"].pop("sha256")
                m["files"].pop("model.intref")
            assert a == b
        else:
            assert new.read_bytes() == old.read_bytes(), rel


def test_shipped_vectors_cover_every_op_scheme_and_width():
    assert sum(p.stat().st_size for p in VECTORS.rglob("*") if p.is_file()) < 3 * 2**20
    model = load(VECTORS / "model" / "model.intref")
    assert {n.op for n in model.nodes} >= {
        "linear",
        "conv1d",
        "requantize",
        "add",
        "mul",
        "lut",
        "clamp",
        "mean_over_time",
    }
    assert {n.requant.scheme for n in model.nodes if n.requant} == set(SCHEMES)
    assert {model.tensors[n.spec.params["w"]].dtype for n in model.nodes if "w" in n.spec.params} == {"int8", "int4"}
    assert {n.acc.policy for n in model.nodes if n.acc} == {"error", "wrap", "saturate"}
    ops = {d.parent.name for kind, d in discover(VECTORS) if kind == "op"}
    assert ops == {"linear", "conv1d", "requantize", "add", "mul", "lut", "clamp", "mean_over_time"}
    case_schemes = set()
    for _, d in discover(VECTORS / "ops"):
        desc = json.loads((d / "desc.json").read_text())
        if desc["requant"]:
            case_schemes.add(desc["requant"]["scheme"])
    assert case_schemes == set(SCHEMES)


def test_check_reports_a_changed_value(tmp_path):
    case = tmp_path / "case"
    shutil.copytree(VECTORS / "ops" / "mul" / "int8_extremes", case)
    y = np.load(case / "y.npy")
    y[2, 3] += 1
    (case / "y.npy").write_bytes(npy_bytes(y))
    results = check(case, ["numpy"])
    assert "sha256 differs" in " ".join(p for r in results for p in r.problems)
    desc = json.loads((case / "desc.json").read_text())
    desc["expected"]["y"]["sha256"] = sha256_file(case / "y.npy")  # a consistent but wrong expectation
    (case / "desc.json").write_text(json.dumps(desc))
    (result,) = check(case, ["numpy"])
    assert not result.ok and "y differs at (2, 3)" in result.problems[0]


def test_check_reports_a_changed_model_vector(tmp_path):
    golden = tmp_path / "golden"
    shutil.copytree(VECTORS / "model", golden)
    y = np.load(golden / "nodes/002_dw/y.npy")
    y[0, 0] ^= 1
    (golden / "nodes/002_dw/y.npy").write_bytes(npy_bytes(y))
    results = check(golden, ["numpy"])
    problems = [p for r in results for p in r.problems]
    assert any("nodes/002_dw/y.npy: sha256 differs" in p for p in problems)
    assert any("nodes/002_dw/y.npy: differs at index (0, 0)" in p for p in problems)


def test_check_without_the_model_copy(tmp_path):
    model = demo_model()
    export(model, demo_input(), tmp_path / "v", copy_model=False)
    (result,) = check(tmp_path / "v", ["numpy"])
    assert not result.ok and "--model" in result.problems[0]
    model.save(tmp_path / "m.intref")
    assert all(r.ok for r in check(tmp_path / "v", ["numpy"], model=tmp_path / "m.intref"))


def test_check_needs_vectors(tmp_path):
    with pytest.raises(VectorsError, match="no golden vectors"):
        check(tmp_path, ["numpy"])
