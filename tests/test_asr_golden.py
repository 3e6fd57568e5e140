"""Golden vectors of the built-in hama models on one real clip each (vectors/hama/, built by vectors/hama/build.py).

What is shipped per model is the graph input (the clip's float32 log-mel) and the manifest of the complete export
(every file's sha256), marked digest-only. The model is rebuilt from its recipe into a temporary cache, the
vectors are exported again on the shipped input, and every file must have the shipped sha256: every node's
inputs, weights, accumulator, outputs and parameters, bit for bit. The fresh export must then pass
`intref vectors check` on every backend and ISA. With the shared data (``INTREF_DATA``), the front end must give
the shipped input from the clip. Not compared: ``intref_version`` and ``model.sha256`` (the model file records
the intref version; its bytes are pinned by the recipe's ``.sha256``, which building checks).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import BackendConfig, backend_variants, configured, load_backend
from test_asr_bit_exact import ASSETS, SPEECH, model_params, stage_asset

from intref.cli import main
from intref.models.default import BUILTINS, ensure_model
from intref.vectors.check import DIGEST_ONLY, check, format_results, summary
from intref.vectors.common import MANIFEST, sha256_file
from intref.vectors.formats import read_npy

HAMA_VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "hama"
IGNORED = ("intref_version", DIGEST_ONLY)  # top-level manifest keys that may differ; model.sha256 too (see above)
MAX_LISTED = 10


def _build_script():
    spec = importlib.util.spec_from_file_location("hama_vectors_build", HAMA_VECTORS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _build_script()


def golden(model_id: str) -> Path:
    return BUILD.golden_dir(model_id)


def comparable(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest without the fields that legitimately vary between intref versions."""
    out = {k: v for k, v in manifest.items() if k not in IGNORED}
    out["model"] = {k: v for k, v in manifest["model"].items() if k != "sha256"}
    return out


