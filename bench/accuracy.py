"""Accuracy of the integer hama models: PER, agreement with float, size, per calibration and bit configuration.

For each model version (hama-1.7 Conformer, hama-1.6 separable-conv), bit configuration (int8, mixed 4/8, int4)
and calibration (real: 8 of the clips, evenly spaced in manifest order; synthetic: 16 speech-like clips from seed 0,
no speech data), the model is quantised (`intref.models.hama.integer.quantize_hama`) and run on every clip with the
reference backend (integer results are the same on every backend). Reported per row:

- PER on all clips, and on the clips not used for calibration (held out; for synthetic calibration all clips);
- token agreement (1 - token edit rate against the float decoding) and frame agreement (same argmax) with the
  float model (intref's float32 reference, soxr resampling: `float-soxr` of bench/float_baseline.py);
- stored tensor bytes and the compression against float32 (4 bytes per learned parameter).

    OPENBLAS_NUM_THREADS=1 python bench/accuracy.py [--versions 1.7 1.6] [--weights int8 mixed int4]
        [--calib real synthetic] [--markdown | --json] [-o FILE] [--layers CONFIG]

`--layers 1.7:mixed:real` prints the per-layer SQNR (dB) of one configuration's integer tensors against the float
activations on three held-out clips, instead of the table. Clips whose audio is missing are skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

CALIB_COUNT = 8
SYNTHETIC_COUNT = 16
VERSIONS = {"1.7": "hama-1.7", "1.6": "hama-1.6"}


@dataclass
class Clip:
    name: str
    ref: tuple[str, ...]
    wav: np.ndarray  # 16 kHz, soxr


def default_asset16() -> Path | None:
    env = os.environ.get("INTREF_HAMA16_ASSET")
    if env:
        return Path(env)
    for lib in sorted((REPO.parent / "venv-hama16" / "lib").glob("python*/site-packages/hama/assets")):
        if (lib / "asr_waveform.hama").is_file():
            return lib / "asr_waveform.hama"
    return None


def load_clips(manifest_path: Path) -> list[Clip]:
    from intref.evaluate import read_manifest
    from intref.evaluate.references import G2PReferences
    from intref.frontend.audio import AudioError, load_waveform

    manifest = read_manifest(manifest_path)
    clips = []
    with G2PReferences() as refs:
        for e in manifest:
            path = manifest.audio_path(e)
            if not path.is_file():
                print(f"skipped {e.path}: audio not found", file=sys.stderr)
                continue
            try:
                wav = load_waveform(path, e.raw_format)
            except AudioError as exc:
                print(f"skipped {e.path}: {exc}", file=sys.stderr)
                continue
            clips.append(Clip(e.path, refs.tokens(e.reference), wav))
    return clips


def tokens_of(frames, vocab) -> tuple[str, ...]:
    from intref.evaluate import phoneme_tokens
    from intref.models.hama.decode import collapse, split_words

    return phoneme_tokens(split_words(collapse(np.asarray(frames)), vocab))


def score(clips, frames, float_frames, vocab, names=None):
    """(PER, token agreement, frame agreement, clips with the float tokens) over ``names`` (default all)."""
    from intref.evaluate import agreement, corpus_errors, token_errors

    chosen = [c for c in clips if names is None or c.name in names]
    errs, tok, frm, same = [], [], [], 0
    for c in chosen:
        hyp, base = tokens_of(frames[c.name], vocab), tokens_of(float_frames[c.name], vocab)
        errs.append(token_errors(c.ref, hyp))
        a = agreement(base, hyp, float_frames[c.name], frames[c.name])
        tok.append(a.tokens)
        frm.append(a.frames)
        same += hyp == base
    return corpus_errors(errs).rate, float(np.mean(tok)), float(np.mean(frm)), f"{same}/{len(chosen)}"


def run_version(version: str, args, clips, table, say) -> None:
    from intref.models.hama.integer import (
        IntegerAcousticModel,
        features_of,
        learned_parameters,
        load_float,
        quantize_hama,
    )
    from intref.quantize.inputs import CalibrationSet, spaced, synthetic_set

    model_id = VERSIONS[version]
    asset = args.asset16 if version == "1.6" else None
    fmodel = load_float(model_id, asset)
    vocab = fmodel.tokens
    say(f"{model_id}: float reference on {len(clips)} clips")
    float_frames = {c.name: np.asarray(fmodel.decode(fmodel.logits(c.wav)).frame_ids) for c in clips}
    per, tok, frm, same = score(clips, float_frames, float_frames, vocab)
    calib_clips = spaced(clips, CALIB_COUNT)
    held = {c.name for c in clips} - {c.name for c in calib_clips}
    per_held = score(clips, float_frames, float_frames, vocab, held)[0]
    float_bytes = 4 * learned_parameters(model_id, fmodel)
    table.add(model_id, "float32", "-", per, per_held, tok, frm, same, float_bytes, 1.0)
    features = features_of(fmodel)
    for calib in args.calib:
        if calib == "real":
            cal = CalibrationSet(
                [features(c.wav) for c in calib_clips], {"kind": "real", "clips": [c.name for c in calib_clips]}
            )
            held_out = held
        else:
            cal = synthetic_set(features, count=SYNTHETIC_COUNT, seed=0)
            held_out = {c.name for c in clips}
        for weights in args.weights:
            start = time.monotonic()
            model, recipe, _ = quantize_hama(model_id, weights=weights, calibration=cal, asset=asset)
            runner = IntegerAcousticModel(model, fmodel.frontend, vocab, backend="numpy")
            frames = {c.name: runner.frames(c.wav) for c in clips}
            per, tok, frm, same = score(clips, frames, float_frames, vocab)
            per_held = score(clips, frames, float_frames, vocab, held_out)[0]
            size = sum(a.nbytes for a in model.stored.values())
            table.add(model_id, weights, calib, per, per_held, tok, frm, same, size, float_bytes / size)
            say(f"{model_id} {weights} {calib}: PER {100 * per:.2f}% ({time.monotonic() - start:.0f} s)")


def layers(spec: str, args, clips, say) -> str:
    from intref.models.hama.integer import features_of, float_graph, load_float, quantize_hama
    from intref.quantize.analysis import format_errors, layer_errors
    from intref.quantize.inputs import CalibrationSet, spaced, synthetic_set
    from intref.quantize.ptq import equalized

    version, weights, calib = spec.split(":")
    model_id = VERSIONS[version]
    asset = args.asset16 if version == "1.6" else None
    fmodel = load_float(model_id, asset)
    features = features_of(fmodel)
    calib_clips = spaced(clips, CALIB_COUNT)
    if calib == "real":
        cal = CalibrationSet([features(c.wav) for c in calib_clips], {"kind": "real"})
    else:
        cal = synthetic_set(features, count=SYNTHETIC_COUNT, seed=0)
    model, recipe, _ = quantize_hama(model_id, weights=weights, calibration=cal, asset=asset)
    _, fg = float_graph(fmodel, residual_bits=recipe.residual_bits, wide=recipe.wide_activations)
    held = [c for c in clips if c.name not in {k.name for k in calib_clips}][:3]
    say(f"per-layer error on {', '.join(c.name for c in held)}")
    errors = layer_errors(model, equalized(fg, recipe.equalize), [features(c.wav) for c in held])
    return format_errors(errors)


def main(argv: list[str] | None = None) -> int:
    data_default = Path(os.environ.get("INTREF_DATA", REPO.parent / "shared" / "data"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", type=Path, default=data_default / "speech" / "manifest.tsv")
    ap.add_argument("--asset16", type=Path, default=default_asset16(), help="hama 1.6.0 asr_waveform.hama")
    ap.add_argument("--versions", nargs="+", choices=list(VERSIONS), default=list(VERSIONS))
    ap.add_argument("--weights", nargs="+", choices=("int8", "mixed", "int4"), default=["int8", "mixed", "int4"])
    ap.add_argument("--calib", nargs="+", choices=("real", "synthetic"), default=["real", "synthetic"])
    ap.add_argument("--layers", metavar="VERSION:WEIGHTS:CALIB", help="per-layer SQNR of one configuration")
    fmt = ap.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_const", dest="fmt", const="json")
    fmt.add_argument("--markdown", action="store_const", dest="fmt", const="markdown")
    ap.add_argument("-o", "--output", type=Path)
    args = ap.parse_args(argv)

    from intref.evaluate import Table, render

    start = time.monotonic()

    def say(msg: str) -> None:
        print(f"[{time.monotonic() - start:6.1f}s] {msg}", file=sys.stderr, flush=True)

    if not args.manifest.is_file():
        print(f"no manifest at {args.manifest} (set INTREF_DATA or --manifest)", file=sys.stderr)
        return 2
    if "1.6" in args.versions and (args.asset16 is None or not args.asset16.is_file()):
        print("skipped hama-1.6: no asset (set INTREF_HAMA16_ASSET or --asset16)", file=sys.stderr)
        args.versions = [v for v in args.versions if v != "1.6"]
    say("loading clips and references")
    clips = load_clips(args.manifest)
    if args.layers:
        out = layers(args.layers, args, clips, say)
    else:
        cols = ["model", "weights", "calibration", "PER all", "PER held-out", "tok agree", "frame agree",
                "same tokens", "bytes", "compression"]  # fmt: skip
        title = (
            f"Integer models on {len(clips)} clips (PER held-out: clips not used for calibration; agreement: with "
            "the float model's decoding)"
        )
        table = Table(cols, title=title, percent={"PER all", "PER held-out", "tok agree", "frame agree"}, digits=2)
        for version in args.versions:
            run_version(version, args, clips, table, say)
        meta = {"clips": len(clips), "calibration clips": CALIB_COUNT, "synthetic clips": SYNTHETIC_COUNT}
        out = render([table], args.fmt or "text", meta)
    if args.output:
        args.output.write_text(out + "\n", encoding="utf-8")
    else:
        print(out)
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
