"""Golden vectors of a model run: per node, everything a testbench needs (see docs/VECTORS.md).

``render`` turns a traced run into file contents (pure, no I/O), so ``check`` can re-render with another backend
and compare bytes; ``export`` writes them with a ``manifest.json``.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import VectorsError
from ..graph import Model, Tracer
from ..graph.interpreter import backend_name, resolve_backend
from ..graph.ir import dtype_name
from ..graph.registry import BoundNode
from ..graph.tracer import NodeRecord
from ..spec import PackedInt4, represented_scale
from .common import MANIFEST, VECTORS_FORMAT, VERSION, json_bytes, progress, safe_name, sha256_bytes
from .formats import FORMATS, c_header, c_identifier, memh_text, npy_bytes

MODEL_FILE = "model.intref"
# Scales whose product over the output scale is the real multiplier a node's (M, shift) came from.
_SCALE_ROLES = {
    "linear": ("x", "w"),
    "conv1d": ("x", "w"),
    "requantize": ("x",),
    "mul": ("a", "b"),
    "mean_over_time": ("x",),
}


@dataclass
class Rendered:
    files: dict[str, bytes] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> format, dtype, shape, sha256
    nodes: list[dict[str, Any]] = field(default_factory=list)

    def add(self, path: str, data: bytes, fmt: str, arr: np.ndarray | None = None, dtype: str | None = None) -> None:
        entry: dict[str, Any] = {"format": fmt, "sha256": sha256_bytes(data)}
        if arr is not None:
            entry["dtype"], entry["shape"] = dtype, [int(d) for d in np.shape(arr)]
        self.files[path], self.info[path] = data, entry


def node_arrays(record: NodeRecord) -> list[tuple[str, np.ndarray, str, str]]:
    """(role, array, logical dtype, what) for a node: inputs, params (int4 unpacked and packed), acc, outputs."""
    bound = record.node
    out = [
        (role, arr, dtype_name(arr.dtype), "input") for role, arr in zip(bound.kind.inputs, record.inputs, strict=True)
    ]
    for role in sorted(bound.consts):
        value = bound.consts[role]
        if isinstance(value, PackedInt4):
            out.append((role, value.unpack(), "int4", "param (int4, unpacked)"))
            out.append(
                (f"{role}.packed", value.data, "uint8", "param (int4, packed: low nibble first, rows byte-aligned)")
            )
        else:
            out.append((role, np.asarray(value), dtype_name(value.dtype), "param"))
    for role in sorted(record.runtime_params):
        arr = record.runtime_params[role]
        out.append((role, arr, dtype_name(arr.dtype), "param derived at run time"))
    if record.acc is not None:
        out.append(("acc", record.acc, dtype_name(record.acc.dtype), "accumulator before rescale"))
    for role, arr in zip(_output_roles(record.node.spec), record.outputs, strict=True):
        out.append((role, arr, dtype_name(arr.dtype), "output"))
    return out


def _scale_json(spec) -> dict[str, Any]:
    return {
        "tensor": spec.name,
        "scale": list(spec.scale) if isinstance(spec.scale, tuple) else spec.scale,
        "zero_point": list(spec.zero_point) if isinstance(spec.zero_point, tuple) else spec.zero_point,
        "axis": spec.axis,
    }


def _float_scale(model: Model, bound: BoundNode) -> list[float] | None:
    """The real scale the node's multiplier came from: product of input (and weight) scales over the output's."""
    roles = _SCALE_ROLES.get(bound.op)
    if roles is None or bound.requant is None:
        return None
    names = dict(zip(bound.kind.inputs, bound.spec.inputs, strict=True)) | bound.spec.params
    scales = [model.tensors[names[r]].scale for r in roles] + [model.tensors[bound.spec.outputs[0]].scale]
    if any(s is None for s in scales):
        return None
    value = np.ones(1)
    for s in scales[:-1]:
        value = value * np.asarray(s, dtype=np.float64)
    value = value / np.asarray(scales[-1], dtype=np.float64)
    return [float(v) for v in value.ravel()]


def _output_roles(spec) -> dict[str, str]:
    """Output file role -> tensor: ``y`` for one output, ``y0``, ``y1``, ... for several."""
    return {"y" if len(spec.outputs) == 1 else f"y{i}": t for i, t in enumerate(spec.outputs)}


def node_params(model: Model, bound: BoundNode) -> dict[str, Any]:
    """Everything about a node that is not an array: op, attributes, scheme, zero points, clamp, scales."""
    spec = bound.spec
    info: dict[str, Any] = {
        "index": bound.index,
        "name": spec.name,
        "op": spec.op,
        "inputs": dict(zip(bound.kind.inputs, spec.inputs, strict=True)),
        "outputs": _output_roles(spec),
        "params": dict(spec.params),
        "attrs": {k: list(v) if isinstance(v, tuple) else v for k, v in bound.attrs.items()},
        "requant": dict(spec.requant) if spec.requant else None,
        "acc": dict(spec.acc) if spec.acc else None,
        "scales": {
            role: _scale_json(model.tensors[t])
            for role, t in [
                *zip(bound.kind.inputs, spec.inputs, strict=True),
                *spec.params.items(),
                *_output_roles(spec).items(),
            ]
        },
    }
    if bound.requant is not None:
        r = bound.requant
        info["rescale"] = {
            "scheme": r.scheme,
            "represented_scale": np.atleast_1d(represented_scale(r.multiplier, r.shift, r.scheme)).tolist(),
            "float_scale": _float_scale(model, bound),
        }
    return info


def _node_dir(index: int, name: str, width: int) -> str:
    return f"nodes/{index:0{width}d}_{safe_name(name)}"


def _struct_fields(info: dict[str, Any], files: list[tuple[str, str]]) -> list[tuple[str, object]]:
    fields: list[tuple[str, object]] = [("index", info["index"]), ("name", info["name"]), ("op", info["op"])]
    requant = info["requant"] or {}
    fields += [
        ("scheme", requant.get("scheme", "")),
        ("out_zero_point", requant.get("zero_point", 0)),
        ("out_lo", requant.get("lo", 0)),
        ("out_hi", requant.get("hi", 0)),
    ]
    acc = info["acc"] or {}
    fields += [("acc_policy", acc.get("policy", "")), ("acc_bits", acc.get("bits", 0))]
    for key, value in sorted(info["attrs"].items()):
        if isinstance(value, list):
            fields += [(f"{key}_{i}", v) for i, v in enumerate(value)]
        else:
            fields.append((key, value))
    for role, s in sorted(info["scales"].items()):
        if isinstance(s["scale"], float):
            fields.append((f"{c_identifier(role)}_scale", s["scale"]))
        if isinstance(s["zero_point"], int):
            fields.append((f"{c_identifier(role)}_zero_point", s["zero_point"]))
    fields += [(c_identifier(role), f"&{ident}") for role, ident in files]
    return fields


def render(
    model: Model,
    inputs: dict[str, np.ndarray],
    records: Sequence[NodeRecord],
    formats: Sequence[str],
    *,
    show_progress: bool | None = None,
) -> Rendered:
    """File contents for a traced run (paths relative to the vectors directory)."""
    out = Rendered()
    for spec in model.inputs:
        arr = inputs[spec.name]
        base = f"inputs/{safe_name(spec.name)}"
        out.add(f"{base}.npy", npy_bytes(arr), "npy", arr, spec.dtype)
        if "memh" in formats:
            out.add(f"{base}.memh", memh_text(arr, spec.dtype, spec.name).encode(), "memh", arr, spec.dtype)
    width = max(3, len(str(len(records) - 1)))
    for record in progress(records, len(records), "export", show_progress):
        bound = record.node
        folder = _node_dir(bound.index, bound.name, width)
        info = node_params(model, bound)
        entry: dict[str, Any] = {
            "index": bound.index,
            "name": bound.name,
            "op": bound.op,
            "dir": folder,
            "inputs": info["inputs"],
            "outputs": info["outputs"],
            "files": {},
        }
        ident = f"n{bound.index:0{width}d}_{c_identifier(bound.name)}"
        c_arrays, c_refs = [], []
        for role, arr, dtype, what in node_arrays(record):
            files = entry["files"].setdefault(role, {})
            if "npy" in formats:
                files["npy"] = f"{folder}/{role}.npy"
                out.add(files["npy"], npy_bytes(arr), "npy", arr, dtype)
            if "memh" in formats:
                files["memh"] = f"{folder}/{role}.memh"
                out.add(files["memh"], memh_text(arr, dtype, f"{bound.name} {role}").encode(), "memh", arr, dtype)
            c_name = f"{ident}_{c_identifier(role)}"
            c_arrays.append((c_name, arr, dtype, f"{role}: {what}"))
            c_refs.append((role, c_name))
        for role, s in sorted(info["scales"].items()):
            if isinstance(s["scale"], list):
                c_name = f"{ident}_{c_identifier(role)}_scale"
                c_arrays.append((c_name, np.asarray(s["scale"]), "float64", f"per-channel scale of {role}"))
                c_refs.append((f"{role}_scale", c_name))
        entry["params"] = f"{folder}/params.json"
        out.add(entry["params"], json_bytes(info), "json")
        if "c" in formats:
            entry["header"] = f"{folder}/node.h"
            title = f"intref golden vectors: node {bound.index} {bound.name!r} ({bound.op}) of model {model.name!r}"
            text = c_header(ident, title.replace("*/", "* /"), c_arrays, _struct_fields(info, c_refs))
            out.add(entry["header"], text.encode(), "c")
        out.nodes.append(entry)
    return out


def trace_run(model: Model, inputs: dict[str, np.ndarray], backend) -> list[NodeRecord]:
    tracer = Tracer()
    model.run(inputs, backend=backend, trace=tracer)
    return tracer.records


def build_manifest(
    model: Model,
    rendered: Rendered,
    inputs: dict[str, np.ndarray],
    formats: Sequence[str],
    backend: str,
    model_file: str | None,
) -> dict[str, Any]:
    input_files = {spec.name: f"inputs/{safe_name(spec.name)}.npy" for spec in model.inputs}
    joined = b"".join(rendered.files[input_files[spec.name]] for spec in model.inputs)
    return {
        "format": VECTORS_FORMAT,
        "version": VERSION,
        "intref_version": __version__,
        "backend": backend,
        "formats": list(formats),
        "model": {"file": model_file, "sha256": model.sha256, "name": model.name},
        "inputs": {name: {"file": path, "sha256": rendered.info[path]["sha256"]} for name, path in input_files.items()},
        "input_sha256": sha256_bytes(joined),
        "outputs": {
            t: next(n["files"][role]["npy"] for n in rendered.nodes for role, u in n["outputs"].items() if u == t)
            for t in model.graph.outputs
            if t not in input_files
        },
        "nodes": rendered.nodes,
        "files": rendered.info,
    }


def check_formats(formats: Sequence[str]) -> list[str]:
    formats = list(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise VectorsError(f"unknown formats {unknown}; choose from {', '.join(FORMATS)}")
    if "npy" not in formats:
        formats.insert(0, "npy")  # verify and check read .npy; the other formats are for testbenches
    return formats


def export(
    model: Model,
    inputs,
    out_dir: str | Path,
    *,
    formats: Sequence[str] = ("npy",),
    backend=None,
    copy_model: bool = True,
    force: bool = False,
    show_progress: bool | None = None,
) -> dict[str, Any]:
    """Run ``model`` on ``inputs`` and write golden vectors to ``out_dir``; returns the manifest."""
    from ..graph.interpreter import normalize_inputs

    formats = check_formats(formats)
    out_dir = Path(out_dir)
    _prepare_dir(out_dir, force)
    be = resolve_backend(backend)
    inputs = normalize_inputs(model, inputs)
    records = trace_run(model, inputs, be)
    rendered = render(model, inputs, records, formats, show_progress=show_progress)
    model_file = None
    if copy_model:
        model_file = MODEL_FILE
        data = model.to_bytes() if model.source is None else Path(model.source).read_bytes()
        rendered.add(MODEL_FILE, data, "intref")
    manifest = build_manifest(model, rendered, inputs, formats, backend_name(be), model_file)
    for path, data in rendered.files.items():
        target = out_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (out_dir / MANIFEST).write_bytes(json_bytes(manifest))
    return manifest


def _prepare_dir(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise VectorsError(f"{out_dir} exists and is not a directory")
    if out_dir.exists() and any(out_dir.iterdir()):
        if not force:
            raise VectorsError(f"{out_dir} is not empty (use --force to replace earlier vectors there)")
        if not (out_dir / MANIFEST).exists():
            raise VectorsError(f"{out_dir} holds files that are not golden vectors; refusing to replace them")
        # Only what export writes is removed, never anything else in the directory.
        for name in ("nodes", "inputs"):
            shutil.rmtree(out_dir / name, ignore_errors=True)
        for name in (MANIFEST, MODEL_FILE):
            (out_dir / name).unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