def digest_differences(shipped: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """Files missing from the fresh export, or whose sha256, dtype or shape changed; then any other field."""
    problems = []
    for rel, info in sorted(shipped["files"].items()):
        new = fresh["files"].get(rel)
        if new is None:
            problems.append(f"{rel}: no longer produced")
        elif new != info:
            changed = [k for k in sorted(set(info) | set(new)) if info.get(k) != new.get(k)]
            problems.append(f"{rel}: {', '.join(changed)} differ (shipped {info}, now {new})")
    problems += [f"{rel}: produced but not shipped" for rel in sorted(set(fresh["files"]) - set(shipped["files"]))]
    a, b = comparable(shipped), comparable(fresh)
    problems += [
        f"manifest field {k!r} differs" for k in sorted(set(a) | set(b)) if k != "files" and a.get(k) != b.get(k)
    ]
    return problems


def assert_same_digests(shipped: dict[str, Any], fresh: dict[str, Any]) -> None:
    problems = digest_differences(shipped, fresh)
    shown = "\n".join(problems[:MAX_LISTED])
    assert not problems, f"{len(problems)} differences from the shipped manifest; first:\n{shown}"


def shipped_manifest(model_id: str) -> dict[str, Any]:
    return json.loads((golden(model_id) / MANIFEST).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def fresh_export(tmp_path_factory) -> Iterator[Callable[[str], tuple[Path, Path, dict]]]:
    """``fresh_export(model)``: (model file, vectors directory, manifest) of the rebuilt model on the shipped
    input, made once per model in a private cache."""
    cache = tmp_path_factory.mktemp("cache")
    done: dict[str, tuple[Path, Path, dict]] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTREF_CACHE", str(cache))

        def get(model_id: str) -> tuple[Path, Path, dict]:
            if model_id not in done:
                stage_asset(ASSETS[model_id], cache)
                model_path = ensure_model(model_id)
                x = read_npy(golden(model_id) / BUILD.INPUT_FILE)
                out = tmp_path_factory.mktemp(f"{model_id}-vectors")
                done[model_id] = (model_path, out, BUILD.export_full(model_path, x, out))
            return done[model_id]

        yield get


# --- what is shipped (no model needed) ---


@pytest.mark.parametrize("model_id", list(BUILTINS))
def test_shipped_golden_is_an_input_and_a_digest_manifest(model_id):
    folder = golden(model_id)
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        BUILD.INPUT_FILE,
        MANIFEST,
    ]
    manifest = shipped_manifest(model_id)
    assert manifest[DIGEST_ONLY] == BUILD.REASON
    assert manifest["model"]["name"] == model_id and manifest["model"]["file"] is None
    assert manifest["backend"] == "numpy" and manifest["formats"] == ["npy"]
    x = read_npy(folder / BUILD.INPUT_FILE)
    entry = manifest["files"][BUILD.INPUT_FILE]
    assert sha256_file(folder / BUILD.INPUT_FILE) == entry["sha256"] == manifest["inputs"]["logmel"]["sha256"]
    assert x.dtype == np.float32 and x.ndim == 2 and x.shape[1] == 80 and list(x.shape) == entry["shape"]
    # every node's output and, where it has one, accumulator are among the digests
    roles = {role for node in manifest["nodes"] for role in node["files"]}
    assert {"y", "acc", "w", "bias", "multiplier", "shift"} <= roles
    assert all(set(node["outputs"]) <= set(node["files"]) for node in manifest["nodes"])


def test_vectors_check_skips_digest_only_sets_with_the_reason(tmp_path):
    results = check(HAMA_VECTORS, ["numpy"])
    p2g = HAMA_VECTORS / BUILD.P2G_GOLDEN
    expected = {str(golden(m)) for m in BUILTINS} | {str(p) for p in sorted(p2g.glob("step*"))}
    assert len(expected) > len(BUILTINS) and {r.path for r in results} == expected
    assert all(r.ok and r.skipped and (BUILD.REASON in r.skipped or BUILD.P2G_REASON in r.skipped) for r in results)
    text = format_results(results)
    assert f"0 vector sets checked on no backend, {len(expected)} skipped: all passed" in text
    assert text.count("skip  ") == len(expected) and "digests only: " in text
    assert summary(results)["skipped_cases"] == sorted(expected)
    # without the mark the same directory is a (failing) vectors set: the mark is what skips it
    copy = tmp_path / "copy"
    shutil.copytree(golden("hama-1.7"), copy)
    manifest = shipped_manifest("hama-1.7")
    del manifest[DIGEST_ONLY]
    (copy / MANIFEST).write_text(json.dumps(manifest))
    (result,) = check(copy, ["numpy"])
    assert not result.ok and not result.skipped and "--model" in result.problems[0]


# --- the rebuilt model ---


@pytest.mark.parametrize("model_id", model_params())
def test_fresh_export_has_every_shipped_digest(fresh_export, model_id):
    _, _, manifest = fresh_export(model_id)
    assert_same_digests(shipped_manifest(model_id), manifest)


@pytest.mark.parametrize("variant", backend_variants(), ids=str)
@pytest.mark.parametrize("model_id", model_params())
def test_vectors_check_passes_on_the_fresh_export(fresh_export, capsys, model_id, variant: BackendConfig):
    model_path, vectors, _ = fresh_export(model_id)
    load_backend(variant.name)
    with configured(variant):
        rc = main(["vectors", "check", str(vectors), "--model", str(model_path), "--backend", variant.name])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert f"1 vector sets checked on {variant.name}: all passed" in out


@pytest.mark.skipif(not (SPEECH / "LDC93S1.wav").is_file(), reason=f"no shared speech clips at {SPEECH}")
@pytest.mark.parametrize("model_id", model_params())
def test_front_end_gives_the_shipped_input(fresh_export, tmp_path, capsys, model_id):
    """`intref vectors export MODEL CLIP` reproduces the shipped input and every digest."""
    fresh_export(model_id)  # builds the model into the private cache
    clip = SPEECH / BUILD.GOLDEN_CLIPS[model_id]
    out = tmp_path / "export"
    rc = main(["vectors", "export", model_id, str(clip), "--out", str(out), "--no-model"])
    assert rc == 0, capsys.readouterr().err
    shipped = read_npy(golden(model_id) / BUILD.INPUT_FILE)
    x = read_npy(out / BUILD.INPUT_FILE)
    assert x.dtype == shipped.dtype and x.shape == shipped.shape
    diff = np.abs(x.astype(np.float64) - shipped)
    assert np.array_equal(x, shipped), (
        f"the front end gives a different log-mel for {clip.name}: {int((diff > 0).sum())} of {x.size} values "
        f"differ, max |difference| {diff.max()}"
    )
    assert_same_digests(shipped_manifest(model_id), json.loads((out / MANIFEST).read_text(encoding="utf-8")))


def test_digest_differences_name_the_file():
    shipped = shipped_manifest("hama-1.7")
    fresh = json.loads(json.dumps(shipped))
    fresh["intref_version"], fresh["model"]["sha256"] = "9.9", "0" * 64
    del fresh[DIGEST_ONLY]
    assert digest_differences(shipped, fresh) == []
    rel = next(r for r in shipped["files"] if r.endswith("/acc.npy"))
    fresh["files"][rel]["sha256"] = "f" * 64
    fresh["files"]["nodes/extra.npy"] = {"format": "npy"}
    assert digest_differences(shipped, fresh) == [
        f"{rel}: sha256 differ (shipped {shipped['files'][rel]}, now {fresh['files'][rel]})",
        "nodes/extra.npy: produced but not shipped",
    ]
