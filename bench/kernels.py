"""Kernel benchmark: GEMM (linear) and depthwise conv1d throughput of each backend, against baselines measured in
the same run.

For every case it prints G MAC/s (multiply-accumulates of the integer op, requantisation included: per-channel
``tflite_double`` to int8), the ratio to a NumPy float32 computation of the same shape (``np.matmul`` for the GEMM, a
shift-and-add over the taps for the depthwise conv), and the percentage of the int8 peak of this machine measured by
the native core's register-only ``vpdpbusd`` loop at the same thread count. Every time is the best of many repetitions
(the machine may be shared: noise only slows a run down). Each thread count runs in its own process so that the
NumPy/BLAS baseline uses the same number of threads.

    python bench/kernels.py                 # everything, 1 and 2 threads
    python bench/kernels.py --threads 1 --quick --only gemm
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import subprocess
import sys
import time

GEMM_SHAPES = [(400, 512, 512), (800, 512, 512), (200, 144, 576), (200, 576, 144), (400, 256, 256)]
DW_CHANNELS = (144, 256, 512)
DW_KERNELS = (9, 31, 33, 87)
DW_T = 400
_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "INTREF_THREADS")


def best_time(fn, budget: float, max_calls: int = 400) -> float:
    """Minimum wall time of one call over repeated calls within ``budget`` seconds (after one warm-up call)."""
    fn()
    best = float("inf")
    calls = 0
    start = time.perf_counter()
    while calls < max_calls and (calls < 5 or time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        calls += 1
    return best


def best_times(fns: dict, budget: float, rounds: int = 3, setup=None) -> dict:
    """``best_time`` of several callables (name -> (key, callable)), interleaved over ``rounds`` rounds so that
    a burst of load from elsewhere on the machine does not fall on one of them only. ``setup(key)`` runs,
    untimed, before each callable's turn."""
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, (key, fn) in fns.items():
            if setup is not None:
                setup(key)
            best[name] = min(best[name], best_time(fn, budget / rounds))
    return best


def machine_info() -> list[str]:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count()
    try:
        load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load = "?"
    import numpy as np

    return [
        f"machine: {platform.machine()} {cpu}, {cpus} CPUs available, load average {load}",
        f"python {platform.python_version()}, numpy {np.__version__}, {platform.platform()}",
    ]


