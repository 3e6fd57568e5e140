"""Front end: audio reading (formats present in the shared data, raw PCM, errors), mixdown, resampling, log-mel,
long-clip windows."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from intref.frontend import AudioError, RawFormat, load_waveform, log_mel, prepare_waveform, read_audio, resample
from intref.frontend.chunking import (
    FRAME_SAMPLES,
    MAX_SINGLE_SAMPLES,
    chunked,
    merge_window_outputs,
    output_frames,
    plan_windows,
)
from intref.frontend.logmel import MAX_FRAMES, LogMelFrontEnd, frame_signal, num_frames
from intref.frontend.resample import resample_linear

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("INTREF_DATA", REPO.parent / "shared" / "data"))
SPEECH = DATA / "speech"


def shared(rel: str) -> Path:
    path = SPEECH / rel
    if not path.is_file():
        pytest.skip(f"shared data not found: {path} (set INTREF_DATA)")
    return path


def hama_asr():
    """hama's own Python helpers, as an oracle (this imports its native library)."""
    return pytest.importorskip("hama.asr", reason="hama is not installed")


@pytest.fixture(scope="module")
def synthetic_fe() -> LogMelFrontEnd:
    rng = np.random.default_rng(3)
    k = np.arange(400)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * k / 400)
    f = np.arange(201)[:, None]
    real = (window * np.cos(2 * np.pi * f * k / 400)).astype(np.float32)
    imag = (-window * np.sin(2 * np.pi * f * k / 400)).astype(np.float32)
    mel = np.abs(rng.standard_normal((201, 80))).astype(np.float32) * 1e-3
    return LogMelFrontEnd(real, imag, mel)


# --- audio in --------------------------------------------------------------------------------------------------


def test_reads_wav_like_hama():
    path = shared("LJ050-0131.wav")  # 22.05 kHz 16-bit
    audio = read_audio(path)
    assert audio.sample_rate == 22050 and audio.samples.shape[1] == 1 and audio.samples.dtype == np.float32
    ref, rate = hama_asr().read_wav_mono(path)
    np.testing.assert_array_equal(prepare_waveform(audio.samples, rate, target_rate=rate), ref)
    ours = load_waveform(path, method="linear")
    np.testing.assert_array_equal(ours, hama_asr()._resample_linear(ref, rate, 16000))


def test_reads_stereo_24bit_flac_and_mixes_down():
    audio = read_audio(shared("jfk.flac"))
    assert audio.sample_rate == 44100 and audio.samples.shape[1] == 2
    wav = load_waveform(shared("jfk.flac"))
    assert wav.ndim == 1 and wav.dtype == np.float32
    assert abs(len(wav) - round(audio.samples.shape[0] * 16000 / 44100)) <= 1
    assert np.abs(wav).max() <= 1.0


def test_reads_raw_pcm_with_explicit_format():
    path = shared("pocketsphinx/goforward.raw")
    audio = read_audio(path, RawFormat(16000, "s16le", 1))
    expected = np.frombuffer(path.read_bytes(), dtype="<i2").astype(np.float32) / 32768
    np.testing.assert_array_equal(audio.samples[:, 0], expected)
    with pytest.raises(AudioError, match="goforward.raw: headerless PCM needs an explicit RawFormat"):
        read_audio(path)


@pytest.mark.parametrize("dtype", ["s8", "u8", "s16le", "s16be", "s24le", "s32be", "f32le", "f64be"])
def test_raw_pcm_encodings(tmp_path, dtype):
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.9, 0.9, (100, 2)).astype(np.float32)
    subtype = {"s8": "PCM_S8", "u8": "PCM_U8", "s16le": "PCM_16", "s16be": "PCM_16", "s24le": "PCM_24",
               "s32be": "PCM_32", "f32le": "FLOAT", "f64be": "DOUBLE"}[dtype]  # fmt: skip
    endian = "BIG" if dtype.endswith("be") else "LITTLE" if dtype.endswith("le") else "FILE"
    path = tmp_path / "x.pcm"
    sf.write(path, x, 8000, format="RAW", subtype=subtype, endian=endian)
    audio = read_audio(path, RawFormat(8000, dtype, 2))
    assert audio.samples.shape == (100, 2) and audio.sample_rate == 8000
    np.testing.assert_allclose(audio.samples, x, atol=1 / 100)


def test_ogg_and_8bit_wav(tmp_path):
    x = (0.5 * np.sin(np.arange(8000) * 0.05)).astype(np.float32)
    if "OGG" in sf.available_formats():
        sf.write(tmp_path / "a.ogg", x, 8000, format="OGG", subtype="VORBIS")
        audio = read_audio(tmp_path / "a.ogg")
        assert audio.sample_rate == 8000 and np.abs(audio.samples[:, 0] - x).max() < 0.05
    sf.write(tmp_path / "b.wav", x, 8000, subtype="PCM_U8")
    assert np.abs(read_audio(tmp_path / "b.wav").samples[:, 0] - x).max() < 1 / 64


