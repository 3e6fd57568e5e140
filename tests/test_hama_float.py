"""Float32 reference of the hama acoustic models against the package's own runtime (the oracle).

The 1.7.0 oracle is `hama._engine.AsrSession` of the installed package. The 1.6.0 oracle runs in a separate
virtualenv (one hama version installs at a time): `INTREF_HAMA16_PYTHON`, default `../venv-hama16/bin/python` beside
the repository. Clips come from `../shared/data/speech` (override: `INTREF_DATA`); a few by default, all 52 with
`INTREF_HAMA_ALL_CLIPS=1`.

Tolerances: the reference figures for a float re-implementation are max |log-prob diff| 4.4e-4 (1.7.0) and 7.0e-3
(1.6.0) on 12 clips. Over all 52 clips a few single frames go beyond (up to 1.8e-3 and 1.4e-2): ill-conditioned
frames that move by that much under tiny input changes (one log-mel value anywhere in the clip rounding to its other
float16 neighbour: the attention is global; in 1.6.0 also plain float32 rounding in the backbone). So the maximum has
a looser bound, and the reference figures bound the 99th percentile of frames instead.
The tokens must be identical.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from intref.frontend import RawFormat, load_waveform
from intref.frontend.chunking import chunked, output_frames, plan_windows
from intref.models.hama import BLANK_ID, NUM_TOKENS, AssetNotFoundError, HamaFormatError, load_acoustic_model
from intref.models.hama.decode import BLANK_OFFSET_V160, BLANK_OFFSET_V170, collapse, decode_greedy, split_words
from intref.models.hama.layers import erf_as, gelu, layer_norm, log_softmax

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("INTREF_DATA", REPO.parent / "shared" / "data"))
SPEECH = DATA / "speech"
HAMA16_PYTHON = Path(os.environ.get("INTREF_HAMA16_PYTHON", REPO.parent / "venv-hama16" / "bin" / "python"))
FAST_CLIPS = (
    "jfk.flac",  # 44.1 kHz stereo 24-bit flac, 11 s
    "LDC93S1.wav",
    "beckett.wav",
    "ljspeech/LJ001-0002.wav",  # 22.05 kHz
    "pocketsphinx/cards_001.wav",
    "pocketsphinx/goforward.raw",  # headerless s16le
)
TOL = {"1.7.0": (2.5e-3, 4.4e-4), "1.6.0": (2e-2, 7.0e-3)}  # (max, 99th percentile of per-frame max)


def clip_names() -> list[str]:
    if os.environ.get("INTREF_HAMA_ALL_CLIPS") and (SPEECH / "manifest.tsv").is_file():
        lines = (SPEECH / "manifest.tsv").read_text(encoding="utf-8").splitlines()[1:]
        return [line.split("\t")[0] for line in lines if line.strip()]
    return list(FAST_CLIPS)


def load_clip(name: str) -> np.ndarray:
    path = SPEECH / name
    if not path.is_file():
        pytest.skip(f"shared data not found: {path} (set INTREF_DATA)")
    raw = RawFormat(16000, "s16le", 1) if name.endswith(".raw") else None
    # hama's resampler, so the clips are what the package itself would feed its runtime.
    return load_waveform(path, raw, method="linear")


def hama_greedy(log_probs: np.ndarray, temperature: float) -> list[int]:
    """The package's decoding rule, written out: divide by the temperature, bias the blank, argmax, collapse."""
    z = log_probs / np.float32(temperature)
    z[:, BLANK_ID] += np.float32(-0.1)
    return collapse(z.argmax(axis=1))


def agreement(model, wav: np.ndarray, oracle_lp: np.ndarray, temperature: float) -> dict:
    mine = model.log_probs(wav)
    assert mine.shape == oracle_lp.shape == (output_frames(len(wav)), NUM_TOKENS)
    per_frame = np.abs(mine - oracle_lp).max(axis=1)
    return {
        "tokens_equal": list(model.decode(mine).token_ids) == hama_greedy(oracle_lp, temperature),
        "frame_argmax_mismatch": int((mine.argmax(1) != oracle_lp.argmax(1)).sum()),
        "max": float(per_frame.max()),
        "p99": float(np.quantile(per_frame, 0.99)),
    }


# --- building blocks -------------------------------------------------------------------------------------------


def test_erf_and_gelu_follow_the_runtime_formulas():
    x = np.linspace(-6, 6, 2001, dtype=np.float32)
    exact = np.array([math.erf(v) for v in x.astype(np.float64)])
    assert np.abs(erf_as(x) - exact).max() < 1.5e-7 + 3e-7  # the approximation's error plus float32 rounding
    g = gelu(x)
    assert g.dtype == np.float32
    ref = 0.5 * x * (1 + np.array([math.erf(v / 1.4140625) for v in x.astype(np.float64)]))
    assert np.abs(g - ref).max() < 1e-5


