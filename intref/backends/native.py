"""The native backend: the C core in ``native/`` (module ``intref._native``), bit-exact with :mod:`intref.ops`.

Every method has the signature, defaults, return values and errors of the reference op of the same name. Arguments
are validated here with the reference's own ``check_*`` functions before any compiled code runs; the C functions
receive contiguous arrays of exact dtypes and per-channel parameters expanded to the channel count, and check their
arguments again (an invalid call returns an error code, never touches memory it was not given).

ISA: the best one this CPU runs (``available_isas()``, in preference order), or ``INTREF_ISA`` /
:func:`set_isa` (``scalar``, ``avx2``, ``avx512vnni``). Threads: ``INTREF_THREADS`` / :func:`set_threads`
(default: the CPUs this process may use, at most 16); results do not depend on the thread count.
``INTREF_NATIVE_LIB=/path/to/_native*.so`` loads another build of the same module (e.g. the sanitizer build).
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys

import numpy as np

from .. import ops
from ..ops import _checks
from ..ops.argmax import check_argmax
from ..ops.conv1d import check_conv1d, output_length
from ..ops.elementwise import AddParams, check_add, check_clamp, check_mul, check_requantize
from ..ops.embed import check_embed, table_rows
from ..ops.layernorm import check_layernorm
from ..ops.linear import check_linear
from ..ops.lut import check_lut
from ..ops.quantize import check_quantize
from ..ops.reduce import check_mean, requant_for_count
from ..ops.softmax import SoftmaxParams, check_softmax
from ..ops.split import check_split16
from ..spec import Accumulator, AccumulatorOverflowError, PackedInt4, Requant, RescaleError, dtype_for_range
from ..spec.rescale import REASON_LEFT_SHIFT, REASON_RESULT, REASON_TOSA_VALUE
from .base import BackendUnavailable

ABI_VERSION = 3
ISAS: tuple[str, ...] = ("scalar", "avx2", "avx512vnni")  # the C enum's order
_PREFERENCE: tuple[str, ...] = ("avx512vnni", "avx2", "scalar")
_SCHEMES = {"tflite_double": 0, "single": 1, "tosa_double": 2, "tosa_scale16": 3, "dyadic": 4, "onnx": 5}
_POLICIES = {"error": 0, "wrap": 1, "saturate": 2}
# The reason of each scheme's first check (INTREF_SLOT_RESCALE); the second (tosa_double only) is REASON_RESULT.
_FIRST_REASON = {
    "tflite_double": REASON_LEFT_SHIFT,
    "single": REASON_RESULT,
    "tosa_double": REASON_TOSA_VALUE,
    "tosa_scale16": REASON_RESULT,
}
_MAX_THREADS = 256
# The C core's size limit (each dimension and each product of two of them): far beyond any real tensor, it keeps
# every index computation inside int64.
NATIVE_LIMIT = 2**40
# Rows longer than this (softmax, argmax) go to the reference: the C core keeps row sums and indices in 32 bits.
_ROW_LIMIT = 2**31 - 1


def _load_library():
    """(module, path) of the compiled core, honouring ``INTREF_NATIVE_LIB``."""
    path = os.environ.get("INTREF_NATIVE_LIB", "").strip()
    if path:
        spec = importlib.util.spec_from_file_location("intref._native", path)
        if spec is None or spec.loader is None or not os.path.isfile(path):
            raise BackendUnavailable(f"INTREF_NATIVE_LIB={path!r} is not a loadable extension module")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except (ImportError, OSError) as exc:
            raise BackendUnavailable(f"INTREF_NATIVE_LIB={path!r} does not load: {exc}") from exc
        sys.modules["intref._native"] = module
    else:
        try:
            from .. import _native as module
        except ImportError as exc:
            raise BackendUnavailable(
                f"the C core intref._native is not built ({exc}); install a C compiler and reinstall intref"
            ) from exc
    lib = getattr(module, "lib", None)
    if lib is None or not hasattr(lib, "intref_abi_version") or lib.intref_abi_version() != ABI_VERSION:
        raise BackendUnavailable(f"intref._native at {module.__file__} is not ABI version {ABI_VERSION}; rebuild it")
    return module, os.path.abspath(module.__file__)


_module, _library_path = _load_library()
_ffi, _lib = _module.ffi, _module.lib


def available_isas() -> list[str]:
    """The ISAs this CPU runs, best first (always ends with ``scalar``)."""
    mask = int(_lib.intref_cpu_isas())
    return [name for name in _PREFERENCE if mask >> ISAS.index(name) & 1]


def _check_isa(name, source: str) -> str:
    if not isinstance(name, str) or name.strip().lower() not in ISAS:
        raise ValueError(f"{source}: unknown ISA {name!r}; expected one of {', '.join(ISAS)}")
    name = name.strip().lower()
    if name not in available_isas():
        raise ValueError(f"{source}: ISA {name!r} does not run on this CPU; available: {', '.join(available_isas())}")
    return name


def _check_threads(n, source: str) -> int:
    if isinstance(n, str):
        try:
            n = int(n.strip())
        except ValueError:
            raise ValueError(f"{source}: thread count must be an integer >= 1, got {n!r}") from None
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= int(n) <= _MAX_THREADS:
        raise ValueError(f"{source}: thread count must be an integer in [1, {_MAX_THREADS}], got {n!r}")
    return int(n)


def _default_threads() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 16))


_env_isa = os.environ.get("INTREF_ISA", "").strip()
_isa: str = _check_isa(_env_isa, "INTREF_ISA") if _env_isa else available_isas()[0]
_env_threads = os.environ.get("INTREF_THREADS", "").strip()
_threads: int = _check_threads(_env_threads, "INTREF_THREADS") if _env_threads else _default_threads()


def set_isa(name: str) -> None:
    """Force an ISA by name (``scalar``, ``avx2``, ``avx512vnni``); it must run on this CPU."""
    global _isa
    _isa = _check_isa(name, "set_isa")


def get_isa() -> str:
    return _isa


def set_threads(n: int) -> None:
    """Number of threads each call may use (results are identical for every count)."""
    global _threads
    _threads = _check_threads(n, "set_threads")


def get_threads() -> int:
    return _threads


def library_path() -> str:
    """The file the compiled core was loaded from."""
    return _library_path


def build_kind() -> str:
    """``release``, or ``sanitized`` for a build with ``INTREF_SANITIZE=1``."""
    return _ffi.string(_lib.intref_build_kind()).decode()


def peak_macs(isa: str | None = None, threads: int = 1, seconds: float = 0.3) -> float:
    """Measured int8 multiply-accumulates per second of a register-only loop (vpdpbusd for avx512vnni)."""
    isa = _check_isa(isa or available_isas()[0], "peak_macs")
    return float(_lib.intref_peak_macs(ISAS.index(isa), _check_threads(threads, "peak_macs"), float(seconds)))


# ------------------------------------------------------------------------------------------------ helpers


def _ptr(ctype: str, arr: np.ndarray):
    """A C array over a contiguous NumPy array, e.g. ``_ptr("int8_t[]", x)`` (``ffi.from_buffer`` is much cheaper
    than ``arr.ctypes``)."""
    return _ffi.from_buffer(ctype, arr)


def _contig(arr: np.ndarray, dtype) -> np.ndarray:
    """``arr`` as a C-contiguous array of ``dtype`` in the machine's byte order (what the C core reads)."""
    dtype = np.dtype(dtype)
    return np.ascontiguousarray(arr, dtype=dtype if dtype.isnative else dtype.newbyteorder("="))


