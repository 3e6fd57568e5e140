"""``intref vectors export|verify|check``: golden vectors for hardware verification (see docs/VECTORS.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import add_command, print_json, read_inputs

DESCRIPTION = """\
Golden vectors: per node, its inputs, weights (unpacked and packed), bias, the int32 accumulator before
rescale, per-channel multiplier and shift, rescale scheme, zero points, clamp bounds, output and float scales.

  export   run a model on an input and write the vectors (npy, memh for $readmemh, C headers)
  verify   compare a device dump with exported vectors; report the first divergent node
  check    re-run stored vectors on every backend and confirm every file bit for bit"""

EXPORT = """\
Run MODEL on INPUT and write golden vectors to --out. MODEL is an .intref file or a built-in model (hama-1.7,
hama-1.6, hama-p2g). INPUT is an .npy file (single-input model), name=path.npy pairs, or, for an acoustic model,
one audio file of at most 30 s (its log-mel becomes the input). Writes manifest.json (model and input sha256,
each file's shape, dtype and sha256), inputs/, nodes/<index>_<name>/ with one file per tensor and params.json,
and a copy of the model.

A phoneme-to-text model decodes step by step: --phonemes "PHONEMES" (spaces between phonemes, | between words)
decodes greedily and writes one vectors directory per step (step000 for the prefix, then one per generated
letter), decode.json (prefix, generated tokens, text) and the model once.

examples:
  intref vectors export model.intref features.npy --out golden/ --formats npy,memh,c
  intref vectors export hama-1.7 speech.wav --out golden-speech/
  intref vectors export hama-p2g --phonemes "h ə l oʊ | w ɝ l d" --out golden-hello/"""

VERIFY = """\
Compare a device dump with golden vectors. The dump uses the export's layout (nodes/<index>_<name>/y.npy or
.memh, optionally acc, inputs and params too) or holds one <node name>.npy per node with its output.
Prints MATCH, or the first divergent node in execution order, whether its inputs already differed
(propagated) or not (originated there), the count and fraction of differing elements, max |diff| and the
first 10 differing indices with expected and actual values. Exit status 1 on any mismatch."""

CHECK = """\
Re-run stored golden vectors on every available backend (or those given with --backend) and confirm every
stored file bit for bit, and that no file changed since it was written (sha256 in the manifest). PATH is a
vectors directory, an op case (desc.json), or any directory above them. Exit status 1 on any failure."""


def register(sub) -> None:
    p = add_command(sub, "vectors", "export, verify and check golden vectors", DESCRIPTION)
    vsub = p.add_subparsers(dest="vectors_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    e = add_command(vsub, "export", "write golden vectors of a model run", EXPORT)
    e.add_argument("model", help="an .intref model file, or hama-1.7 / hama-1.6")
    e.add_argument("inputs", nargs="*", metavar="INPUT", help="input.npy, name=path.npy pairs, or an audio file")
    e.add_argument("--phonemes", help="a phoneme-to-text model: decode these phonemes, one vectors set per step")
    e.add_argument("--out", required=True, help="output directory (new or empty)")
    e.add_argument(
        "--formats", default="npy", help="comma-separated: npy, memh, c (default: npy; npy is always written)"
    )
    e.add_argument("--backend", default="numpy", help="backend that computes the vectors (default: numpy)")
    e.add_argument("--force", action="store_true", help="replace golden vectors already in --out")
    e.add_argument("--no-model", action="store_true", help="do not copy the model into --out")
    e.add_argument("--json", action="store_true", help="print the manifest summary as JSON")
    e.set_defaults(func=run_export)

    v = add_command(vsub, "verify", "compare a device dump with golden vectors", VERIFY)
    v.add_argument("dir", help="golden vectors directory (from 'intref vectors export')")
    v.add_argument("--dump", required=True, help="directory holding the device's dump")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.set_defaults(func=run_verify)

    c = add_command(vsub, "check", "re-run golden vectors on every backend", CHECK)
    c.add_argument("path", help="vectors directory, op case, or a directory above them")
    c.add_argument("--backend", action="append", help="check only this backend (repeatable; default: all available)")
    c.add_argument(
        "--model", help="the model file (or hama-1.7 / hama-1.6), when the vectors were exported with --no-model"
    )
    c.add_argument("--json", action="store_true", help="print the results as JSON")
    c.add_argument("-v", "--verbose", action="store_true", help="list passing vector sets too")
    c.set_defaults(func=run_check)


def is_audio_input(inputs: list[str]) -> bool:
    """One argument that is neither ``name=path`` nor an ``.npy`` file: a sound file for an acoustic model."""
    return len(inputs) == 1 and "=" not in inputs[0] and Path(inputs[0]).suffix.lower() != ".npy"


def say(message: str) -> None:
    print(f"intref: {message}", file=sys.stderr, flush=True)


def audio_input(spec: str, path: str):
    """(model, {input: log-mel}) for one clip that fits the model's window."""
    from ..asr import Recognizer
    from ..errors import IntrefInputError
    from ..frontend.audio import load_waveform
    from ..frontend.chunking import MAX_SINGLE_SAMPLES
    from ..frontend.logmel import SAMPLE_RATE
    from ..models.hama.integer import INPUT

    recognizer = Recognizer.load(spec, backend="numpy", progress=say)
    wav = load_waveform(path)
    if wav.shape[0] > MAX_SINGLE_SAMPLES:
        raise IntrefInputError(
            f"{path}: {wav.shape[0] / SAMPLE_RATE:.1f} s is longer than the model's window "
            f"({MAX_SINGLE_SAMPLES / SAMPLE_RATE:.1f} s); export a shorter cut"
        )
    x = recognizer.logmel(wav)
    if x.shape[0] == 0:
        raise IntrefInputError(f"{path}: too short to give a single frame")
    return recognizer.model, {INPUT: x}


