"""The integer keyword-spotting front end against TensorFlow Lite Micro running the micro_speech example's
``audio_preprocessor_int8.tflite`` frame by frame (its Signal ops): every feature of every frame, on the shared
keyword clips and on synthetic edge signals (silence, impulses, saturation, INT16_MIN runs, noise at every level).
The integer helpers are checked against Python integers without any data."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from intref.errors import IntrefInputError
from intref.frontend import micro_features as mf

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("INTREF_DATA", REPO.parent / "shared" / "data"))
PREPROCESSOR = DATA / "tflite" / "micro_speech" / "audio_preprocessor_int8.tflite"


@given(st.integers(0, 2**64 - 1))
def test_bit_length_matches_python(v):
    assert int(mf.bit_length(np.array([v], dtype=np.uint64))[0]) == v.bit_length()


@given(st.integers(0, 2**64 - 1))
def test_rounded_square_root_matches_its_definition(v):
    bits = 32 if v >> 32 == 0 else 64
    r = mf._isqrt_rounded(v, bits)
    floor = math.isqrt(v)
    assert r in (floor, floor + 1)
    assert (r == floor + 1) == (v - floor * floor > floor and floor != (1 << (bits // 2)) - 1)


def test_kiss_fft_is_the_dft_within_its_rounding():
    """The fixed-point FFT divides by the length; it stays within a few units of the exact DFT / n."""
    rng = np.random.default_rng(0)
    n = 256
    phase = -2 * np.pi * np.arange(n) / n
    tw = (np.floor(0.5 + 32767 * np.cos(phase)), np.floor(0.5 + 32767 * np.sin(phase)))
    re, im = rng.integers(-8000, 8000, size=(3, n)), rng.integers(-8000, 8000, size=(3, n))
    zr, zi = mf._kf_work(re, im, 0, 1, mf._factors(n), tw)
    exact = np.fft.fft(re + 1j * im, axis=1) / n
    assert np.abs(zr - exact.real).max() <= 4 and np.abs(zi - exact.imag).max() <= 4


@pytest.fixture(scope="module")
def preprocessor():
    if not PREPROCESSOR.is_file():
        pytest.skip(f"shared data not found: {PREPROCESSOR} (set INTREF_DATA)")
    return PREPROCESSOR.read_bytes(), mf.load_micro_params(PREPROCESSOR)


def _tflm_features(model: bytes, audio: np.ndarray) -> np.ndarray:
    runtime = pytest.importorskip(
        "tflite_micro.python.tflite_micro.runtime", reason="tflite-micro is not installed (Linux x86-64 wheels only)"
    )
    ip = runtime.Interpreter.from_bytes(model)  # a new interpreter: the noise estimate starts at 0
    frames = []
    for start in range(0, audio.size - mf.FRAME + 1, mf.STRIDE):
        ip.set_input(audio[start : start + mf.FRAME].reshape(1, mf.FRAME), 0)
        ip.invoke()
        frames.append(np.array(ip.get_output(0)))
    return np.stack(frames)


def _clips() -> list[Path]:
    return sorted((DATA / "tflite" / "micro_speech").glob("*.wav")) + sorted((DATA / "speech_commands").glob("*.wav"))


@pytest.mark.parametrize("clip", [p.name for p in _clips()] or ["(no shared data)"])
def test_keyword_clips_match_tflite_micro(preprocessor, clip):
    import soundfile as sf

    path = next((p for p in _clips() if p.name == clip), None)
    if path is None:
        pytest.skip("shared data not found")
    audio, rate = sf.read(path, dtype="int16")
    assert rate == 16000
    model, params = preprocessor
    want = _tflm_features(model, audio)
    got = mf.micro_features(audio, params)
    assert got.dtype == np.int8 and got.shape == want.shape
    assert np.array_equal(got, want), f"{int((got != want).sum())} of {want.size} features differ"


def _synthetic() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(12)
    t = np.arange(16000)
    out = {
        "silence": np.zeros(16000),
        "impulse": np.where(t % 4000 == 17, 32767, 0),
        "square_full_scale": np.where((t // 20) % 2, 32767, -32768),
        "sine_full_scale": np.round(32767 * np.sin(2 * np.pi * 440 * t / 16000)),
        "int16_min_runs": np.where((t // 500) % 3 == 0, -32768, rng.integers(-300, 300, t.size)),
        "dc_then_silence": np.where(t < 8000, 12000, 0),
    }
    for level in (1, 30, 1000, 12000, 32767):
        out[f"noise_{level}"] = rng.integers(-level, level + 1, t.size)
    chirp = np.sin(2 * np.pi * (100 + 3900 * t / 16000) * t / 16000)
    out["chirp_rising_level"] = np.round(chirp * np.linspace(10, 30000, t.size))
    return {k: np.clip(v, -32768, 32767).astype(np.int16) for k, v in out.items()}


@pytest.mark.parametrize("signal", sorted(_synthetic()))
def test_synthetic_edge_signals_match_tflite_micro(preprocessor, signal):
    audio = _synthetic()[signal]
    model, params = preprocessor
    want = _tflm_features(model, audio)
    got = mf.micro_features(audio, params)
    assert np.array_equal(got, want), f"{int((got != want).sum())} of {want.size} features differ"


def test_stream_carries_the_noise_estimate(preprocessor):
    _, params = preprocessor
    audio = _synthetic()["noise_1000"]
    whole = mf.micro_features(audio, params)
    stream = mf.MicroFrontend(params)
    frames = [stream.frame(audio[i * mf.STRIDE : i * mf.STRIDE + mf.FRAME]) for i in range(whole.shape[0])]
    assert np.array_equal(np.stack(frames), whole)
    stream.reset()
    assert np.array_equal(stream.frame(audio[: mf.FRAME]), whole[0])


def test_bad_audio_is_refused(preprocessor):
    _, params = preprocessor
    with pytest.raises(IntrefInputError, match="int16"):
        mf.micro_features(np.zeros(16000, dtype=np.float32), params)
    with pytest.raises(IntrefInputError, match="shorter than one"):
        mf.micro_features(np.zeros(100, dtype=np.int16), params)
    with pytest.raises(IntrefInputError, match="480 samples"):
        mf.MicroFrontend(params).frame(np.zeros(400, dtype=np.int16))


def test_a_model_that_is_not_the_preprocessor_is_refused(tmp_path):
    from intref.models.tflite import TfliteFormatError

    micro = DATA / "tflite" / "micro_speech" / "micro_speech_quantized.tflite"
    if not micro.is_file():
        pytest.skip(f"shared data not found: {micro}")
    with pytest.raises(TfliteFormatError, match="not a micro_speech audio preprocessor"):
        mf.load_micro_params(micro)
