"""Whole-model speed: real-time factor (processing seconds / audio seconds) of the integer hama models on every
intref backend, against the hama package's own runtime measured in the same run.

For each thread count (its own process, with OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, NUMBA_NUM_THREADS and
INTREF_THREADS set to it) and each model:
- `hama runtime`: `hama.asr.ASRModel().transcribe_waveform(wav, 16000)` on the same 16 kHz audio (its own front end,
  network and decoding). hama 1.7.0 is the installed package; 1.6.0 runs in `--hama16-python`
  (default `INTREF_HAMA16_PYTHON` or ../venv-hama16/bin/python).
- `<backend>`: intref's float log-mel front end (`front end`) and the integer graph (`graph`) timed apart, clips over
  30 s in the same overlapping windows as `intref transcribe`.
Audio to text: the built-in integer P2G model (mixed 4/8) decodes the words of each hama-1.7 model's phonemes on
the same backend; its time per generated character and the real-time factor of the whole path (front end, acoustic
graph, P2G) are set beside the hama runtime's `P2GModel().predict(result.word_phoneme_text)` on its own phonemes.
Models: the built-in hama-1.7 (mixed 4/8 weights) and an int8 model quantised in the run (synthetic calibration);
the same for hama-1.6 when its asset is in intref's cache (`intref models fetch hama-1.6`). Every figure is the
sum over the clips of each clip's best time over --repeat runs, after one warm-up clip per backend.

The native backend's per-op-type breakdown times every node (a wrapper around the interpreter's node call) and
sets each op type's share of the time beside its share of the work: multiply-accumulates for linear, matmul and
conv1d (from the node shapes), one per output element for every other op. `!` marks op types whose time share is
above 3x their work share.

    python bench/asr.py                      # every clip, native/numba/numpy, 1 and 2 threads (~15 min)
    python bench/asr.py --quick              # 4 clips
    python bench/asr.py --threads 2 --backends native --quick --json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

DEFAULT_MANIFEST = REPO.parent / "shared" / "data" / "speech" / "manifest.tsv"
BACKENDS = ("native", "numba", "numpy")
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "INTREF_THREADS")
MAC_OPS = ("linear", "matmul", "conv1d")
FLAG_RATIO = 3.0
QUICK_CLIPS = 4

# Run by a hama interpreter (only numpy and hama needed). argv: input .npz of 16 kHz clips, repeats, warm-up key.
RUNTIME_TIMER = r"""
import importlib.metadata as md, json, sys, time
import numpy as np
from hama.asr import ASRModel
from hama import P2GModel
model, p2g = ASRModel(), P2GModel()
data = np.load(sys.argv[1])
repeat = int(sys.argv[2])
p2g.predict(model.transcribe_waveform(data[data.files[0]], 16000).word_phoneme_text)  # warm-up
best, best_text, chars = {}, {}, 0
for key in data.files:
    wav = data[key]
    times, text_times = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        res = model.transcribe_waveform(wav, 16000)
        t1 = time.perf_counter()
        out = p2g.predict(res.word_phoneme_text)
        times.append(t1 - t)
        text_times.append(time.perf_counter() - t1)
    best[key], best_text[key] = min(times), min(text_times)
    chars += len(out.tokens)
