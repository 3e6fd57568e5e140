"""`intref transcribe`, `intref eval` and `intref models` from the command line: output, --json/--csv, exit codes and
one-line errors. They use the default model built into a temporary cache (skipped without hama 1.7.0); none needs
the shared clips except the last, which scores a few of them.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from intref.cli import main

DATA = Path(os.environ.get("INTREF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
MANIFEST = DATA / "speech" / "manifest.tsv"


def _hama_17_installed() -> bool:
    from intref.models.fetch import installed_asset

    asset = installed_asset()
    return asset is not None and asset.model_id == "hama-1.7"


pytestmark = pytest.mark.skipif(not _hama_17_installed(), reason="hama 1.7.0 is not installed")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private cache with the default model built once for the module."""
    from intref.models.default import ensure_model

    root = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTREF_CACHE", str(root))
        mp.setenv("INTREF_BACKEND", "native")
        ensure_model("hama-1.7")
        yield root


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    """Synthetic speech-like audio at 22.05 kHz stereo, silence, raw PCM, and a file that is not audio."""
    from intref.quantize.synthetic import synthetic_clips

    root = tmp_path_factory.mktemp("audio")
    speech = synthetic_clips(1, 3)[0]
    stereo = np.stack([speech, 0.5 * speech], axis=1)
    sf.write(root / "speech.wav", stereo, 16000)
    sf.write(root / "speech.flac", speech, 16000)
    sf.write(root / "silence.wav", np.zeros(24000, dtype=np.float32), 16000)
    (root / "speech.pcm").write_bytes((np.clip(speech, -1, 1) * 32767).astype("<i2").tobytes())
    (root / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt not really")
    return root


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_transcribe_prints_timed_words(cache, audio, capsys):
    rc, out, err = run_cli(capsys, "transcribe", str(audio / "speech.wav"))
    assert rc == 0, err
    lines = out.splitlines()
    head = f"{audio / 'speech.wav'}  ("
    assert lines[0].startswith(head) and "model hama-1.7, text hama-p2g, backend native" in lines[0]
    assert lines[1].startswith("  text: ") and lines[1] != "  text: (none)"
    assert lines[2].split() == ["start", "end", "word"]
    words = []
    for line in lines[3:]:
        start, end, word = line.split()
        assert start == "?" or end == "?" or float(start) <= float(end)
        words.append(word)
    assert " ".join(words) == lines[1].removeprefix("  text: ")


def test_transcribe_prints_timed_phonemes_per_word(cache, audio, capsys):
    rc, out, err = run_cli(capsys, "transcribe", "--phonemes", str(audio / "speech.wav"))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{audio / 'speech.wav'}  (") and "model hama-1.7, backend native" in lines[0]
    assert lines[1].startswith("  phonemes: ")
    assert lines[2].split() == ["start", "end", "word", "(phoneme@start", "s)"]
    for line in lines[3:]:
        start, end, *timed = line.split()
        assert float(start) <= float(end)
        assert all("@" in t for t in timed)


def test_transcribe_json_matches_the_python_api(cache, audio, capsys):
    from intref.asr import Recognizer

    rc, out, _ = run_cli(capsys, "transcribe", "--json", str(audio / "speech.flac"), str(audio / "silence.wav"))
    assert rc == 0
    doc = json.loads(out)
    assert doc["model"]["name"] == "hama-1.7" and doc["text_model"]["name"] == "hama-p2g"
    speech, silence = doc["results"]
    expected = Recognizer.load(backend="numpy", words=True).transcribe_file(audio / "speech.flac").to_json()
    for key in ("text", "words", "phoneme_text", "phonemes", "phoneme_words", "text_model"):
        assert speech[key] == expected[key], key
    assert speech["text"] == " ".join(w["word"] for w in speech["words"])
    assert speech["backend"] == {"name": "native", "isa": speech["backend"]["isa"]}
    assert silence["phonemes"] == [] and silence["phoneme_words"] == [] and silence["phoneme_text"] == ""
    assert silence["duration"] == 1.5
    assert silence["text"] == "" and silence["words"] == []  # no phoneme heard: no text


def test_raw_pcm_needs_no_header(cache, audio, capsys):
    rc, out, _ = run_cli(capsys, "transcribe", "--json", str(audio / "speech.pcm"), str(audio / "speech.flac"))
    assert rc == 0
    raw, flac = json.loads(out)["results"]
    assert raw["duration"] == flac["duration"]
    # s16 quantisation of the samples may move a token by a frame at most; the phonemes stay.
    assert [p["phoneme"] for p in raw["phonemes"]] == [p["phoneme"] for p in flac["phonemes"]]


def test_unreadable_audio_is_one_error_line_and_the_rest_still_runs(cache, audio, capsys):
    missing = audio / "missing.wav"
    rc, out, err = run_cli(capsys, "transcribe", str(audio / "broken.wav"), str(missing), str(audio / "speech.wav"))
    assert rc == 2
    errors = err.strip().splitlines()
    assert len(errors) == 2, err
    assert errors[0].startswith(f"intref: error: {audio / 'broken.wav'}: cannot read audio")
    assert errors[1] == f"intref: error: {missing}: no such file"
    assert "Traceback" not in err
    assert out.startswith(f"{audio / 'speech.wav'}  (")


def test_transcribe_errors_before_any_work(cache, audio, capsys):
    rc, _, err = run_cli(capsys, "transcribe", "--model", str(audio / "nope.intref"), str(audio / "speech.wav"))
    assert rc != 0 and err.count("\n") == 1 and "no such model file" in err
    rc, _, err = run_cli(capsys, "transcribe", "--format", "raw", "--channels", "0", str(audio / "speech.pcm"))
    assert rc != 0 and err.count("\n") == 1 and "channels" in err
    rc, _, err = run_cli(capsys, "transcribe", "--model", str(audio / "broken.wav"), str(audio / "speech.wav"))
    assert rc != 0 and err.count("\n") == 1 and "Traceback" not in err


def test_models_list_json(cache, capsys):
    rc, out, _ = run_cli(capsys, "models", "list", "--json")
    assert rc == 0
    info = json.loads(out)
    assert info["cache"] == str(cache)
    first = info["builtin"][0]
    assert first["name"] == "hama-1.7" and first["default"] and first["weights"] == "mixed 4/8"
    assert first["cached"] and Path(first["cached"]).is_file()
    assert len(first["sha256"]) == 64


def test_models_fetch_refuses_a_file_that_is_not_the_model(cache, audio, capsys):
    from intref.models.fetch import asset_dir

    rc, _, err = run_cli(capsys, "models", "fetch", "hama-1.6", "--from", str(audio / "broken.wav"))
    errors = [line for line in err.splitlines() if line.startswith("intref: error:")]
    assert rc != 0 and len(errors) == 1 and "not a hama model file" in errors[0]
    assert not (asset_dir("hama-1.6") / "asset.json").exists()


def test_a_damaged_cached_model_is_rebuilt(cache, capsys):
    from intref.models.default import BUILTINS, cached_path, ensure_model, expected_sha256
    from intref.models.fetch import sha256_file

    path = cached_path(BUILTINS["hama-1.7"])
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    messages: list[str] = []
    assert ensure_model("hama-1.7", progress=messages.append) == path
    assert sha256_file(path) == expected_sha256(BUILTINS["hama-1.7"])
    assert "damaged" in messages[0] and "built" in messages[-1]


def test_eval_scores_a_manifest_against_g2p_references(cache, audio, capsys):
    manifest = audio / "manifest.tsv"
    manifest.write_text(
        "path\treference\tsource\tlicense\nspeech.wav\thello world\tsynthetic\tCC0\n"
        "silence.wav\tsilence here\tsynthetic\tCC0\n",
        encoding="utf-8",
    )
    rc, out, err = run_cli(capsys, "eval", str(manifest), "--csv")
    assert rc == 0, err
    per_clip = out.split("# Overall")[0].removeprefix("# Per clip\n")
    rows = list(csv.DictReader(io.StringIO(per_clip)))
    assert [Path(r["clip"]).name for r in rows] == ["speech.wav", "silence.wav"]
    silence = rows[1]
    assert float(silence["hama-1.7 PER int"]) == 1.0  # nothing recognised: every reference token deleted
    rc, out, _ = run_cli(capsys, "eval", str(manifest), "--json")
    assert rc == 0
    doc = json.loads(out)
    (overall,) = doc["tables"]["Overall"]
    assert overall["clips"] == 2 and 0 <= overall["tok agree"] <= 1
    # words: the integer pipeline's and the float pipeline's text against the normalised transcripts
    assert 0 <= overall["WER int"] and 0 <= overall["WER float"] and 0 <= overall["CER int"]
    assert overall["WER int - float"] == pytest.approx(overall["WER int"] - overall["WER float"])
    rc, out, _ = run_cli(capsys, "eval", str(manifest), "--json", "--phonemes-only")
    assert rc == 0 and "WER int" not in json.loads(out)["tables"]["Overall"][0]


@pytest.mark.skipif(not MANIFEST.is_file(), reason=f"no shared speech clips at {MANIFEST}")
def test_eval_on_real_clips_is_close_to_float(cache, capsys):
    rc, out, err = run_cli(capsys, "eval", str(MANIFEST), "--limit", "3", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    (overall,) = doc["tables"]["Overall"]
    assert overall["clips"] == 3
    assert overall["PER int"] <= overall["PER float"] + 0.05
    assert overall["tok agree"] >= 0.9
    assert overall["WER int"] <= overall["WER float"] + 0.15


def test_vectors_export_from_audio_and_check_on_every_backend(cache, audio, tmp_path, capsys):
    out = tmp_path / "golden"
    from intref.models.default import BUILTINS, expected_sha256

    argv = ["vectors", "export", "hama-1.7", str(audio / "speech.flac"), "--out", str(out), "--no-model"]
    rc, stdout, err = run_cli(capsys, *argv)
    assert rc == 0, err
    assert "for 299 nodes" in stdout
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["model"]["sha256"] == expected_sha256(BUILTINS["hama-1.7"])
    rc, stdout, err = run_cli(capsys, "vectors", "check", str(out), "--model", "hama-1.7")
    assert rc == 0, stdout + err
    assert "all passed" in stdout


def test_vectors_export_refuses_audio_longer_than_the_window(cache, tmp_path, capsys):
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(16000 * 31, dtype=np.float32), 16000)
    rc, _, err = run_cli(capsys, "vectors", "export", "hama-1.7", str(path), "--out", str(tmp_path / "v"))
    assert rc != 0 and "longer than the model's window" in err and err.count("intref: error:") == 1