def test_layer_norm_and_log_softmax():
    x = np.random.default_rng(0).standard_normal((5, 144)).astype(np.float32) * 3 + 1
    y = layer_norm(x, np.ones(144, np.float32), np.zeros(144, np.float32))
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-6)
    np.testing.assert_allclose(y.std(axis=1), 1, atol=1e-4)
    lp = log_softmax(x)
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1, rtol=1e-5)


def test_greedy_ctc_collapse_and_words():
    assert collapse([5, 5, BLANK_ID, 5, 7, 7, BLANK_ID, BLANK_ID, 189, 8]) == [5, 5, 7, 189, 8]
    tokens = [f"p{i}" for i in range(189)] + ["<wb>", "<blank>"]
    assert split_words([189, 5, 6, 189, 189, 7, 189], tokens) == [["p5", "p6"], ["p7"]]
    empty = decode_greedy(np.zeros((0, NUM_TOKENS), np.float32), tokens, BLANK_OFFSET_V170)
    assert empty.token_ids == () and empty.text == ""


def test_blank_offset_equals_the_packages_temperature_rule():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((2000, NUM_TOKENS)).astype(np.float32) * 2
    logits[:, BLANK_ID] += 0.5
    lp = log_softmax(logits)
    tokens = [str(i) for i in range(NUM_TOKENS)]
    for offset, temperature in ((BLANK_OFFSET_V170, 0.95), (BLANK_OFFSET_V160, 1.0)):
        z = lp / np.float32(temperature)
        z[:, BLANK_ID] -= np.float32(0.1)
        assert list(decode_greedy(logits, tokens, offset).frame_ids) == list(z.argmax(axis=1))


def test_loader_rejects_other_and_incomplete_containers(tmp_path):
    def container(names: list[str]) -> bytes:
        table = b"".join(
            struct.pack("<H", len(n)) + n.encode() + struct.pack("<BBIQQ", 0, 1, 1, 4 * i, 4)
            for i, n in enumerate(names)
        )
        head = b"HAMAPK" + struct.pack("<BBI", 1, 2, len(names)) + table
        return head + b"\0" * (-len(head) % 16) + b"\0" * (4 * len(names))

    (tmp_path / "other.hama").write_bytes(container(["embedding.weight"]))
    with pytest.raises(HamaFormatError, match="not a known hama acoustic model"):
        load_acoustic_model(tmp_path / "other.hama")
    (tmp_path / "partial.hama").write_bytes(container(["acoustic_model.model.blocks.0.ffn1.norm.weight"]))
    with pytest.raises(HamaFormatError, match=r"tensor '.*' (is missing|has shape)"):
        load_acoustic_model(tmp_path / "partial.hama")


# --- the 1.7.0 Conformer against the installed runtime ---------------------------------------------------------


@pytest.fixture(scope="module")
def model170():
    try:
        model = load_acoustic_model()
    except AssetNotFoundError as exc:
        pytest.skip(f"hama is not installed: {exc}")
    if model.arch != "conformer":
        pytest.skip("the installed hama is not 1.7.0 (its acoustic model is not the Conformer)")
    return model


@pytest.fixture(scope="module")
def oracle170(model170):
    engine = pytest.importorskip("hama._engine", reason="hama's runtime is not importable")
    if not engine.available():
        pytest.skip("hama's native library is not available on this platform")
    session = engine.AsrSession(Path(model170.file.source).read_bytes())

    def run(wav: np.ndarray) -> np.ndarray:
        feeds = {"waveform": wav[None].astype(np.float32), "waveform_lengths": np.array([len(wav)])}
        return session.run(["log_probs"], feeds)[0][0]

    return run


@pytest.mark.parametrize("clip", clip_names())
def test_v170_matches_runtime(model170, oracle170, clip):
    wav = load_clip(clip)
    from hama.asr import ASRDecodeConfig

    got = agreement(model170, wav, oracle170(wav), ASRDecodeConfig().temperature)
    assert got["tokens_equal"] and got["frame_argmax_mismatch"] == 0, got
    max_tol, p99_tol = TOL["1.7.0"]
    assert got["max"] <= max_tol and got["p99"] <= p99_tol, got


def test_v170_transcript_equals_the_packages_pipeline(model170, oracle170):
    asr = pytest.importorskip("hama.asr")
    wav = load_clip("LJ050-0131.wav")
    theirs = asr.ASRModel().transcribe_file(SPEECH / "LJ050-0131.wav")  # their reader + linear resampler
    ours = model170.transcribe(wav)
    assert list(ours.token_ids) == theirs.token_ids
    assert ours.text == theirs.word_phoneme_text and ours.text


def test_v170_exact_order_front_end_tracks_the_runtime(model170, oracle170):
    # The runtime's log-mel is not observable; with the runtime's summation order, most frames agree at float32
    # rounding level, which a reordered front end (a float16 boundary crossed here and there) does not reach.
    wav = load_clip("jfk.flac")
    lp = oracle170(wav)
    exact = np.abs(log_softmax(model170.logits(wav)) - lp).max(axis=1)
    reordered = np.abs(log_softmax(model170.logits(wav, exact_order=False)) - lp).max(axis=1)
    assert np.median(exact) < 5e-5 and exact.max() < 2.5e-3
    assert reordered.max() > exact.max()


