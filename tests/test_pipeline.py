"""The ASR pipeline (intref.asr): token times from frames, words, transcripts of files and waveforms, empty and
long input. Model tests use the default integer model, built into a temporary cache; they skip without hama.

Real-speech checks use the shared clips (``INTREF_DATA``, default ../shared/data) and skip without them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from intref.asr import FRAME_SECONDS, Recognizer, Transcript, group_words, tokens_from_frames
from intref.evaluate import token_agreement
from intref.frontend.audio import RawFormat
from intref.frontend.chunking import MAX_SINGLE_SAMPLES, output_frames
from intref.models.hama.decode import collapse
from intref.models.hama.vocab import BLANK_ID, WORD_BOUNDARY_ID

DATA = Path(os.environ.get("INTREF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SPEECH = DATA / "speech"
VOCAB = tuple(f"p{i}" for i in range(189)) + ("<wb>", "<blank>")
B, WB = BLANK_ID, WORD_BOUNDARY_ID


# --- tokens and times, without a model ---


def test_frame_is_20_ms():
    assert FRAME_SECONDS == pytest.approx(0.02)


def test_tokens_from_frames_merge_runs_and_drop_blanks():
    frames = [B, 5, 5, B, 5, WB, 7, 7, 7, B]
    tokens = tokens_from_frames(frames, VOCAB)
    assert [t.id for t in tokens] == collapse(frames) == [5, 5, WB, 7]
    assert [(t.first_frame, t.last_frame) for t in tokens] == [(1, 2), (4, 4), (5, 5), (6, 8)]
    assert [(t.start, t.end) for t in tokens] == [(0.02, 0.06), (0.08, 0.1), (0.1, 0.12), (0.12, 0.18)]
    assert tokens_from_frames([], VOCAB) == ()
    assert tokens_from_frames([B] * 10, VOCAB) == ()
    clipped = tokens_from_frames([5, 5], VOCAB, duration=0.03)
    assert clipped[0].end == pytest.approx(0.03)


@pytest.mark.parametrize("seed", range(5))
def test_tokens_from_frames_agrees_with_collapse(seed):
    rng = np.random.default_rng(seed)
    frames = rng.choice([B, B, B, WB, 3, 4, 5], size=300)
    assert [t.id for t in tokens_from_frames(frames, VOCAB)] == collapse(frames)


def test_words_split_at_boundaries_and_drop_whitespace():
    vocab = list(VOCAB)
    vocab[4] = " "
    tokens = tokens_from_frames([WB, 7, B, 4, 8, WB, WB, 9, WB], vocab)
    words = group_words(tokens)
    assert [[t.symbol for t in w] for w in words] == [["p7", "p8"], ["p9"]]
    t = Transcript("x.wav", 0.2, 9, tokens, {"name": "m"}, {"name": "numpy"})
    assert t.phoneme_text == "p7 p8 | p9" and t.text is None
    data = json.loads(json.dumps(t.to_json()))
    assert data["phoneme_words"] == [
        {"phonemes": ["p7", "p8"], "start": 0.02, "end": 0.1},
        {"phonemes": ["p9"], "start": 0.14, "end": 0.16},
    ]
    assert [p["phoneme"] for p in data["phonemes"]] == ["p7", "p8", "p9"]
    assert {"path", "duration", "frames", "phonemes", "phoneme_words", "model", "backend"} <= set(data)
    assert "text" not in data and "words" not in data  # no text model ran


# --- with the default model ---


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory):
    from intref.models.fetch import installed_asset

    asset = installed_asset()
    if asset is None or asset.model_id != "hama-1.7":
        pytest.skip("hama 1.7.0 is not installed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTREF_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield Recognizer.load(backend="numpy")


def test_default_model_is_hama_17_mixed(recognizer):
    assert recognizer.model_id == "hama-1.7" and recognizer.label == "hama-1.7"
    assert recognizer.model.provenance["recipe"]["weights"] == "mixed"
    assert recognizer.backend_info() == {"name": "numpy"}


@pytest.mark.parametrize("n", [0, 1, 200])
def test_too_short_input_gives_an_empty_result(recognizer, n):
    t = recognizer.transcribe(np.zeros(n, dtype=np.float32))
    assert t.frames == 0 and t.tokens == () and t.phoneme_text == "" and t.words == ()


def test_silence_gives_an_empty_result(recognizer):
    t = recognizer.transcribe(np.zeros(32000, dtype=np.float32))
    assert t.frames == output_frames(32000) == 101
    assert t.phoneme_text == ""


def test_synthetic_speech_gives_timed_phonemes(recognizer):
    from intref.quantize.synthetic import synthetic_clips

    wav = synthetic_clips(1, 7)[0]
    t = recognizer.transcribe(wav)
    assert t.frames == output_frames(wav.shape[0])
    assert t.phonemes, "speech-like audio should give some phonemes"
    starts = [p.start for p in t.phonemes]
    assert starts == sorted(starts) and all(0 <= p.start < p.end <= t.duration + 1e-9 for p in t.phonemes)
    assert np.array_equal(recognizer.frames(wav), recognizer.runner.frames(wav))


def test_files_of_any_rate_and_channels_and_raw_pcm(recognizer, tmp_path):
    from intref.frontend.resample import resample
    from intref.quantize.synthetic import synthetic_clips

    wav = synthetic_clips(1, 3)[0]
    stereo = np.stack([wav, wav], axis=1)
    sf.write(tmp_path / "a.wav", stereo, 16000, subtype="PCM_16")
    up = resample(wav, 16000, 44100)
    sf.write(tmp_path / "b.flac", up, 44100)
    (tmp_path / "c.raw").write_bytes((np.clip(wav, -1, 1) * 32767).astype("<i2").tobytes())
    a = recognizer.transcribe_file(tmp_path / "a.wav")
    b = recognizer.transcribe_file(tmp_path / "b.flac")
    c = recognizer.transcribe_file(tmp_path / "c.raw", RawFormat(16000, "s16le", 1))
    assert a.duration == pytest.approx(wav.shape[0] / 16000) and a.source.endswith("a.wav")
    assert a.phoneme_text and b.phoneme_text and a.phoneme_text == c.phoneme_text
    assert b.duration == pytest.approx(up.shape[0] / 44100)


def test_clips_over_30_s_are_not_truncated(recognizer):
    """A 63 s clip of speech-like audio and long pauses: three windows; every speech part gives phonemes, the
    pauses none."""
    from intref.quantize.synthetic import synthetic_clips

    clips = synthetic_clips(4, 7)
    gap = np.zeros(16000 * 15, dtype=np.float32)
    parts = [clips[0], gap, clips[1], gap, clips[2], gap, clips[3]]
    wav = np.concatenate(parts)
    assert wav.shape[0] > 2 * MAX_SINGLE_SAMPLES
    t = recognizer.transcribe(wav)
    assert t.frames == output_frames(wav.shape[0])
    start = 0
    for part in parts:
        lo, hi = start / 16000, (start + part.shape[0]) / 16000
        if part is gap:
            assert not [p for p in t.phonemes if lo + 0.5 <= p.start < hi - 0.5], f"phonemes in {lo:.1f}-{hi:.1f} s"
        else:
            assert [p for p in t.phonemes if lo <= p.start < hi], f"no phonemes in {lo:.1f}-{hi:.1f} s"
        start += part.shape[0]


@pytest.mark.skipif(not (SPEECH / "jfk.flac").is_file(), reason=f"no shared speech clips at {SPEECH}")
def test_long_real_speech_in_windows(recognizer):
    """jfk.flac three times with pauses (about 63 s): each copy decodes close to the clip alone."""
    from intref.frontend.audio import load_waveform

    jfk = load_waveform(SPEECH / "jfk.flac")
    gap = np.zeros(16000 * 10, dtype=np.float32)
    wav = np.concatenate([jfk, gap, jfk, gap, jfk])
    t = recognizer.transcribe(wav)
    alone = [p.symbol for p in recognizer.transcribe(jfk).phonemes]
    step = (jfk.shape[0] + gap.shape[0]) / 16000
    for k in range(3):
        lo = k * step
        copy = [p.symbol for p in t.phonemes if lo <= p.start < lo + jfk.shape[0] / 16000]
        assert token_agreement(alone, copy) >= 0.9, (k, " ".join(copy))


def test_rejects_a_model_that_is_not_an_acoustic_model(recognizer):
    from intref.errors import IntrefInputError
    from intref.vectors.synthetic import demo_model

    with pytest.raises(IntrefInputError, match="not an acoustic model"):
        Recognizer(demo_model(), recognizer.frontend, "numpy", "demo")


@pytest.mark.skipif(not (SPEECH / "jfk.flac").is_file(), reason=f"no shared speech clips at {SPEECH}")
def test_jfk_phonemes(recognizer):
    t = recognizer.transcribe_file(SPEECH / "jfk.flac")
    assert t.duration == pytest.approx(11.0)
    words = [" ".join(w) for w in t.phoneme_words()]
    assert words[:4] == ["æ n d", "s oʊ", "m aɪ", "f ɛ l oʊ"]
    assert words[-1] == "k ʌ n t ɹ i"
    assert 10.0 < t.words[-1][-1].end <= 11.0
