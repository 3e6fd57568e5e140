"""Float baseline: phoneme error rate (PER) of the hama acoustic models on the shared speech clips.

For each model version (1.7.0 Conformer, 1.6.0 separable-conv) and each clip of the manifest:
- `runtime`: the hama package's own pipeline (`hama.asr.ASRModel.transcribe_waveform` on the file's samples: its
  linear resampler, its native runtime, its greedy decoding). The installed version runs in this process; the other
  one runs in its own virtualenv (`--other-python`, default `INTREF_HAMA16_PYTHON` or `../venv-hama16/bin/python`).
- `rt-soxr`: the same runtime fed audio resampled by soxr (isolates the resampler from the network);
- `float-lin`: intref's float32 reference (`intref.models.hama`) with hama-style linear resampling;
- `float-soxr`: intref's float32 reference with band-limited soxr resampling (intref's default).
References: the transcript through hama's text-to-phoneme model (`intref.evaluate.references`); PER counts word
boundaries as tokens. Clips whose audio is missing are skipped with a message.

    OPENBLAS_NUM_THREADS=1 python bench/float_baseline.py [--json | --csv | --markdown] [-o FILE] [--details]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

# Run by the other version's interpreter: only numpy and hama there. argv: input .npz, output .npz.
# Input keys "<clip>|<pipeline>|<rate>" hold mono float32 samples; output keys the runtime's per-frame token ids.
RUNTIME_WORKER = r"""
import importlib.metadata as md, importlib.util, json, pathlib, sys
import numpy as np
from hama.asr import ASRModel
model = ASRModel()
data = np.load(sys.argv[1])
out = {k: np.asarray(model.transcribe_waveform(data[k], int(k.rsplit("|", 1)[1])).frame_token_ids, dtype=np.int64)
       for k in data.files}
np.savez(sys.argv[2], **out)
root = pathlib.Path(importlib.util.find_spec("hama").submodule_search_locations[0])
print(json.dumps({"version": md.version("hama"), "asset": str(root / "assets" / "asr_waveform.hama"),
                  "temperature": model.decode_cfg.temperature}))
"""

PIPELINES = ("runtime", "rt-soxr", "float-lin", "float-soxr")


@dataclass
class Clip:
    name: str
    rate: int
    seconds: float
    reference: str
    ref_tokens: tuple[str, ...]
    mono: np.ndarray  # at the file's rate
    wav: dict[str, np.ndarray]  # 16 kHz: "linear", "soxr"
    frames: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)  # (version, pipeline) -> frame ids


@dataclass
class RuntimeRun:
    version: str
    asset: str
    temperature: float
    frames: dict[str, np.ndarray]  # "<clip>|<pipeline>" -> per-frame ids


def runtime_inputs(clips: list[Clip]) -> dict[str, np.ndarray]:
    """What the runtime is fed: the file's samples (it resamples linearly itself), and the soxr 16 kHz audio."""
    out = {}
    for c in clips:
        out[f"{c.name}|runtime|{c.rate}"] = c.mono
        if c.rate != 16000:  # at 16 kHz both are the same samples: run once (see run_version)
            out[f"{c.name}|rt-soxr|16000"] = c.wav["soxr"]
    return out


def run_in_process(clips: list[Clip]) -> RuntimeRun:
    from hama.asr import ASRModel

    from intref.models.hama import find_asset, installed_version

    model = ASRModel()
    frames = {}
    for key, samples in runtime_inputs(clips).items():
        rate = int(key.rsplit("|", 1)[1])
        frames[key.rsplit("|", 1)[0]] = np.asarray(model.transcribe_waveform(samples, rate).frame_token_ids)
    return RuntimeRun(installed_version() or "?", str(find_asset()), model.decode_cfg.temperature, frames)


def run_subprocess(python: Path, clips: list[Clip]) -> RuntimeRun:
    with tempfile.TemporaryDirectory(prefix="intref-bench-") as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, **runtime_inputs(clips))
        env = {**os.environ, "PYTHONPATH": ""}
        proc = subprocess.run([str(python), "-c", RUNTIME_WORKER, str(src), str(dst)],
                              capture_output=True, text=True, timeout=1800, env=env)  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"{python}: the hama runtime failed: {proc.stderr.strip()[-800:]}")
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        out = np.load(dst)
        frames = {k.rsplit("|", 1)[0]: out[k] for k in out.files}
    return RuntimeRun(info["version"], info["asset"], float(info["temperature"]), frames)


