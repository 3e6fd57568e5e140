"""Evaluation manifests: a tab-separated file with a header row `path  reference  source  license`.

`path` is relative to the manifest's folder. Fields may be quoted as in CSV (a field that starts with `"` ends at
the next lone `"`, and `""` inside it stands for one `"`), which is how transcripts containing quotes are stored.
Headerless PCM files (`.raw`, `.pcm`) are 16 kHz mono signed 16-bit little-endian.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from ..frontend.audio import RAW_SUFFIXES, RawFormat

COLUMNS = ("path", "reference", "source", "license")
RAW_FORMAT = RawFormat(16000, "s16le", 1)


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # relative to the manifest's folder, '/'-separated
    reference: str
    source: str = ""
    license: str = ""

    @property
    def raw_format(self) -> RawFormat | None:
        """How to read the file when it is headerless PCM, else None."""
        return RAW_FORMAT if Path(self.path).suffix.lower() in RAW_SUFFIXES else None


@dataclass(frozen=True)
class Manifest:
    root: Path  # the folder the entry paths are relative to
    entries: tuple[ManifestEntry, ...]

    def audio_path(self, entry: ManifestEntry) -> Path:
        return self.root / entry.path

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def parse_manifest(text: str, source: str = "<manifest>") -> tuple[ManifestEntry, ...]:
    """Entries of a manifest given as text; raises ManifestError naming `source` and the line."""
    reader = csv.reader(io.StringIO(text), delimiter="\t", quotechar='"', strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise ManifestError(f"{source}: empty manifest (expected the header {' '.join(COLUMNS)})")
        if tuple(h.strip().lower() for h in header) != COLUMNS:
            raise ManifestError(f"{source}:1: header must be {'<TAB>'.join(COLUMNS)}, got {header!r}")
        entries: list[ManifestEntry] = []
        seen: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            if not row or all(not f.strip() for f in row):
                continue  # blank line
            if len(row) != len(COLUMNS):
                raise ManifestError(f"{source}:{line}: expected {len(COLUMNS)} tab-separated fields, got {len(row)}")
            path, reference, src, lic = (f.strip() for f in row)
            if not path:
                raise ManifestError(f"{source}:{line}: empty path")
            if Path(path).is_absolute() or ".." in Path(path).parts:
                raise ManifestError(f"{source}:{line}: path must be relative to the manifest folder: {path!r}")
            if not reference:
                raise ManifestError(f"{source}:{line}: empty reference for {path}")
            if path in seen:
                raise ManifestError(f"{source}:{line}: {path} already listed on line {seen[path]}")
            seen[path] = line
            entries.append(ManifestEntry(path, reference, src, lic))
    except csv.Error as exc:
        raise ManifestError(f"{source}:{reader.line_num}: malformed row ({exc})") from exc
    return tuple(entries)


def read_manifest(path: str | os.PathLike) -> Manifest:
    """Read a manifest file; entry paths are resolved against its folder."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{p}: cannot read manifest: {exc}") from exc
    return Manifest(p.parent, parse_manifest(text, str(p)))


__all__ = ["COLUMNS", "RAW_FORMAT", "Manifest", "ManifestEntry", "ManifestError", "parse_manifest", "read_manifest"]