print(json.dumps({"version": md.version("hama"), "seconds": best, "text_seconds": best_text, "chars": chars}))
"""


# ------------------------------------------------------------------------------------------------ clips


def load_clips(manifest_path: Path, limit: int | None) -> dict[str, np.ndarray]:
    """Mono 16 kHz float32 audio per clip (reading and resampling are not timed)."""
    from intref.evaluate import read_manifest
    from intref.frontend import read_audio
    from intref.frontend.audio import AudioError, prepare_waveform

    manifest = read_manifest(manifest_path)
    clips: dict[str, np.ndarray] = {}
    for entry in manifest:
        path = manifest.audio_path(entry)
        try:
            audio = read_audio(path, entry.raw_format)
        except (AudioError, OSError) as exc:
            print(f"skipped {entry.path}: {exc}", file=sys.stderr)
            continue
        clips[entry.path] = np.ascontiguousarray(prepare_waveform(audio.samples, audio.sample_rate), np.float32)
    if limit:
        # a spread of lengths: the shortest, the longest and evenly spaced ones between
        names = sorted(clips, key=lambda k: clips[k].shape[0])
        picks = sorted({names[round(i * (len(names) - 1) / max(limit - 1, 1))] for i in range(limit)})
        clips = {k: clips[k] for k in picks}
    return clips


def audio_seconds(clips: dict[str, np.ndarray]) -> float:
    return sum(w.shape[0] for w in clips.values()) / 16000.0


# ------------------------------------------------------------------------------------------------ models


def model_paths(workdir: Path, model_ids: list[str], say) -> dict[str, Path]:
    """``<id> mixed`` (the built-in model) and ``<id> int8`` (quantised here) for each available model id."""
    from intref.models.default import ensure_model
    from intref.models.fetch import find_model_asset
    from intref.models.hama.integer import features_of, load_float, quantize_hama
    from intref.quantize.inputs import synthetic_set

    paths = {}
    for model_id in model_ids:
        asset = find_model_asset(model_id)
        if asset is None:
            say(f"{model_id}: no asset here (intref models fetch {model_id}); skipped")
            continue
        paths[f"{model_id} mixed"] = ensure_model(model_id)
        out = workdir / f"{model_id}-int8.intref"
        say(f"{model_id}: quantising an int8 model (synthetic calibration)")
        fmodel = load_float(model_id, asset.path)
        calib = synthetic_set(features_of(fmodel), count=16, seed=0)
        model, _, _ = quantize_hama(model_id, weights="int8", calibration=calib, asset=asset.path)
        model.save(out)
        paths[f"{model_id} int8"] = out
    return paths


def runtime_python(model_id: str, hama16: str | None) -> str | None:
    if model_id == "hama-1.7":
        return sys.executable
    candidate = hama16 or os.environ.get("INTREF_HAMA16_PYTHON") or str(REPO.parent / "venv-hama16" / "bin" / "python")
    return candidate if Path(candidate).is_file() else None


# ------------------------------------------------------------------------------------------------ worker


def set_backend_threads(backend: str, threads: int) -> None:
    if backend == "native":
        from intref.backends import native

        native.set_threads(threads)
    elif backend == "numba":
        import numba

        numba.set_num_threads(threads)


def macs_of(bound, args: list[np.ndarray], outs: list[np.ndarray]) -> int:
    """Multiply-accumulates of a linear/matmul/conv1d node; one per output element for the other ops."""
    y = outs[0]
    if bound.op == "linear":
        n, k = bound.extra["w"].shape
        return int(np.prod(args[0].shape[:-1])) * n * k
    if bound.op == "matmul":
        n, k = args[1].shape
        return int(np.prod(args[0].shape[:-1])) * n * k
    if bound.op == "conv1d":
        c_out, c_in_g, k = bound.extra["w"].shape
        return y.shape[0] * c_out * c_in_g * k
    return int(y.size)


class NodeTimer:
    """Wraps the interpreter's node call: seconds and work per op type."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.work: dict[str, int] = defaultdict(int)
        self.calls: dict[str, int] = defaultdict(int)

    def __enter__(self) -> NodeTimer:
        from intref.graph import interpreter

        self._module, self._orig = interpreter, interpreter._call

        def timed(backend, bound, args, *rest):
            t = time.perf_counter()
            out = self._orig(backend, bound, args, *rest)
            self.seconds[bound.op] += time.perf_counter() - t
            self.work[bound.op] += macs_of(bound, args, out[0])
            self.calls[bound.op] += 1
            return out

        interpreter._call = timed
        return self

    def __exit__(self, *exc) -> None:
        self._module._call = self._orig

    def table(self) -> list[dict]:
        total_t, total_w = sum(self.seconds.values()), sum(self.work.values())
        rows = []
        for op in sorted(self.seconds, key=lambda o: -self.seconds[o]):
            t_share, w_share = self.seconds[op] / total_t, self.work[op] / total_w
            rows.append(
                {
                    "op": op,
                    "nodes_run": self.calls[op],
                    "seconds": self.seconds[op],
                    "time_share": t_share,
                    "work_share": w_share,
                    "macs": op in MAC_OPS,
                    "flag": t_share > FLAG_RATIO * w_share,
                    "ns_per_unit": 1e9 * self.seconds[op] / max(self.work[op], 1),
                }
            )
        return rows


def time_backend(model_path: Path, backend: str, clips: dict[str, np.ndarray], repeat: int) -> dict:
    """Best front-end and graph seconds per clip (summed), and the output frames for a cross-check."""
    from intref.asr.recognizer import Recognizer
    from intref.frontend.chunking import plan_windows

    rec = Recognizer.load(str(model_path), backend=backend)
    first = next(iter(clips.values()))
    rec.frames_of_logmel(rec.logmel(first[: 16000 * 3]))  # warm-up (numba compiles here)
    front = graph = 0.0
    frames: dict[str, list[int]] = {}
    for name, wav in clips.items():
        best_f = best_g = float("inf")
        for _ in range(repeat):
            tf = tg = 0.0
            outs = []
            for s, e in plan_windows(wav.shape[0]):
                t0 = time.perf_counter()
                x = rec.logmel(wav[s:e])
                t1 = time.perf_counter()
                outs.append(rec.frames_of_logmel(x))
                tf, tg = tf + t1 - t0, tg + time.perf_counter() - t1
            best_f, best_g = min(best_f, tf), min(best_g, tg)
        front, graph = front + best_f, graph + best_g
        frames[name] = [int(v) for o in outs for v in o]
    return {"front_end": front, "graph": graph, "frames": frames}