def _as_dtype(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A native-order result in the reference's dtype (which keeps a byte-swapped input's byte order)."""
    return y if y.dtype == dtype else y.astype(dtype)


_ACC_STRUCTS: dict[tuple[str, int], object] = {}


def _acc_struct(acc: Accumulator):
    """The C struct of an accumulator (read-only for C, so one per (policy, bits) is shared)."""
    key = (acc.policy, int(acc.bits))
    struct = _ACC_STRUCTS.get(key)
    if struct is None:
        struct = _ACC_STRUCTS[key] = _ffi.new("intref_acc *", {"policy": _POLICIES[acc.policy], "bits": key[1]})
    return struct


def _expand(values: np.ndarray, channels: int) -> np.ndarray:
    """Per-tensor or per-channel parameters as a contiguous int64 vector of ``channels`` entries."""
    values = np.asarray(values)
    if values.shape == (channels,) and values.dtype == np.int64 and values.flags.c_contiguous:
        return values
    if values.size == 1:
        return np.full(channels, int(values.reshape(())), dtype=np.int64)
    return _contig(np.broadcast_to(values.reshape(-1), (channels,)), np.int64)


class _RequantArgs:
    """A Requant as the C struct, with its expanded parameter arrays kept alive."""

    def __init__(self, requant: Requant | None, channels: int) -> None:
        self.nbytes = 0
        if requant is None:
            self.struct = _ffi.new("intref_requant *", {"scheme": -1})
            return
        self.m = _expand(requant.multiplier, channels)
        self.s = _expand(requant.shift, channels)
        self.nbytes = self.m.nbytes + self.s.nbytes
        self.mp, self.sp = _ptr("int64_t[]", self.m), _ptr("int64_t[]", self.s)
        st = self.struct = _ffi.new("intref_requant *")
        st.scheme = _SCHEMES[requant.scheme]
        st.out_bytes = _out_dtype(requant).itemsize
        st.channels = channels
        st.multiplier = self.mp
        st.shift = self.sp
        st.zero_point = requant.zero_point
        st.lo = requant.lo
        st.hi = requant.hi


# Prepared C arguments of parameter objects (Requant, AddParams), made once per (object, channel count): their
# arrays are read-only copies, so an object's arguments never change. The entry keeps the object alive, so its
# id is not reused while cached. The cache is emptied when it would exceed a count or a size, so objects of
# models no longer in use do not accumulate.
_PREPARED: dict[tuple[int, int], tuple[object, object]] = {}
_PREPARED_MAX = 4096
_PREPARED_MAX_BYTES = 64 << 20
_prepared_bytes = 0
_NO_REQUANT = None


def _prepared(owner, channels: int, make):
    global _prepared_bytes
    key = (id(owner), channels)
    hit = _PREPARED.get(key)
    if hit is not None and hit[0] is owner:
        return hit[1]
    value = make()
    if len(_PREPARED) >= _PREPARED_MAX or _prepared_bytes + value.nbytes > _PREPARED_MAX_BYTES:
        _PREPARED.clear()
        _prepared_bytes = 0
    _PREPARED[key] = (owner, value)
    _prepared_bytes += value.nbytes
    return value


def _requant_args(requant: Requant | None, channels: int) -> _RequantArgs:
    global _NO_REQUANT
    if requant is None:
        if _NO_REQUANT is None:
            _NO_REQUANT = _RequantArgs(None, 0)
        return _NO_REQUANT
    return _prepared(requant, channels, lambda: _RequantArgs(requant, channels))


def _add_vectors(p: AddParams) -> tuple[np.ndarray, ...]:
    return (p.a_multiplier, p.a_shift, p.b_multiplier, p.b_shift)


class _AddArgs:
    """AddParams as C arguments: the expanded input multipliers and shifts, and the output requant."""

    def __init__(self, p: AddParams, channels: int) -> None:
        self.arrays = [_expand(v, channels) for v in _add_vectors(p)]
        self.pointers = [_ptr("int64_t[]", v) for v in self.arrays]
        self.out = _RequantArgs(p.out, channels)
        self.nbytes = sum(a.nbytes for a in self.arrays) + self.out.nbytes


_INT8, _INT16, _INT32 = np.dtype(np.int8), np.dtype(np.int16), np.dtype(np.int32)
# Schemes whose rescale of an int8 value always fits int32 (or is an error): embed takes the C path for these.
_INT32_RESULT = ("tflite_double", "single", "tosa_double", "tosa_scale16")


def _out_dtype(requant: Requant) -> np.dtype:
    """``requant.out_dtype`` (the narrowest of int8, int16, int32 holding [lo, hi]) without its NumPy lookups."""
    lo, hi = requant.lo, requant.hi
    if -128 <= lo and hi <= 127:
        return _INT8
    if -32768 <= lo and hi <= 32767:
        return _INT16
    return _INT32


def _y_shape(held_shape: tuple[int, ...], requant: Requant) -> tuple[int, ...]:
    """The reference's output shape: the accumulator broadcast with the requant parameters (same size: validation
    allows only 1 or the channel count), which differs from the accumulator's only when that is 0-d."""
    if held_shape or (requant.multiplier.ndim == 0 and requant.shift.ndim == 0):
        return held_shape
    return np.broadcast_shapes(held_shape, requant.multiplier.shape, requant.shift.shape)


