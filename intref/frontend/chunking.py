"""Long audio: split into overlapping windows of at most 30 s and merge frame-level outputs.

The acoustic models see at most 30 s (3000 log-mel frames) and emit one frame per 320 samples (hop 160, stride 2).
Window starts are multiples of 320 samples, so every window's frame grid lies on the global one: local frame j of
a window starting at sample s is global frame s / 320 + j. Where two windows overlap, the merged output switches
from one to the next at the middle of the overlap, so each kept frame is at least half an overlap (1 s by default)
away from the window edges, where the reflect padding and the missing context change the output.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .logmel import HOP, MAX_FRAMES, SAMPLE_RATE

FRAME_SAMPLES = 2 * HOP  # one output frame per 320 samples
WINDOW_SAMPLES = 28 * SAMPLE_RATE
OVERLAP_SAMPLES = 2 * SAMPLE_RATE
# The longest input the models take whole: N // 160 + 1 <= 3000.
MAX_SINGLE_SAMPLES = MAX_FRAMES * HOP - 1


def output_frames(n_samples: int) -> int:
    """Output frames for an uncapped input of `n_samples` (0 when too short for the front end)."""
    return 0 if n_samples <= 200 else (n_samples // HOP) // 2 + 1


def plan_windows(n_samples: int, window: int = WINDOW_SAMPLES, overlap: int = OVERLAP_SAMPLES) -> list[tuple[int, int]]:
    """Sample ranges [start, end) covering [0, n_samples): one range when it fits in 30 s, otherwise windows of
    `window` samples every `window - overlap`, the last one aligned to the end (so it is full length too)."""
    if window % FRAME_SAMPLES or overlap % FRAME_SAMPLES:
        raise ValueError(f"window and overlap must be multiples of {FRAME_SAMPLES} samples")
    if not 0 < overlap < window <= MAX_SINGLE_SAMPLES:
        raise ValueError(f"need 0 < overlap < window <= {MAX_SINGLE_SAMPLES} samples, got {overlap}, {window}")
    if n_samples <= MAX_SINGLE_SAMPLES:
        return [(0, n_samples)]
    hop = window - overlap
    starts = list(range(0, n_samples - window, hop))
    # The last window ends at the end; rounding its start up to the frame grid keeps it <= window long, and it
    # overlaps the one before by at least `overlap` because that one is the last to end before the clip does.
    starts.append(-(-(n_samples - window) // FRAME_SAMPLES) * FRAME_SAMPLES)
    return [(s, min(s + window, n_samples)) for s in starts]


def merge_window_outputs(windows: list[tuple[int, int]], outputs: list[np.ndarray], n_samples: int) -> np.ndarray:
    """Join per-window frame outputs [T_k, ...] into one [T, ...], cutting each overlap in its middle."""
    if len(windows) != len(outputs) or not windows:
        raise ValueError("need one output per window, and at least one window")
    total = output_frames(n_samples)
    first = [s // FRAME_SAMPLES for s, _ in windows]
    # Global frame where window k hands over to window k + 1: the middle of their overlap.
    cuts = [((s1 + e0) // 2) // FRAME_SAMPLES for (_, e0), (s1, _) in zip(windows[:-1], windows[1:], strict=True)]
    bounds = [0, *cuts, total]
    parts = []
    for k, out in enumerate(outputs):
        lo, hi = bounds[k] - first[k], bounds[k + 1] - first[k]
        if lo < 0 or hi > out.shape[0]:
            raise ValueError(f"window {k} gives {out.shape[0]} frames, frames [{lo}, {hi}) are needed")
        parts.append(out[lo:hi])
    return np.concatenate(parts, axis=0)


def chunked(wav: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], **plan) -> np.ndarray:
    """Apply `fn` (waveform -> frame outputs [T, ...]) to a clip of any length; whole when it fits in 30 s."""
    wav = np.asarray(wav)
    windows = plan_windows(wav.shape[0], **plan)
    if len(windows) == 1:
        return fn(wav)
    return merge_window_outputs(windows, [fn(wav[s:e]) for s, e in windows], wav.shape[0])


__all__ = [
    "FRAME_SAMPLES",
    "MAX_SINGLE_SAMPLES",
    "OVERLAP_SAMPLES",
    "WINDOW_SAMPLES",
    "chunked",
    "merge_window_outputs",
    "output_frames",
    "plan_windows",
]
