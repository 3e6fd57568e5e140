"""``intref transcribe AUDIO...``: phonemes with word boundaries and times, from the integer model."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import Any

from ._common import add_command, print_json

DESCRIPTION = """\
Transcribe audio files into phonemes with the integer model: the greedy CTC tokens, grouped into words at the
model's word boundaries, each with its time. (The output is phonemes; words as text are not produced yet.)

Model: by default hama 1.7.0's Conformer-CTC with mixed 4/8-bit weights, built on first use into the cache
($INTREF_CACHE, else $XDG_CACHE_HOME/intref, else ~/.cache/intref) from the installed hama package and a recipe
shipped with intref; --model hama-1.6 (after `intref models fetch hama-1.6`) or --model FILE.intref.

Audio: wav, flac, ogg (anything libsndfile reads), any sample rate and channel count (mixed to mono, resampled
to 16 kHz). Headerless PCM: --format raw with --rate, --channels and --dtype; files named .raw or .pcm are read
as raw PCM with those options (default 16000 Hz, 1 channel, s16le). Clips longer than 30 s run in overlapping
windows; nothing is cut off. Input shorter than 12.5 ms, or silence, gives an empty result.

Times: the model emits one frame per 20 ms (log-mel hop 10 ms, then a stride-2 stem); a phoneme spans its
frames [first x 20 ms, (last + 1) x 20 ms).

An unreadable file prints one error line and the others are still transcribed; the exit status is then 2.

examples:
  intref transcribe speech.wav
  intref transcribe --json a.flac b.wav > out.json
  intref transcribe --format raw --rate 8000 --dtype s16le call.pcm"""

FORMATS = ("wav", "flac", "ogg", "raw")
RAW_DEFAULTS = {"rate": 16000, "channels": 1, "dtype": "s16le"}


def register(sub) -> None:
    from ..backends import NAMES
    from ..frontend.audio import RAW_DTYPES

    p = add_command(sub, "transcribe", "transcribe audio into phonemes with word boundaries and times", DESCRIPTION)
    p.add_argument("audio", nargs="+", metavar="AUDIO", help="audio files")
    p.add_argument("--model", help="hama-1.7 (default), hama-1.6, or an .intref model file")
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


def format_text(t) -> str:
    """A header line, the phonemes with ' | ' between words, then one line per word with each phoneme's start."""
    head = (
        f"{t.source}  ({t.duration:.2f} s, {t.frames} frames; model {t.model.get('name')}, "
        f"backend {t.backend.get('name')})"
    )
    if not t.words:
        return f"{head}\n  phonemes: (none)"
    lines = [head, f"  phonemes: {t.text}", "  start    end  word (phoneme@start s)"]
    for w in t.words:
        timed = " ".join(f"{p.symbol}@{p.start:.2f}" for p in w)
        lines.append(f"  {w[0].start:5.2f}  {w[-1].end:5.2f}  {timed}")
    return "\n".join(lines)


def progress_bar(total: int):
    """A tqdm bar on stderr when it is a terminal and there are several files, else None."""
    if total < 2 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="file", file=sys.stderr, leave=False)


def run(args: argparse.Namespace) -> int:
    from ..asr import Recognizer
    from ..errors import IntrefError
    from ..frontend.audio import AudioError

    paths = [Path(a) for a in args.audio]
    formats = {p: raw_format(args, p) for p in paths}  # option errors before any work
    recognizer = Recognizer.load(args.model, backend=args.backend, progress=say)
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
        print_json({"model": recognizer.describe(), "results": results})
    return 2 if failed else 0
