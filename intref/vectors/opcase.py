"""Op-level conformance cases: one op, its inputs and params as ``.npy``, the expected output (or error).

A case directory holds ``desc.json`` (see docs/VECTORS.md) and the files it names. The op runs as a one-node
graph, so the same load-time checks and node kinds apply as for a model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IntrefError, VectorsError
from ..graph import Model, ModelBuilder, Tracer, get_kind
from ..graph.ir import dtype_name
from ..spec import PackedInt4, pack_int4
from .common import CASE_DESC, CASE_FORMAT, VERSION, json_bytes, read_json, sha256_bytes, sha256_file
from .formats import npy_bytes, read_npy
from .manifest import inside

ERROR_FIELDS = ("index", "value", "bits", "scheme", "reason")


def _file_entry(directory: Path, name: str, arr: np.ndarray, dtype: str) -> dict[str, Any]:
    data = npy_bytes(arr)
    (directory / name).write_bytes(data)
    return {"file": name, "dtype": dtype, "shape": [int(d) for d in arr.shape], "sha256": sha256_bytes(data)}


def build_model(
    op: str,
    inputs: dict[str, np.ndarray],
    params: dict[str, Any],
    attrs: dict[str, Any],
    requant: dict | None,
    acc: dict | None,
) -> Model:
    """A one-node model (node name = op) whose graph inputs are named after the op's input roles."""
    kind = get_kind(op)
    b = ModelBuilder(f"{op}-case", architecture="op-case")
    names = [b.input(role, dtype_name(inputs[role].dtype), inputs[role].shape) for role in kind.inputs]
    b.output(b.node(op, op, names, "y", params=params, attrs=attrs, requant=requant, acc=acc))
    return b.build()


def run_model(model: Model, inputs: dict[str, np.ndarray], backend) -> dict[str, Any]:
    """``{"y": ..., "acc": ...}`` or ``{"error": {...}}`` for an IntrefError (the conformance outcome)."""
    tracer = Tracer()
    try:
        out = model.run(inputs, backend=backend, trace=tracer)
    except IntrefError as exc:
        error = {"type": type(exc).__name__, "message": str(exc)}
        error.update({k: getattr(exc, k) for k in ERROR_FIELDS if hasattr(exc, k)})
        return {"error": error}
    result = {"y": out["y"]}
    if tracer.records[0].acc is not None:
        result["acc"] = tracer.records[0].acc
    return result


def write_case(
    root: Path,
    op: str,
    case: str,
    purpose: str,
    inputs: dict[str, np.ndarray],
    params: dict[str, Any],
    attrs: dict[str, Any] | None = None,
    requant: dict | None = None,
    acc: dict | None = None,
) -> dict[str, Any]:
    """Write ``root/<op>/<case>/`` with the reference backend's outcome as the expectation."""
    attrs = dict(attrs or {})
    model = build_model(op, inputs, params, attrs, requant, acc)
    outcome = run_model(model, inputs, "numpy")
    directory = root / op / case
    directory.mkdir(parents=True, exist_ok=True)
    desc: dict[str, Any] = {
        "format": CASE_FORMAT,
        "version": VERSION,
        "op": op,
        "case": case,
        "purpose": purpose,
        "inputs": {r: _file_entry(directory, f"{r}.npy", a, dtype_name(a.dtype)) for r, a in inputs.items()},
        "params": {},
        "attrs": model.nodes[0].spec.attrs,
        "requant": requant,
        "acc": model.nodes[0].spec.acc,
    }
    for role, value in sorted(params.items()):
        if isinstance(value, PackedInt4):
            entry = _file_entry(directory, f"{role}.npy", value.unpack(), "int4")
            entry["narrow"] = value.narrow
            entry["packed"] = _file_entry(directory, f"{role}.packed.npy", value.data, "uint8")
        else:
            entry = _file_entry(directory, f"{role}.npy", value, dtype_name(value.dtype))
        desc["params"][role] = entry
    if "error" in outcome:
        desc["expected_error"] = outcome["error"]
    else:
        desc["expected"] = {k: _file_entry(directory, f"{k}.npy", v, dtype_name(v.dtype)) for k, v in outcome.items()}
    (directory / CASE_DESC).write_bytes(json_bytes(desc))
    return desc


