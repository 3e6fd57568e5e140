"""The native backend's own behaviour: ISA and thread control, environment variables, argument validation before
the C core runs, alternative builds, and bit-exact agreement with the reference on every ISA this CPU runs
(including the errors and which element they name). The broad randomised comparison of all backends lives in
tests/test_cross_backend.py."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from intref import ops
from intref.backends import BackendUnavailable
from intref.ops import SoftmaxParams
from intref.ops.elementwise import AddParams
from intref.spec import (
    Accumulator,
    AccumulatorOverflowError,
    Requant,
    RescaleError,
    pack_int4,
    quantize_multiplier,
    rescale,
)
from intref.spec.fixedpoint import EXP2_Q15, exp2_neg_q8
from intref.spec.rescale import SCHEMES, most_negative_input

try:
    import intref.backends.native as nat
except (ImportError, BackendUnavailable) as exc:  # pragma: no cover - depends on the build
    pytest.skip(f"native backend unavailable: {exc}", allow_module_level=True)

NB = nat.NativeBackend()
ISAS = nat.available_isas()
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _restore_settings():
    isa, threads = nat.get_isa(), nat.get_threads()
    yield
    nat.set_isa(isa)
    nat.set_threads(threads)


def outcome(fn, *args, **kwargs):
    """("ok", outputs) or ("error", exception type and attributes)."""
    try:
        result = fn(*args, **kwargs)
    except (AccumulatorOverflowError, RescaleError, ValueError, TypeError) as exc:
        return "error", (type(exc), str(exc), vars(exc))
    return "ok", result if isinstance(result, tuple) else (result,)


def assert_same(op: str, *args, **kwargs) -> str:
    """Runs ``op`` on the reference and on the native backend (current ISA and threads); identical or fail."""
    expected = outcome(getattr(ops, op), *args, **kwargs)
    actual = outcome(getattr(NB, op), *args, **kwargs)
    assert expected[0] == actual[0], f"{op}: reference {expected}, native {actual}"
    if expected[0] == "error":
        assert expected[1] == actual[1]
        return "error"
    assert len(expected[1]) == len(actual[1])
    for e, a in zip(expected[1], actual[1], strict=True):
        assert e.dtype == a.dtype and e.shape == a.shape, f"{op}: {a.dtype}{a.shape} != {e.dtype}{e.shape}"
        assert e.tobytes() == a.tobytes(), f"{op}: values differ at {np.flatnonzero(e.ravel() != a.ravel())[:5]}"
    return "ok"


def rng_for(*key) -> np.random.Generator:
    return np.random.default_rng(abs(hash(key)) % 2**32)


def i8(rng, shape) -> np.ndarray:
    return rng.integers(-128, 128, shape).astype(np.int8)


def per_channel(scheme: str, n: int, rng, scale=(1e-4, 3e-3), zp: int = 3) -> Requant:
    return Requant.from_scale(rng.uniform(*scale, n), scheme, zp)


def some_requants(n: int, rng) -> list[Requant | None]:
    out: list[Requant | None] = [None]
    for scheme in SCHEMES:
        out.append(per_channel(scheme, n, rng))
        out.append(Requant.from_scale(float(rng.uniform(1e-4, 1e-2)), scheme, -5, -100, 90))
    out.append(Requant.from_scale(rng.uniform(1e-5, 1e-3, n), "tflite_double", 7, -32768, 32767))
    out.append(Requant.from_scale(rng.uniform(1e-3, 2.0, n), "single", 0, -(2**31), 2**31 - 1))
    return out


# ------------------------------------------------------------------------------------------- ISA control


def test_available_isas_are_in_preference_order_and_end_with_scalar():
    assert ISAS[-1] == "scalar"
    assert set(ISAS) <= set(nat.ISAS)
    order = ["avx512vnni", "avx2", "scalar"]
    assert ISAS == [name for name in order if name in ISAS]
    assert nat.get_isa() in ISAS


@pytest.mark.parametrize("bad", ["sse9", "", "AVX1024", 3, None])
def test_unknown_isa_is_rejected(bad):
    before = nat.get_isa()
    with pytest.raises(ValueError):
        nat.set_isa(bad)
    assert nat.get_isa() == before


def test_isa_names_are_case_insensitive():
    nat.set_isa(" SCALAR ")
    assert nat.get_isa() == "scalar"


def test_unsupported_isa_is_rejected():
    missing = [name for name in nat.ISAS if name not in ISAS]
    if not missing:
        pytest.skip("this CPU runs every ISA")
    with pytest.raises(ValueError, match="does not run on this CPU"):
        nat.set_isa(missing[0])


@pytest.mark.parametrize("bad", [0, -1, 1.5, "two", True, 10**6])
def test_invalid_thread_counts_are_rejected(bad):
    with pytest.raises(ValueError):
        nat.set_threads(bad)


def test_every_op_is_there():
    for op in ops.OP_NAMES + getattr(ops, "NN_OP_NAMES", ()):
        assert callable(getattr(NB, op)), op


def test_build_kind_and_library_path():
    assert nat.build_kind() in ("release", "sanitized")
    assert os.path.isfile(nat.library_path())


def test_peak_is_measured_for_simd_isas():
    for isa in ISAS:
        peak = nat.peak_macs(isa, threads=1, seconds=0.02)
        assert (peak > 0) if isa != "scalar" else (peak < 0)


# ------------------------------------------------------------------------------------------ environment


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    full = dict(os.environ)
    for key in ("INTREF_ISA", "INTREF_THREADS"):
        full.pop(key, None)
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, cwd=REPO)


def test_env_isa_and_threads_are_read_at_import():
    code = "import intref.backends.native as n; print(n.get_isa(), n.get_threads())"
    proc = run_python(code, INTREF_ISA="scalar", INTREF_THREADS="3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["scalar", "3"]


def test_env_defaults():
    proc = run_python("import intref.backends.native as n; print(n.get_isa(), n.get_threads())")
    assert proc.returncode == 0, proc.stderr
    isa, threads = proc.stdout.split()
    assert isa == ISAS[0] and int(threads) >= 1


@pytest.mark.parametrize(("var", "value"), [("INTREF_ISA", "sse9"), ("INTREF_THREADS", "0"), ("INTREF_THREADS", "x")])
def test_invalid_env_values_fail_loudly(var, value):
    proc = run_python("import intref.backends.native", **{var: value})
    assert proc.returncode != 0
    assert "ValueError" in proc.stderr and var in proc.stderr


def test_this_process_loaded_the_requested_library():
    requested = os.environ.get("INTREF_NATIVE_LIB")
    if not requested:
        pytest.skip("INTREF_NATIVE_LIB is not set")
    assert nat.library_path() == os.path.abspath(requested)


def test_native_lib_env_loads_that_file(tmp_path):
    copy = tmp_path / os.path.basename(nat.library_path())
    shutil.copy(nat.library_path(), copy)
    code = "import intref.backends.native as n; print(n.library_path())"
    proc = run_python(code, INTREF_NATIVE_LIB=str(copy))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(copy)


def test_native_lib_env_pointing_nowhere_makes_the_backend_unavailable(tmp_path):
    code = (
        "import intref.backends as b\n"
        "try:\n    b.get('native')\nexcept b.BackendUnavailable as e:\n    print('unavailable', e)\n"
    )
    proc = run_python(code, INTREF_NATIVE_LIB=str(tmp_path / "missing.so"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("unavailable") and "INTREF_NATIVE_LIB" in proc.stdout


# ------------------------------------------------------------------------------- agreement on every ISA


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("isa", ISAS)
def test_every_isa_matches_the_reference(isa, threads):
    nat.set_isa(isa)
    nat.set_threads(threads)
    rng = rng_for("every-isa", isa, threads)
    for m, k, n in [(1, 1, 1), (7, 13, 5), (30, 67, 33), (5, 144, 50)]:
        x, w, bias = i8(rng, (m, k)), i8(rng, (n, k)), rng.integers(-(2**20), 2**20, n).astype(np.int32)
        for requant in some_requants(n, rng):
            for weights in (w, pack_int4(rng.integers(-8, 8, (n, k)))):
                assert_same(
                    "linear", x, weights, bias, x_zp=int(rng.integers(-128, 128)), requant=requant, return_acc=True
                )
    x = i8(rng, (40, 24))
    for k in (1, 3, 9, 33):
        rq = per_channel("tflite_double", 24, rng)
        assert_same(
            "conv1d", x, i8(rng, (24, 1, k)), None, x_zp=-7, requant=rq, padding=(k // 2, k - 1 - k // 2), groups=24
        )
        assert_same(
            "conv1d",
            x,
            i8(rng, (10, 24, k)),
            None,
            x_zp=5,
            requant=per_channel("single", 10, rng),
            stride=2,
            dilation=2,
            padding=k,
        )
    a, b = i8(rng, (6, 20)), rng.integers(-3000, 3000, (20,)).astype(np.int16)
    rq = per_channel("tflite_double", 20, rng, (0.01, 0.5))
    assert_same("mul", a, b, rq, a_zp=3, b_zp=-2, return_acc=True)
    assert_same("add", a, b, AddParams.from_scales(0.05, 3, 0.02, -1, 0.04, 2), return_acc=True)
    assert_same("requantize", rng.integers(-(2**31), 2**31, (9, 20)).astype(np.int32), rq, x_zp=11)
    assert_same("mean_over_time", a, per_channel("tflite_double", 20, rng, (0.1, 0.9)), x_zp=1, return_acc=True)
    assert_same("lut", a, i8(rng, 256))
    assert_same("lut", b, rng.integers(-(2**15), 2**15, 65536).astype(np.int16))
    assert_same("clamp", b, -100, 2000)


@pytest.mark.parametrize("isa", ISAS)
def test_thread_count_does_not_change_a_bit(isa):
    nat.set_isa(isa)
    rng = rng_for("threads", isa)
    x, w = i8(rng, (203, 300)), i8(rng, (257, 300))
    bias = rng.integers(-(2**24), 2**24, 257).astype(np.int32)
    rq = per_channel("tflite_double", 257, rng, (1e-5, 1e-3))
    xd, wd = i8(rng, (150, 100)), i8(rng, (100, 1, 31))
    rqd = per_channel("single", 100, rng)
    results = []
    for threads in (1, 2, 3):
        nat.set_threads(threads)
        results.append(
            (
                NB.linear(x, w, bias, x_zp=4, requant=rq, return_acc=True),
                NB.conv1d(xd, wd, None, x_zp=-3, requant=rqd, padding=15, groups=100, return_acc=True),
                NB.conv1d(
                    xd,
                    i8(np.random.default_rng(1), (70, 100, 3)),
                    None,
                    requant=rqd.__class__("single", rqd.multiplier[:70], rqd.shift[:70]),
                    padding=1,
                ),
            )
        )
    flat = [[a.tobytes() for group in r for a in (group if isinstance(group, tuple) else (group,))] for r in results]
    assert flat[0] == flat[1] == flat[2]
    assert_same("linear", x, w, bias, x_zp=4, requant=rq, return_acc=True)


# ---------------------------------------------------------------------------------- validation in Python


def test_wrong_dtypes_and_shapes_raise_the_reference_errors():
    x, w = np.zeros((3, 8), np.int8), np.zeros((4, 8), np.int8)
    assert_same("linear", x.astype(np.float32), w)
    assert_same("linear", x.astype(np.int16), w)
    assert_same("linear", x, w.astype(np.uint8))
    assert_same("linear", x, np.zeros((4, 9), np.int8))
    assert_same("linear", x, w, np.zeros(5, np.int32))
    assert_same("linear", x, w, np.zeros(4, np.int64))
    assert_same("linear", x, w, x_zp=128)
    assert_same("linear", x, w, requant=Requant("dyadic", np.int64(1), np.int64(0)), acc=Accumulator("wrap", 64))
    assert_same("linear", x, w, requant=Requant("single", np.ones(3, np.int64), np.zeros(3, np.int64)))
    assert_same("linear", x, w, requant=Requant("tosa_scale16", np.int64(1), np.int64(2)), acc=Accumulator(bits=64))
    assert_same("conv1d", x, np.zeros((4, 8, 3), np.int8), stride=0)
    assert_same("conv1d", x, np.zeros((4, 2, 3), np.int8), groups=4)
    assert_same("conv1d", x, np.zeros((8, 1, 3), np.int8), groups=8, padding=(1, -1))
    assert_same("requantize", x.astype(np.float64), Requant.from_scale(0.5, "single"))
    assert_same("mul", x, np.zeros((2, 8), np.int8), Requant.from_scale(0.5, "single"))
    assert_same("clamp", x, 5, 4)
    assert_same("lut", x, np.zeros(255, np.int8))
    assert_same("mean_over_time", np.zeros((0, 4), np.int8), Requant.from_scale(0.5, "single"))


@pytest.fixture
def c_calls(monkeypatch) -> list[str]:
    """The names of the C functions called while the test runs (the core is wrapped by a spy)."""
    calls: list[str] = []
    real = nat._lib

    class Spy:
        def __getattr__(self, name):
            attr = getattr(real, name)
            if name.startswith("intref_") and callable(attr):
                calls.append(name)
            return attr

    monkeypatch.setattr(nat, "_lib", Spy())
    return calls


def test_validation_runs_before_the_c_core(c_calls):
    with pytest.raises(TypeError):
        NB.linear(np.zeros((2, 3), np.float32), np.zeros((4, 3), np.int8))
    with pytest.raises(ValueError):
        NB.conv1d(np.zeros((5, 3), np.int8), np.zeros((4, 2, 3), np.int8))
    assert c_calls == []


def test_the_c_core_checks_its_own_arguments():
    lib, ffi = nat._lib, nat._ffi
    null = ffi.NULL
    status = ffi.new("intref_status *")
    acc = ffi.new("intref_acc *", {"policy": 0, "bits": 32})
    no_rq = ffi.new("intref_requant *", {"scheme": -1})
    x, w, bias, out = np.zeros(64, np.int8), np.zeros(64, np.int8), np.zeros(8, np.int32), np.zeros(64, np.int32)
    m, s = np.full(4, 2**30, np.int64), np.full(4, -3, np.int64)
    xp, wp, bp, op = (
        ffi.from_buffer(t, a) for t, a in (("int8_t[]", x), ("int8_t[]", w), ("int32_t[]", bias), ("char[]", out))
    )

    def dense(isa=0, t=4, c_in=4, w8=wp, w4=null, c_out=4, k=1, stride=1, zp=0, a=acc, rq=no_rq, st=status, b=bp):
        return lib.intref_conv1d_dense(
            isa, 1, xp, t, c_in, w8, w4, c_out, k, stride, 1, 0, 0, b, zp, a, rq, op, null, st
        )

    einval = lib.INTREF_EINVAL
    assert dense() == lib.INTREF_OK
    assert dense(t=-1) == einval
    assert dense(k=0) == einval
    assert dense(stride=0) == einval
    assert dense(w8=null) == einval
    assert dense(w4=ffi.cast("uint8_t *", wp)) == einval
    assert dense(b=null) == einval
    assert dense(zp=200) == einval
    assert dense(st=null) == einval
    assert dense(t=2**50, c_in=2**20) == einval
    assert dense(isa=7) == lib.INTREF_EISA
    assert dense(a=ffi.new("intref_acc *", {"policy": 5, "bits": 32})) == einval
    assert dense(a=ffi.new("intref_acc *", {"policy": 0, "bits": 65})) == einval
    rq = {
        "scheme": 0,
        "out_bytes": 1,
        "channels": 4,
        "multiplier": ffi.from_buffer("int64_t[]", m),
        "shift": ffi.from_buffer("int64_t[]", s),
        "zero_point": 0,
        "lo": -128,
        "hi": 127,
    }
    assert dense(rq=ffi.new("intref_requant *", dict(rq, channels=3))) == einval
    assert dense(rq=ffi.new("intref_requant *", dict(rq, out_bytes=3))) == einval
    assert dense(rq=ffi.new("intref_requant *", dict(rq, hi=300))) == einval
    assert dense(rq=ffi.new("intref_requant *", dict(rq, scheme=9))) == einval
    assert dense(rq=ffi.new("intref_requant *", dict(rq, scheme=2))) == einval  # shift -3 is illegal for TOSA
    assert dense(rq=ffi.new("intref_requant *", rq)) == einval  # a requant needs an output buffer
    assert dense(a=ffi.new("intref_acc *", {"policy": 0, "bits": 40}), rq=ffi.new("intref_requant *", rq)) == einval
    assert lib.intref_clamp(0, 1, xp, 1, 64, 5, 4, op) == einval
    assert lib.intref_clamp(0, 1, xp, 3, 64, 0, 4, op) == einval
    assert lib.intref_lut(0, 1, xp, 1, -1, xp, 1, op) == einval
    assert lib.intref_requantize(0, 1, xp, 1, 4, 0, 0, acc, no_rq, null, op, status) == einval


def test_sizes_beyond_the_native_limit_are_refused_in_python():
    x, w = np.zeros((3, 4), np.int8), np.zeros((4, 4, 3), np.int8)
    with pytest.raises(ValueError, match="native core's limit"):
        NB.conv1d(x, w, padding=(2**41, 0))
    with pytest.raises(ValueError, match="native core's limit"):
        NB.conv1d(x, np.zeros((4, 1, 3), np.int8), groups=4, dilation=2**41)


def test_non_contiguous_and_read_only_inputs():
    rng = rng_for("layout")
    x = i8(rng, (9, 40))[:, ::2]
    w = np.asfortranarray(i8(rng, (7, 20)))
    bias = rng.integers(-100, 100, 14).astype(np.int32)[::2]
    w.flags.writeable = False
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    assert_same("linear", x, w, bias, x_zp=2, requant=per_channel("tflite_double", 7, rng))
    xt = i8(rng, (20, 30)).T
    assert_same("conv1d", xt, i8(rng, (20, 1, 5)), None, groups=20, padding=2)
    assert_same("add", x, x[::-1], AddParams.from_scales(0.1, 1, 0.2, 2, 0.3, 0))


def test_huge_reduction_is_exact():
    # 70000 terms of 255 * 128: the int32 partial sums must be chunked into int64 to stay exact.
    k = 70000
    x = np.full((2, k), 127, np.int8)
    x[1, ::3] = -128
    w = np.full((3, k), -128, np.int8)
    w[1] = 127
    for isa in ISAS:
        nat.set_isa(isa)
        for acc in (Accumulator("wrap"), Accumulator("saturate"), Accumulator("error", 64), Accumulator("error")):
            assert_same("linear", x, w, x_zp=-128, acc=acc, return_acc=True)
        assert_same("linear", x, w, x_zp=-128, acc=Accumulator(bits=64), requant=Requant("dyadic", 2**30, 40))
        # a depthwise kernel longer than the int32-safe length takes the int64 path
        assert_same(
            "conv1d",
            x.T.copy(),
            w[:2].reshape(2, 1, k),
            None,
            groups=2,
            x_zp=-128,
            acc=Accumulator("wrap"),
            return_acc=True,
        )


def test_empty_and_degenerate_shapes():
    rng = rng_for("empty")
    rq = per_channel("tflite_double", 5, rng)
    for isa in ISAS:
        nat.set_isa(isa)
        assert_same("linear", np.zeros((0, 4), np.int8), i8(rng, (5, 4)), requant=rq, return_acc=True)
        assert_same("linear", np.zeros((3, 0), np.int8), np.zeros((5, 0), np.int8), requant=rq)
        assert_same("linear", i8(rng, (4,)), i8(rng, (5, 4)), requant=rq)
        assert_same("linear", i8(rng, (2, 3, 4)), i8(rng, (5, 4)))
        assert_same("conv1d", i8(rng, (2, 5)), i8(rng, (5, 1, 9)), None, groups=5, requant=rq)
        assert_same("requantize", np.array(7, np.int16), Requant("single", np.array([2**30]), np.array([0])))
        assert_same("requantize", np.zeros((3, 0), np.int8), Requant.from_scale(0.5, "single"))
        assert_same("mul", np.array(3, np.int8), np.array(-4, np.int8), Requant("tflite_double", [2**30], [1]))


# ------------------------------------------------------------------------------ errors and their order


@pytest.mark.parametrize("isa", ISAS)
def test_accumulator_overflow_names_the_first_element(isa):
    nat.set_isa(isa)
    for threads in (1, 2):
        nat.set_threads(threads)
        x = np.full((40, 64), 127, np.int8)
        w = np.full((70, 64), 127, np.int8)
        bias = np.zeros(70, np.int32)
        bias[33] = 2**31 - 1  # first overflow: row 0, channel 33
        bias[65] = -(2**31)
        x[0, :] = 0
        assert_same("linear", x, w, bias, x_zp=-128, requant=per_channel("tflite_double", 70, rng_for(1)))
        assert_same("linear", x, w, bias, x_zp=-128, acc=Accumulator("error", 20))
        assert_same("linear", x, w, bias, x_zp=-128, acc=Accumulator("wrap", 20), return_acc=True)
        assert_same("linear", x, w, bias, x_zp=-128, acc=Accumulator("saturate", 24), return_acc=True)
        dw = np.full((70, 1, 9), -128, np.int8)
        assert_same(
            "conv1d",
            np.full((30, 70), -128, np.int8),
            dw,
            bias,
            x_zp=127,
            groups=70,
            padding=4,
            acc=Accumulator("error", 17),
        )


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_rescale_errors_match_the_reference(isa, scheme):
    nat.set_isa(isa)
    rng = rng_for("rescale-errors", scheme)
    lim = SCHEMES[scheme]
    n = 37
    x, w = i8(rng, (25, 50)), i8(rng, (n, 50))
    bias = rng.choice(np.array([0, 2**31 - 1, -(2**31), 2**30, -(2**30)], np.int32), n).astype(np.int32)
    for trial in range(6):
        m = rng.integers(lim.multiplier[0], lim.multiplier[1], n, endpoint=True)
        s = rng.integers(lim.shift[0], lim.shift[1], n, endpoint=True)
        if trial % 2:
            m[:] = lim.multiplier[1]
        rq = Requant(scheme, m, s, int(rng.integers(-5, 5)), -(2**31), 2**31 - 1)
        for acc in (Accumulator("wrap"), Accumulator("saturate", min(lim.value_bits, 40)), Accumulator("wrap", 18)):
            for threads in (1, 2):
                nat.set_threads(threads)
                assert_same("linear", x, w, bias, x_zp=-128, requant=rq, acc=acc)
                assert_same("requantize", rng.integers(-(2**31), 2**31, (4, n)).astype(np.int32), rq, acc=acc)


def test_tosa_value_check_runs_over_all_elements_before_the_result_check():
    # element 1 fails the result range, element 3 the value range: the value error is reported (index 3)
    rq = Requant("tosa_double", np.array([2**31 - 1] * 4), np.array([2, 40, 40, 3]))
    x = np.array([[0, 2**31 - 1, 5, 2**20]], np.int32)
    for isa in ISAS:
        nat.set_isa(isa)
        with pytest.raises(RescaleError) as err:
            NB.requantize(x, rq)
        assert err.value.index == 3
        assert_same("requantize", x, rq)


def test_add_reports_input_rescales_before_the_accumulator():
    m_ok, s_ok = quantize_multiplier(0.25, "tflite_double")
    out = Requant("tflite_double", np.int64(2**31 - 1), np.int64(30))  # every non-zero sum fails the left shift
    a = np.array([[0, 5, -3, 100]], np.int8)
    b = np.array([[1, 0, 7, -100]], np.int8)
    cases = [
        AddParams(0, 0, 20, np.int64(m_ok), np.int64(s_ok), np.int64(m_ok), np.int64(10), out),  # b fails first
        AddParams(0, 0, 20, np.int64(m_ok), np.int64(12), np.int64(m_ok), np.int64(10), out),  # a fails first
        AddParams(0, 0, 10, np.int64(m_ok), np.int64(s_ok), np.int64(m_ok), np.int64(s_ok), out),  # output fails
    ]
    for isa in ISAS:
        nat.set_isa(isa)
        for params in cases:
            for acc in (Accumulator(), Accumulator("error", 16), Accumulator("wrap", 16)):
                assert assert_same("add", a, b, params, acc=acc) == "error"


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("isa", ISAS)
def test_few_rows_of_int4_weights_match_the_reference(isa, threads):
    """1 to 4 rows (a decoder step) take the unpacked-per-block path with int4 weights too: odd K, several blocks of
    64 output channels, enough products for a second thread, the accumulator policies and every scheme."""
    nat.set_isa(isa)
    nat.set_threads(threads)
    rng = rng_for("gemv-int4", isa, threads)
    for m, k, n in [(1, 224, 896), (2, 225, 130), (4, 1023, 1100), (3, 1, 65), (1, 64, 64)]:
        x, bias = i8(rng, (m, k)), rng.integers(-(2**20), 2**20, n).astype(np.int32)
        narrow = bool(rng.integers(0, 2))
        w4 = pack_int4(rng.integers(-7 if narrow else -8, 8, (n, k)), narrow=narrow)
        for requant in (None, per_channel("single", n, rng), per_channel("tflite_double", n, rng, zp=-9)):
            for acc in (Accumulator(), Accumulator("wrap", 20), Accumulator("saturate", 24)):
                assert_same("linear", x, w4, bias, x_zp=int(rng.integers(-128, 128)), requant=requant, acc=acc)
    x = np.zeros((2, 300), np.int8)
    x[1] = 127
    codes = np.zeros((70, 300), np.int64)
    codes[37], codes[50] = -8, 7
    # row 1, channels 37 and 50 overflow 16 bits: the error names flat index 107 on both
    assert assert_same("linear", x, pack_int4(codes), None, acc=Accumulator("error", 16)) == "error"


# ---------------------------------------------------------------------------------------- edge inputs


@pytest.mark.parametrize("isa", ISAS)
def test_edge_values_and_odd_shapes(isa):
    nat.set_isa(isa)
    rng = rng_for("edges", isa)
    for m, k, n in [(1, 3, 17), (6, 4, 16), (7, 5, 65), (25, 130, 49), (13, 257, 3), (5, 63, 9), (3, 127, 20)]:
        x = rng.choice(np.array([-128, 127, 0, -1, 1], np.int8), (m, k)).astype(np.int8)
        w = rng.choice(np.array([-128, 127, 0, -1], np.int8), (n, k)).astype(np.int8)
        bias = rng.choice(np.array([-(2**31), 2**31 - 1, 0, 12345], np.int32), n).astype(np.int32)
        w4 = pack_int4(rng.integers(-7, 8, (n, k)), narrow=True)
        for scheme in SCHEMES:
            rq = Requant.from_scale(rng.uniform(1e-6, 1e-3, n), scheme, int(rng.integers(-128, 128)))
            for acc in (Accumulator("wrap"), Accumulator("saturate")):
                for weights in (w, w4):
                    assert_same(
                        "linear",
                        x,
                        weights,
                        bias,
                        x_zp=int(rng.integers(-128, 128)),
                        requant=rq,
                        acc=acc,
                        return_acc=True,
                    )


@pytest.mark.parametrize("isa", ISAS)
def test_conv_shapes(isa):
    nat.set_isa(isa)
    rng = rng_for("conv", isa)
    for k in (1, 2, 5, 9, 31, 63, 87):
        for stride, dilation in ((1, 1), (2, 1), (1, 3), (3, 8)):
            t, c = int(rng.integers(1, 60)), int(rng.choice([1, 5, 16, 33]))
            pad = (int(rng.integers(0, k)), int(rng.integers(0, k)))
            x = i8(rng, (t, c))
            rq = per_channel("tflite_double", c, rng)
            kw = dict(stride=stride, dilation=dilation, padding=pad, x_zp=int(rng.integers(-128, 128)))
            dw = i8(rng, (c, 1, k))
            assert_same("conv1d", x, dw, None, groups=c, requant=rq, return_acc=True, **kw)
            assert_same("conv1d", x, pack_int4(rng.integers(-8, 8, (c, 1, k))), None, groups=c, requant=rq, **kw)
            if k <= 9:
                co = int(rng.integers(1, 40))
                dense = pack_int4(rng.integers(-8, 8, (co, c, k))) if k % 2 else i8(rng, (co, c, k))
                assert_same("conv1d", x, dense, None, requant=per_channel("single", co, rng), **kw)


# ------------------------------------------------------------------- layernorm, softmax, argmax, quantize


LOG2E_Q8 = 256 / np.log(2)  # softmax's multiplier is s_x * log2(e) * 256


def softmax_params(scheme: str, scale: float, out=(255, -128)) -> SoftmaxParams:
    m, s = quantize_multiplier(scale * LOG2E_Q8, scheme)
    return SoftmaxParams(scheme, m, s, *out)


def extreme_softmax_params(rng) -> list[SoftmaxParams]:
    """Legal (multiplier, shift) pairs at the ends of every scheme's range: large left shifts, n < 32, zero."""
    out = []
    for scheme, lim in SCHEMES.items():
        for m in (0, 1, lim.multiplier[1], int(rng.integers(1, lim.multiplier[1]))):
            for s in (lim.shift[0], lim.shift[1], int(rng.integers(lim.shift[0], lim.shift[1] + 1))):
                out.append(SoftmaxParams(scheme, m, s))
    return out