def load_clips(manifest_path: Path, only: list[str], refs) -> list[Clip]:
    from intref.evaluate import read_manifest
    from intref.frontend import read_audio
    from intref.frontend.audio import AudioError, prepare_waveform, to_mono

    manifest = read_manifest(manifest_path)
    clips = []
    for entry in manifest:
        if only and not any(s in entry.path for s in only):
            continue
        path = manifest.audio_path(entry)
        if not path.is_file():
            print(f"skipped {entry.path}: audio not found at {path}", file=sys.stderr)
            continue
        try:
            audio = read_audio(path, entry.raw_format)
        except AudioError as exc:
            print(f"skipped {entry.path}: {exc}", file=sys.stderr)
            continue
        mono = np.clip(to_mono(audio.samples), -1.0, 1.0)
        wav = {m: prepare_waveform(audio.samples, audio.sample_rate, method=m) for m in ("linear", "soxr")}
        ref = refs.tokens(entry.reference)
        clips.append(Clip(entry.path, audio.sample_rate, audio.duration, entry.reference, ref, mono, wav))
    refs.save()
    return clips


def run_version(run: RuntimeRun, clips: list[Clip]) -> None:
    """Fill clip.frames for one model version: the runtime's outputs and intref's float reference."""
    from intref.models.hama import load_acoustic_model

    model = load_acoustic_model(run.asset)
    if abs(model.blank_offset + 0.1 * run.temperature) > 1e-9:
        print(f"warning: {run.version}: float decoding offset {model.blank_offset} vs runtime temperature "
              f"{run.temperature}", file=sys.stderr)  # fmt: skip
    for c in clips:
        c.frames[run.version, "runtime"] = run.frames[f"{c.name}|runtime"]
        c.frames[run.version, "rt-soxr"] = run.frames.get(f"{c.name}|rt-soxr", c.frames[run.version, "runtime"])
        for p, method in (("float-lin", "linear"), ("float-soxr", "soxr")):
            c.frames[run.version, p] = np.asarray(model.decode(model.logits(c.wav[method])).frame_ids)


def tokens_of(frames: np.ndarray, vocab: tuple[str, ...]) -> tuple[str, ...]:
    from intref.evaluate import phoneme_tokens
    from intref.models.hama.decode import collapse, split_words

    return phoneme_tokens(split_words(collapse(frames), vocab))


def build_tables(clips: list[Clip], versions: list[str], vocab: tuple[str, ...]):
    from intref.evaluate import Table, agreement, corpus_errors, token_errors

    cols = ["clip", "kHz", "sec", "ref"] + [f"{v} {p}" for v in versions for p in PIPELINES]
    per_clip = Table(cols, title="PER per clip", percent=set(cols[4:]))
    errors: dict[tuple[str, str], dict[str, object]] = {}
    agree: dict[tuple[str, str], list] = {}
    for c in clips:
        row = [c.name, round(c.rate / 1000, 2), round(c.seconds, 2), len(c.ref_tokens)]
        for v in versions:
            toks = {p: tokens_of(c.frames[v, p], vocab) for p in PIPELINES}
            for p in PIPELINES:
                e = token_errors(c.ref_tokens, toks[p])
                errors.setdefault((v, p), {})[c.name] = e
                row.append(e.rate)
            # intref's float reference against the runtime fed the same 16 kHz audio
            for p, base in (("float-lin", "runtime"), ("float-soxr", "rt-soxr")):
                a = agreement(toks[base], toks[p], c.frames[v, base], c.frames[v, p])
                agree.setdefault((v, p), []).append((a, toks[base] == toks[p]))
        per_clip.add(*row)

    groups = {
        f"all {len(clips)}": [c.name for c in clips],
        f"resampled {sum(c.rate != 16000 for c in clips)}": [c.name for c in clips if c.rate != 16000],
        f"16k {sum(c.rate == 16000 for c in clips)}": [c.name for c in clips if c.rate == 16000],
    }
    cols = ["version", "pipeline"] + [f"PER {g}" for g in groups] + ["sub", "del", "ins", "ref tokens"]
    cols += ["tok agree", "frame agree", "same tokens"]
    title = "Corpus PER (sum of edits / sum of reference tokens); agreement: float vs runtime on the same audio"
    summary = Table(cols, title=title, percent={*cols[2:5], "tok agree", "frame agree"})
    for v in versions:
        for p in PIPELINES:
            by_clip = errors[v, p]
            rates = [corpus_errors(by_clip[n] for n in names).rate for names in groups.values()]
            total = corpus_errors(by_clip.values())
            ag = agree.get((v, p), [])
            tok = float(np.mean([a.tokens for a, _ in ag])) if ag else None
            frm = float(np.mean([a.frames for a, _ in ag])) if ag else None
            same = f"{sum(s for _, s in ag)}/{len(ag)}" if ag else None
            summary.add(v, p, *rates, total.substitutions, total.deletions, total.insertions, total.ref_len, tok, frm,
                        same)  # fmt: skip
    return summary, per_clip


