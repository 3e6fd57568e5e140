"""``intref transcribe AUDIO...``: words (or phonemes) with times, from the integer models."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import Any

from ._common import add_command, print_json

DESCRIPTION = """\
Transcribe audio files into words with the integer models: the acoustic model's greedy CTC phonemes, grouped
into words at its word boundaries, then the phoneme-to-text model's greedy decoding into text. Each word has
a time. --phonemes shows the phonemes instead (and skips the text model); --json gives both.

Models: by default hama 1.7.0's Conformer-CTC with mixed 4/8-bit weights and hama's P2G decoder with mixed
4/8-bit weights, built on first use into the cache ($INTREF_CACHE, else $XDG_CACHE_HOME/intref, else
~/.cache/intref) from the installed hama package and recipes shipped with intref; --model hama-1.6 (after
`intref models fetch hama-1.6`) or --model FILE.intref; --text-model FILE.intref for another P2G model.

Audio: wav, flac, ogg (anything libsndfile reads), any sample rate and channel count (mixed to mono, resampled
to 16 kHz). Headerless PCM: --format raw with --rate, --channels and --dtype; files named .raw or .pcm are read
as raw PCM with those options (default 16000 Hz, 1 channel, s16le). Clips longer than 30 s run in overlapping
windows, and the text model writes long transcriptions in runs of whole words (it reads at most 192 phonemes);
nothing is cut off. Input shorter than 12.5 ms, or silence, gives an empty result.

Times: the acoustic model emits one frame per 20 ms (log-mel hop 10 ms, then a stride-2 stem); a phoneme spans
its frames [first x 20 ms, (last + 1) x 20 ms). A word spans the phonemes the text model's alignment points its
letters at, which can be off by a phoneme at word edges.

An unreadable file prints one error line and the others are still transcribed; the exit status is then 2.

examples:
  intref transcribe speech.wav
  intref transcribe --phonemes speech.wav
  intref transcribe --json a.flac b.wav > out.json
  intref transcribe --format raw --rate 8000 --dtype s16le call.pcm"""

FORMATS = ("wav", "flac", "ogg", "raw")
RAW_DEFAULTS = {"rate": 16000, "channels": 1, "dtype": "s16le"}


def register(sub) -> None:
    from ..backends import NAMES
    from ..frontend.audio import RAW_DTYPES

    p = add_command(sub, "transcribe", "transcribe audio into words (or phonemes) with times", DESCRIPTION)
    p.add_argument("audio", nargs="+", metavar="AUDIO", help="audio files")
    p.add_argument("--model", help="hama-1.7 (default), hama-1.6, or an .intref acoustic model file")
    p.add_argument("--phonemes", action="store_true", help="print the phonemes (no phoneme-to-text model)")
    p.add_argument("--text-model", help="hama-p2g (default) or an .intref phoneme-to-text model file")
    p.add_argument("--backend", choices=(*NAMES, "auto"), help="integer backend (default: INTREF_BACKEND, else auto)")
    p.add_argument("--json", action="store_true", help="print one JSON document with a result per file")
    p.add_argument("--format", choices=FORMATS, help="the files' format (default: from the file; raw for .raw/.pcm)")
    p.add_argument("--rate", type=int, help="raw PCM: sample rate in Hz (default 16000)")
    p.add_argument("--channels", type=int, help="raw PCM: interleaved channels (default 1)")
    p.add_argument("--dtype", choices=sorted(RAW_DTYPES), help="raw PCM: sample encoding (default s16le)")
    p.set_defaults(func=run)


def say(message: str) -> None:
    print(f"intref: {message}", file=sys.stderr, flush=True)


def raw_format(args: argparse.Namespace, path: Path):
    """The RawFormat to read ``path`` with, or None for a file with a header."""
    from ..errors import IntrefInputError
    from ..frontend.audio import RAW_SUFFIXES, RawFormat

    is_raw = args.format == "raw" or (args.format is None and path.suffix.lower() in RAW_SUFFIXES)
    given = {k: getattr(args, k) for k in RAW_DEFAULTS if getattr(args, k) is not None}
    if not is_raw:
        if given and args.format is not None:
            raise IntrefInputError(f"--{', --'.join(given)} only apply to --format raw")
        return None
    options = {**RAW_DEFAULTS, **given}
    try:
        return RawFormat(options["rate"], options["dtype"], options["channels"])
    except ValueError as exc:
        raise IntrefInputError(str(exc)) from None


def check_container(path: Path, wanted: str | None) -> None:
    """With --format wav/flac/ogg, the file must be that (libsndfile itself reads the container from the header)."""
    if wanted in (None, "raw"):
        return
    import soundfile as sf

    from ..frontend.audio import AudioError

    try:
        actual = sf.info(str(path)).format
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{path}: cannot read audio: {exc}") from None
    if actual.lower() != wanted:
        raise AudioError(f"{path}: is {actual}, not {wanted} (--format {wanted})")


def _header(t) -> str:
    text = f", text {t.text_result.model.get('name')}" if t.text_result is not None else ""
    return (
        f"{t.source}  ({t.duration:.2f} s, {t.frames} frames; model {t.model.get('name')}{text}, "
        f"backend {t.backend.get('name')})"
    )


def _seconds(v: float | None) -> str:
    return "    ?" if v is None else f"{v:5.2f}"


def format_words(t) -> str:
    """A header line, the text, then one line per word with its start and end."""
    words = t.text_result.words
    if not words:
        return f"{_header(t)}\n  text: (none)"
    lines = [_header(t), f"  text: {t.text}", "  start    end  word"]
    lines += [f"  {_seconds(w.start)}  {_seconds(w.end)}  {w.text}" for w in words]
    return "\n".join(lines)


def format_phonemes(t) -> str:
    """A header line, the phonemes with ' | ' between words, then one line per word with each phoneme's start."""
    if not t.words:
        return f"{_header(t)}\n  phonemes: (none)"
    lines = [_header(t), f"  phonemes: {t.phoneme_text}", "  start    end  word (phoneme@start s)"]
    for w in t.words:
        timed = " ".join(f"{p.symbol}@{p.start:.2f}" for p in w)
        lines.append(f"  {w[0].start:5.2f}  {w[-1].end:5.2f}  {timed}")
    return "\n".join(lines)