def test_exp2_table_equals_the_spec():
    table = np.zeros(256, np.int32)
    nat._lib.intref_exp2_q15(nat._ffi.from_buffer("int32_t[]", table))
    assert np.array_equal(table, EXP2_Q15)


def test_isqrt_is_exact():
    lib = nat._lib
    roots = [0, 1, 2, 3, 46340, 46341, 2**31 - 1, 2**31, 94906265, 94906266, 3037000498, 3037000499]
    roots += [int(r) for r in np.random.default_rng(3).integers(0, 3037000499, 300)]
    values = {2**63 - 1} | {2**k + d for k in range(63) for d in (-1, 0, 1)}
    values |= {r * r + d for r in roots for d in (-1, 0, 1) if 0 <= r * r + d < 2**63}
    assert [lib.intref_isqrt(v) for v in sorted(values)] == [math.isqrt(v) for v in sorted(values)]
    assert lib.intref_isqrt(-1) == -1 and lib.intref_isqrt(-(2**63)) == -1


def test_softmax_floor_equals_most_negative_input():
    lib = nat._lib
    rng = rng_for("floor")
    for code, (scheme, lim) in enumerate(SCHEMES.items()):
        for _ in range(300):
            m = int(rng.choice([0, 1, lim.multiplier[1], rng.integers(0, lim.multiplier[1] + 1)]))
            s = int(rng.integers(lim.shift[0], lim.shift[1] + 1))
            assert lib.intref_softmax_floor(code, m, s) == most_negative_input(scheme, m, s), (scheme, m, s)
        assert lib.intref_softmax_floor(code, lim.multiplier[1] + 1, lim.shift[0]) == -(2**63)
        assert lib.intref_softmax_floor(code, 0, lim.shift[1] + 1) == -(2**63)
    assert lib.intref_softmax_floor(0, -1, 0) == -(2**63)  # softmax multipliers are >= 0
    assert lib.intref_softmax_floor(6, 1, 0) == -(2**63)


