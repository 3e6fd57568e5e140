"""The real hama 1.7.0 model quantised: integer PER close to float on shared clips, and the CLI's recipe round trip.

Skipped without the installed hama package or the shared speech clips (``INTREF_DATA``, default ../shared/data).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from intref import cli
from intref.models.hama import AssetNotFoundError, find_asset

DATA = Path(os.environ.get("INTREF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
MANIFEST = DATA / "speech" / "manifest.tsv"
CALIB = ("ljspeech/LJ001-0010.wav", "pocketsphinx/sense_and_sensibility_01_austen_64kb-0870.wav")
EVAL = ("mlek_another_engineer.wav", "ljspeech/LJ001-0004.wav", "arctic_a0024.wav")


def _have_hama() -> bool:
    try:
        find_asset()
    except AssetNotFoundError:
        return False
    return True


pytestmark = [
    pytest.mark.skipif(not _have_hama(), reason="hama 1.7.0 is not installed"),
    pytest.mark.skipif(not MANIFEST.is_file(), reason=f"no shared speech clips at {MANIFEST}"),
]


@pytest.fixture(scope="module")
def clips():
    from intref.evaluate import read_manifest
    from intref.evaluate.references import G2PReferences
    from intref.frontend.audio import load_waveform

    manifest = read_manifest(MANIFEST)
    by_path = {e.path: e for e in manifest}
    out = {}
    with G2PReferences() as refs:
        for name in CALIB + EVAL:
            entry = by_path[name]
            path = manifest.audio_path(entry)
            if not path.is_file():
                pytest.skip(f"{path} is missing")
            out[name] = (load_waveform(path, entry.raw_format), refs.tokens(entry.reference))
    return out


def test_int8_hama_17_per_is_close_to_float(clips):
    from intref.evaluate import corpus_errors, phoneme_tokens, token_errors
    from intref.models.hama.integer import IntegerAcousticModel, features_of, load_float, quantize_hama
    from intref.quantize.inputs import CalibrationSet

    fmodel = load_float("hama-1.7")
    features = features_of(fmodel)
    calib = CalibrationSet([features(clips[n][0]) for n in CALIB], {"kind": "real", "clips": list(CALIB)})
    model, recipe, _ = quantize_hama("hama-1.7", weights="int8", calibration=calib)
    runner = IntegerAcousticModel(model, fmodel.frontend, fmodel.tokens, backend="numpy")
    float_errors, int_errors, same, total = [], [], 0, 0
    for name in EVAL:
        wav, ref = clips[name]
        f = fmodel.transcribe(wav)
        i = runner.transcribe(wav)
        float_errors.append(token_errors(ref, phoneme_tokens(f.words)))
        int_errors.append(token_errors(ref, phoneme_tokens(i.words)))
        same += int(np.sum(np.array(f.frame_ids) == np.array(i.frame_ids)))
        total += len(f.frame_ids)
    float_per, int_per = corpus_errors(float_errors).rate, corpus_errors(int_errors).rate
    assert int_per - float_per <= 0.03, (float_per, int_per)
    assert same / total >= 0.95
    assert model.metadata["decoder"]["blank"] == 190 and model.provenance["recipe"]["model"] == "hama-1.7"


def test_cli_quantize_and_rebuild_from_the_recipe(tmp_path, capsys):
    a, b, recipe = tmp_path / "a.intref", tmp_path / "b.intref", tmp_path / "r.json"
    argv = ["quantize", "hama-1.7", "--weights", "mixed", "--calib", "synthetic", "--calib-count", "2"]
    assert cli.main([*argv, "-o", str(a), "--save-recipe", str(recipe)]) == 0
    assert cli.main(["quantize", "hama-1.7", "--recipe", str(recipe), "-o", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    captured = capsys.readouterr()
    assert "smaller than float32" in captured.out and "calibration" in captured.err
    assert cli.main(["quantize", "hama-1.7", "--recipe", str(recipe), "--calib", "synthetic", "-o", str(b)]) == 2
    assert cli.main(["quantize", "hama-1.6", "--calib", "synthetic", "-o", str(b)]) == 2  # 1.7 asset: wrong model
