"""Locating files shipped in the installed `hama` distribution, without importing it.

`import hama` would load its native library; package metadata (the wheel's RECORD) says where the files are.
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
from pathlib import Path

DISTRIBUTION = "hama"
ASR_ASSET = "asr_waveform.hama"
VOCAB_ASSET = "g2p_vocab.json"


class AssetNotFoundError(FileNotFoundError):
    """The `hama` distribution, or one of its files, is not installed here."""


def installed_version() -> str | None:
    """Version of the installed `hama` distribution, or None."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def find_asset(name: str = ASR_ASSET) -> Path:
    """Path of `hama/assets/<name>` in the installed distribution."""
    wanted = f"{DISTRIBUTION}/assets/{name}"
    try:
        files = metadata.files(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        files = None
    for f in files or ():
        if f.as_posix() == wanted:
            path = Path(f.locate())
            if path.is_file():
                return path
    # Without a RECORD (e.g. some editable installs) fall back to the package directory; find_spec of a top-level
    # name does not execute the package.
    spec = importlib.util.find_spec(DISTRIBUTION)
    for root in (spec.submodule_search_locations or ()) if spec else ():
        path = Path(root) / "assets" / name
        if path.is_file():
            return path
    raise AssetNotFoundError(f"'{wanted}' not found: install the package, e.g. `pip install hama==1.7.0`")


def sibling_asset(model_path: str | Path, name: str = VOCAB_ASSET) -> Path:
    """A file next to an explicitly given model (an extracted wheel keeps them together)."""
    path = Path(model_path).with_name(name)
    if not path.is_file():
        raise AssetNotFoundError(f"'{name}' not found next to {model_path}")
    return path


__all__ = ["ASR_ASSET", "VOCAB_ASSET", "AssetNotFoundError", "find_asset", "installed_version", "sibling_asset"]