def worker(args) -> None:
    import numpy as np

    import intref.backends as backends
    import intref.backends.native as nat
    from intref import ops
    from intref.spec import Accumulator, Requant, pack_int4

    threads = args.threads[0]
    budget = 0.15 if args.quick else 0.6
    rng = np.random.default_rng(0)
    nat.set_threads(threads)
    isas = [i for i in nat.available_isas() if not args.isa or i in args.isa]
    peak_isa = "avx512vnni" if "avx512vnni" in nat.available_isas() else nat.available_isas()[0]
    peak = max(nat.peak_macs(peak_isa, threads, 0.3) for _ in range(3 if args.quick else 6))

    numba = None
    if not args.no_numba:
        try:
            numba = backends.get("numba")
            import intref.backends.numba_backend as numba_module

            numba_module.set_threads(threads)
        except Exception as exc:  # noqa: BLE001 - any failure just leaves numba out of the table
            print(f"# numba backend not measured: {exc}")
            numba = None

    def timed(fns: dict) -> dict:
        """Native variants (name -> (isa, callable)), each timed with its ISA selected, interleaved."""
        return best_times(fns, budget * len(fns), setup=nat.set_isa)

    def float_baseline(fn) -> float:
        # BLAS worker threads keep spinning for a while after a call; let them sleep before the next timing
        seconds = best_time(fn, budget)
        time.sleep(0.2)
        return seconds

    def row(case: str, weights: str, backend: str, macs: int, seconds: float, baseline: float) -> None:
        rate = macs / seconds
        pct = f"{100 * rate / peak:5.1f}%" if peak > 0 else "    -"
        print(
            f"{case:<22} {weights:<5} {threads:>2}  {backend:<18} {rate / 1e9:9.1f} {baseline / seconds:8.2f}x  {pct}",
            flush=True,
        )

    print(f"# threads {threads}: int8 peak ({peak_isa} vpdpbusd loop) {peak / 1e9:.1f} GMAC/s")
    print(f"{'case':<22} {'w':<5} {'th':>2}  {'backend':<18} {'GMAC/s':>9} {'vs f32':>9}  {'%peak':>6}")

    def core_call(depthwise: bool, x, w, bias, rq, out_shape, ksize: int = 1, pad=(0, 0)):
        """The C function itself with its arguments prepared once: the kernels' cost without the per-call
        Python validation and argument handling."""
        w8, w4 = nat._weight_args(w)
        req = nat._RequantArgs(rq, w.shape[0])
        y = np.empty(out_shape, dtype=np.int8)
        status = nat._ffi.new("intref_status *")
        wp8 = nat._ffi.NULL if w8 is None else nat._ptr("int8_t[]", w8)
        wp4 = nat._ffi.NULL if w4 is None else nat._ptr("uint8_t[]", w4)
        common = (nat._ptr("int8_t[]", x), x.shape[0], x.shape[1], wp8, wp4)
        tail = (nat._ptr("int32_t[]", bias), 3, nat._acc_struct(Accumulator()), req.struct, nat._ffi.NULL)
        tail += (nat._optr(y), status)
        isa = nat.ISAS.index(nat.get_isa())
        if depthwise:
            args = (isa, threads, *common, ksize, 1, 1, pad[0], pad[1], *tail)
            fn = nat._lib.intref_conv1d_depthwise
        else:
            args = (isa, threads, *common, w.shape[0], 1, 1, 1, 0, 0, *tail)
            fn = nat._lib.intref_conv1d_dense

        def run(keep=(w8, w4, req, y)):
            if fn(*args) != 0:
                raise RuntimeError("native core call failed")

        return run

    best_isa = isas[0] if isas else None

    if "gemm" in args.only:
        for t, k, n in GEMM_SHAPES:
            x = rng.integers(-128, 128, (t, k)).astype(np.int8)
            w8 = rng.integers(-128, 128, (n, k)).astype(np.int8)
            w4 = pack_int4(rng.integers(-8, 8, (n, k)))
            bias = rng.integers(-(2**16), 2**16, n).astype(np.int32)
            rq = Requant.from_scale(rng.uniform(2e-5, 4e-4, n), "tflite_double", 3)
            xf, wf = rng.standard_normal((t, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
            macs = t * k * n
            case = f"gemm {t}x{k}x{n}"
            base = float_baseline(functools.partial(np.matmul, xf, wf))
            row(case, "f32", "numpy float32", macs, base, base)
            for label, w in (("int8", w8), ("int4", w4)):
                fns = {}
                for isa in isas:
                    fns[f"native {isa}"] = (
                        isa,
                        functools.partial(nat.NativeBackend().linear, x, w, bias, x_zp=3, requant=rq),
                    )
                if best_isa:
                    nat.set_isa(best_isa)
                    fns[f"  core {best_isa}"] = (best_isa, core_call(False, x, w, bias, rq, (t, n)))
                times = timed(fns)
                if numba is not None:
                    call = functools.partial(numba.linear, x, w, bias, x_zp=3, requant=rq)
                    times["numba"] = best_time(call, budget)
                if args.reference and (t, k, n) == (200, 144, 576) and threads == 1:
                    call = functools.partial(ops.linear, x, w, bias, x_zp=3, requant=rq)
                    times["numpy reference"] = best_time(call, budget, 20)
                for name, sec in times.items():
                    row(case, label, name, macs, sec, base)
                if label == "int8":
                    int8_times = times
                else:
                    ratios = ", ".join(
                        f"{isa} {times[f'native {isa}'] / int8_times[f'native {isa}']:.3f}" for isa in isas
                    )
                    print(f"{'':<22} int4/int8 time: {ratios}")

    if "dw" in args.only:
        for c in DW_CHANNELS:
            for k in DW_KERNELS:
                x = rng.integers(-128, 128, (DW_T, c)).astype(np.int8)
                w8 = rng.integers(-128, 128, (c, 1, k)).astype(np.int8)
                w4 = pack_int4(rng.integers(-8, 8, (c, 1, k)))
                bias = rng.integers(-(2**16), 2**16, c).astype(np.int32)
                rq = Requant.from_scale(rng.uniform(2e-5, 4e-4, c), "tflite_double", 3)
                pad = ((k - 1) // 2, k - 1 - (k - 1) // 2)  # 'same'
                xf = np.pad(rng.standard_normal((DW_T, c), dtype=np.float32), (pad, (0, 0)))
                wf = rng.standard_normal((k, c), dtype=np.float32)

                def float_dw(xf=xf, wf=wf, k=k):
                    out = xf[0:DW_T] * wf[0]
                    for j in range(1, k):
                        out += xf[j : j + DW_T] * wf[j]
                    return out

                macs = DW_T * c * k
                case = f"dw C{c} k{k} T{DW_T}"
                base = float_baseline(float_dw)
                row(case, "f32", "numpy float32", macs, base, base)
                for label, w in (("int8", w8), ("int4", w4)):
                    fns = {}
                    for isa in isas:
                        call = functools.partial(
                            nat.NativeBackend().conv1d, x, w, bias, x_zp=3, requant=rq, padding=pad, groups=c
                        )
                        fns[f"native {isa}"] = (isa, call)
                    if best_isa:
                        nat.set_isa(best_isa)
                        fns[f"  core {best_isa}"] = (best_isa, core_call(True, x, w, bias, rq, (DW_T, c), k, pad))
                    times = timed(fns)
                    if numba is not None:
                        call = functools.partial(numba.conv1d, x, w, bias, x_zp=3, requant=rq, padding=pad, groups=c)
                        times["numba"] = best_time(call, budget)
                    for name, sec in times.items():
                        row(case, label, name, macs, sec, base)
                    if label == "int8":
                        int8_times = times
                    else:
                        ratios = ", ".join(
                            f"{isa} {times[f'native {isa}'] / int8_times[f'native {isa}']:.3f}" for isa in isas
                        )
                        print(f"{'':<22} int4/int8 time: {ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default: 1 2)")
    parser.add_argument("--only", nargs="+", choices=("gemm", "dw"), default=["gemm", "dw"])
    parser.add_argument("--isa", nargs="+", help="native ISAs to measure (default: every one this CPU runs)")
    parser.add_argument("--quick", action="store_true", help="shorter time budget per case")
    parser.add_argument("--no-numba", action="store_true", help="do not measure the numba backend")
    parser.add_argument("--reference", action="store_true", help="also time the NumPy reference on one GEMM shape")
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
        cmd += [flag for flag, on in (("--quick", args.quick), ("--no-numba", args.no_numba)) if on]
        cmd += ["--reference"] if args.reference else []
        sys.stdout.flush()
        subprocess.run(cmd, env=env, check=True)


if __name__ == "__main__":
    main()
