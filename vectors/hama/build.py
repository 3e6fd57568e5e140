"""Digest-only golden vectors of the built-in hama models, one real clip each (docs/VECTORS.md, section 8).

    python vectors/hama/build.py                      # rewrite vectors/hama/<model>-<clip>/ for every model here
    python vectors/hama/build.py hama-1.6 --data DIR  # one model; clips from DIR/speech (default: INTREF_DATA)
    python vectors/hama/build.py --full DIR           # also keep the complete exports under DIR/<model>-<clip>/

With no model named, the built-in P2G decoder's first two decode steps of "h aɪ" are written too (hama-p2g-hi/:
decode.json and each step's manifest, digests only).

A complete `intref vectors export` of a whole model on a 3 s clip is about 55 MB, too large to ship. Each
directory keeps the graph input (inputs/logmel.npy: the clip's float32 log-mel [t, 80], as the model takes it)
and the export's manifest.json (every file's sha256, dtype and shape) with a ``digest_only`` entry, so that
`intref vectors check` skips it with that reason. tests/test_asr_golden.py rebuilds the model from its recipe,
re-exports on the shipped input and compares every file's sha256 with the manifest.

The models are the built-in ones (intref.models.default.ensure_model, in the usual cache); hama-1.6 needs
`intref models fetch hama-1.6` first. Rebuilding gives identical files unless the integer spec, the recipe or the
front end changed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from intref.graph import load
from intref.models.default import BUILTINS, ensure_model
from intref.models.fetch import find_model_asset, missing_asset_message
from intref.models.hama.integer import INPUT
from intref.vectors.check import DIGEST_ONLY
from intref.vectors.common import MANIFEST, json_bytes
from intref.vectors.export import export

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# One short 16 kHz clip (no resampling between the file and the front end) per model.
GOLDEN_CLIPS: dict[str, str] = {"hama-1.7": "LDC93S1.wav", "hama-1.6": "LDC93S1.wav"}
INPUT_FILE = f"inputs/{INPUT}.npy"
REASON = (
    "the per-node tensors of this whole-model run (about 55 MB) are not shipped, only their sha256; "
    "tests/test_asr_golden.py re-exports them from the model's recipe and compares every file"
)


def data_root() -> Path:
    """The shared data folder: INTREF_DATA, else ../shared/data beside the repository (as the tests use)."""
    return Path(os.environ.get("INTREF_DATA", REPO.parent / "shared" / "data"))


def golden_dir(model_id: str, root: Path = HERE) -> Path:
    return root / f"{model_id}-{Path(GOLDEN_CLIPS[model_id]).stem}"


def clip_input(model_id: str, clip: Path) -> np.ndarray:
    """The graph input of ``clip`` for ``model_id``: the front end of the model's own hama asset."""
    from intref.asr.recognizer import load_frontend
    from intref.frontend.audio import load_waveform

    asset = find_model_asset(model_id)
    if asset is None:
        raise SystemExit(missing_asset_message(model_id))
    return np.ascontiguousarray(load_frontend(asset)(load_waveform(clip)).T)


def export_full(model_path: Path, x: np.ndarray, out: Path) -> dict:
    """The complete vectors of the model on ``x`` (reference backend, npy only, no model copy)."""
    return export(load(model_path), {INPUT: x}, out, backend="numpy", copy_model=False, force=out.exists())


def digest_manifest(manifest: dict) -> dict:
    return {**manifest, DIGEST_ONLY: REASON}


def write_golden(model_id: str, data: Path, out_root: Path = HERE, full_root: Path | None = None) -> Path:
    """Export ``model_id`` on its golden clip and keep the input and the manifest in ``<out_root>/<model>-<clip>/``."""
    x = clip_input(model_id, data / "speech" / GOLDEN_CLIPS[model_id])
    model_path = ensure_model(model_id, progress=lambda msg: print(msg, file=sys.stderr))
    with tempfile.TemporaryDirectory() as tmp:
        full = golden_dir(model_id, full_root) if full_root else Path(tmp) / "full"
        manifest = export_full(model_path, x, full)
        out = golden_dir(model_id, out_root)
        if out.exists():
            shutil.rmtree(out)
        (out / "inputs").mkdir(parents=True)
        shutil.copyfile(full / INPUT_FILE, out / INPUT_FILE)
        (out / MANIFEST).write_bytes(json_bytes(digest_manifest(manifest)))
    return out


# The P2G decoder: one short phrase, greedy decoding, every step's vectors (intref.vectors.decode).
P2G_GOLDEN = "hama-p2g-hi"
P2G_PHONEMES = "h aɪ"
P2G_MAX_NEW = 2  # the prefix step and one cached step: the two shapes of run a decode makes
P2G_REASON = (
    "the per-node tensors of every decode step (the weights included, about 24 MB a step) are not shipped, only "
    "their sha256; tests/test_p2g_integer.py re-exports the decode from the model's recipe and compares every file"
)


def write_p2g_golden(out_root: Path = HERE) -> Path:
    """Decode P2G_PHONEMES (P2G_MAX_NEW tokens) with the built-in P2G model; keep decode.json and every step's
    manifest (digests)."""
    from intref.models.default import TEXT_MODEL
    from intref.models.hama.p2g_text import P2GVocab
    from intref.vectors.decode import DECODE, export_decode

    model = load(ensure_model(TEXT_MODEL, progress=lambda msg: print(msg, file=sys.stderr)))
    vocab = P2GVocab(tuple(model.metadata["vocabulary"]))
    prefix = vocab.prefix(vocab.source_tokens(P2G_PHONEMES))
    out = out_root / P2G_GOLDEN
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "full"
        doc = export_decode(model, prefix, full, max_new=P2G_MAX_NEW, backend="numpy")
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        (out / DECODE).write_bytes(json_bytes({**doc, "phonemes": P2G_PHONEMES}))
        for step in doc["steps"]:
            (out / step).mkdir()
            manifest = json.loads((full / step / MANIFEST).read_text())
            (out / step / MANIFEST).write_bytes(json_bytes({**manifest, DIGEST_ONLY: P2G_REASON}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help=f"of {', '.join(BUILTINS)} (default: those whose asset is here)")
    parser.add_argument("--data", type=Path, default=data_root(), help="shared data folder (holding speech/)")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: this directory)")
    parser.add_argument("--full", type=Path, help="also keep the complete exports under this folder")
    args = parser.parse_args()
    unknown = [m for m in args.models if m not in BUILTINS]
    if unknown:
        parser.error(f"unknown models {unknown} (known: {', '.join(BUILTINS)})")
    models = args.models or [m for m in BUILTINS if find_model_asset(m) is not None]
    for model_id in models:
        out = write_golden(model_id, args.data, args.out, args.full)
        print(f"{model_id}: digest-only golden vectors written to {out}")
    for model_id in [] if args.models else [m for m in BUILTINS if m not in models]:
        print(f"{model_id}: skipped ({missing_asset_message(model_id)})")
    if not args.models:
        print(f"hama-p2g: digest-only decode vectors written to {write_p2g_golden(args.out)}")


if __name__ == "__main__":
    main()
