"""Helpers shared by export, verify and check: hashing, names on disk, JSON, progress bars."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import VectorsError

MANIFEST = "manifest.json"
CASE_DESC = "desc.json"
VECTORS_FORMAT = "intref-vectors"
CASE_FORMAT = "intref-op-case"
VERSION = 1


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def safe_name(name: str, limit: int = 80) -> str:
    """A node or tensor name as a file name: letters, digits, '_', '-', '.' (others become '_')."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)[:limit].lstrip(".") or "_"


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=True, allow_nan=False) + "\n").encode()


def read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VectorsError(f"{path}: no {what} here") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise VectorsError(f"{path}: cannot read the {what}: {exc}") from None


def progress(items: Iterable, total: int, desc: str, enabled: bool | None = None) -> Iterable:
    """A tqdm progress bar on stderr for long work at a terminal; the plain iterable otherwise."""
    if enabled is None:
        enabled = total >= 20 and sys.stderr.isatty()
    if not enabled:
        return items
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, total=total, desc=desc, leave=False, file=sys.stderr)
