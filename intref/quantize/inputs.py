"""Calibration inputs: real audio (a manifest or a directory) or synthetic audio, turned into model inputs.

``features`` maps a 16 kHz float32 waveform to the float graph's input (for the hama models: the log-mel,
time-major). Real clips are chosen deterministically: ``clips`` keeps the entries whose path contains one of the
given substrings; then, if more than ``count`` remain, ``count`` of them evenly spaced in manifest (or sorted path)
order: entries ``floor(i * n / count)`` for i = 0 .. count - 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..evaluate.manifest import RAW_FORMAT, read_manifest
from ..frontend.audio import RAW_SUFFIXES, load_waveform
from .synthetic import synthetic_clips

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", *RAW_SUFFIXES)
Features = Callable[[np.ndarray], np.ndarray]


@dataclass
class CalibrationSet:
    inputs: list[np.ndarray]
    info: dict = field(default_factory=dict)  # recorded in the recipe: kind, clips or seed


def spaced(items: Sequence, count: int) -> list:
    """``count`` items evenly spaced over ``items`` (all of them when there are not more)."""
    n = len(items)
    if count <= 0 or n <= count:
        return list(items)
    return [items[(i * n) // count] for i in range(count)]


def audio_files(path: Path) -> list[tuple[str, Path]]:
    """(name, file) of the clips a manifest lists, or of the audio files below a directory (sorted)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
        return [(p.relative_to(path).as_posix(), p) for p in files]
    if path.is_file():
        manifest = read_manifest(path)
        return [(e.path, manifest.audio_path(e)) for e in manifest]
    raise FileNotFoundError(f"{path}: no such calibration manifest or directory")


def real_waveforms(
    path: str | Path,
    *,
    count: int = 8,
    clips: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> list[tuple[str, np.ndarray]]:
    """(name, 16 kHz waveform) of the calibration clips chosen from a manifest or a directory (module docstring)."""
    entries = audio_files(Path(path))
    if clips:
        entries = [e for e in entries if any(s in e[0] for s in clips)]
    entries = spaced(entries, count)
    if not entries:
        raise ValueError(f"{path}: no calibration audio selected")
    out = []
    for i, (name, file) in enumerate(entries):
        if progress:
            progress(f"calibration audio {i + 1}/{len(entries)}: {name}")
        raw = RAW_FORMAT if file.suffix.lower() in RAW_SUFFIXES else None
        out.append((name, load_waveform(file, raw)))
    return out


def real_set(
    path: str | Path,
    features: Features,
    *,
    count: int = 8,
    clips: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> CalibrationSet:
    chosen = real_waveforms(path, count=count, clips=clips, progress=progress)
    inputs = [x for x in (features(wav) for _, wav in chosen) if x.shape[0]]
    return CalibrationSet(inputs, {"kind": "real", "source": str(path), "clips": [n for n, _ in chosen]})


def synthetic_set(
    features: Features, *, count: int = 16, seed: int = 0, progress: Callable[[str], None] | None = None
) -> CalibrationSet:
    if progress:
        progress(f"synthesising {count} calibration clips (seed {seed})")
    inputs = [features(w) for w in synthetic_clips(count, seed)]
    return CalibrationSet(inputs, {"kind": "synthetic", "count": count, "seed": seed})


__all__ = ["AUDIO_SUFFIXES", "CalibrationSet", "audio_files", "real_set", "real_waveforms", "spaced", "synthetic_set"]