def _raise_status(rc: int, status, name: str, acc: Accumulator, scheme: str | None) -> None:
    if rc == 0:
        return
    if rc == _lib.INTREF_ARITH:
        slot, index, value = int(status.slot), int(status.index), int(status.value)
        if slot == _lib.INTREF_SLOT_ACC:
            raise AccumulatorOverflowError(name, index, value, acc.bits)
        first = slot in (_lib.INTREF_SLOT_RESCALE, _lib.INTREF_SLOT_A_RESCALE, _lib.INTREF_SLOT_B_RESCALE)
        raise RescaleError(scheme, index, value, _FIRST_REASON[scheme] if first else REASON_RESULT)
    if rc == _lib.INTREF_ENOMEM:
        raise MemoryError(f"{name}: the native core could not allocate its scratch memory")
    if rc == _lib.INTREF_EISA:
        raise RuntimeError(f"{name}: ISA {_isa!r} does not run on this CPU")
    raise RuntimeError(f"{name}: the native core rejected arguments that passed validation (code {rc})")


def _check_limits(name: str, *sizes: int) -> None:
    """Refuse (ValueError, before any C runs) sizes beyond what the C core indexes."""
    if any(int(v) > NATIVE_LIMIT for v in sizes) or math.prod(int(v) for v in sizes[:2]) > NATIVE_LIMIT:
        raise ValueError(f"{name}: sizes {tuple(int(v) for v in sizes)} exceed the native core's limit of 2^40")


