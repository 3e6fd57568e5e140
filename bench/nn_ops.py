"""Benchmark of the transformer ops (layernorm, softmax, argmax, quantize): time per call and throughput of the native
core on every ISA this CPU runs, against the numba backend and the NumPy reference measured in the same run.

Shapes are those of the hama Conformer (1.7.0: d = 144, 4 heads of 36; 1.6.0: d = 256), which runs at 50 frames/s, at
T = 500 (a 10 s clip) and T = 1500 (30 s):

    layernorm  [T, 144], [T, 256]  int8 x, int16 gamma, int32 beta, per-channel tflite_double requant to int8
    softmax    [4, T, T]           int32 raw Q.K^T accumulators of the 4 heads, tflite_double multiplier, int8 out
    argmax     [T, 191]            int8 logits, int32 offset per class (the CTC blank's)
    quantize   [2T, 80]            float32 log-mel features (the front end runs at 100 frames/s)

Every time is the best of repeated calls (after a warm-up), native variants interleaved over rounds so that a burst of
load from elsewhere on the machine does not fall on one of them only. Each thread count runs in its own process with
OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and INTREF_THREADS set to it. The last table adds up these ops for one 10 s clip
of the 1.7.0 model (4 blocks of 5 layernorms and one 4-head softmax, one argmax, one quantize).

    python bench/nn_ops.py                    # everything, 1 and 2 threads
    python bench/nn_ops.py --threads 1 --quick --only softmax
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kernels import best_time, best_times, machine_info  # noqa: E402  (the sibling benchmark's timing helpers)

OPS = ("layernorm", "softmax", "argmax", "quantize")
T_VALUES = (500, 1500)
CLIP_T = 500  # frames of a 10 s clip
_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "INTREF_THREADS")


def cases(rng, only: list[str]) -> list[tuple[str, str, int, tuple, dict]]:
    """(op, label, elements, args, kwargs) for every benchmarked call."""
    import numpy as np

    from intref.ops import SoftmaxParams
    from intref.spec import Requant, quantize_multiplier

    out = []
    for t in T_VALUES:
        if "layernorm" in only:
            for c in (144, 256):
                x = rng.integers(-128, 128, (t, c)).astype(np.int8)
                gamma = rng.integers(-(2**15), 2**15, c).astype(np.int16)
                beta = (rng.integers(-(2**31), 2**31, c) >> 8).astype(np.int32)
                rq = Requant.from_scale(rng.uniform(1e-6, 1e-5, c), "tflite_double", 3)
                out.append(("layernorm", f"[{t}, {c}]", t * c, (x, gamma, beta, rq), dict(eps=c * c * 10)))
        if "softmax" in only:
            scores = (rng.standard_normal((4, t, t)) * 3000).astype(np.int32)
            m, s = quantize_multiplier(4e-4 * 256 / math.log(2), "tflite_double")  # s_q s_k / 6 * log2(e) * 256
            out.append(("softmax", f"[4, {t}, {t}]", scores.size, (scores, SoftmaxParams("tflite_double", m, s)), {}))
        if "argmax" in only:
            logits = rng.integers(-128, 128, (t, 191)).astype(np.int8)
            offset = np.zeros(191, np.int32)
            offset[190] = -3
            out.append(("argmax", f"[{t}, 191]", logits.size, (logits, offset), {}))
        if "quantize" in only:
            features = (rng.standard_normal((2 * t, 80)) * 4).astype(np.float32)
            out.append(("quantize", f"[{2 * t}, 80]", features.size, (features, 0.05), {}))
    return out


def worker(args) -> None:
    import functools

    import numpy as np

    import intref.backends as backends
    import intref.backends.native as nat
    from intref import ops

    threads = args.threads[0]
    budget = 0.15 if args.quick else 0.5
    nat.set_threads(threads)
    isas = [i for i in nat.available_isas() if not args.isa or i in args.isa]
    numba = None
    if not args.no_numba:
        try:
            numba = backends.get("numba")
            import intref.backends.numba_backend as numba_module

            numba_module.set_threads(threads)
        except Exception as exc:  # noqa: BLE001 - any failure just leaves numba out of the table
            print(f"# numba backend not measured: {exc}")
    native = nat.NativeBackend()
    print(f"# threads {threads}")
    print(
        f"{'op':<10} {'shape':<16} {'th':>2}  {'backend':<18} {'us/call':>10} {'Melem/s':>9} "
        f"{'vs ref':>8} {'vs numba':>9}"
    )
    clip: dict[str, float] = {}
    for op, label, elements, a, kw in cases(np.random.default_rng(0), args.only):
        fns = {f"native {isa}": (isa, functools.partial(getattr(native, op), *a, **kw)) for isa in isas}
        times = best_times(fns, budget * len(fns), setup=nat.set_isa)
        if numba is not None and getattr(numba, op, None) is not None:
            times["numba"] = best_time(functools.partial(getattr(numba, op), *a, **kw), budget)
        if not args.no_reference:
            times["numpy reference"] = best_time(functools.partial(getattr(ops, op), *a, **kw), budget, 10)
        ref, nb = times.get("numpy reference"), times.get("numba")
        for name, sec in times.items():
            vs_ref = f"{ref / sec:7.1f}x" if ref else "       -"
            vs_nb = f"{nb / sec:8.1f}x" if nb else "        -"
            print(
                f"{op:<10} {label:<16} {threads:>2}  {name:<18} {sec * 1e6:10.1f} {elements / sec / 1e6:9.1f} "
                f"{vs_ref} {vs_nb}",
                flush=True,
            )
        if label.startswith(f"[{CLIP_T},") or label.startswith(f"[4, {CLIP_T},") or label == f"[{2 * CLIP_T}, 80]":
            if op != "layernorm" or label.endswith(" 144]"):
                calls = {"layernorm": 20, "softmax": 4, "argmax": 1, "quantize": 1}[op]
                for name, sec in times.items():
                    clip[name] = clip.get(name, 0.0) + calls * sec
    if clip and len(args.only) == len(OPS):
        print(f"# one 10 s clip (T = {CLIP_T}) of the 1.7.0 model, these ops only, {threads} thread(s):")
        for name, sec in clip.items():
            print(f"#   {name:<18} {sec * 1e3:8.2f} ms  ({sec / 10:.5f} of real time)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default: 1 2)")
    parser.add_argument("--only", nargs="+", choices=OPS, default=list(OPS))
    parser.add_argument("--isa", nargs="+", help="native ISAs to measure (default: every one this CPU runs)")
    parser.add_argument("--quick", action="store_true", help="shorter time budget per case")
    parser.add_argument("--no-numba", action="store_true", help="do not measure the numba backend")
    parser.add_argument("--no-reference", action="store_true", help="do not measure the NumPy reference")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    print("$ " + " ".join([os.path.basename(sys.executable)] + sys.argv))
    for line in machine_info():
        print("# " + line)
    for threads in args.threads:
        env = dict(os.environ, **{name: str(threads) for name in _THREAD_ENV})
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--threads", str(threads), "--only", *args.only]
        if args.isa:
            cmd += ["--isa", *args.isa]
        flags = (("--quick", args.quick), ("--no-numba", args.no_numba), ("--no-reference", args.no_reference))
        cmd += [flag for flag, on in flags if on]
        sys.stdout.flush()
        subprocess.run(cmd, env=env, check=True)


if __name__ == "__main__":
    main()