def test_audio_errors_name_file_and_cause(tmp_path):
    with pytest.raises(AudioError, match=r"missing\.wav: cannot read audio"):
        read_audio(tmp_path / "missing.wav")
    (tmp_path / "junk.wav").write_bytes(os.urandom(1000))
    with pytest.raises(AudioError, match=r"junk\.wav: cannot read audio"):
        read_audio(tmp_path / "junk.wav")
    sf.write(tmp_path / "ok.wav", np.zeros(1000, np.float32), 16000)
    (tmp_path / "cut.wav").write_bytes((tmp_path / "ok.wav").read_bytes()[:30])
    with pytest.raises(AudioError, match=r"cut\.wav"):
        read_audio(tmp_path / "cut.wav")
    (tmp_path / "odd.raw").write_bytes(b"\0" * 7)
    with pytest.raises(AudioError, match=r"odd\.raw: 7 bytes is not a whole number of s16le x 1 frames"):
        read_audio(tmp_path / "odd.raw", RawFormat(16000))
    sf.write(tmp_path / "nan.wav", np.array([0.0, np.nan], np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav: audio contains NaN"):
        read_audio(tmp_path / "nan.wav")
    with pytest.raises(ValueError, match="unknown raw sample type"):
        RawFormat(16000, "s12le")


def test_prepare_waveform_scales_mixes_and_clips():
    ints = np.array([[32767, -32768], [16384, 16384]], dtype=np.int16)
    np.testing.assert_allclose(prepare_waveform(ints, 16000), [-0.5 / 32768, 0.5], atol=1e-7)
    loud = np.array([2.0, -3.0, 0.25], dtype=np.float32)
    np.testing.assert_array_equal(prepare_waveform(loud, 16000), [1.0, -1.0, 0.25])
    with pytest.raises(ValueError):
        prepare_waveform(np.zeros((2, 2, 2)), 16000)


# --- resampling ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 3, 1000, 12345])
@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000])
def test_linear_resampler_matches_hama_bit_for_bit(n, rate):
    x = np.random.default_rng(n).uniform(-1, 1, n).astype(np.float32)
    ref = hama_asr()._resample_linear(x, rate, 16000)
    got = resample(x, rate, 16000, method="linear")
    assert got.dtype == ref.dtype == np.float32
    np.testing.assert_array_equal(got, ref)


def test_linear_resampler_pins_both_ends():
    x = np.linspace(-1, 1, 441).astype(np.float32)
    y = resample_linear(x, 44100, 16000)
    assert len(y) == round(440 / 44100 * 16000) + 1
    assert y[0] == x[0] and y[-1] == x[-1]
    np.testing.assert_allclose(np.diff(y), np.diff(y)[0], atol=1e-6)  # a ramp stays a ramp


def test_band_limited_resampler_removes_what_linear_folds_back():
    rate, n = 44100, 44100
    t = np.arange(n) / rate
    speech_band = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    above_nyquist = (0.5 * np.sin(2 * np.pi * 11000 * t)).astype(np.float32)  # aliases to 5 kHz at 16 kHz
    y = resample(speech_band, rate, 16000)
    assert abs(len(y) - 16000) <= 1
    mid = slice(1000, 15000)
    assert abs(np.sqrt(2 * np.mean(y[mid] ** 2)) - 0.5) < 1e-3
    soxr_leak = np.sqrt(np.mean(resample(above_nyquist, rate, 16000)[mid] ** 2))
    linear_leak = np.sqrt(np.mean(resample(above_nyquist, rate, 16000, method="linear")[mid] ** 2))
    assert soxr_leak < 1e-3 < 0.05 < linear_leak


def test_resample_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown resampling method"):
        resample(np.zeros(10, np.float32), 8000, 16000, method="cubic")
    with pytest.raises(ValueError, match="positive"):
        resample(np.zeros(10, np.float32), 0, 16000)
    x = np.ones(5, np.float32)
    assert resample(x, 16000, 16000) is x


# --- log-mel ---------------------------------------------------------------------------------------------------


def test_frame_count_and_short_input(synthetic_fe):
    assert [num_frames(n) for n in (0, 200, 201, 319, 320, 16000)] == [0, 0, 2, 2, 3, 101]
    assert num_frames(10**7) == MAX_FRAMES and num_frames(10**7, None) == 10**7 // 160 + 1
    for n in (0, 1, 200):
        assert log_mel(np.zeros(n, np.float32), synthetic_fe).shape == (80, 0)
    assert log_mel(np.zeros(201, np.float32), synthetic_fe).shape == (80, 2)
    with pytest.raises(ValueError, match="mono"):
        log_mel(np.zeros((2, 300), np.float32), synthetic_fe)


def test_reflect_padding_does_not_repeat_the_edge():
    wav = np.arange(1000, dtype=np.float32)
    frames = frame_signal(wav, num_frames(1000))
    np.testing.assert_array_equal(frames[0, :201], np.arange(200, -1, -1))  # x[0:200] = wav[200..1], then wav[0]
    last = frames[-1]  # starts at 160 * 6 - 200 = 760 in wav terms; wav ends at 999, then 998, 997, ...
    np.testing.assert_array_equal(last[:240], np.arange(760, 1000))
    np.testing.assert_array_equal(last[240:], np.arange(998, 838, -1))


