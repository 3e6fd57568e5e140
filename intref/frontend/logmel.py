"""Float32 log-mel front end of the hama acoustic models: 16 kHz waveform [N] -> log-mel [80, t].

Reflect pad 200, a 400-tap / 160-hop STFT as a convolution with the model's stored kernels, power, mel filter bank,
log with a 1e-10 floor, then a float16 round trip. With `exact_order` (default) every sum is accumulated one term at
a time in float32 in the runtime's order (taps k = 0..399, then FFT bins 0..200): this decides which of the few values
near a float16 rounding boundary round up or down, and the rounding step magnifies such differences ~20x downstream.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
HOP = 160
WIN = 400
PAD = 200
N_FFT_BINS = 201
N_MELS = 80
MAX_FRAMES = 3000  # 30.0 s: the runtime drops frames beyond this
LOG_FLOOR = np.float32(1e-10)
# The runtime reads out of bounds for shorter input; here it gives zero frames.
MIN_SAMPLES = PAD + 1


def num_frames(n_samples: int, max_frames: int | None = MAX_FRAMES) -> int:
    """Log-mel frames for `n_samples` samples: N // 160 + 1, capped; 0 when N <= 200 (too short to reflect-pad)."""
    if n_samples < MIN_SAMPLES:
        return 0
    t = n_samples // HOP + 1
    return t if max_frames is None else min(t, max_frames)


@dataclass(frozen=True)
class LogMelFrontEnd:
    """The stored constants: STFT kernels [201, 400] (Hann x cos, Hann x -sin) and the mel bank [201, 80]."""

    stft_real: np.ndarray
    stft_imag: np.ndarray
    mel_fb: np.ndarray

    def __post_init__(self) -> None:
        for name, shape in (
            ("stft_real", (N_FFT_BINS, WIN)),
            ("stft_imag", (N_FFT_BINS, WIN)),
            ("mel_fb", (N_FFT_BINS, N_MELS)),
        ):
            arr = np.asarray(getattr(self, name), dtype=np.float32)
            if arr.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
            object.__setattr__(self, name, arr)

    def __call__(self, wav: np.ndarray, *, exact_order: bool = True, max_frames: int | None = MAX_FRAMES) -> np.ndarray:
        return log_mel(wav, self, exact_order=exact_order, max_frames=max_frames)


def frame_signal(wav: np.ndarray, n_frames: int) -> np.ndarray:
    """Reflect-pad by 200 (edge sample not repeated) and cut into `n_frames` frames [t, 400] (a strided view)."""
    x = np.pad(np.asarray(wav, dtype=np.float32), PAD, mode="reflect")
    return np.lib.stride_tricks.as_strided(
        x, shape=(n_frames, WIN), strides=(HOP * x.itemsize, x.itemsize), writeable=False
    )


def _sequential_matmul_numpy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a [m, K] @ b [K, n], accumulating over K one rounded float32 product at a time (no FMA, no reordering)."""
    acc = np.zeros((a.shape[0], b.shape[1]), dtype=np.float32)
    prod = np.empty_like(acc)
    for k in range(a.shape[1]):
        np.multiply(a[:, k : k + 1], b[k], out=prod)
        acc += prod
    return acc


@functools.cache
def _sequential_matmul_kernel():
    """The same sums compiled by numba (None without numba): one pass per output row instead of K passes over
    the whole output. Without fastmath, LLVM neither fuses a multiply into an add nor reorders the sums, so
    every product and every partial sum is rounded to float32 exactly as in the NumPy loop."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; the NumPy loop stays correct without it
        return None

    @numba.njit(cache=True, nogil=True)
    def kernel(a, b):  # pragma: no cover - compiled
        m, depth = a.shape
        n = b.shape[1]
        acc = np.zeros((m, n), dtype=np.float32)
        # Four rows at a time, so that each row of b is loaded once for four outputs.
        full = m - m % 4
        for i in range(0, full, 4):
            r0, r1, r2, r3 = acc[i], acc[i + 1], acc[i + 2], acc[i + 3]
            for k in range(depth):
                x0, x1, x2, x3 = a[i, k], a[i + 1, k], a[i + 2, k], a[i + 3, k]
                for j in range(n):
                    w = b[k, j]
                    r0[j] += x0 * w
                    r1[j] += x1 * w
                    r2[j] += x2 * w
                    r3[j] += x3 * w
        for i in range(full, m):
            row = acc[i]
            for k in range(depth):
                x = a[i, k]
                for j in range(n):
                    row[j] += x * b[k, j]
        return acc

    return kernel


def _sequential_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a [m, K] @ b [K, n] in float32, summed over k = 0..K-1 in order (see :func:`_sequential_matmul_numpy`)."""
    kernel = _sequential_matmul_kernel()
    if kernel is None:
        return _sequential_matmul_numpy(a, b)
    a = np.ascontiguousarray(a, dtype=np.float32)
    b = np.ascontiguousarray(b, dtype=np.float32)
    return kernel(a, b)


def log_mel(
    wav: np.ndarray, fe: LogMelFrontEnd, *, exact_order: bool = True, max_frames: int | None = MAX_FRAMES
) -> np.ndarray:
    """Log-mel [80, t] of a mono float32 16 kHz waveform in [-1, 1]; [80, 0] for N <= 200 samples."""
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim != 1:
        raise ValueError(f"waveform must be mono [N], got shape {wav.shape}")
    t = num_frames(wav.shape[0], max_frames)
    if t == 0:
        return np.zeros((N_MELS, 0), dtype=np.float32)
    frames = frame_signal(wav, t)
    matmul = _sequential_matmul if exact_order else np.matmul
    re = matmul(frames, fe.stft_real.T)
    im = matmul(frames, fe.stft_imag.T)
    power = re * re + im * im
    mel = matmul(power, fe.mel_fb)
    # log in float64 rounds correctly to float32; the runtime's logf differs by an ulp at most, which almost never
    # reaches a float16 boundary.
    logmel = np.log(np.maximum(mel, LOG_FLOOR).astype(np.float64)).astype(np.float32)
    logmel = logmel.astype(np.float16).astype(np.float32)  # the model was exported with a float16 log-mel
    return np.ascontiguousarray(logmel.T)


__all__ = ["HOP", "MAX_FRAMES", "MIN_SAMPLES", "N_MELS", "SAMPLE_RATE", "LogMelFrontEnd", "log_mel", "num_frames"]
