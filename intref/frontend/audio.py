"""Audio in: files through soundfile (wav, flac, ogg, ... and headerless PCM with an explicit format), mono mixdown,
resampling to 16 kHz and clipping to [-1, 1].
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .resample import ResampleMethod, resample

TARGET_RATE = 16000
RAW_SUFFIXES = (".raw", ".pcm")
# Raw sample encodings: name -> (soundfile subtype, endianness, bytes per sample).
RAW_DTYPES: dict[str, tuple[str, str, int]] = {
    "s8": ("PCM_S8", "FILE", 1),
    "u8": ("PCM_U8", "FILE", 1),
    "s16le": ("PCM_16", "LITTLE", 2),
    "s16be": ("PCM_16", "BIG", 2),
    "s24le": ("PCM_24", "LITTLE", 3),
    "s24be": ("PCM_24", "BIG", 3),
    "s32le": ("PCM_32", "LITTLE", 4),
    "s32be": ("PCM_32", "BIG", 4),
    "f32le": ("FLOAT", "LITTLE", 4),
    "f32be": ("FLOAT", "BIG", 4),
    "f64le": ("DOUBLE", "LITTLE", 8),
    "f64be": ("DOUBLE", "BIG", 8),
}


class AudioError(ValueError):
    """Audio that cannot be read or used; the message names the file and the cause."""


@dataclass(frozen=True)
class RawFormat:
    """How to read headerless PCM: sample rate, sample encoding (a key of RAW_DTYPES) and channel count."""

    sample_rate: int
    dtype: str = "s16le"
    channels: int = 1

    def __post_init__(self) -> None:
        if self.dtype not in RAW_DTYPES:
            raise ValueError(f"unknown raw sample type {self.dtype!r} (known: {', '.join(RAW_DTYPES)})")
        if self.sample_rate <= 0 or self.channels <= 0:
            raise ValueError(f"raw format needs a positive rate and channel count, got {self}")


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # float32 [n, channels], full scale = 1
    sample_rate: int
    source: str = "<array>"

    @property
    def duration(self) -> float:
        return self.samples.shape[0] / self.sample_rate


def read_audio(path: str | os.PathLike, raw: RawFormat | None = None) -> Audio:
    """Read a sound file (any container libsndfile knows) or, with `raw`, headerless PCM, as float32 [n, channels]."""
    p = Path(path)
    if raw is None and p.suffix.lower() in RAW_SUFFIXES:
        raise AudioError(f"{p}: headerless PCM needs an explicit RawFormat (sample rate, sample type, channels)")
    try:
        if raw is not None:
            subtype, endian, width = RAW_DTYPES[raw.dtype]
            size = p.stat().st_size
            if size % (width * raw.channels):
                raise AudioError(f"{p}: {size} bytes is not a whole number of {raw.dtype} x {raw.channels} frames")
            data, rate = sf.read(
                p, dtype="float32", always_2d=True, format="RAW", subtype=subtype, endian=endian,
                samplerate=raw.sample_rate, channels=raw.channels,
            )  # fmt: skip
        else:
            data, rate = sf.read(p, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError, TypeError) as exc:
        raise AudioError(f"{p}: cannot read audio: {exc}") from exc
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{p}: audio contains NaN or infinite samples")
    return Audio(np.ascontiguousarray(data, dtype=np.float32), int(rate), str(p))


def to_mono(samples: np.ndarray) -> np.ndarray:
    """[n] or [n, channels] -> float32 [n]; integer input is scaled by max(|min|, max) of its type, as hama does."""
    arr = np.asarray(samples)
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        arr = arr.astype(np.float32) / np.float32(max(-int(info.min), int(info.max)))
    arr = arr.astype(np.float32, copy=False)
    if arr.ndim == 2:
        arr = arr.mean(axis=1, dtype=np.float32)
    if arr.ndim != 1:
        raise ValueError(f"audio must be [n] or [n, channels], got shape {arr.shape}")
    return arr


def prepare_waveform(
    samples: np.ndarray, sample_rate: int, *, method: ResampleMethod = "soxr", target_rate: int = TARGET_RATE
) -> np.ndarray:
    """The models' input: mono float32 at 16 kHz in [-1, 1].

    Clipped before resampling (as hama does: linear interpolation then stays in range) and after (a band-limited
    filter can overshoot full scale).
    """
    mono = np.clip(to_mono(samples), -1.0, 1.0)
    out = resample(mono, int(sample_rate), target_rate, method)
    return np.clip(out, -1.0, 1.0)


def load_waveform(
    path: str | os.PathLike, raw: RawFormat | None = None, *, method: ResampleMethod = "soxr"
) -> np.ndarray:
    """Read a file and prepare it for the models (mono, 16 kHz, [-1, 1])."""
    audio = read_audio(path, raw)
    return prepare_waveform(audio.samples, audio.sample_rate, method=method)


__all__ = [
    "RAW_DTYPES",
    "TARGET_RATE",
    "Audio",
    "AudioError",
    "RawFormat",
    "load_waveform",
    "prepare_waveform",
    "read_audio",
    "to_mono",
]