def _read(directory: Path, entry: Any, what: str) -> np.ndarray:
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise VectorsError(f"{directory / CASE_DESC}: {what} is malformed")
    path = inside(directory, entry["file"])
    if not path.is_file():
        raise VectorsError(f"{path}: missing")
    if sha256_file(path) != entry.get("sha256"):
        raise VectorsError(f"{path}: sha256 differs from desc.json (the file changed)")
    return read_npy(path)


def load_case(directory: Path) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """desc.json, the inputs, and the params (int4 params as PackedInt4, checked against their packed file)."""
    desc = read_json(directory / CASE_DESC, "desc.json")
    if not isinstance(desc, dict) or desc.get("format") != CASE_FORMAT or desc.get("version") != VERSION:
        raise VectorsError(f"{directory / CASE_DESC}: not an intref op case (version {VERSION})")
    for key in ("inputs", "params"):
        if not isinstance(desc.get(key), dict):
            raise VectorsError(f"{directory / CASE_DESC}: '{key}' is missing or malformed")
    inputs = {role: _read(directory, e, f"input {role}") for role, e in desc["inputs"].items()}
    params: dict[str, Any] = {}
    for role, e in desc["params"].items():
        arr = _read(directory, e, f"param {role}")
        if e.get("dtype") == "int4":
            packed = pack_int4(arr, narrow=bool(e.get("narrow")))
            stored = _read(directory, e.get("packed"), f"packed param {role}")
            if not np.array_equal(packed.data, stored):
                raise VectorsError(f"{directory}: {role}.packed does not hold the packing of {role}")
            arr = packed
        params[role] = arr
    return desc, inputs, params


def check_case(directory: Path, backend) -> list[str]:
    """Problems running the case on ``backend`` (empty when it conforms bit for bit)."""
    desc, inputs, params = load_case(directory)
    try:
        model = build_model(
            desc["op"], inputs, params, dict(desc.get("attrs") or {}), desc.get("requant"), desc.get("acc")
        )
    except (IntrefError, ValueError, TypeError) as exc:
        raise VectorsError(f"{directory / CASE_DESC}: the case does not describe a valid node: {exc}") from None
    outcome = run_model(model, inputs, backend)
    if "expected_error" in desc:
        want = desc["expected_error"]
        got = outcome.get("error")
        if got is None:
            return [f"expected {want.get('type')} ({want.get('message')}); the backend returned normally"]
        keys = ("type", *ERROR_FIELDS)
        if any(got.get(k) != want.get(k) for k in keys):
            return [f"expected {want.get('type')}: {want.get('message')}; got {got['type']}: {got['message']}"]
        return []
    if "error" in outcome:
        return [f"the backend raised {outcome['error']['type']}: {outcome['error']['message']}"]
    problems = []
    for key, entry in (desc.get("expected") or {}).items():
        expected = _read(directory, entry, f"expected {key}")
        actual = outcome.get(key)
        if actual is None:
            problems.append(f"{key}: the backend gave none")
        elif actual.dtype != expected.dtype or actual.shape != expected.shape:
            problems.append(
                f"{key}: {actual.dtype}{list(actual.shape)}, expected {expected.dtype}{list(expected.shape)}"
            )
        elif not np.array_equal(actual, expected):
            diff = actual != expected
            idx = tuple(int(v) for v in np.unravel_index(int(np.flatnonzero(diff.ravel())[0]), diff.shape))
            problems.append(
                f"{key} differs at {idx}: expected {expected[idx]}, got {actual[idx]} "
                f"({int(diff.sum())} of {diff.size} elements)"
            )
    return problems