@pytest.mark.parametrize("isa", ISAS)
def test_softmax_exponentials_equal_the_spec(isa):
    """Every scheme's SIMD rescale (one fused formula for d <= 0) against the spec's own, element by element: around
    the floor, the cut where e becomes 0, exact ties of the half-to-even schemes, and random differences."""
    lib, ffi = nat._lib, nat._ffi
    rng = rng_for("exps", isa)
    for code, (scheme, lim) in enumerate(SCHEMES.items()):
        for _ in range(120):
            m = int(rng.choice([0, 1, 3, lim.multiplier[1], rng.integers(0, lim.multiplier[1] + 1)]))
            s = int(
                rng.choice(
                    [lim.shift[0], lim.shift[1], rng.integers(lim.shift[0], min(lim.shift[1], lim.shift[0] + 12) + 1)]
                )
            )
            floor = most_negative_input(scheme, m, s)
            d = {0, -1, -2, -3, floor - 1, floor, floor + 1, INT32_MIN}
            d |= {int(v) for v in rng.integers(INT32_MIN, 1, 40)} | {
                int(v) for v in rng.integers(max(floor, -9000), 1, 60)
            }
            x = np.array([0] + sorted(v for v in d if v >= INT32_MIN), np.int32)  # the maximum is 0: d = x
            u = -rescale(np.maximum(x.astype(np.int64), floor), m, s, scheme)
            expected = exp2_neg_q8(np.maximum(u, 0))
            e = np.zeros(x.size, np.int32)
            rc = lib.intref_softmax_exps(
                nat.ISAS.index(isa),
                ffi.from_buffer("int32_t[]", x),
                x.size,
                code,
                m,
                s,
                ffi.from_buffer("int32_t[]", e),
            )
            assert rc == 0 and np.array_equal(e, expected), (scheme, m, s, x[e != expected][:5])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("isa", ISAS)
