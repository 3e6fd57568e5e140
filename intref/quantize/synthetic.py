"""Synthetic calibration audio: speech-like signals made from nothing but a random seed (no speech data).

Each clip is a sequence of segments, as a crude source-filter model of speech:

- voiced segments (vowels, 80-300 ms): a harmonic source at a smoothly varying pitch (f0 80-260 Hz, with jitter
  and a declining intonation) shaped by four formant resonances (F1 250-900 Hz, F2 800-2600, F3 2200-3300,
  F4 3300-4200) that glide from one random vowel target to the next, with a spectral tilt of -12 dB/octave;
- nasals (low F1, weak upper formants), unvoiced fricatives (noise in a random band between 1.5 and 8 kHz),
  plosives (silence, then a 10-30 ms broadband burst) and pauses (100-400 ms);
- syllable-rate amplitude modulation, 10 ms ramps at every boundary, a background noise floor 25-45 dB below
  the speech, and a clip level between -32 and -14 dBFS.

A few clips instead carry tones, chirps or noise only, so that the calibrated ranges also cover non-speech input.
Everything is drawn from ``numpy.random.default_rng(seed)`` (PCG64, the same stream on every platform).
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
VOWELS = (  # (F1, F2, F3) targets, Hz: a rough spread over the vowel space
    (730, 1090, 2440),
    (270, 2290, 3010),
    (300, 870, 2240),
    (530, 1840, 2480),
    (660, 1720, 2410),
    (570, 840, 2410),
    (440, 1020, 2240),
    (490, 1350, 1690),
    (390, 1990, 2550),
    (640, 1190, 2390),
)


def _ramp(n: int, sr: int = SAMPLE_RATE, ms: float = 10.0) -> np.ndarray:
    """A window of length n with raised-cosine ramps of ``ms`` at both ends."""
    r = min(n // 2, int(sr * ms / 1000))
    w = np.ones(n)
    if r > 0:
        edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(r) / r)
        w[:r], w[n - r :] = edge, edge[::-1]
    return w


def _envelope(freqs: np.ndarray, formants, bandwidths) -> np.ndarray:
    """Spectral envelope at ``freqs``: a sum of resonance peaks and a -12 dB/octave tilt above 300 Hz."""
    env = np.zeros_like(freqs, dtype=np.float64)
    for f, b in zip(formants, bandwidths, strict=True):
        env += 1.0 / (1.0 + ((freqs - f) / b) ** 2)
    tilt = 1.0 / (1.0 + (freqs / 300.0) ** 2)
    return env * np.sqrt(tilt) * 3.0


def _voiced(rng: np.random.Generator, n: int, f0: float, nasal: bool) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    glide = np.linspace(0.0, 1.0, n)
    start, end = (np.array(VOWELS[i], dtype=np.float64) for i in rng.integers(0, len(VOWELS), 2))
    jitter = 1.0 + 0.01 * np.cumsum(rng.normal(0, 1, n)) / np.sqrt(np.arange(1, n + 1))
    pitch = f0 * (1.0 + rng.uniform(-0.15, 0.1) * glide) * jitter
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    out = np.zeros(n)
    harmonics = int(7600 // (f0 * 0.85))
    for h in range(1, harmonics + 1):
        freq = h * pitch
        formants = []
        for k in range(3):
            formants.append(start[k] + (end[k] - start[k]) * glide)
        if nasal:
            formants = [np.full(n, 250.0), formants[1] * 0.8, formants[2]]
        formants.append(np.full(n, 3700.0))
        bands = (80.0, 110.0, 160.0, 220.0)
        amp = _envelope(freq, formants, bands) * (freq < 7800)
        if nasal:
            amp = amp * np.where(freq > 500, 0.25, 1.0)
        out += amp * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
    del t
    return out


def _noise_band(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    spec = np.fft.rfft(rng.normal(0, 1, n))
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    shape = np.exp(-0.5 * (np.maximum(lo - f, 0) / 300) ** 2) * np.exp(-0.5 * (np.maximum(f - hi, 0) / 500) ** 2)
    return np.fft.irfft(spec * shape, n)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0


def speech_like(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """One speech-like clip of about ``seconds`` (float32, 16 kHz)."""
    total = int(seconds * SAMPLE_RATE)
    f0 = rng.uniform(80, 260)
    parts = []
    length = 0
    while length < total:
        kind = rng.choice(["vowel", "vowel", "vowel", "nasal", "fricative", "plosive", "pause"])
        if kind in ("vowel", "nasal"):
            n = int(rng.uniform(0.08, 0.3) * SAMPLE_RATE)
            seg = _voiced(rng, n, f0 * rng.uniform(0.9, 1.1), kind == "nasal")
            seg *= 10 ** (rng.uniform(-8, 0) / 20)
        elif kind == "fricative":
            n = int(rng.uniform(0.05, 0.2) * SAMPLE_RATE)
            lo = rng.uniform(1500, 4500)
            seg = _noise_band(rng, n, lo, rng.uniform(lo + 1500, 8000))
            seg *= 10 ** (rng.uniform(-20, -6) / 20) / max(_rms(seg), 1e-12) * 0.3
        elif kind == "plosive":
            gap = int(rng.uniform(0.03, 0.08) * SAMPLE_RATE)
            burst = int(rng.uniform(0.01, 0.03) * SAMPLE_RATE)
            b = _noise_band(rng, burst, 300, 7000) * np.exp(-np.arange(burst) / (0.3 * burst))
            seg = np.concatenate([np.zeros(gap), b / max(_rms(b), 1e-12) * 0.2])
            n = seg.size
        else:
            n = int(rng.uniform(0.1, 0.4) * SAMPLE_RATE)
            seg = np.zeros(n)
        parts.append(seg * _ramp(n))
        length += n
    x = np.concatenate(parts)[:total]
    syllables = 1.0 + 0.3 * np.sin(2 * np.pi * rng.uniform(3, 6) * np.arange(total) / SAMPLE_RATE)
    x = x * syllables
    level = 10 ** (rng.uniform(-32, -14) / 20)
    x = x / max(_rms(x), 1e-12) * level
    floor = _noise_band(rng, total, 0, 8000)
    x += floor / max(_rms(floor), 1e-12) * level * 10 ** (-rng.uniform(25, 45) / 20)
    return np.clip(x, -1, 1).astype(np.float32)


def non_speech(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Tones, a chirp or noise at a random level."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    kind = rng.choice(["tones", "chirp", "noise"])
    if kind == "tones":
        x = sum(np.sin(2 * np.pi * rng.uniform(100, 4000) * t + rng.uniform(0, 6.3)) for _ in range(3))
    elif kind == "chirp":
        f_lo, f_hi = rng.uniform(100, 500), rng.uniform(2000, 7500)
        x = np.sin(2 * np.pi * (f_lo * t + (f_hi - f_lo) * t * t / (2 * seconds)))
    else:
        x = _noise_band(rng, n, 0, 8000)
    x = np.asarray(x, dtype=np.float64)
    x = x / max(_rms(x), 1e-12) * 10 ** (rng.uniform(-40, -20) / 20)
    return (x * _ramp(n, ms=20)).astype(np.float32)


def synthetic_clips(count: int = 16, seed: int = 0, seconds: tuple[float, float] = (3.0, 6.0)) -> list[np.ndarray]:
    """``count`` clips (float32, 16 kHz): speech-like, with every eighth one non-speech."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        length = float(rng.uniform(*seconds))
        out.append(non_speech(rng, length) if i % 8 == 7 else speech_like(rng, length))
    return out


__all__ = ["SAMPLE_RATE", "non_speech", "speech_like", "synthetic_clips"]