def format_text(t) -> str:
    return format_phonemes(t) if t.text_result is None else format_words(t)


def progress_bar(total: int):
    """A tqdm bar on stderr when it is a terminal and there are several files, else None."""
    if total < 2 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="file", file=sys.stderr, leave=False)


def run(args: argparse.Namespace) -> int:
    from ..asr import Recognizer
    from ..errors import IntrefError, IntrefInputError
    from ..frontend.audio import AudioError

    paths = [Path(a) for a in args.audio]
    formats = {p: raw_format(args, p) for p in paths}  # option errors before any work
    if args.phonemes and args.text_model:
        raise IntrefInputError("--text-model turns phonemes into words; it does not go with --phonemes")
    recognizer = Recognizer.load(
        args.model, backend=args.backend, progress=say, words=not args.phonemes, text_model=args.text_model
    )
    results: list[dict[str, Any]] = []
    failed = 0
    bar = progress_bar(len(paths))
    for path in paths:
        try:
            if not path.is_file():
                raise AudioError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
            check_container(path, args.format)
            transcript = recognizer.transcribe_file(path, formats[path])
        except (AudioError, IntrefError, OSError) as exc:
            failed += 1
            if getattr(args, "debug", False):
                traceback.print_exc()
            message = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
            (bar.write if bar else print)(f"intref: error: {message}", file=sys.stderr)
            if args.json:
                results.append({"path": str(path), "error": message})
        else:
            if args.json:
                results.append(transcript.to_json())
            elif bar:
                bar.write(format_text(transcript) + "\n", file=sys.stdout)
            else:
                print(format_text(transcript) + ("\n" if len(paths) > 1 else ""), flush=True)
        if bar:
            bar.update()
    if bar:
        bar.close()
    if args.json:
        doc = {"model": recognizer.describe()}
        if recognizer.text_model is not None:
            doc["text_model"] = recognizer.text_model.describe()
        print_json({**doc, "results": results})
    return 2 if failed else 0