def test_softmax_matches_the_reference(isa, threads):
    nat.set_isa(isa)
    nat.set_threads(threads)
    rng = rng_for("softmax", isa, threads)
    for params in extreme_softmax_params(rng):
        for dtype in (np.int8, np.int16, np.int32):
            info = np.iinfo(dtype)
            x = rng.integers(info.min, info.max, (3, 37), endpoint=True).astype(dtype)
            x[1] = rng.choice(np.array([info.min, info.max, 0, -1], np.int64), 37).astype(dtype)
            assert_same("softmax", x, params)
    scores = (rng.standard_normal((4, 33, 70)) * 3000).astype(np.int32)
    for scheme in SCHEMES:
        for out in ((255, -128), (65535, -32768), (65535, 0), (1, 0), (100, -50)):
            params = softmax_params(scheme, float(2.0 ** rng.uniform(-16, -4)), out)
            assert_same("softmax", scores, params)
            assert_same("softmax", scores, params, mask=np.tril(np.ones((33, 70), bool)))  # [T, N] for [H, T, N]
            assert_same("softmax", scores, params, mask=rng.random(70) < 0.5)  # one flag per key
            assert_same("softmax", scores, params, mask=rng.random((4, 1, 70)) < 0.5)  # per head and key
            assert_same("softmax", scores, params, mask=rng.random((4, 33, 1)) < 0.5)  # whole rows on or off
            assert_same("softmax", scores[..., :1], params)
    fill = np.zeros((6, 50), np.int32)  # additive mask fills far below the maximum
    fill[:, 7::3] = INT32_MIN
    fill[2] = INT32_MIN
    for params in (softmax_params("tflite_double", 1e-3), SoftmaxParams("tflite_double", 2**30, 3)):
        assert_same("softmax", fill, params)


