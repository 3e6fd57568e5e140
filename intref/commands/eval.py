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
  WER, CER   word and character error rates of the text against the transcript, both normalised (lowercase,
             no punctuation, numbers spelled out as a reader says them): "int" is the integer pipeline (integer
             acoustic model, integer phoneme-to-text model), "float" the float one (intref's float32 acoustic
             model and P2G decoder); corpus figures are summed edits over summed reference words / characters
Overall also: frame agreement (same token per frame) and clips decoded exactly as float. Several --model values
are scored side by side. --phonemes-only skips the text (faster). See docs/ACCURACY.md.

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
    p.add_argument("--phonemes-only", action="store_true", help="phoneme error rates only (no text model)")
    p.add_argument("--text-model", help="hama-p2g (default) or an .intref phoneme-to-text model file")
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


def float_text():
    """intref's float32 P2G decoder as words -> text (None when the hama package's p2g.hama is not here)."""
    from ..asr.words import decode_words, join_texts, segments
    from ..models.hama.assets import AssetNotFoundError
    from ..models.hama.p2g import FloatP2G, load_p2g_weights
    from ..models.hama.p2g_text import load_p2g_vocab

    try:
        decoder, vocab = FloatP2G(load_p2g_weights()), load_p2g_vocab()
    except AssetNotFoundError:
        return None

    def text(words) -> str:
        runs = (decode_words(lambda source: decoder.predict(source, vocab), seg) for seg in segments(words))
        return join_texts(r.text for r in runs)

    return text


def score_model(spec, args, wavs, refs, say, floats: dict, texts: dict | None) -> tuple[Any, list]:
    """(recognizer, clip scores) of one model; float references are shared between models of one hama version.
    ``texts``: the transcripts by clip, to score the text too (None: phonemes only)."""
    from ..asr import Recognizer
    from ..asr.evaluation import load_float_reference, score_clip

    recognizer = Recognizer.load(
        spec, backend=args.backend, progress=say, words=texts is not None, text_model=args.text_model
    )
    key = recognizer.asset.sha256 if recognizer.asset else None
    if key not in floats:
        floats[key] = load_float_reference(recognizer)
    fmodel = floats[key]
    if fmodel is None:
        say(f"{recognizer.label}: the float {recognizer.model_id} model is not here; float columns left empty")
    text_of = None
    if texts is not None and fmodel is not None:
        if "p2g" not in floats:
            floats["p2g"] = float_text()
        text_of = floats["p2g"]
    say(f"{recognizer.label}: {len(wavs)} clips on backend {recognizer.backend_info()['name']}")
    bar = None
    if sys.stderr.isatty() and len(wavs) > 1:
        from tqdm import tqdm

        bar = tqdm(total=len(wavs), unit="clip", file=sys.stderr, leave=False, desc=recognizer.label)
    scores = []
    for path, wav in wavs.items():
        transcript = texts[path] if texts is not None else None
        scores.append(score_clip(recognizer, fmodel, wav, refs[path], path, transcript=transcript, float_text=text_of))
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
    with_text = all(s.text is not None for _, scores in models for s in scores)
    cols = ["clip", "seconds", "ref tokens"]
    percent = set()
    for label in labels:
        names = [f"{label} PER int", f"{label} PER float", f"{label} agree"]
        if with_text:
            names += [f"{label} WER int", f"{label} WER float"]
        cols += names
        percent |= set(names)
    per_clip = Table(cols, title="Per clip", percent=percent, digits=1)
    for i, path in enumerate(wavs):
        row: list[Any] = [path, round(wavs[path].shape[0] / SAMPLE_RATE, 2), len(refs[path])]
        for _, scores in models:
            s = scores[i]
            row += [s.int_errors.rate, s.float_errors.rate if s.float_errors else None, s.agreement]
            if with_text:
                row += [s.text.int_words.rate, s.text.float_words.rate if s.text.float_words else None]
        per_clip.add(*row)
    text_cols = ["WER int", "WER float", "WER int - float", "CER int", "CER float"] if with_text else []
    overall = Table(
        ["model", "file sha256", "clips", "PER int", "PER float", "PER int - float", *text_cols, "tok agree",
         "frame agree", "same as float", "edits int", "edits float", "ref tokens"],
        title="Overall",
        percent={"PER int", "PER float", "PER int - float", "tok agree", "frame agree", *text_cols},
        digits=2,
    )  # fmt: skip
    for rec, scores in models:
        s = summarize(scores)
        text: list[Any] = []
        if with_text:
            wer_int, wer_float = s.int_words.rate, s.float_words.rate if s.float_words else None
            text = [
                wer_int,
                wer_float,
                _difference(wer_int, wer_float),
                s.int_chars.rate,
                s.float_chars.rate if s.float_chars else None,
            ]
        overall.add(
            rec.label,
            rec.model.sha256[:16],
            s.clips,
            s.per_int,
            s.per_float,
            _difference(s.per_int, s.per_float),
            *text,
            s.agreement,
            s.frame_agreement,
            None if s.same is None else f"{s.same}/{s.clips}",
            s.int_errors.edits,
            s.float_errors.edits if s.float_errors else None,
            s.int_errors.ref_len,
        )
    return per_clip, overall


def _difference(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


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
    texts = None if args.phonemes_only else {e.path: e.reference for e in entries if e.path in wavs}
    floats: dict = {}
    models = [score_model(spec, args, wavs, refs, say, floats, texts) for spec in (args.model or [None])]
    per_clip, overall = tables(models, wavs, refs)
    meta = {
        "manifest": str(args.manifest),
        "clips": len(wavs),
        "failed clips": failed,
        "models": [{**rec.describe(), "backend": rec.backend_info()} for rec, _ in models],
    }
    text_models = {rec.text_model.label: rec.text_model.describe() for rec, _ in models if rec.text_model}
    if text_models:
        meta["text models"] = list(text_models.values())
    print(render([per_clip, overall], args.fmt, meta))
    say("done")
    return 2 if failed else 0