def test_log_mel_against_a_float64_formula(synthetic_fe):
    wav = np.random.default_rng(5).uniform(-0.5, 0.5, 16000).astype(np.float32)
    got = log_mel(wav, synthetic_fe)
    assert got.shape == (80, 101) and got.dtype == np.float32
    x = np.pad(wav.astype(np.float64), 200, mode="reflect")
    frames = np.stack([x[160 * t : 160 * t + 400] for t in range(101)])
    re = frames @ synthetic_fe.stft_real.T.astype(np.float64)
    im = frames @ synthetic_fe.stft_imag.T.astype(np.float64)
    ref = np.log(np.maximum((re**2 + im**2) @ synthetic_fe.mel_fb.astype(np.float64), 1e-10)).T
    # Every value is the float16 rounding of the exact one, or its neighbour when the two sit on a rounding boundary.
    assert np.array_equal(got, got.astype(np.float16).astype(np.float32))
    ulp = np.abs(np.spacing(got.astype(np.float16)).astype(np.float32))
    assert (np.abs(got - ref) <= ulp).all()
    assert np.mean(got == ref.astype(np.float16).astype(np.float32)) > 0.999
    fast = log_mel(wav, synthetic_fe, exact_order=False)
    assert np.mean(fast == got) > 0.99


def test_log_floor_and_frame_cap(synthetic_fe):
    silent = log_mel(np.zeros(1000, np.float32), synthetic_fe)
    assert np.all(silent == np.float32(np.float16(np.log(np.float32(1e-10)))))
    long = np.zeros(3000 * 160 + 1000, np.float32)
    assert log_mel(long, synthetic_fe).shape == (80, MAX_FRAMES)
    assert log_mel(long, synthetic_fe, max_frames=None).shape == (80, 3000 + 1000 // 160 + 1)


# --- long clips ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 5000, MAX_SINGLE_SAMPLES, MAX_SINGLE_SAMPLES + 1, 60 * 16000 + 123, 181 * 16000 + 7])
def test_window_plan_covers_the_clip(n):
    windows = plan_windows(n)
    if n <= MAX_SINGLE_SAMPLES:
        assert windows == [(0, n)]
        return
    assert windows[0][0] == 0 and windows[-1][1] == n
    for (s0, e0), (s1, _) in zip(windows[:-1], windows[1:], strict=True):
        assert s1 % FRAME_SAMPLES == 0 and s0 < s1
        assert e0 - s1 >= 2 * 16000  # at least the overlap
    assert all(0 < e - s <= 28 * 16000 for s, e in windows)


def local_model(wav: np.ndarray) -> np.ndarray:
    """A stand-in acoustic model whose frame j depends only on samples near 320 j (like the front end + stem)."""
    frames = frame_signal(wav, num_frames(len(wav), None))[::2]
    w = np.linspace(-1, 1, 400, dtype=np.float32)
    return np.stack([(frames * w).sum(axis=1), frames.max(axis=1)], axis=1)


def test_chunked_equals_whole_for_a_local_model():
    n = 70 * 16000 + 4321
    wav = np.random.default_rng(7).standard_normal(n).astype(np.float32)
    windows = plan_windows(n)
    assert len(windows) == 3
    merged = chunked(wav, local_model)
    whole = local_model(wav)
    assert merged.shape == whole.shape == (output_frames(n), 2)
    np.testing.assert_array_equal(merged, whole)


def test_chunked_short_clip_is_one_call():
    calls = []
    wav = np.zeros(16000, np.float32)
    chunked(wav, lambda w: calls.append(len(w)) or np.zeros((output_frames(len(w)), 1)))
    assert calls == [16000]


def test_merge_checks_its_inputs():
    with pytest.raises(ValueError, match="one output per window"):
        merge_window_outputs([(0, 10)], [], 10)
    windows = plan_windows(MAX_SINGLE_SAMPLES + 1)
    with pytest.raises(ValueError, match="window 0 gives 5 frames"):
        merge_window_outputs(windows, [np.zeros((5, 1)), np.zeros((5, 1))], MAX_SINGLE_SAMPLES + 1)
    with pytest.raises(ValueError, match="multiples of 320"):
        plan_windows(10**6, window=1000)


@pytest.mark.parametrize("rows", [1, 3, 4, 7, 64])
def test_compiled_in_order_sums_equal_the_numpy_loop_bit_for_bit(rows):
    """The log-mel's STFT and mel products: the compiled kernel must round exactly as the NumPy loop does."""
    from intref.frontend import logmel

    rng = np.random.default_rng(rows)
    a = (rng.standard_normal((rows, 400)) * 1e-2).astype(np.float32)
    b = rng.standard_normal((400, 201)).astype(np.float32)
    expected = logmel._sequential_matmul_numpy(a, b)
    got = logmel._sequential_matmul(a, b)
    assert got.dtype == np.float32 and np.array_equal(got.view(np.uint32), expected.view(np.uint32))
    # The fused multiply-add or a reordered sum would round differently on some of these.
    assert not np.array_equal(expected, (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32))