def test_softmax_rows_beyond_the_row_limit_go_to_the_reference(monkeypatch):
    monkeypatch.setattr(nat, "_ROW_LIMIT", 4)
    x = np.arange(10, dtype=np.int16).reshape(2, 5)
    assert_same("softmax", x, softmax_params("single", 0.1))
    assert_same("argmax", x)


def layernorm_inputs(rng, t, c, dtype=np.int8):
    info = np.iinfo(dtype)
    return (
        rng.integers(info.min, info.max, (t, c), endpoint=True).astype(dtype),
        rng.integers(-(2**15), 2**15, c).astype(np.int16),
        (rng.integers(INT32_MIN, INT32_MAX, c) >> 10).astype(np.int32),
    )


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("isa", ISAS)
def test_layernorm_matches_the_reference(isa, threads):
    nat.set_isa(isa)
    nat.set_threads(threads)
    rng = rng_for("layernorm", isa, threads)
    for c in (1, 7, 16, 17, 144, 256, 300):
        x, g, b = layernorm_inputs(rng, 11, c)
        for requant in some_requants(c, rng)[1:]:
            for frac_bits in (0, 10, 24):
                assert_same("layernorm", x, g, b, requant, x_zp=-3, eps=c * c, frac_bits=frac_bits, return_acc=True)
        x16, g, b = layernorm_inputs(rng, 5, c, np.int16)
        assert_same("layernorm", x16, g.astype(np.int8), None, per_channel("single", c, rng, (1e-9, 1e-7)))
    # rows of the paths beside the SIMD one: tiny variances (D <= 2), accumulators outside the held range, channel
    # counts too large for 32-bit normalised values at F = 24, and 48/64-bit accumulators
    small = rng.integers(-1, 2, (40, 5)).astype(np.int8)
    small[::3] = 4
    exact = Requant("single", 2**30, 0, 0, INT32_MIN, INT32_MAX)
    for eps in (0, 1, 2, 5, 9):
        assert_same("layernorm", small, np.ones(5, np.int8), None, exact, eps=eps, frac_bits=24, return_acc=True)
    x, g, b = layernorm_inputs(rng, 9, 40)
    rq = per_channel("tflite_double", 40, rng, (1e-12, 1e-10))
    for acc in (Accumulator("wrap"), Accumulator("saturate", 24), Accumulator("wrap", 16), Accumulator("error", 40)):
        assert_same("layernorm", x, g, b, rq if acc.bits <= 32 else Requant("dyadic", 2**30, 62), frac_bits=24, acc=acc)
    x, g, b = layernorm_inputs(rng, 3, 1100)
    assert_same("layernorm", x, g, b, per_channel("single", 1100, rng, (1e-12, 1e-10)), frac_bits=24, return_acc=True)
    x, g, b = layernorm_inputs(rng, 3, 20, np.int16)
    assert_same("layernorm", x, g, b, Requant("onnx", 2**23, 60), acc=Accumulator("wrap", 64), return_acc=True)


