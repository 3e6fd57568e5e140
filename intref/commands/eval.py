"""``intref eval MANIFEST.tsv``: phoneme error rates of integer models and of their float references."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from typing import Any

from ._common import add_command

DESCRIPTION = """\
Score integer models on the clips of a manifest (tab-separated: path, reference, source, license; paths relative
to the manifest; .raw/.pcm files are 16 kHz mono s16le).

Per clip and over all clips:
  PER int    phoneme error rate of the integer model against the reference phonemes (the transcript through
             the hama package's text-to-phoneme model, cached per word); word boundaries count as tokens; the
             overall figure is the sum of edits over the sum of reference tokens
  PER float  the same for intref's float32 reference of the same hama model, on the same log-mel
  agree      token agreement of the integer decoding with the float one (1 - token edit rate)
Overall also: frame agreement (same token per frame) and clips decoded exactly as float. Several --model values
are scored side by side. See docs/ACCURACY.md.

examples:
  intref eval ../shared/data/speech/manifest.tsv
  intref eval manifest.tsv --model hama-1.7 --model hama-1.6 --csv > per.csv
  intref eval manifest.tsv --model my-int8.intref --limit 10 --json"""


def register(sub) -> None:
    from ..backends import NAMES

    p = add_command(sub, "eval", "phoneme error rates of integer models on a manifest of clips", DESCRIPTION)
    p.add_argument("manifest", help="a manifest .tsv (path, reference, source, license)")
    p.add_argument(
        "--model",
        action="append",
        help="hama-1.7 (default), hama-1.6 or an .intref file; repeat to compare models side by side",
    )
    p.add_argument("--backend", choices=(*NAMES, "auto"), help="integer backend (default: INTREF_BACKEND, else auto)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_const", dest="fmt", const="json", help="print JSON")
    fmt.add_argument("--csv", action="store_const", dest="fmt", const="csv", help="print CSV")
    fmt.add_argument("--markdown", action="store_const", dest="fmt", const="markdown", help="print Markdown tables")
    p.add_argument("--limit", type=int, help="score only the first N clips of the manifest")
    p.set_defaults(func=run, fmt="text")


class Clock:
    """Progress lines on stderr with the time since the start."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.start:6.1f}s] {message}", file=sys.stderr, flush=True)


def load_audio(manifest, entries, say, debug: bool) -> tuple[dict[str, Any], int]:
    """16 kHz waveforms of the entries that load; one error line per clip that does not."""
    from ..frontend.audio import AudioError, load_waveform

    wavs, failed = {}, 0
    for e in entries:
        try:
            wavs[e.path] = load_waveform(manifest.audio_path(e), e.raw_format)
        except (AudioError, OSError) as exc:
            failed += 1
            if debug:
                traceback.print_exc()
            print(f"intref: error: {exc}", file=sys.stderr)
    say(f"{len(wavs)} of {len(entries)} clips loaded")
    return wavs, failed


def references(entries, say) -> dict[str, tuple[str, ...]]:
    from ..evaluate.references import G2PReferences
    from ..models.hama.assets import AssetNotFoundError

    say("reference phonemes (text-to-phoneme, cached per word)")
    try:
        with G2PReferences() as refs:
            return {e.path: refs.tokens(e.reference) for e in entries}
    except AssetNotFoundError as exc:
        raise AssetNotFoundError(f"reference phonemes need the hama package's text-to-phoneme model: {exc}") from None


def score_model(spec, args, wavs, refs, say, floats: dict) -> tuple[Any, list]:
    """(recognizer, clip scores) of one model; float references are shared between models of one hama version."""
    from ..asr import Recognizer
    from ..asr.evaluation import load_float_reference, score_clip

    recognizer = Recognizer.load(spec, backend=args.backend, progress=say)
    key = recognizer.asset.sha256 if recognizer.asset else None
    if key not in floats:
        floats[key] = load_float_reference(recognizer)
    fmodel = floats[key]
    if fmodel is None:
        say(f"{recognizer.label}: the float {recognizer.model_id} model is not here; float columns left empty")
    say(f"{recognizer.label}: {len(wavs)} clips on backend {recognizer.backend_info()['name']}")
    bar = None
    if sys.stderr.isatty() and len(wavs) > 1:
        from tqdm import tqdm

        bar = tqdm(total=len(wavs), unit="clip", file=sys.stderr, leave=False, desc=recognizer.label)
    scores = []
    for path, wav in wavs.items():
        scores.append(score_clip(recognizer, fmodel, wav, refs[path], path))
        if bar:
            bar.update()
    if bar:
        bar.close()
    return recognizer, scores


def tables(models: list[tuple[Any, list]], wavs: dict, refs: dict):
    from ..asr.evaluation import summarize
    from ..evaluate import Table
    from ..frontend.logmel import SAMPLE_RATE

    labels = [rec.label for rec, _ in models]
    cols = ["clip", "seconds", "ref tokens"]
    percent = set()
    for label in labels:
        names = [f"{label} PER int", f"{label} PER float", f"{label} agree"]
        cols += names
        percent |= set(names)
    per_clip = Table(cols, title="Per clip", percent=percent, digits=1)
    for i, path in enumerate(wavs):
        row: list[Any] = [path, round(wavs[path].shape[0] / SAMPLE_RATE, 2), len(refs[path])]
        for _, scores in models:
            s = scores[i]
            row += [s.int_errors.rate, s.float_errors.rate if s.float_errors else None, s.agreement]
        per_clip.add(*row)
    overall = Table(
        ["model", "file sha256", "clips", "PER int", "PER float", "PER int - float", "tok agree", "frame agree",
         "same as float", "edits int", "edits float", "ref tokens"],
        title="Overall",
        percent={"PER int", "PER float", "PER int - float", "tok agree", "frame agree"},
        digits=2,
    )  # fmt: skip
    for rec, scores in models:
        s = summarize(scores)
        delta = s.per_int - s.per_float if s.per_int is not None and s.per_float is not None else None
        overall.add(
            rec.label,
            rec.model.sha256[:16],
            s.clips,
            s.per_int,
            s.per_float,
            delta,
            s.agreement,
            s.frame_agreement,
            None if s.same is None else f"{s.same}/{s.clips}",
            s.int_errors.edits,
            s.float_errors.edits if s.float_errors else None,
            s.int_errors.ref_len,
        )
    return per_clip, overall


def run(args: argparse.Namespace) -> int:
    from ..errors import IntrefInputError
    from ..evaluate import read_manifest, render
    from ..evaluate.manifest import ManifestError

    say = Clock()
    debug = getattr(args, "debug", False)
    if args.limit is not None and args.limit < 1:
        raise IntrefInputError("--limit must be at least 1")
    try:
        manifest = read_manifest(args.manifest)
    except ManifestError as exc:
        raise IntrefInputError(str(exc)) from None
    entries = list(manifest)[: args.limit] if args.limit else list(manifest)
    wavs, failed = load_audio(manifest, entries, say, debug)
    if not wavs:
        raise IntrefInputError(f"{args.manifest}: no clip could be read")
    refs = references([e for e in entries if e.path in wavs], say)
    floats: dict = {}
    models = [score_model(spec, args, wavs, refs, say, floats) for spec in (args.model or [None])]
    per_clip, overall = tables(models, wavs, refs)
    meta = {
        "manifest": str(args.manifest),
        "clips": len(wavs),
        "failed clips": failed,
        "models": [{**rec.describe(), "backend": rec.backend_info()} for rec, _ in models],
    }
    print(render([per_clip, overall], args.fmt, meta))
    say("done")
    return 2 if failed else 0