def details(clips: list[Clip], versions: list[str], vocab: tuple[str, ...]) -> str:
    lines = []
    for c in clips:
        lines.append(f"== {c.name}: {c.reference}")
        lines.append(f"   reference   {' '.join(c.ref_tokens)}")
        for v in versions:
            for p in ("runtime", "float-soxr"):
                lines.append(f"   {v:5s} {p:10s} {' '.join(tokens_of(c.frames[v, p], vocab))}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    data_default = Path(os.environ.get("INTREF_DATA", REPO.parent / "shared" / "data"))
    other_default = Path(os.environ.get("INTREF_HAMA16_PYTHON", REPO.parent / "venv-hama16" / "bin" / "python"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", type=Path, default=data_default / "speech" / "manifest.tsv")
    ap.add_argument("--other-python", type=Path, default=other_default,
                    help="interpreter of a virtualenv with the other hama version (skipped when absent)")  # fmt: skip
    ap.add_argument("--clips", nargs="*", default=[], help="only clips whose path contains one of these")
    fmt = ap.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_const", dest="fmt", const="json", help="JSON output")
    fmt.add_argument("--csv", action="store_const", dest="fmt", const="csv", help="CSV output")
    fmt.add_argument("--markdown", action="store_const", dest="fmt", const="markdown", help="Markdown tables")
    ap.add_argument("-o", "--output", type=Path, help="write the output here instead of stdout")
    ap.add_argument("--details", action="store_true", help="also print reference and decoded tokens per clip")
    ap.add_argument("--no-cache", action="store_true", help="do not read or write the G2P cache")
    args = ap.parse_args(argv)

    from intref.evaluate import render
    from intref.evaluate.references import G2PReferences
    from intref.models.hama import installed_version, load_tokens

    if not args.manifest.is_file():
        print(f"no manifest at {args.manifest} (set INTREF_DATA or --manifest)", file=sys.stderr)
        return 2
    start = time.time()
    refs = G2PReferences(cache=not args.no_cache)
    clips = load_clips(args.manifest, args.clips, refs)
    if not clips:
        print("no clips to evaluate", file=sys.stderr)
        return 2

    runs = [run_in_process(clips)]
    if args.other_python.is_file():
        other = run_subprocess(args.other_python, clips)
        if other.version != runs[0].version:
            runs.append(other)
    else:
        print(f"skipped the other hama version: no interpreter at {args.other_python}", file=sys.stderr)
    runs.sort(key=lambda r: r.version, reverse=True)
    for run in runs:
        run_version(run, clips)
    versions = [r.version for r in runs]
    vocab = load_tokens()  # the same 191 tokens in both versions

    summary, per_clip = build_tables(clips, versions, vocab)
    meta = {
        "manifest": str(args.manifest),
        "clips": len(clips),
        "audio_seconds": round(sum(c.seconds for c in clips), 2),
        "g2p": refs.fingerprint,
        "installed_hama": installed_version(),
        "runtimes": [{"version": r.version, "temperature": r.temperature, "asset": r.asset} for r in runs],
        "seconds": round(time.time() - start, 1),
    }
    out = render([summary, per_clip], args.fmt or "text", meta)
    if args.details and (args.fmt or "text") == "text":
        out += "\n\n" + details(clips, versions, vocab)
    if args.output:
        args.output.write_text(out + "\n", encoding="utf-8")
    else:
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