def op_breakdown(model_path: Path, clips: dict[str, np.ndarray]) -> list[dict]:
    from intref.asr.recognizer import Recognizer

    rec = Recognizer.load(str(model_path), backend="native")
    xs = [rec.logmel(w[:480000]) for w in clips.values()]
    rec.frames_of_logmel(xs[0])
    with NodeTimer() as timer:
        for x in xs:
            rec.frames_of_logmel(x)
    return timer.table()


def time_runtime(python: str, clips: dict[str, np.ndarray], repeat: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="intref-asr-bench-") as tmp:
        src = Path(tmp) / "clips.npz"
        np.savez(src, **{f"c{i}": w for i, w in enumerate(clips.values())})
        env = {**os.environ, "PYTHONPATH": ""}
        proc = subprocess.run([python, "-c", RUNTIME_TIMER, str(src), str(repeat)],
                              capture_output=True, text=True, timeout=3600, env=env)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"{python}: the hama runtime failed: {proc.stderr.strip()[-800:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "version": info["version"],
        "seconds": sum(info["seconds"].values()),
        "text_seconds": sum(info["text_seconds"].values()),
        "chars": info["chars"],
    }


def load_model_vocabulary(path: Path) -> list[str]:
    from intref.graph import load

    return list(load(path).metadata["vocabulary"])


def time_text(backend: str, frames: dict[str, list[int]], vocabulary: list[str], repeat: int) -> dict:
    """Best seconds per clip (summed) of the built-in integer P2G model on the words of the acoustic frames, and
    the characters it generated (every decoding token but the end)."""
    from intref.asr.words import TextModel
    from intref.models.hama.decode import collapse, split_words

    text = TextModel.load(backend=backend)
    words = {k: [list(w) for w in split_words(collapse(np.asarray(f)), vocabulary)] for k, f in frames.items()}
    text.text(next(iter(words.values())))  # warm-up
    seconds, chars = 0.0, 0
    for w in words.values():
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            results = text.decode_all(w)
            best = min(best, time.perf_counter() - t)
        seconds += best
        chars += sum(len(r.ids) for r in results)
    return {"seconds": seconds, "chars": chars}


def worker(spec: dict) -> dict:
    """One thread count: every model on every backend, the hama runtimes, the native op breakdown."""
    threads = spec["threads"]
    clips = load_clips(Path(spec["manifest"]), spec["limit"])
    out: dict = {"threads": threads, "audio_seconds": audio_seconds(clips), "clips": len(clips), "models": {}}
    for model_id, python in spec["runtimes"].items():
        out.setdefault("runtime", {})[model_id] = time_runtime(python, clips, spec["repeat"])
    for label, path in spec["models"].items():
        rows = out["models"][label] = {}
        for backend in spec["backends"]:
            set_backend_threads(backend, threads)
            rows[backend] = time_backend(Path(path), backend, clips, spec["repeat"])
            if spec.get("text") and label.startswith("hama-1.7"):
                vocab = load_model_vocabulary(Path(path))
                rows[backend]["text"] = time_text(backend, rows[backend]["frames"], vocab, spec["repeat"])
        if "native" in spec["backends"]:
            set_backend_threads("native", threads)
            out.setdefault("ops", {})[label] = op_breakdown(Path(path), clips)
    return out


def run_worker(spec: dict) -> dict:
    env = {**os.environ, **{v: str(spec["threads"]) for v in THREAD_VARS}}
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                          capture_output=True, text=True, env=env, timeout=7200)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"worker ({spec['threads']} threads) failed:\n{proc.stderr.strip()[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------ report


def check_frames(result: dict) -> list[str]:
    """Every backend must give the same frames as the first one (a cheap guard, not the bit-exactness test)."""
    problems = []
    for label, rows in result["models"].items():
        ref = None
        for backend, row in rows.items():
            if ref is None:
                ref = (backend, row["frames"])
            elif row["frames"] != ref[1]:
                problems.append(f"{label}: {backend} frames differ from {ref[0]}")
    return problems