def _weight_args(w) -> tuple[np.ndarray | None, np.ndarray | None]:
    if isinstance(w, PackedInt4):
        return None, _contig(w.data, np.uint8)
    return _contig(w, np.int8), None


def _outputs(shape: tuple[int, ...], acc: Accumulator, requant: Requant | None, want_acc: bool):
    held = np.empty(shape, dtype=acc.dtype) if (want_acc or requant is None) else None
    y = np.empty(shape, dtype=_out_dtype(requant)) if requant is not None else None
    return held, y


def _finish(held, y, requant: Requant | None, return_acc: bool):
    if requant is None:
        return (held, held) if return_acc else held
    y = y.reshape(_y_shape(held.shape if held is not None else y.shape, requant))
    return (y, held) if return_acc else y


def _optr(arr: np.ndarray | None):
    return _ffi.NULL if arr is None else _ffi.from_buffer("char[]", arr)


def _keep_rows(mask: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A softmax mask (validated: it broadcasts to ``shape``) as its distinct rows [M, N] of uint8 flags and, per
    row of x, the index of its flags row: a [T, T] mask of [H, T, T] scores stays T rows."""
    n, lead = shape[-1], shape[:-1]
    if mask.shape == shape and mask.flags.c_contiguous:
        return mask.view(np.uint8).reshape(-1, n), np.arange(math.prod(lead), dtype=np.int64)
    m = mask.reshape((1,) * (len(shape) - mask.ndim) + mask.shape)
    keep = np.ascontiguousarray(np.broadcast_to(m, m.shape[:-1] + (n,))).view(np.uint8).reshape(-1, n)
    ids = np.arange(keep.shape[0], dtype=np.int64).reshape(m.shape[:-1])
    return keep, np.ascontiguousarray(np.broadcast_to(ids, lead)).reshape(-1)


class NativeBackend:
    """The compiled C core behind the reference ops' signatures."""

    name = "native"

    def linear(
        self,
        x: np.ndarray,
        w: np.ndarray | PackedInt4,
        bias: np.ndarray | None = None,
        *,
        x_zp: int = 0,
        requant: Requant | None = None,
        acc: Accumulator = Accumulator(),
        return_acc: bool = False,
        name: str = "linear",
    ):
        _, b, zp = check_linear(x, w, bias, x_zp, requant, acc, name, unpack_weights=False)
        n, k = w.shape
        rows = math.prod(x.shape[:-1])
        xc = _contig(x, np.int8).reshape(rows, k)
        held, y = _outputs(x.shape[:-1] + (n,), acc, requant, return_acc)
        self._conv(False, xc, w, b, zp, requant, acc, 1, 1, 1, (0, 0), held, y, name)
        return _finish(held, y, requant, return_acc)

    def conv1d(
        self,
        x: np.ndarray,
        w: np.ndarray | PackedInt4,
        bias: np.ndarray | None = None,
        *,
        x_zp: int = 0,
        requant: Requant | None = None,
        acc: Accumulator = Accumulator(),
        stride: int = 1,
        dilation: int = 1,
        padding: int | tuple[int, int] = 0,
        groups: int = 1,
        return_acc: bool = False,
        name: str = "conv1d",
    ):
        _, b, zp, stride, dilation, pad, depthwise = check_conv1d(
            x, w, bias, x_zp, requant, acc, stride, dilation, padding, groups, name, unpack_weights=False
        )
        c_out, _, k = w.shape
        _check_limits(name, x.shape[0], x.shape[1], c_out, k, stride, dilation, *pad)
        _check_limits(name, dilation, k)
        t_out = output_length(x.shape[0], k, stride, dilation, pad)
        _check_limits(name, t_out, c_out)
        xc = _contig(x, np.int8)
        held, y = _outputs((t_out, c_out), acc, requant, return_acc)
        self._conv(depthwise, xc, w, b, zp, requant, acc, k, stride, dilation, pad, held, y, name)
        return _finish(held, y, requant, return_acc)

    def _conv(self, depthwise, xc, w, b, zp, requant, acc, k, stride, dilation, pad, held, y, name) -> None:
        """One C call: the depthwise kernel takes no output-channel count (it equals the input's)."""
        w8, w4 = _weight_args(w)
        bc = _contig(b, np.int32)
        rq = _requant_args(requant, w.shape[0])
        status = _ffi.new("intref_status *")
        fn = _lib.intref_conv1d_depthwise if depthwise else _lib.intref_conv1d_dense
        kernel_shape = (k,) if depthwise else (w.shape[0], k)
        rc = fn(
            ISAS.index(_isa),
            _threads,
            _ptr("int8_t[]", xc),
            xc.shape[0],
            xc.shape[1],
            _ffi.NULL if w8 is None else _ptr("int8_t[]", w8),
            _ffi.NULL if w4 is None else _ptr("uint8_t[]", w4),
            *kernel_shape,
            stride,
            dilation,
            pad[0],
            pad[1],
            _ptr("int32_t[]", bc),
            zp,
            _acc_struct(acc),
            rq.struct,
            _optr(held),
            _optr(y) if requant is not None else _ffi.NULL,
            status,
        )
        _raise_status(rc, status, name, acc, requant.scheme if requant is not None else None)

    def requantize(
        self,
        x: np.ndarray,
        requant: Requant,
        *,
        x_zp: int = 0,
        acc: Accumulator = Accumulator(),
        return_acc: bool = False,
        name: str = "requantize",
    ):
        zp = check_requantize(x, x_zp, requant, acc, name)
        held, y = _outputs(x.shape, acc, requant, return_acc)
        if x.size:
            channels = x.shape[-1] if x.ndim else 1
            xc = _contig(x, x.dtype)
            rq = _requant_args(requant, channels)
            status = _ffi.new("intref_status *")
            rc = _lib.intref_requantize(
                ISAS.index(_isa),
                _threads,
                _optr(xc),
                xc.dtype.itemsize,
                x.size // channels,
                channels,
                zp,
                _acc_struct(acc),
                rq.struct,
                _optr(held),
                _optr(y),
                status,
            )
            _raise_status(rc, status, name, acc, requant.scheme)
        return _finish(held, y, requant, return_acc)

    def add(
        self,
        a: np.ndarray,
        b: np.ndarray,
        params: AddParams,
        *,
        acc: Accumulator = Accumulator(),
        return_acc: bool = False,
        name: str = "add",
    ):
        check_add(a, b, params, acc, name)
        shape = a.shape if a.shape == b.shape else np.broadcast_shapes(a.shape, b.shape)
        p = params
        last = shape[-1] if shape else None
        # The input parameters (scalars or vectors, AddParams checks) must not widen the data's shape.
        same = all(v.ndim == 0 or (last is not None and v.shape[0] in (1, last)) for v in _add_vectors(p))
        if not same:
            # Input parameters wider than the data's last axis: the reference defines the shapes (and errors).
            return ops.add(a, b, params, acc=acc, return_acc=return_acc, name=name)
        requant = p.out
        held, y = _outputs(shape, acc, requant, return_acc)
        if held is not None or y is not None:
            size = math.prod(shape)
            if size:
                channels = shape[-1] if shape else 1
                ac = _contig(a if a.shape == shape else np.broadcast_to(a, shape), a.dtype)
                bc = _contig(b if b.shape == shape else np.broadcast_to(b, shape), b.dtype)
                args = _prepared(p, channels, lambda: _AddArgs(p, channels))
                status = _ffi.new("intref_status *")
                rc = _lib.intref_add(
                    ISAS.index(_isa),
                    _threads,
                    _optr(ac),
                    ac.dtype.itemsize,
                    _optr(bc),
                    bc.dtype.itemsize,
                    size // channels,
                    channels,
                    _checks.zero_point(f"{name}: a_zp", p.a_zp, a.dtype),
                    _checks.zero_point(f"{name}: b_zp", p.b_zp, b.dtype),
                    p.left_shift,
                    *args.pointers,
                    _acc_struct(acc),
                    args.out.struct,
                    _optr(held),
                    _optr(y),
                    status,
                )
                _raise_status(rc, status, name, acc, requant.scheme)
        return _finish(held, y, requant, return_acc)

    def mul(
        self,
        a: np.ndarray,
        b: np.ndarray,
        requant: Requant,
        *,
        a_zp: int = 0,
        b_zp: int = 0,
        acc: Accumulator = Accumulator(),
        return_acc: bool = False,
        name: str = "mul",
    ):
        azp, bzp = check_mul(a, b, a_zp, b_zp, requant, acc, name)
        shape = np.broadcast_shapes(a.shape, b.shape)
        held, y = _outputs(shape, acc, requant, return_acc)
        size = math.prod(shape)
        if size:
            channels = shape[-1] if shape else 1
            ac = _contig(np.broadcast_to(a, shape), a.dtype)
            bc = _contig(np.broadcast_to(b, shape), b.dtype)
            rq = _requant_args(requant, channels)
            status = _ffi.new("intref_status *")
            rc = _lib.intref_mul(
                ISAS.index(_isa),
                _threads,
                _optr(ac),
                ac.dtype.itemsize,
                _optr(bc),
                bc.dtype.itemsize,
                size // channels,
                channels,
                azp,
                bzp,
                _acc_struct(acc),
                rq.struct,
                _optr(held),
                _optr(y),
                status,
            )
            _raise_status(rc, status, name, acc, requant.scheme)
        return _finish(held, y, requant, return_acc)

    def lut(self, x: np.ndarray, table: np.ndarray, *, name: str = "lut") -> np.ndarray:
        check_lut(x, table, name)
        y = np.empty(x.shape, dtype=table.dtype.newbyteorder("="))
        if x.size:
            xc, tc = _contig(x, x.dtype), _contig(table, table.dtype)
            rc = _lib.intref_lut(
                ISAS.index(_isa), _threads, _optr(xc), xc.dtype.itemsize, x.size, _optr(tc), tc.dtype.itemsize, _optr(y)
            )
            _raise_status(rc, None, name, Accumulator(), None)
        return _as_dtype(y, table.dtype)

    def clamp(self, x: np.ndarray, lo: int, hi: int, *, name: str = "clamp") -> np.ndarray:
        check_clamp(x, lo, hi, name)
        y = np.empty(x.shape, dtype=x.dtype.newbyteorder("="))
        if x.size:
            xc = _contig(x, x.dtype)
            rc = _lib.intref_clamp(
                ISAS.index(_isa), _threads, _optr(xc), xc.dtype.itemsize, x.size, int(lo), int(hi), _optr(y)
            )
            _raise_status(rc, None, name, Accumulator(), None)
        return _as_dtype(y, x.dtype)

    def mean_over_time(
        self,
        x: np.ndarray,
        requant: Requant,
        *,
        x_zp: int = 0,
        acc: Accumulator = Accumulator(),
        return_acc: bool = False,
        name: str = "mean_over_time",
    ):
        zp = check_mean(x, x_zp, requant, acc, name)
        t, c = x.shape
        xc = _contig(x, x.dtype)
        held, y = _outputs((c,), acc, requant, return_acc)
        divided = requant_for_count(requant, t)  # as the reference: an illegal divided shift before any sum
        if c:
            self._mean(xc, zp, divided, acc, held, y, name)
        return _finish(held, y, divided, return_acc)

    def _mean(self, xc, zp, requant, acc, held, y, name) -> None:
        t, c = xc.shape
        rq = _requant_args(requant, c)
        status = _ffi.new("intref_status *")
        rc = _lib.intref_mean_over_time(
            ISAS.index(_isa),
            _threads,
            _optr(xc),
            xc.dtype.itemsize,
            t,
            c,
            zp,
            _acc_struct(acc),
            rq.struct,
            _optr(held),
            _optr(y),
            status,
        )
        _raise_status(rc, status, name, acc, requant.scheme if requant is not None else None)

    # ------------------------------------------------------------------------------ transformer/conformer ops

    def layernorm(
        self,
        x: np.ndarray,
        gamma: np.ndarray,
        beta: np.ndarray | None,
        requant: Requant,
        *,
        x_zp: int = 0,
        eps: int = 0,
        frac_bits: int = 10,
        acc: Accumulator = Accumulator(),
        return_acc: bool = False,
        name: str = "layernorm",
    ):
        zp, eps, frac_bits = check_layernorm(x, gamma, beta, x_zp, eps, frac_bits, requant, acc, name)
        t, c = x.shape
        held, y = _outputs((t, c), acc, requant, return_acc)
        if t:
            xc, gc = _contig(x, x.dtype), _contig(gamma, gamma.dtype)
            bc = None if beta is None else _contig(beta, np.int32)
            rq = _requant_args(requant, c)
            status = _ffi.new("intref_status *")
            rc = _lib.intref_layernorm(
                ISAS.index(_isa),
                _threads,
                _optr(xc),
                xc.dtype.itemsize,
                t,
                c,
                _optr(gc),
                gc.dtype.itemsize,
                _ffi.NULL if bc is None else _ptr("int32_t[]", bc),
                zp,
                eps,
                frac_bits,
                _acc_struct(acc),
                rq.struct,
                _optr(held),
                _optr(y),
                status,
            )
            _raise_status(rc, status, name, acc, requant.scheme)
        return _finish(held, y, requant, return_acc)

    def softmax(self, x: np.ndarray, params: SoftmaxParams, *, mask: np.ndarray | None = None, name: str = "softmax"):
        check_softmax(x, params, mask, name)
        n = x.shape[-1]
        if n > _ROW_LIMIT:
            return ops.softmax(x, params, mask=mask, name=name)
        out_dtype = params.out_dtype
        y = np.empty(x.shape, dtype=out_dtype)
        rows = x.size // n
        if rows:
            xc = _contig(x, x.dtype)
            keep, index = (None, None) if mask is None else _keep_rows(mask, x.shape)
            status = _ffi.new("intref_status *")
            rc = _lib.intref_softmax(
                ISAS.index(_isa),
                _threads,
                _optr(xc),
                xc.dtype.itemsize,
                rows,
                n,
                _ffi.NULL if keep is None else _ptr("uint8_t[]", keep),
                0 if keep is None else keep.shape[0],
                _ffi.NULL if index is None else _ptr("int64_t[]", index),
                _SCHEMES[params.scheme],
                params.multiplier,
                params.shift,
                params.out_max,
                params.out_zp,
                np.dtype(out_dtype).itemsize,
                _optr(y),
                status,
            )
            _raise_status(rc, status, name, Accumulator(), params.scheme)
        return y

    def argmax(self, x: np.ndarray, offset: np.ndarray | None = None, *, name: str = "argmax") -> np.ndarray:
        check_argmax(x, offset, name)
        n = x.shape[-1]
        if n > _ROW_LIMIT:
            return ops.argmax(x, offset, name=name)
        out = np.empty(x.shape[:-1], dtype=np.int32)
        if out.size:
            xc = _contig(x, x.dtype)
            oc = None if offset is None else _contig(offset, np.int32)
            rc = _lib.intref_argmax(
                ISAS.index(_isa),
                _threads,
                _optr(xc),
                xc.dtype.itemsize,
                out.size,
                n,
                _ffi.NULL if oc is None else _ptr("int32_t[]", oc),
                _ptr("int32_t[]", out),
            )
            _raise_status(rc, None, name, Accumulator(), None)
        return out

    def quantize(
        self, x: np.ndarray, scale: float, zero_point: int = 0, lo: int = -128, hi: int = 127, *, name: str = "quantize"
    ) -> np.ndarray:
        check_quantize(x, scale, zero_point, lo, hi, name)
        y = np.empty(x.shape, dtype=dtype_for_range(lo, hi))
        if x.size:
            xc = _contig(x, np.float32)
            rc = _lib.intref_quantize(
                ISAS.index(_isa),
                _threads,
                _ptr("float[]", xc),
                x.size,
                float(scale),
                int(zero_point),
                int(lo),
                int(hi),
                y.itemsize,
                _optr(y),
            )
            _raise_status(rc, None, name, Accumulator(), None)
        return y

    def embed(
        self,
        ids: np.ndarray,
        positions: np.ndarray,
        table: np.ndarray | PackedInt4,
        pos_table: np.ndarray,
        requant: Requant,
        *,
        name: str = "embed",
    ) -> np.ndarray:
        """Rows gathered in NumPy and rescaled in one C requantize call (one row of n * D channels, each row's
        parameters repeated over its D entries), the positions added in NumPy. A rescale error is raised by the
        reference, which names the element in its own order."""
        check_embed(ids, positions, table, pos_table, requant, name)
        if requant.scheme not in _INT32_RESULT or ids.shape[0] == 0:  # rescales whose results may leave int32
            return ops.embed(ids, positions, table, pos_table, requant, name=name)
        rows = table_rows(table, ids)
        count = rows.size
        # the node's validated parameters, row by row; the bare rescale: no zero point, no clamp
        m = np.repeat(np.broadcast_to(requant.multiplier, (table.shape[0],))[ids].astype(np.int64), rows.shape[1])
        s = np.repeat(np.broadcast_to(requant.shift, (table.shape[0],))[ids].astype(np.int64), rows.shape[1])
        rq = _ffi.new("intref_requant *")
        rq.scheme, rq.out_bytes, rq.channels = _SCHEMES[requant.scheme], 4, count
        rq.multiplier, rq.shift = _ptr("int64_t[]", m), _ptr("int64_t[]", s)
        rq.zero_point, rq.lo, rq.hi = 0, -(2**31), 2**31 - 1
        scaled = np.empty(rows.shape, dtype=np.int32)
        status = _ffi.new("intref_status *")
        rc = _lib.intref_requantize(
            ISAS.index(_isa), _threads, _optr(np.ascontiguousarray(rows)), 1, 1, count, 0, _acc_struct(Accumulator()),
            rq, _ffi.NULL, _optr(scaled), status,
        )  # fmt: skip
        if rc != 0:
            return ops.embed(ids, positions, table, pos_table, requant, name=name)
        total = scaled + pos_table[positions].astype(np.int64)
        return np.clip(total, requant.lo, requant.hi).astype(requant.out_dtype)

    def split16(
        self, x: np.ndarray, *, x_zp: int = 0, shift: int = 7, hi_zp: int = 0, name: str = "split16"
    ) -> tuple[np.ndarray, np.ndarray]:
        zp, s, hzp = check_split16(x, x_zp, shift, hi_zp, name)
        hi, lo = np.empty(x.shape, dtype=np.int8), np.empty(x.shape, dtype=np.int8)
        if x.size:
            xc = _contig(x, np.int16)
            rc = _lib.intref_split16(
                ISAS.index(_isa), _threads, _ptr("int16_t[]", xc), x.size, zp, s, hzp, _optr(hi), _optr(lo)
            )
            _raise_status(rc, None, name, Accumulator(), None)
        return hi, lo


__all__ = [
    "ISAS",
    "NativeBackend",
    "available_isas",
    "build_kind",
    "get_isa",
    "get_threads",
    "library_path",
    "peak_macs",
    "set_isa",
    "set_threads",
]
