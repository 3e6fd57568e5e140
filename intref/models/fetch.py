"""The float hama acoustic models (``asr_waveform.hama``) intref builds its integer models from: where they are, and
``fetch`` for a version that is not installed.

One hama version installs at a time, so the other one's asset comes from its wheel: ``fetch("hama-1.6")`` runs
``pip download --no-deps hama==1.6.0`` with the current interpreter (only when asked: nothing is downloaded at
run time otherwise), takes ``hama/assets/asr_waveform.hama`` and ``g2p_vocab.json`` out of the wheel, checks
that the file is the published one (its sha256) and stores both under ``<cache>/assets/hama-<version>/`` with an
``asset.json`` recording where it came from and its sha256. ``source=`` takes a local wheel or ``.hama`` file
instead, for machines without network access.

The cache is ``$INTREF_CACHE``, else ``$XDG_CACHE_HOME/intref``, else ``~/.cache/intref``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import IntrefError
from .hama.assets import ASR_ASSET, VOCAB_ASSET, AssetNotFoundError, find_asset, installed_version

# The acoustic models intref knows, the hama release that ships each, and the sha256 of its asr_waveform.hama
# as published on PyPI (the committed recipes are made for exactly these weights).
VERSIONS: dict[str, str] = {"hama-1.7": "1.7.0", "hama-1.6": "1.6.0"}
PUBLISHED_SHA256: dict[str, str] = {
    "hama-1.7": "a9fcfe73e179ca48e399cd76a90a6b3e1887bf5037ecc52b778d13a149563328",
    "hama-1.6": "2c55542d1cfb6b75d70b7ecaa6f6daa02278ba2038c615961c04322b2b08083b",
}
# The phoneme-to-text model ships in the installed hama package (byte-identical in 1.6.0 and 1.7.0).
P2G_ID = "hama-p2g"
P2G_ASSET = "p2g.hama"
P2G_SHA256 = "b0e129709307f0f7edd4ce0f7a9e22c54026bfc9393b2c33aa7c0cac82dd58fb"
WHEEL_MEMBERS = (f"hama/assets/{ASR_ASSET}", f"hama/assets/{VOCAB_ASSET}")
RECORD = "asset.json"
MAX_MEMBER_BYTES = 256 << 20  # a wheel member larger than this is not a hama asset

Progress = Callable[[str], None]


class FetchError(IntrefError, RuntimeError):
    """A model asset could not be fetched or failed validation; the message says why and what to do."""


def cache_root() -> Path:
    """intref's cache folder: $INTREF_CACHE, else $XDG_CACHE_HOME/intref, else ~/.cache/intref."""
    env = os.environ.get("INTREF_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "intref"


def asset_dir(model_id: str) -> Path:
    return cache_root() / "assets" / f"hama-{version_of(model_id)}"


def version_of(model_id: str) -> str:
    try:
        return VERSIONS[model_id]
    except KeyError:
        raise FetchError(f"unknown model {model_id!r} (known: {', '.join(VERSIONS)})") from None


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Asset:
    """A float acoustic model file found on this machine."""

    model_id: str
    path: Path
    sha256: str
    origin: str  # "installed hama 1.7.0" or "fetched from hama-1.6.0-py3-none-any.whl"


def installed_asset() -> Asset | None:
    """The installed hama package's asr_waveform.hama, if it is one of the known models."""
    version = installed_version()
    if version is None:
        return None
    try:
        path = find_asset()
    except AssetNotFoundError:
        return None
    sha = sha256_file(path)
    for model_id, known in PUBLISHED_SHA256.items():
        if sha == known:
            return Asset(model_id, path, sha, f"installed hama {version}")
    return None


def fetched_asset(model_id: str) -> Asset | None:
    """The asset ``fetch`` stored for ``model_id``, if present and still the file it recorded."""
    folder = asset_dir(model_id)
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        path = folder / ASR_ASSET
        sha = sha256_file(path)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("sha256") != sha:
        return None  # damaged or half written: `fetch` again replaces it
    return Asset(model_id, path, sha, f"fetched from {record.get('from', '?')}")


def installed_p2g_asset() -> Asset | None:
    """The installed hama package's p2g.hama, if it is the published file."""
    version = installed_version()
    try:
        path = find_asset(P2G_ASSET)
    except AssetNotFoundError:
        return None
    sha = sha256_file(path)
    return Asset(P2G_ID, path, sha, f"installed hama {version}") if sha == P2G_SHA256 else None


def find_model_asset(model_id: str) -> Asset | None:
    """The published asset of ``model_id`` on this machine (installed package first, then the cache), or None."""
    if model_id == P2G_ID:
        return installed_p2g_asset()
    installed = installed_asset()
    if installed is not None and installed.model_id == model_id:
        return installed
    return fetched_asset(model_id)


def missing_asset_message(model_id: str) -> str:
    if model_id == P2G_ID:
        return f"{P2G_ID} needs the hama package's {P2G_ASSET}: install it with `pip install hama==1.7.0`"
    version = version_of(model_id)
    return (
        f"{model_id} needs hama {version}'s {ASR_ASSET}, which is not installed or fetched here: "
        f"run `intref models fetch {model_id}` (downloads the hama=={version} wheel from PyPI once)"
    )


# --- fetching ---


def _atomic_write(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same folder and rename it, so readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache is readable like any other file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def validate_asset(model_id: str, data: bytes, where: str) -> str:
    """The sha256 of ``data`` after checking it is the published ``model_id`` asset (parses, right architecture)."""
    from .hama.conformer import is_conformer
    from .hama.container import HamaFormatError, parse_hama
    from .hama.sepconv import is_sepconv

    try:
        f = parse_hama(data, where)
    except HamaFormatError as exc:
        raise FetchError(f"{where}: not a hama model file: {exc}") from None
    is_arch = is_conformer if model_id == "hama-1.7" else is_sepconv
    if not is_arch(f):
        raise FetchError(f"{where}: holds another hama acoustic model, not {model_id}")
    sha = hashlib.sha256(data).hexdigest()
    if sha != PUBLISHED_SHA256[model_id]:
        raise FetchError(
            f"{where}: sha256 {sha} is not that of the published {model_id} asset "
            f"({PUBLISHED_SHA256[model_id]}); the file was not stored"
        )
    return sha


def read_wheel(wheel: Path) -> dict[str, bytes]:
    """The asset and vocabulary members of a hama wheel (CRC-checked by zipfile)."""
    try:
        with zipfile.ZipFile(wheel) as z:
            out = {}
            for member in WHEEL_MEMBERS:
                try:
                    info = z.getinfo(member)
                except KeyError:
                    raise FetchError(f"{wheel.name}: no {member} in the wheel") from None
                if info.file_size > MAX_MEMBER_BYTES:
                    raise FetchError(f"{wheel.name}: {member} is {info.file_size} bytes, too large for a hama asset")
                out[member.rsplit("/", 1)[1]] = z.read(member)
            return out
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
        raise FetchError(f"{wheel}: not a readable wheel: {exc}") from None


def pip_download(requirement: str, dest: Path, progress: Progress | None = None) -> Path:
    """``pip download --no-deps REQUIREMENT -d DEST`` with this interpreter; returns the wheel it saved."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", requirement, "-d", str(dest)]
    if progress:
        progress(f"running {' '.join(cmd[2:])}")
    try:
        # pip's own messages go to our stderr: stdout is kept for results.
        done = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr, check=False)
    except OSError as exc:
        raise FetchError(f"cannot run pip ({exc}); download the wheel yourself and use --from WHEEL") from None
    if done.returncode != 0:
        raise FetchError(
            f"`pip download {requirement}` failed (exit status {done.returncode}, see pip's messages above); "
            "check the network or download the wheel elsewhere and use --from WHEEL"
        )
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise FetchError(f"`pip download {requirement}` saved {len(wheels)} wheels in {dest}, expected one")
    return wheels[0]


def fetch(
    model_id: str,
    *,
    source: str | os.PathLike | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Asset:
    """Store the ``model_id`` asset in the cache: from PyPI (``source`` None), a local wheel, or a ``.hama`` file.

    Without ``force`` and ``source``, an asset already installed or fetched is returned as it is."""
    version = version_of(model_id)
    if source is None and not force:
        present = find_model_asset(model_id)
        if present is not None:
            if progress:
                progress(f"{model_id} is already here: {present.path} ({present.origin}); --force fetches it again")
            return present
    with tempfile.TemporaryDirectory(prefix="intref-fetch-") as tmp:
        if source is None:
            wheel = pip_download(f"hama=={version}", Path(tmp), progress)
            files, origin = read_wheel(wheel), wheel.name
        else:
            src = Path(source)
            if not src.is_file():
                raise FetchError(f"{src}: no such file (give a hama wheel or an {ASR_ASSET} file)")
            if src.suffix == ".whl":
                files, origin = read_wheel(src), src.name
            else:
                try:
                    files = {ASR_ASSET: src.read_bytes()}
                except OSError as exc:
                    raise FetchError(f"{src}: cannot read: {exc}") from None
                origin = str(src)
                vocab = src.with_name(VOCAB_ASSET)
                if vocab.is_file():
                    files[VOCAB_ASSET] = vocab.read_bytes()
        if progress:
            progress(f"checking {ASR_ASSET} from {origin}")
        sha = validate_asset(model_id, files[ASR_ASSET], f"{origin}:{ASR_ASSET}")
        folder = asset_dir(model_id)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in sorted(files.items()):
            _atomic_write(folder / name, data)
        record = {
            "model": model_id,
            "package": f"hama=={version}",
            "file": ASR_ASSET,
            "sha256": sha,
            "from": origin,
        }
        # Written last: an asset counts as fetched only once its record names the file's sha256.
        _atomic_write(folder / RECORD, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    if progress:
        progress(f"stored {folder / ASR_ASSET} (sha256 {sha})")
    return Asset(model_id, folder / ASR_ASSET, sha, f"fetched from {origin}")


__all__ = [
    "P2G_ASSET",
    "P2G_ID",
    "P2G_SHA256",
    "PUBLISHED_SHA256",
    "VERSIONS",
    "Asset",
    "FetchError",
    "asset_dir",
    "cache_root",
    "fetch",
    "fetched_asset",
    "find_model_asset",
    "installed_asset",
    "installed_p2g_asset",
    "missing_asset_message",
    "pip_download",
    "read_wheel",
    "sha256_file",
    "validate_asset",
]