@pytest.mark.parametrize("isa", ISAS)
def test_layernorm_errors_name_the_first_element(isa):
    nat.set_isa(isa)
    for threads in (1, 2):
        nat.set_threads(threads)
        spike = np.full((900, 144), 5, np.int8)
        spike[777, 3] = 127  # one row overflows a 24-bit accumulator
        spike[801, 9] = -128
        gamma = np.full(144, 2**15 - 1, np.int16)
        acc = Accumulator("error", 24)
        assert assert_same(
            "layernorm", spike, gamma, None, Requant.from_scale(1e-6, "single"), acc=acc, frac_bits=20
        ) == ("error")
        # rescale errors: a left shift that overflows, and TOSA's value range
        x = rng_for("ln-err").integers(-128, 128, (50, 33)).astype(np.int8)
        for rq in (Requant("tflite_double", 2**30, 30), Requant("tosa_double", 2**30, 2)):
            assert assert_same("layernorm", x, gamma[:33], None, rq, frac_bits=8) == "error"


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("isa", ISAS)
def test_argmax_and_quantize_match_the_reference(isa, threads):
    nat.set_isa(isa)
    nat.set_threads(threads)
    rng = rng_for("argmax-quantize", isa, threads)
    for dtype in (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        for n in (1, 15, 16, 17, 191):
            x = rng.integers(info.min, info.max, (13, n), endpoint=True).astype(dtype)
            ties = rng.integers(-1, 1, (13, n)).astype(dtype)
            for offset in (None, np.zeros(n, np.int32), rng.integers(-5, 5, n).astype(np.int32)):
                assert_same("argmax", x, offset)
                assert_same("argmax", ties, offset)
            wide = np.full(n, INT32_MAX, np.int32)  # sums beyond int32
            wide[::2] = INT32_MIN
            assert_same("argmax", x, wide)
            assert_same("argmax", x[0], wide)
    normal = rng.standard_normal((37, 80)).astype(np.float32)
    halves = np.arange(-300, 300, dtype=np.float32) + np.float32(0.5)
    huge = np.array([3.4e38, -3.4e38, 1e20, -1e20, 0.0, -0.0, 1e-45, -1e-45, 2.0**31, -(2.0**31)], np.float32)
    for scale, zp, lo, hi in (
        (0.02, 0, -128, 127),
        (1.0, 3, -5, 12),
        (0.25, -128, -128, 127),
        (1e-3, 0, -(2**15), 2**15 - 1),
        (1e-9, 5, INT32_MIN, INT32_MAX),
        (3.0, 0, 0, 255),
        (5e-324, 1, -128, 127),
        (1e300, 0, -128, 127),
    ):
        for x in (normal, halves, huge, normal[:, :7], normal.T):
            assert_same("quantize", x * np.float32(min(scale, 1.0)) if scale < 1 else x, scale, zp, lo, hi)


@pytest.mark.parametrize("isa", ISAS)
def test_nn_ops_thread_counts_give_identical_bytes(isa):
    nat.set_isa(isa)
    rng = rng_for("nn-threads", isa)
    x, g, b = layernorm_inputs(rng, 1203, 144)
    rq = per_channel("tflite_double", 144, rng, (1e-6, 1e-5))
    scores = (rng.standard_normal((4, 150, 151)) * 3000).astype(np.int32)
    params = softmax_params("tflite_double", 4e-4)
    logits = rng.integers(-128, 128, (3001, 191)).astype(np.int8)
    offset = np.zeros(191, np.int32)
    offset[190] = -3
    features = rng.standard_normal((3001, 80)).astype(np.float32)
    results = []
    for threads in (1, 2, 3):
        nat.set_threads(threads)
        out = NB.layernorm(x, g, b, rq, eps=1000, return_acc=True)
        out += (NB.softmax(scores, params), NB.softmax(scores, params, mask=np.tril(np.ones((150, 151), bool))))
        out += (NB.argmax(logits, offset), NB.quantize(features, 0.05))
        results.append([a.tobytes() for a in out])
    assert results[0] == results[1] == results[2]
    assert_same("softmax", scores, params)


def test_nn_validation_runs_before_the_c_core(c_calls):
    rq = Requant.from_scale(1e-5, "single")
    with pytest.raises(TypeError):
        NB.layernorm(np.zeros((2, 3), np.int32), np.ones(3, np.int16), None, rq)
    with pytest.raises(ValueError):
        NB.layernorm(np.zeros((2, 3), np.int8), np.ones(3, np.int16), None, rq, frac_bits=25)
    with pytest.raises(ValueError):
        NB.softmax(np.zeros((2, 3), np.int8), softmax_params("single", 0.1), mask=np.ones((2, 4), bool))
    with pytest.raises(TypeError):
        NB.argmax(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError):
        NB.quantize(np.array([1.0, np.nan], np.float32), 0.1)
    assert c_calls == []


def test_the_c_core_checks_nn_arguments():
    lib, ffi = nat._lib, nat._ffi
    null = ffi.NULL
    einval = lib.INTREF_EINVAL
    status = ffi.new("intref_status *")
    acc = ffi.new("intref_acc *", {"policy": 0, "bits": 32})
    m, s = np.full(4, 2**30, np.int64), np.full(4, -3, np.int64)
    rq = ffi.new(
        "intref_requant *",
        {
            "scheme": 0,
            "out_bytes": 1,
            "channels": 4,
            "multiplier": ffi.from_buffer("int64_t[]", m),
            "shift": ffi.from_buffer("int64_t[]", s),
            "zero_point": 0,
            "lo": -128,
            "hi": 127,
        },
    )
    no_rq = ffi.new("intref_requant *", {"scheme": -1})
    x, g, y = np.zeros(16, np.int8), np.ones(4, np.int16), np.zeros(64, np.int32)
    xp, gp, yp = ffi.from_buffer("int8_t[]", x), ffi.from_buffer("int16_t[]", g), ffi.from_buffer("char[]", y)

    def layernorm(isa=0, xb=1, rows=4, c=4, gb=2, zp=0, eps=0, frac=10, r=rq, st=status, xx=xp, gg=gp):
        return lib.intref_layernorm(isa, 1, xx, xb, rows, c, gg, gb, null, zp, eps, frac, acc, r, null, yp, st)

    assert layernorm() == lib.INTREF_OK
    assert layernorm(isa=7) == lib.INTREF_EISA
    for bad in (dict(xb=4), dict(gb=4), dict(rows=-1), dict(c=0), dict(c=3), dict(zp=128), dict(eps=-1)):
        assert layernorm(**bad) == einval, bad
    for bad in (dict(frac=25), dict(frac=-1), dict(r=no_rq), dict(st=null), dict(xx=null), dict(gg=null)):
        assert layernorm(**bad) == einval, bad
    assert layernorm(xb=2, c=1291) == einval  # the variance would overflow 64 bits
    assert layernorm(rows=2**30, c=2**20) == einval

    keep, index = np.ones(8, np.uint8), np.array([0, 1, 5], np.int64)
    kp, ip = ffi.from_buffer("uint8_t[]", keep), ffi.from_buffer("int64_t[]", index)

    def softmax(xb=1, rows=2, n=4, k=null, krows=0, ki=null, scheme=1, mult=2**30, shift=0, om=255, oz=-128, ob=1):
        return lib.intref_softmax(0, 1, xp, xb, rows, n, k, krows, ki, scheme, mult, shift, om, oz, ob, yp, status)

    assert softmax() == lib.INTREF_OK
    assert softmax(k=kp, krows=2, ki=ip) == lib.INTREF_OK
    assert softmax(rows=3, k=kp, krows=2, ki=ip) == einval  # keep row 5 of 2
    for bad in (
        dict(xb=3),
        dict(n=0),
        dict(n=2**31 + 1),
        dict(rows=-1),
        dict(k=kp, krows=0, ki=ip),
        dict(k=kp, krows=2),
    ):
        assert softmax(**bad) == einval, bad
    for bad in (
        dict(scheme=6),
        dict(mult=-1),
        dict(shift=31),
        dict(om=0),
        dict(om=65536),
        dict(oz=-129),
        dict(ob=2, oz=-1, om=65535),
    ):
        assert softmax(**bad) == einval, bad
    assert lib.intref_softmax(0, 1, null, 1, 2, 4, null, 0, null, 1, 2**30, 0, 255, -128, 1, yp, status) == einval

    assert lib.intref_argmax(0, 1, xp, 1, 4, 4, null, ffi.cast("int32_t *", yp)) == lib.INTREF_OK
    assert lib.intref_argmax(0, 1, xp, 3, 4, 4, null, ffi.cast("int32_t *", yp)) == einval
    assert lib.intref_argmax(0, 1, xp, 1, 4, 0, null, ffi.cast("int32_t *", yp)) == einval
    assert lib.intref_argmax(0, 1, xp, 1, 4, 4, null, null) == einval
    assert lib.intref_argmax(9, 1, xp, 1, 4, 4, null, null) == lib.INTREF_EISA

    f = np.zeros(8, np.float32)
    fp = ffi.from_buffer("float[]", f)
    assert lib.intref_quantize(0, 1, fp, 8, 0.5, 0, -128, 127, 1, yp) == lib.INTREF_OK
    for args in (
        (0.0, 0, -128, 127, 1),
        (float("inf"), 0, -128, 127, 1),
        (float("nan"), 0, -128, 127, 1),
        (0.5, 200, -128, 127, 1),
        (0.5, 0, 5, 4, 1),
        (0.5, 0, -128, 128, 1),
        (0.5, 0, -128, 127, 3),
    ):
        assert lib.intref_quantize(0, 1, fp, 8, *args, yp) == einval, args
    for isa in ISAS:  # a non-finite input is refused (Python refuses it first); the outputs stay in bounds
        for bad in (np.nan, np.inf, -np.inf):
            f[5] = bad
            assert lib.intref_quantize(nat.ISAS.index(isa), 1, fp, 8, 0.5, 0, -128, 127, 1, yp) == einval
        f[5] = 0


def test_byte_swapped_inputs_are_read_in_their_own_order():
    rng = rng_for("byteorder")
    x = rng.integers(-300, 300, (5, 17)).astype(">i2")
    assert_same("clamp", x, -100, 100)
    assert_same("lut", x, rng.integers(-(2**15), 2**15, 65536).astype(">i2"))
    assert_same("requantize", x, per_channel("single", 17, rng))
    assert_same(
        "layernorm", x, np.ones(17, ">i2"), np.arange(17, dtype=">i4"), per_channel("single", 17, rng, (1e-6, 1e-5))
    )
    assert_same("softmax", x.astype(">i4"), softmax_params("single", 0.05))
    assert_same("argmax", x, np.arange(17, dtype=">i4"))
    assert_same("quantize", rng.standard_normal(40).astype(">f4"), 0.01)


def _random_binary_case(rng, shape, scheme: str):
    """Operands of random types and zero points, and add parameters with per-channel or per-tensor rescales."""
    c = shape[-1]
    dtypes = [np.int8, np.int16][int(rng.integers(0, 2))], [np.int8, np.int16][int(rng.integers(0, 2))]
    a, b = (rng.integers(np.iinfo(d).min, np.iinfo(d).max, shape, endpoint=True).astype(d) for d in dtypes)
    zps = [int(rng.integers(-100, 100)) for _ in range(2)]
    n = c if rng.integers(0, 2) else 1
    ins = [Requant.from_scale(rng.uniform(0.05, 1.0, n), scheme, 0) for _ in range(2)]
    out = Requant.from_scale(rng.uniform(2e-5, 3e-3, n), scheme, int(rng.integers(-9, 9)))
    left = 20 if all(d == np.int8 for d in dtypes) else 14
    params = AddParams(zps[0], zps[1], left, ins[0].multiplier, ins[0].shift, ins[1].multiplier, ins[1].shift, out)
    return a, b, zps, params


@pytest.mark.parametrize("isa", ISAS)
def test_add_and_mul_blocks_match_the_reference(isa):
    # whole-row blocks of the SIMD path: rows split across blocks and threads, channels up to and beyond a block,
    # accumulators narrow enough that some blocks fall back to the element code (errors name the same element)
    nat.set_isa(isa)
    rng = rng_for("binary-blocks", isa)
    shapes = [(551, 36), (3, 4096), (2, 4097), (300, 17), (1, 1), (40, 551), (7, 16)]
    accs = [Accumulator(), Accumulator("wrap", 16), Accumulator("saturate", 20), Accumulator("error", 20)]
    for shape in shapes:
        for scheme in ("tflite_double", "single", "dyadic"):
            a, b, zps, params = _random_binary_case(rng, shape, scheme)
            for acc in accs:
                for threads in (1, 2):
                    nat.set_threads(threads)
                    want = bool(rng.integers(0, 2))
                    assert_same("add", a, b, params, acc=acc, return_acc=want)
                    rq = params.out
                    assert_same("mul", a, b, rq, a_zp=zps[0], b_zp=zps[1], acc=acc, return_acc=want)


def test_prepared_arguments_stay_bounded_and_follow_their_object(monkeypatch):
    """The per-object cache of expanded requant arguments is emptied at its size limit, and every new Requant gets
    its own arguments (the results always equal the reference's)."""
    monkeypatch.setattr(nat, "_PREPARED", {})
    monkeypatch.setattr(nat, "_prepared_bytes", 0)
    monkeypatch.setattr(nat, "_PREPARED_MAX_BYTES", 1 << 20)  # 1 MB: three sets of 20,000 channels
    x = np.tile(np.arange(-50, 50, dtype=np.int32), 200).reshape(1, 20000)
    sizes = []
    for i in range(10):
        rq = Requant.from_scale(np.full(20000, 1.0 / (i + 1)), "single", 0, -(2**31), 2**31 - 1)
        assert np.array_equal(NB.requantize(x, rq), ops.requantize(x, rq))
        assert nat._prepared_bytes <= 1 << 20
        sizes.append(len(nat._PREPARED))
    assert sizes == [1, 2, 3, 1, 2, 3, 1, 2, 3, 1]  # emptied when the fourth would pass 1 MB
