"""Comparing a device dump with golden vectors: the first divergent node, and whether it originated the fault.

A dump has the export's layout (``nodes/<index>_<name>/<role>.npy`` or ``.memh``, ``inputs/<name>.npy``) or one
``<name>.npy`` per node holding its output. Nodes are compared in execution order; a divergent node is
*propagated* if one of its inputs already differed (its producer's dumped output, a model input, or the node's
own dumped input), otherwise the fault *originated* there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import VectorsError
from .common import safe_name
from .manifest import inside, load_manifest, read_array

FIRST_MISMATCHES = 10


@dataclass
class TensorResult:
    role: str
    file: str
    match: bool
    count: int = 0  # mismatching elements
    total: int = 0
    max_abs_diff: int = 0
    first: list[dict[str, Any]] = field(default_factory=list)  # {"index", "expected", "actual"}
    note: str = ""

    @property
    def fraction(self) -> float:
        return self.count / self.total if self.total else 1.0


@dataclass
class NodeResult:
    index: int
    name: str
    op: str
    status: str  # match, originated, propagated, missing
    tensors: list[TensorResult] = field(default_factory=list)
    inputs_known: bool = True  # False when no dumped input could tell whether the inputs differed


@dataclass
class VerifyReport:
    nodes: list[NodeResult]
    inputs: list[TensorResult]

    @property
    def divergent(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in ("originated", "propagated")]

    @property
    def match(self) -> bool:
        return not self.divergent and all(t.match for t in self.inputs)

    @property
    def compared(self) -> int:
        return sum(1 for n in self.nodes if n.status != "missing")

    def to_json(self) -> dict[str, Any]:
        def node(n: NodeResult) -> dict[str, Any]:
            d = asdict(n)
            for t, src in zip(d["tensors"], n.tensors, strict=True):
                t["fraction"] = src.fraction
            return d

        first = self.divergent[0] if self.divergent else None
        return {
            "match": self.match,
            "compared_nodes": self.compared,
            "missing_nodes": [n.name for n in self.nodes if n.status == "missing"],
            "inputs": [asdict(t) for t in self.inputs],
            "first_divergence": node(first) if first else None,
            "nodes": [node(n) for n in self.nodes],
        }


def _compare(role: str, rel: str, expected: np.ndarray, actual: np.ndarray) -> TensorResult:
    result = TensorResult(role, rel, True, total=int(expected.size))
    if expected.dtype == np.float32 and actual.dtype == np.float32:
        # float32 tensors (a quantize node's input) compare bit for bit
        expected, actual = expected.view(np.uint32), actual.view(np.uint32)
    if actual.dtype.kind not in "iub":
        result.match, result.count = False, int(expected.size)
        result.note = f"dump holds {actual.dtype}; integers expected"
        return result
    if actual.shape != expected.shape:
        result.match, result.count = False, int(max(expected.size, actual.size))
        result.note = f"dump has shape {list(actual.shape)}, expected {list(expected.shape)}"
        return result
    if actual.dtype != expected.dtype:
        result.note = f"dump holds {actual.dtype}, golden {expected.dtype} (values compared)"
    e = expected.astype(np.int64)
    a = actual.astype(np.int64)  # uint64 above 2^63 wraps, and then differs, as it should
    diff = e != a
    result.count = int(diff.sum())
    if not result.count:
        return result
    result.match = False
    result.max_abs_diff = int(np.abs(e[diff].astype(object) - a[diff].astype(object)).max())
    for flat in np.flatnonzero(diff.ravel())[:FIRST_MISMATCHES]:
        idx = [int(v) for v in np.unravel_index(int(flat), e.shape)]
        result.first.append({"index": idx, "expected": int(e.ravel()[flat]), "actual": int(a.ravel()[flat])})
    return result


def _dump_file(dump: Path, node: dict[str, Any], role: str) -> tuple[Path, str] | None:
    """The dump's file for a node's role: same layout first, then (outputs only) one file per node."""
    candidates = [f"{node['dir']}/{role}.npy", f"{node['dir']}/{role}.memh"]
    if role == "y":
        base = Path(node["dir"]).name
        candidates += [f"{safe_name(node['name'])}.npy", f"{base}.npy"]
    for rel in candidates:
        path = inside(dump, rel)
        if path.is_file():
            return path, rel
    return None


def verify(golden: str | Path, dump: str | Path) -> VerifyReport:
    """Compare the dump directory with the golden vectors directory."""
    golden, dump = Path(golden), Path(dump)
    if not dump.is_dir():
        raise VectorsError(f"{dump}: no such dump directory")
    manifest = load_manifest(golden)
    files = manifest["files"]
    differs: dict[str, bool | None] = {}  # tensor name -> did its dumped value differ (None: not dumped)
    inputs = []
    for name, info in manifest["inputs"].items():
        rel = info["file"]
        path = inside(dump, rel)
        if path.is_file():
            t = _compare(name, rel, read_array(golden, rel), read_array(dump, rel, files.get(rel)))
            inputs.append(t)
            differs[name] = not t.match
    results = []
    for node in manifest["nodes"]:
        result = NodeResult(node["index"], node["name"], node["op"], "missing")
        input_roles = set(node.get("inputs", {}))
        local_input_differs = False
        for role in node["files"]:
            found = _dump_file(dump, node, role)
            if found is None:
                continue
            _, rel = found
            golden_rel = node["files"][role].get("npy") or next(iter(node["files"][role].values()))
            info = files.get(golden_rel)  # dtype and shape, to read a memh dump
            t = _compare(role, rel, read_array(golden, golden_rel, info), read_array(dump, rel, info))
            result.tensors.append(t)
            if role in input_roles and not t.match:
                local_input_differs = True
        for role, tensor in node.get("outputs", {}).items():
            t = next((t for t in result.tensors if t.role == role), None)
            differs[tensor] = None if t is None else not t.match
        if result.tensors:
            upstream = [differs.get(t) for t in node.get("inputs", {}).values()]
            result.inputs_known = any(u is not None for u in upstream) or any(
                t.role in input_roles for t in result.tensors
            )
            if all(t.match for t in result.tensors):
                result.status = "match"
            elif local_input_differs or any(u is True for u in upstream):
                result.status = "propagated"
            else:
                result.status = "originated"
        results.append(result)
    report = VerifyReport(results, inputs)
    if report.compared == 0 and not inputs:
        raise VectorsError(
            f"{dump}: no file in the dump matches a node of {golden} (expected e.g. "
            f"{manifest['nodes'][0]['dir'] if manifest['nodes'] else 'nodes/...'}/y.npy)"
        )
    return report


def _tensor_lines(t: TensorResult) -> list[str]:
    lines = [
        f"  {t.role} ({t.file}): {t.count} of {t.total} elements differ ({100 * t.fraction:.2f}%), "
        f"max |diff| {t.max_abs_diff}"
    ]
    if t.note:
        lines.append(f"    note: {t.note}")
    if t.first:
        lines.append(f"    first {len(t.first)} mismatches (index: expected -> actual):")
        lines += [f"      {tuple(m['index'])}: {m['expected']} -> {m['actual']}" for m in t.first]
    return lines


def format_report(report: VerifyReport) -> str:
    missing = [n.name for n in report.nodes if n.status == "missing"]
    lines = []
    bad_inputs = [t for t in report.inputs if not t.match]
    if report.match:
        count = sum(len(n.tensors) for n in report.nodes) + len(report.inputs)
        lines.append(f"MATCH: {report.compared} nodes agree bit for bit ({count} tensors compared)")
    else:
        for t in bad_inputs:
            lines.append(f"MODEL INPUT {t.role!r} differs:")
            lines += _tensor_lines(t)
        if report.divergent:
            first = report.divergent[0]
            if first.status == "originated":
                cause = (
                    "originated here (its inputs match)"
                    if first.inputs_known
                    else "originated here (its inputs were not in the dump)"
                )
            else:
                cause = "propagated (its inputs already differed)"
            lines.append(f"MISMATCH: first divergent node #{first.index} {first.name!r} ({first.op}): {cause}")
            for t in first.tensors:
                if not t.match:
                    lines += _tensor_lines(t)
            later = report.divergent[1:]
            if later:
                lines.append("later divergent nodes:")
                for n in later:
                    worst = max((t for t in n.tensors if not t.match), key=lambda t: t.count)
                    lines.append(
                        f"  #{n.index} {n.name!r} ({n.op}): {n.status}, {worst.role}: {worst.count} of "
                        f"{worst.total} differ, max |diff| {worst.max_abs_diff}"
                    )
    summary = f"{report.compared} of {len(report.nodes)} nodes compared"
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        summary += f"; not in the dump: {shown}"
    lines.append(summary)
    return "\n".join(lines)
