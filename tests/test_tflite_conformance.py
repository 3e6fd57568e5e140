"""TFLite import against TensorFlow Lite Micro's reference kernels, element for element.

- every supported operator: random single-operator models (200 each under CI, 40 otherwise) run by TFLite Micro
  and by the imported intref graph, every output element compared;
- the same models on every intref backend, against the reference backend;
- micro_speech_quantized.tflite: 1,000 random inputs, and the features of the shared keyword clips.

Skips with the reason when the tflite-micro package (Linux x86-64 wheels) or the shared data is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from tflite_cases import CASES, INT4_CASES, INT16_CASES, chain_case
from tflm_util import run_tflm

from intref.models.tflite import import_tflite
from intref.models.tflite.boundary import run

tflm = pytest.importorskip(
    "tflite_micro.python.tflite_micro.runtime", reason="tflite-micro is not installed (Linux x86-64 wheels only)"
)

MODELS_PER_OP = 200 if os.environ.get("CI") else 40
REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("INTREF_DATA", REPO.parent / "shared" / "data"))
MICRO = DATA / "tflite" / "micro_speech"


def _first_difference(want: np.ndarray, got: np.ndarray) -> str:
    if want.shape != got.shape or want.dtype != got.dtype:
        return f"expected {want.dtype}{list(want.shape)}, got {got.dtype}{list(got.shape)}"
    bad = np.flatnonzero(
        (want != got).ravel() if want.dtype != np.float32 else (want.view(np.int32) != got.view(np.int32)).ravel()
    )
    if not bad.size:
        return ""
    i = int(bad[0])
    w, g = want.ravel()[i], got.ravel()[i]
    return f"{bad.size} of {want.size} elements differ; first at {i}: TFLite Micro {w}, intref {g}"


@pytest.mark.parametrize("op", sorted(CASES))
def test_random_single_op_models_match_tflite_micro(op):
    rng = np.random.default_rng(sum(map(ord, op)))
    compared = 0
    for i in range(MODELS_PER_OP):
        case = CASES[op](rng)
        want = run_tflm(case.model, case.inputs)
        got = run(import_tflite(case.model), case.inputs, backend="numpy")
        assert len(got) == len(want) == 1
        problem = _first_difference(want[0], got[0])
        assert not problem, f"{op} model {i} ({case.info}): {problem}"
        compared += want[0].size
    assert compared > MODELS_PER_OP  # every model produced output


@pytest.mark.parametrize("op", sorted(INT4_CASES))
def test_int4_weight_models_match_tflite_micro(op):
    rng = np.random.default_rng(4 + sum(map(ord, op)))
    for i in range(MODELS_PER_OP):
        case = INT4_CASES[op](rng)
        want = run_tflm(case.model, case.inputs)[0]
        got = run(import_tflite(case.model), case.inputs, backend="numpy")[0]
        problem = _first_difference(want, got)
        assert not problem, f"{op} int4 model {i} ({case.info}): {problem}"


@pytest.mark.parametrize("op", sorted(INT16_CASES))
def test_int16_activation_models_match_tflite_micro(op):
    """The 16-bit forms: int16 activations (zero point 0); convolutions and FULLY_CONNECTED with int8 weights
    and an int64 bias (int64 accumulator) or, where TFLite Micro takes one, an int32 bias (int32 accumulator)."""
    rng = np.random.default_rng(16 + sum(map(ord, op)))
    for i in range(MODELS_PER_OP):
        case = INT16_CASES[op](rng)
        want = run_tflm(case.model, case.inputs)[0]
        got = run(import_tflite(case.model), case.inputs, backend="numpy")[0]
        assert got.dtype == np.int16
        problem = _first_difference(want, got)
        assert not problem, f"{op} int16 model {i} ({case.info}): {problem}"


def test_random_multi_operator_models_match_tflite_micro():
    """CONV_2D, DEPTHWISE_CONV_2D, a pool, RESHAPE, FULLY_CONNECTED and SOFTMAX chained, all parameters random."""
    rng = np.random.default_rng(31)
    for i in range(MODELS_PER_OP):
        case = chain_case(rng)
        want = run_tflm(case.model, case.inputs)[0]
        got = run(import_tflite(case.model), case.inputs, backend="auto")[0]
        problem = _first_difference(want, got)
        assert not problem, f"chain model {i} ({case.info}): {problem}"


VARIANTS = (
    {**CASES} | {f"{op}-int4": g for op, g in INT4_CASES.items()} | {f"{op}-int16": g for op, g in INT16_CASES.items()}
)


@pytest.mark.parametrize("op", sorted(VARIANTS))
def test_imported_models_equal_on_every_backend(op, backend):
    rng = np.random.default_rng(7 + sum(map(ord, op)))
    generator = VARIANTS[op]
    for _ in range(6):
        case = generator(rng)
        model = import_tflite(case.model)
        want = run(model, case.inputs, backend="numpy")
        got = run(model, case.inputs, backend=backend)
        for w, g in zip(want, got, strict=True):
            assert not _first_difference(w, g), (op, case.info)


def _micro(name: str) -> Path:
    path = MICRO / name
    if not path.is_file():
        pytest.skip(f"shared data not found: {path} (set INTREF_DATA)")
    return path


def test_micro_speech_matches_tflite_micro_on_random_inputs():
    path = _micro("micro_speech_quantized.tflite")
    data = path.read_bytes()
    model = import_tflite(path)
    ip = tflm.Interpreter.from_bytes(data)
    rng = np.random.default_rng(2026)
    compared = 0
    for i in range(1000):
        x = rng.integers(-128, 128, size=(1, 1960), dtype=np.int8)
        if i % 4 == 1:  # speech-like features: mostly low values, some peaks
            x = np.clip(rng.normal(-90, 25, size=(1, 1960)), -128, 127).astype(np.int8)
        ip.set_input(x, 0)
        ip.invoke()
        want = np.array(ip.get_output(0))
        got = run(model, [x], backend="auto")[0]
        assert not _first_difference(want, got), f"input {i}"
        compared += want.size
    assert compared == 4000


def _clip_features(preprocessor: bytes, audio: np.ndarray) -> np.ndarray:
    """49 frames of 40 int8 features of a 1 s clip, by TFLite Micro's own audio preprocessor model."""
    ip = tflm.Interpreter.from_bytes(preprocessor)
    frames = []
    for start in range(0, len(audio) - 480 + 1, 320):
        ip.set_input(audio[start : start + 480].reshape(1, 480), 0)
        ip.invoke()
        frames.append(np.array(ip.get_output(0)))
    return np.stack(frames)[:49]