def test_short_input_gives_an_empty_result(model170):
    for n in (0, 1, 200):
        assert model170.logits(np.zeros(n, np.float32)).shape == (0, NUM_TOKENS)
        assert model170.transcribe(np.zeros(n, np.float32)).token_ids == ()
    assert model170.logits(np.zeros(201, np.float32)).shape == (1, NUM_TOKENS)


def test_long_clip_is_windowed_not_truncated(model170):
    pieces = [load_clip(n) for n in ("jfk.flac", "beckett.wav", "ljspeech/LJ001-0003.wav", "LJ050-0131.wav")]
    wav = np.concatenate(pieces)[: 45 * 16000]
    windows = plan_windows(len(wav))
    assert len(windows) == 2
    seen = []

    def window_logits(w: np.ndarray) -> np.ndarray:
        seen.append(model170.logits_window(w))
        return seen[-1]

    logits = chunked(wav, window_logits)
    assert logits.shape == (output_frames(len(wav)), NUM_TOKENS)  # 2251 frames, not the runtime's 1500
    cut = ((windows[1][0] + windows[0][1]) // 2) // 320
    np.testing.assert_array_equal(logits[:cut], seen[0][:cut])
    np.testing.assert_array_equal(logits[cut:], seen[1][cut - windows[1][0] // 320 :])
    # The first 11 s (jfk) decode similarly alone and at the start of the 45 s clip; not identically, since the
    # attention sees the other recordings too (measured: 79% of the phoneme sequence in common).
    n = output_frames(len(pieces[0])) - 25
    alone = model170.decode(model170.logits(pieces[0])[:n]).token_ids
    in_context = model170.decode(logits[:n]).token_ids
    assert difflib.SequenceMatcher(a=alone, b=in_context).ratio() > 0.7


# --- the 1.6.0 separable-conv model against its runtime in another virtualenv ---------------------------------

ORACLE16 = r"""
import importlib.util, json, pathlib, sys
import numpy as np
import hama._engine as E
from hama.asr import ASRDecodeConfig
root = pathlib.Path(importlib.util.find_spec("hama").submodule_search_locations[0])
asset = root / "assets" / "asr_waveform.hama"
sess = E.AsrSession(asset.read_bytes())
wavs = np.load(sys.argv[1])
out = {k: sess.run(["log_probs"], {"waveform": wavs[k][None], "waveform_lengths": np.array([len(wavs[k])])})[0][0]
       for k in wavs.files}
np.savez(sys.argv[2], **out)
import importlib.metadata as md
print(json.dumps({"asset": str(asset), "version": md.version("hama"), "temperature": ASRDecodeConfig().temperature}))
"""


@pytest.fixture(scope="module")
def v160(tmp_path_factory):
    if not HAMA16_PYTHON.is_file():
        pytest.skip(f"no hama 1.6.0 virtualenv: {HAMA16_PYTHON} (set INTREF_HAMA16_PYTHON)")
    names = clip_names()
    wavs = {str(i): load_clip(n) for i, n in enumerate(names)}
    tmp = tmp_path_factory.mktemp("hama16")
    np.savez(tmp / "in.npz", **wavs)
    proc = subprocess.run(
        [str(HAMA16_PYTHON), "-c", ORACLE16, str(tmp / "in.npz"), str(tmp / "out.npz")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": ""},
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"the hama 1.6.0 runtime did not run: {proc.stderr.strip()[-500:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    if info["version"] != "1.6.0":
        pytest.skip(f"{HAMA16_PYTHON} has hama {info['version']}, not 1.6.0")
    model = load_acoustic_model(info["asset"])
    out = np.load(tmp / "out.npz")
    return model, info, {n: (wavs[str(i)], out[str(i)]) for i, n in enumerate(names)}


def test_v160_matches_runtime(v160):
    model, info, clips = v160
    assert model.arch == "sepconv" and model.blank_offset == pytest.approx(-0.1 * info["temperature"])
    max_tol, p99_tol = TOL["1.6.0"]
    for name, (wav, lp) in clips.items():
        got = agreement(model, wav, lp, info["temperature"])
        assert got["tokens_equal"] and got["frame_argmax_mismatch"] == 0, (name, got)
        assert got["max"] <= max_tol and got["p99"] <= p99_tol, (name, got)


if __name__ == "__main__":  # `python tests/test_hama_float.py`: per-clip figures for 1.7.0
    m = load_acoustic_model()
    import hama._engine as engine

    sess = engine.AsrSession(Path(m.file.source).read_bytes())
    for clip in clip_names():
        w = load_clip(clip)
        ref = sess.run(["log_probs"], {"waveform": w[None], "waveform_lengths": np.array([len(w)])})[0][0]
        print(clip, agreement(m, w, ref, 0.95), file=sys.stdout)
