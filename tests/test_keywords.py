"""Keyword spotting end to end, audio to label: intref's integer pipeline against TensorFlow Lite Micro running the
micro_speech example's two models (audio preprocessor frame by frame, classifier per one-second window), every
int8 score of every window of every shared keyword clip; and the labels of the yes and no clips."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from intref.asr.keywords import KeywordSpotter, read_keyword_audio
from intref.errors import IntrefInputError

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("INTREF_DATA", REPO.parent / "shared" / "data"))
MICRO = DATA / "tflite" / "micro_speech"
MODEL, PREPROCESSOR = MICRO / "micro_speech_quantized.tflite", MICRO / "audio_preprocessor_int8.tflite"
CLIPS = sorted(MICRO.glob("*.wav")) + sorted((DATA / "speech_commands").glob("*.wav"))


@pytest.fixture(scope="module")
def spotter():
    if not (MODEL.is_file() and PREPROCESSOR.is_file()):
        pytest.skip(f"shared data not found: {MICRO} (set INTREF_DATA)")
    return KeywordSpotter.from_files(MODEL, PREPROCESSOR)


def _tflm_windows(audio: np.ndarray, stride: int) -> list[np.ndarray]:
    runtime = pytest.importorskip(
        "tflite_micro.python.tflite_micro.runtime", reason="tflite-micro is not installed (Linux x86-64 wheels only)"
    )
    pre = runtime.Interpreter.from_bytes(PREPROCESSOR.read_bytes())
    frames = []
    for start in range(0, audio.size - 480 + 1, 320):
        pre.set_input(audio[start : start + 480].reshape(1, 480), 0)
        pre.invoke()
        frames.append(np.array(pre.get_output(0)))
    features = np.stack(frames)
    if features.shape[0] < 49:
        features = np.concatenate([features, np.zeros((49 - features.shape[0], 40), dtype=np.int8)])
    classifier = runtime.Interpreter.from_bytes(MODEL.read_bytes())
    out = []
    for start in range(0, features.shape[0] - 49 + 1, stride):
        classifier.set_input(features[start : start + 49].reshape(1, 1960), 0)
        classifier.invoke()
        out.append(np.array(classifier.get_output(0)).ravel())
    return out


@pytest.mark.parametrize("clip", [c.name for c in CLIPS] or ["(no shared data)"])
def test_every_window_matches_tflite_micro(spotter, clip):
    path = next((c for c in CLIPS if c.name == clip), None)
    if path is None:
        pytest.skip("shared data not found")
    audio = read_keyword_audio(path)
    want = _tflm_windows(audio, stride=10)
    got = spotter.classify(audio, stride=10)
    assert len(got) == len(want) >= 1
    for w, g in zip(want, got, strict=True):
        assert list(g.scores) == w.tolist()


@pytest.mark.parametrize(
    "clip, label",
    [
        ("tflite/micro_speech/yes_1000ms.wav", "yes"),
        ("tflite/micro_speech/no_1000ms.wav", "no"),
        ("speech_commands/yes.wav", "yes"),
    ],
)
def test_yes_and_no_are_recognised(spotter, clip, label):
    (window,) = spotter.classify(read_keyword_audio(DATA / clip))
    assert window.label == label
    assert max(window.probabilities) == window.probabilities[spotter.labels.index(label)]


def test_command_line_prints_labels_and_json(spotter, capsys):
    from intref.cli import main

    clip = str(MICRO / "no_1000ms.wav")
    args = ["keywords", clip, "--model", str(MODEL), "--preprocessor", str(PREPROCESSOR)]
    assert main(args) == 0
    assert "\tno\t" in capsys.readouterr().out
    assert main([*args, "--json", "--backend", "numpy"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["windows"][0]["label"] == "no" and len(entry["windows"][0]["scores"]) == 4


def test_bad_audio_is_refused(tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "a8k.wav", np.zeros(8000, dtype=np.int16), 8000)
    with pytest.raises(IntrefInputError, match="16 kHz"):
        read_keyword_audio(tmp_path / "a8k.wav")
    sf.write(tmp_path / "stereo.wav", np.zeros((16000, 2), dtype=np.int16), 16000)
    with pytest.raises(IntrefInputError, match="mono"):
        read_keyword_audio(tmp_path / "stereo.wav")
    (tmp_path / "junk.wav").write_bytes(b"not audio")
    with pytest.raises(IntrefInputError, match="cannot read"):
        read_keyword_audio(tmp_path / "junk.wav")