@pytest.mark.parametrize("clip", ["yes_1000ms.wav", "no_1000ms.wav", "silence_1000ms.wav", "noise_1000ms.wav"])
def test_micro_speech_matches_tflite_micro_on_the_keyword_clips(clip, backend):
    import soundfile as sf

    model_path = _micro("micro_speech_quantized.tflite")
    audio, rate = sf.read(_micro(clip), dtype="int16")
    assert rate == 16000
    features = _clip_features(_micro("audio_preprocessor_int8.tflite").read_bytes(), audio)
    x = features.reshape(1, 1960)
    want = run_tflm(model_path.read_bytes(), [x])[0]
    got = run(import_tflite(model_path), [x], backend=backend)[0]
    assert not _first_difference(want, got)
    expected = {"yes_1000ms.wav": 2, "no_1000ms.wav": 3}.get(clip)
    if expected is not None:  # labels: silence, unknown, yes, no
        assert int(np.argmax(got)) == expected


def test_tflm_dump_lines_up_with_golden_vectors(tmp_path):
    from intref.cli import main

    path = _micro("micro_speech_quantized.tflite")
    x = np.random.default_rng(5).integers(-128, 128, size=(1, 1960), dtype=np.int8)
    np.save(tmp_path / "x.npy", x)
    model = tmp_path / "ms.intref"
    assert main(["import-tflite", str(path), "-o", str(model)]) == 0
    assert main(["vectors", "export", str(model), str(tmp_path / "x.npy"), "--out", str(tmp_path / "golden")]) == 0
    assert main(["tflm-dump", str(path), str(tmp_path / "x.npy"), "--out", str(tmp_path / "tflm")]) == 0
    assert main(["vectors", "verify", str(tmp_path / "golden"), "--dump", str(tmp_path / "tflm")]) == 0
    # a corrupted dump is caught at the node it belongs to
    relu = np.load(tmp_path / "tflm" / "Relu.npy")
    relu.ravel()[17] ^= 1
    np.save(tmp_path / "tflm" / "Relu.npy", relu)
    assert main(["vectors", "verify", str(tmp_path / "golden"), "--dump", str(tmp_path / "tflm")]) == 1
