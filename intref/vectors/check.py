"""Regression check of stored golden vectors: re-run on every available backend and compare every stored file.

``check(path)`` accepts a model vectors directory (``manifest.json``), an op case (``desc.json``), or any directory
above them (all cases below are found). A model directory passes when its files still have the manifest's sha256
and every backend re-renders every file byte for byte; an op case when every backend gives the expected
output and accumulator, or raises the expected error at the expected element.

A manifest with a ``digest_only`` entry records the sha256 of vectors that are not stored beside it (a whole real
model's run is tens of MB): such a directory is skipped, with the reason it gives; its owner re-exports and compares
digests (vectors/hama/, tests/test_asr_golden.py).
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IntrefError, VectorsError
from ..graph import load
from ..graph.interpreter import backend_name, resolve_backend
from .common import CASE_DESC, MANIFEST, progress, sha256_file
from .decode import decode_model_file
from .export import render, trace_run
from .formats import read_npy
from .manifest import hash_problems, inside, load_manifest
from .opcase import check_case

MAX_PROBLEMS = 5
DIGEST_ONLY = "digest_only"  # manifest key: only the files' sha256 are stored; the value says why


@dataclass
class CheckResult:
    path: str
    kind: str  # "model" or "op"
    backend: str  # a backend name, or "files" for the sha256 check
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None  # why the set was not re-run (digest-only vectors)

    @property
    def ok(self) -> bool:
        return not self.problems


def discover(root: Path) -> list[tuple[str, Path]]:
    """(kind, directory) of every vectors directory at or below ``root``, in sorted order."""
    if not root.is_dir():
        raise VectorsError(f"{root}: no such directory")
    found = []
    for current, dirs, files in os.walk(root):
        dirs.sort()
        if MANIFEST in files:
            found.append(("model", Path(current)))
            dirs.clear()  # a vectors directory's nodes/ are not cases of their own
        elif CASE_DESC in files:
            found.append(("op", Path(current)))
            dirs.clear()
    if not found:
        raise VectorsError(f"{root}: no golden vectors here (no {MANIFEST} or {CASE_DESC} at or below it)")
    return found


def _npy_difference(rel: str, fresh: bytes, directory: Path, backend: str) -> str:
    try:
        expected = read_npy(inside(directory, rel))
    except VectorsError:
        return f"{rel}: differs from what {backend} produces"
    actual = np.load(io.BytesIO(fresh), allow_pickle=False)
    if expected.shape != actual.shape or expected.dtype != actual.dtype:
        return (
            f"{rel}: golden {expected.dtype}{list(expected.shape)}, {backend} gives {actual.dtype}{list(actual.shape)}"
        )
    diff = expected != actual
    if not diff.any():
        return f"{rel}: same values but different bytes (header?)"
    idx = tuple(int(v) for v in np.unravel_index(int(np.flatnonzero(diff.ravel())[0]), diff.shape))
    return (
        f"{rel}: differs at index {idx}: golden {expected[idx]}, {backend} gives {actual[idx]} "
        f"({int(diff.sum())} of {diff.size} elements)"
    )


def _check_model_dir(directory: Path, label: str, backends: list, model_path: Path | None) -> list[CheckResult]:
    manifest = load_manifest(directory)
    if DIGEST_ONLY in manifest:
        return [CheckResult(label, "model", "files", skipped=f"digests only: {manifest[DIGEST_ONLY]}")]
    results = [CheckResult(label, "model", "files", hash_problems(directory, manifest["files"]))]
    model_file = manifest["model"].get("file")
    if model_path is None and not model_file:
        model_path = decode_model_file(directory)  # a decode step: the model is shared one level up
    if model_path is None:
        if not model_file:
            raise VectorsError(f"{directory}: the vectors do not include the model; pass it with --model")
        model_path = inside(directory, model_file)
    model = load(model_path)
    if model.sha256 != manifest["model"].get("sha256"):
        results[0].problems.append(f"{model_path}: sha256 differs from the model the vectors were made with")
        return results
    inputs = {name: read_npy(inside(directory, info["file"])) for name, info in manifest["inputs"].items()}
    golden = {rel: info for rel, info in manifest["files"].items() if info.get("format") != "intref"}
    on_disk = {rel: sha256_file(inside(directory, rel)) for rel in golden if inside(directory, rel).is_file()}
    for be in backends:
        result = CheckResult(label, "model", backend_name(be))
        results.append(result)
        try:
            rendered = render(model, inputs, trace_run(model, inputs, be), manifest["formats"], show_progress=False)
        except Exception as exc:  # noqa: BLE001 - any failure of a backend is a failed check, reported per backend
            result.problems.append(f"{type(exc).__name__}: {exc}")
            continue
        missing = sorted(set(golden) - set(rendered.files))
        extra = sorted(set(rendered.files) - set(golden))
        result.problems += [f"{rel}: stored but no longer produced" for rel in missing]
        result.problems += [f"{rel}: produced but not stored" for rel in extra]
        for rel in sorted(set(on_disk) & set(rendered.files)):
            if rendered.info[rel]["sha256"] == on_disk[rel]:
                continue
            if rel.endswith(".npy"):
                result.problems.append(_npy_difference(rel, rendered.files[rel], directory, result.backend))
            else:
                result.problems.append(f"{rel}: differs from what {result.backend} produces")
        del result.problems[MAX_PROBLEMS:]
    return results


def _check_op_dir(directory: Path, label: str, backends: list) -> list[CheckResult]:
    results = []
    for be in backends:
        result = CheckResult(label, "op", backend_name(be))
        try:
            result.problems = check_case(directory, be)
        except IntrefError:
            raise
        except Exception as exc:  # noqa: BLE001 - see above
            result.problems = [f"{type(exc).__name__}: {exc}"]
        results.append(result)
    return results


def resolve_backends(names: list[str] | None) -> list:
    """Backend objects for ``names``, or every backend that loads here."""
    from .. import backends

    return [resolve_backend(n) for n in (names or backends.available())]


def check(
    root: str | Path,
    backends: list[str] | None = None,
    *,
    model: str | Path | None = None,
    show_progress: bool | None = None,
) -> list[CheckResult]:
    """Check every vectors directory at or below ``root`` on ``backends`` (default: all available)."""
    root = Path(root)
    cases = discover(root)
    bes = resolve_backends(backends)
    results: list[CheckResult] = []
    for kind, directory in progress(cases, len(cases), "check", show_progress):
        label = str(directory)
        try:
            if kind == "model":
                results += _check_model_dir(directory, label, bes, Path(model) if model else None)
            else:
                results += _check_op_dir(directory, label, bes)
        except IntrefError as exc:  # a malformed case fails; the others are still checked
            results.append(CheckResult(label, kind, "files", [str(exc)]))
    return results


def summary(results: list[CheckResult]) -> dict[str, Any]:
    cases = sorted({r.path for r in results})
    failed = sorted({r.path for r in results if not r.ok})
    return {
        "ok": not failed,
        "cases": len(cases),
        "failed_cases": failed,
        "skipped_cases": sorted({r.path for r in results if r.skipped}),
        "backends": sorted({r.backend for r in results if r.backend != "files"}),
        "results": [asdict(r) | {"ok": r.ok} for r in results],
    }


def format_results(results: list[CheckResult], verbose: bool = False) -> str:
    by_case: dict[str, list[CheckResult]] = {}
    for r in results:
        by_case.setdefault(r.path, []).append(r)
    lines = []
    for path, rs in by_case.items():
        bad = [r for r in rs if not r.ok]
        backends = ", ".join(r.backend for r in rs if r.backend != "files")
        skipped = [r.skipped for r in rs if r.skipped]
        if skipped:
            lines.append(f"skip  {path}  ({'; '.join(skipped)})")
        elif bad:
            lines.append(f"FAIL  {path}  [{backends}]")
            for r in bad:
                lines += [f"      {r.backend}: {p}" for p in r.problems]
        elif verbose:
            lines.append(f"ok    {path}  [{backends}]")
    s = summary(results)
    status = "all passed" if s["ok"] else f"{len(s['failed_cases'])} failed"
    checked = s["cases"] - len(s["skipped_cases"])
    skipped = f", {len(s['skipped_cases'])} skipped" if s["skipped_cases"] else ""
    lines.append(f"{checked} vector sets checked on {', '.join(s['backends']) or 'no backend'}{skipped}: {status}")
    return "\n".join(lines)