def run_decode_export(args: argparse.Namespace) -> int:
    from ..errors import IntrefInputError
    from ..graph import load
    from ..models.default import TEXT_MODEL, ensure_model
    from ..models.hama.p2g_integer import ARCHITECTURE
    from ..models.hama.p2g_text import P2GVocab
    from ..vectors.decode import export_decode

    path = ensure_model(TEXT_MODEL, say) if args.model == TEXT_MODEL else Path(args.model)
    model = load(path)
    if model.metadata.get("architecture") != ARCHITECTURE:
        raise IntrefInputError(f"{args.model}: --phonemes needs a phoneme-to-text model ({ARCHITECTURE})")
    vocab = P2GVocab(tuple(model.metadata["vocabulary"]))
    prefix = vocab.prefix(vocab.source_tokens(args.phonemes))
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    doc = export_decode(model, prefix, args.out, formats=formats, backend=args.backend, force=args.force)
    summary = {"out": str(args.out), "model_sha256": model.sha256, "steps": len(doc["steps"]), "text": doc["text"]}
    if args.json:
        print_json(summary)
    else:
        print(f"wrote {summary['steps']} decode steps to {args.out} ({doc['text']!r}; backend {doc['backend']})")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from ..errors import IntrefInputError
    from ..models.default import resolve_model
    from ..vectors.export import export

    if args.phonemes is not None:
        if args.inputs:
            raise IntrefInputError("--phonemes takes the place of the inputs: give one or the other")
        return run_decode_export(args)
    if not args.inputs:
        raise IntrefInputError("give the model's inputs (or --phonemes for a phoneme-to-text model)")
    if is_audio_input(args.inputs):
        model, inputs = audio_input(args.model, args.inputs[0])
    else:
        from ..graph import load

        model, inputs = load(resolve_model(args.model, say).path), read_inputs(args.inputs)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    manifest = export(
        model,
        inputs,
        args.out,
        formats=formats,
        backend=args.backend,
        copy_model=not args.no_model,
        force=args.force,
    )
    summary = {
        "out": str(args.out),
        "model_sha256": manifest["model"]["sha256"],
        "input_sha256": manifest["input_sha256"],
        "backend": manifest["backend"],
        "nodes": len(manifest["nodes"]),
        "files": len(manifest["files"]) + 1,
        "formats": manifest["formats"],
    }
    if args.json:
        print_json(summary)
    else:
        print(
            f"wrote {summary['files']} files for {summary['nodes']} nodes to {args.out} "
            f"({', '.join(summary['formats'])}; backend {summary['backend']})"
        )
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from ..vectors.verify import format_report, verify

    report = verify(args.dir, args.dump)
    if args.json:
        print_json(report.to_json())
    else:
        print(format_report(report))
    return 0 if report.match else 1


def run_check(args: argparse.Namespace) -> int:
    from ..vectors.check import check, format_results, summary

    model = args.model
    if model is not None:
        from ..models.default import resolve_model

        model = str(resolve_model(model, say).path)
    results = check(args.path, args.backend, model=model)
    if args.json:
        print_json(summary(results))
    else:
        print(format_results(results, verbose=args.verbose))
    return 0 if all(r.ok for r in results) else 1