def report(results: list[dict]) -> str:
    lines = []
    for res in results:
        sec = res["audio_seconds"]
        lines.append(f"\n== {res['threads']} thread(s): {res['clips']} clips, {sec:.1f} s of audio ==")
        head = f"{'model':16s} {'runner':14s} {'RTF total':>10s} {'front end':>10s} {'graph':>10s}"
        lines.append(f"{head} {'vs hama':>9s}")
        for model_id, rt in res.get("runtime", {}).items():
            lines.append(f"{model_id:16s} {'hama ' + rt['version']:14s} {rt['seconds'] / sec:10.5f}")
        text_rows = [
            (label, b, row) for label, rows in res["models"].items() for b, row in rows.items() if "text" in row
        ]
        if text_rows:
            rt = res.get("runtime", {}).get("hama-1.7")
            lines.append(
                f"\n   audio to text (hama-1.7 acoustic model + P2G): {'ms/char P2G':>12s} {'RTF P2G':>9s} "
                f"{'RTF total':>10s} {'vs hama':>8s}"
            )
            if rt:
                total = rt["seconds"] + rt["text_seconds"]
                lines.append(
                    f"   {'hama ' + rt['version']:46s} {1e3 * rt['text_seconds'] / max(rt['chars'], 1):12.3f} "
                    f"{rt['text_seconds'] / sec:9.5f} {total / sec:10.5f}"
                )
            for label, backend, row in text_rows:
                t = row["text"]
                total = row["front_end"] + row["graph"] + t["seconds"]
                speedup = f"{(rt['seconds'] + rt['text_seconds']) / total:7.2f}x" if rt else "       -"
                lines.append(
                    f"   {label + ' + hama-p2g mixed, ' + backend:46s} {1e3 * t['seconds'] / max(t['chars'], 1):12.3f} "
                    f"{t['seconds'] / sec:9.5f} {total / sec:10.5f} {speedup}"
                )
        for label, rows in res["models"].items():
            rt = res.get("runtime", {}).get(label.split()[0])
            for backend, row in rows.items():
                total = row["front_end"] + row["graph"]
                speedup = f"{rt['seconds'] / total:8.2f}x" if rt else "        -"
                lines.append(
                    f"{label:16s} {backend:14s} {total / sec:10.5f} {row['front_end'] / sec:10.5f} "
                    f"{row['graph'] / sec:10.5f} {speedup}"
                )
        for label, rows in res.get("ops", {}).items():
            lines.append(f"\n   native op types, {label} ({res['threads']} thread(s)): share of time vs share of work")
            for r in rows:
                unit = "MACs" if r["macs"] else "elements"
                mark = "!" if r["flag"] else " "
                lines.append(
                    f"   {mark} {r['op']:14s} {r['nodes_run']:5d} nodes {r['seconds'] * 1e3:9.2f} ms "
                    f"{100 * r['time_share']:6.2f} % of time {100 * r['work_share']:7.3f} % of work "
                    f"{r['ns_per_unit']:7.3f} ns per {unit[:-1]}"
                )
        for p in check_frames(res):
            lines.append(f"WARNING: {p}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", default=str(DEFAULT_MANIFEST))
    p.add_argument("--quick", action="store_true", help=f"{QUICK_CLIPS} clips of spread lengths")
    p.add_argument("--clips", type=int, help="use this many clips (spread over the lengths)")
    p.add_argument("--repeat", type=int, default=1, help="runs per clip, the best counts (default 1)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    p.add_argument("--models", nargs="+", default=["hama-1.7", "hama-1.6"], choices=["hama-1.7", "hama-1.6"])
    p.add_argument("--no-runtime", action="store_true", help="skip the hama runtimes")
    p.add_argument("--no-text", action="store_true", help="skip the phoneme-to-text model (P2G)")
    p.add_argument("--hama16-python", help="a Python with hama 1.6.0 installed")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    def say(msg: str) -> None:
        print(f"[asr bench] {msg}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="intref-asr-models-") as tmp:
        models = model_paths(Path(tmp), args.models, say)
        runtimes = {}
        if not args.no_runtime:
            for model_id in sorted({label.split()[0] for label in models}):
                python = runtime_python(model_id, args.hama16_python)
                if python is None:
                    say(f"{model_id}: no hama runtime found; its baseline is skipped")
                else:
                    runtimes[model_id] = python
        limit = args.clips or (QUICK_CLIPS if args.quick else None)
        results = []
        for threads in args.threads:
            say(f"{threads} thread(s) ...")
            spec = {
                "threads": threads,
                "manifest": args.manifest,
                "limit": limit,
                "repeat": args.repeat,
                "backends": args.backends,
                "models": {k: str(v) for k, v in models.items()},
                "runtimes": runtimes,
                "text": not args.no_text,
            }
            results.append(run_worker(spec))
    if args.json:
        for res in results:
            for rows in res["models"].values():
                for row in rows.values():
                    row.pop("frames", None)
        print(json.dumps(results, indent=1))
    else:
        print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
