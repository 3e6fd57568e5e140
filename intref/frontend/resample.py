"""Resampling mono float32 audio to the models' 16 kHz.

- "soxr" (default): band-limited, libsoxr's very-high-quality polyphase filter (python-soxr). Linear interpolation
  folds everything above 8 kHz back into the speech band when downsampling 44.1 / 22.05 kHz audio.
- "linear": the hama package's own resampler, for measuring what band limiting changes. Both ends of the clip are
  pinned (sample 0 to sample 0, last to last) over the duration (N - 1) / src_rate, and the output has
  round((N - 1) / src_rate * dst_rate) + 1 samples (Python's round, halves to even), each interpolated linearly
  at its time in float64.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

ResampleMethod = Literal["soxr", "linear"]
METHODS: tuple[str, ...] = ("soxr", "linear")


def resample(x: np.ndarray, src_rate: int, dst_rate: int = 16000, method: ResampleMethod = "soxr") -> np.ndarray:
    """Resample mono `x` from `src_rate` to `dst_rate`; identity (as float32) when the rates are equal."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"resample expects mono [N] audio, got shape {x.shape}")
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    if method not in METHODS:
        raise ValueError(f"unknown resampling method {method!r} (known: {', '.join(METHODS)})")
    if src_rate == dst_rate or x.size == 0:
        return x
    if method == "linear":
        return resample_linear(x, src_rate, dst_rate)
    return resample_soxr(x, src_rate, dst_rate)


def resample_linear(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """hama's end-pinned linear interpolation (see the module docstring)."""
    n = x.shape[0]
    duration = (n - 1) / float(src_rate)
    n_out = max(1, round(duration * dst_rate) + 1)
    t_src = np.linspace(0.0, duration, num=n, dtype=np.float64)
    t_dst = np.linspace(0.0, duration, num=n_out, dtype=np.float64)
    return np.interp(t_dst, t_src, x).astype(np.float32)


def resample_soxr(x: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    try:
        import soxr
    except ImportError as exc:  # optional at import time so the rest of the front end works without it
        raise ImportError("band-limited resampling needs the 'soxr' package (pip install soxr)") from exc
    return soxr.resample(x, src_rate, dst_rate, quality="VHQ").astype(np.float32, copy=False)


__all__ = ["METHODS", "ResampleMethod", "resample", "resample_linear", "resample_soxr"]
