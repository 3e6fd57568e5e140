"""Reading a vectors directory's manifest, and checking the files it lists against their sha256."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import VectorsError
from .common import MANIFEST, VECTORS_FORMAT, VERSION, read_json, sha256_file
from .formats import ELEMENT, read_memh, read_npy


def load_manifest(directory: Path) -> dict[str, Any]:
    m = read_json(directory / MANIFEST, "manifest.json")
    if not isinstance(m, dict) or m.get("format") != VECTORS_FORMAT:
        raise VectorsError(f"{directory / MANIFEST}: not an intref golden-vector manifest")
    if m.get("version") != VERSION:
        raise VectorsError(f"{directory / MANIFEST}: unknown manifest version {m.get('version')!r}")
    for key, kind in (("nodes", list), ("files", dict), ("inputs", dict), ("model", dict), ("formats", list)):
        if not isinstance(m.get(key), kind):
            raise VectorsError(f"{directory / MANIFEST}: '{key}' is missing or malformed")
    for node in m["nodes"]:
        if not isinstance(node, dict) or not all(k in node for k in ("index", "name", "op", "dir", "files")):
            raise VectorsError(f"{directory / MANIFEST}: a node entry is malformed")
    return m


def inside(directory: Path, relative: str) -> Path:
    """``directory / relative``, refusing paths that leave the directory (a manifest is untrusted input)."""
    path = (directory / relative).resolve()
    if not path.is_relative_to(directory.resolve()):
        raise VectorsError(f"{relative!r} points outside {directory}")
    return path


def hash_problems(directory: Path, files: dict[str, dict[str, Any]]) -> list[str]:
    """Files that are missing or whose sha256 differs from the manifest's."""
    problems = []
    for rel, info in sorted(files.items()):
        path = inside(directory, rel)
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif sha256_file(path) != info.get("sha256"):
            problems.append(f"{rel}: sha256 differs from the manifest (the file changed)")
    return problems


def read_array(directory: Path, rel: str, info: dict[str, Any] | None = None) -> np.ndarray:
    """An array from ``.npy`` or, given its manifest entry (dtype, shape), ``.memh``."""
    path = inside(directory, rel)
    if rel.endswith(".npy"):
        return read_npy(path)
    if info is None or info.get("dtype") not in ELEMENT:
        raise VectorsError(f"{rel}: reading memh needs the element type from the manifest")
    return read_memh(path.read_text(encoding="ascii", errors="replace"), info["dtype"], tuple(info["shape"]), rel)
