"""The numba backend: the ops of :mod:`intref.ops`, validated by the same checks, computed by compiled kernels.

Every method has the signature, results, dtypes and errors of its reference op. Inputs are checked with the
reference's own ``check_*`` functions and laid out contiguously (weights reordered once per call); the exact
int64 sums come from :mod:`.numba_kernels` (matrix products, convolutions) or NumPy (elementwise ops), and
the accumulator, rescale and clamp from the epilogue of :mod:`.numba_rescale` (driven by
:mod:`.numba_epilogue`). Results do not depend on the thread count.

A few rare cases go to the reference itself, which is always allowed since it defines the result:
0-d tensors (the reference returns NumPy scalars there) and parameters whose shapes broadcast the output
to a larger shape than the inputs'. A dyadic/onnx rescale whose product needs more than 64 bits (possible
only with accumulators wider than 32 bits) is finished by the spec from the accumulator the kernel computed.

The transformer ops (layernorm, softmax, argmax, quantize) are written in :mod:`.numba_nn`.

Threads: :func:`set_threads` / :func:`get_threads`, or the environment variable ``INTREF_THREADS`` read at
import (numba's thread count is a setting of the calling thread).
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np

from .base import BackendUnavailable

try:
    import numba
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise BackendUnavailable(f"numba is not installed ({exc}); install it with 'pip install numba'") from exc

from .. import ops
from ..ops.conv1d import check_conv1d, output_length
from ..ops.elementwise import AddParams, check_add, check_clamp, check_mul, check_requantize
from ..ops.linear import check_linear
from ..ops.lut import check_lut
from ..ops.reduce import check_mean, requant_for_count
from ..spec import Accumulator, PackedInt4, Requant
from . import numba_kernels as nk
from . import numba_nn
from . import numba_rescale as nr
from .numba_epilogue import Epilogue


def set_threads(n: int) -> None:
    """Use ``n`` threads in the kernels called from this thread (1 .. numba's NUMBA_NUM_THREADS)."""
    limit = numba.config.NUMBA_NUM_THREADS
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= int(n) <= limit:
        raise ValueError(f"thread count must be an integer in [1, {limit}], got {n!r}")
    numba.set_num_threads(int(n))


def get_threads() -> int:
    return numba.get_num_threads()


def _threads_from_env() -> None:
    value = os.environ.get("INTREF_THREADS", "").strip()
    if not value:
        return
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"INTREF_THREADS must be a positive integer, got {value!r}")
    set_threads(min(int(value), numba.config.NUMBA_NUM_THREADS))


_threads_from_env()


def _flat(x: np.ndarray) -> np.ndarray:
    """``x`` as a contiguous 1-D array."""
    return np.ascontiguousarray(x).reshape(-1)


def _centred(x: np.ndarray, zp: int, shape: tuple[int, ...]) -> np.ndarray:
    """``x - zp`` broadcast to ``shape``, as a new C-ordered int64 array."""
    out = np.empty(shape, dtype=np.int64)
    np.subtract(x, np.int64(zp), out=out, dtype=np.int64)  # in int64: x - zp may leave x's own type
    return out


def _expands(shape: tuple[int, ...], *params: np.ndarray) -> bool:
    """Whether per-channel parameters broadcast an output of ``shape`` to a larger shape."""
    return np.broadcast_shapes(shape, *(np.shape(p) for p in params)) != shape


def _tasks(units: int) -> int:
    """Parallel tasks for ``units`` independent pieces of work: a few per thread, for balance."""
    return max(1, min(units, 4 * get_threads()))


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _padded(x: np.ndarray, x_zp: int, pad: tuple[int, int]) -> np.ndarray:
    """x [T, C] with ``pad`` rows of ``x_zp`` before and after, contiguous."""
    if pad == (0, 0):
        return np.ascontiguousarray(x)
    xp = np.full((x.shape[0] + pad[0] + pad[1], x.shape[1]), x_zp, dtype=x.dtype)
    xp[pad[0] : pad[0] + x.shape[0]] = x
    return xp


def _requantized(ex: np.ndarray, requant, acc, return_acc, name, shape):
    """The reference's ``requant.apply(acc.apply(ex))`` for exact sums ``ex`` (flat int64 of ``shape``)."""
    ep = Epilogue.build(requant, acc, channels=shape[-1], size=ex.size, return_acc=return_acc, name=name)
    ep.run(ex)
    return ep.conclude(shape, return_acc)


def _matmul(xf, row_stride, rows, w2, bias, x_zp, requant, acc, return_acc, name, shape):
    """``bias + (x - x_zp) @ w2.T`` for rows of ``xf`` starting every ``row_stride`` elements, then requant."""
    n_out = w2.shape[0]
    # Whole output rows per tile when there are enough rows; otherwise split the outputs so all threads work.
    threads = get_threads()
    n_block = n_out if rows >= 2 * threads else max(16, _ceil_div(n_out, 4 * threads))
    n_block = max(1, min(n_block, n_out))
    offset = bias.astype(np.int64)
    if x_zp:
        offset -= x_zp * nk.row_sums(w2)  # sum (x - zp) w = sum x w - zp sum w
    ex = np.empty(rows * n_out, dtype=np.int64)
    nk.gemm(xf, row_stride, rows, w2, offset, n_block, _tasks(rows * _ceil_div(n_out, n_block)), ex)
    return _requantized(ex, requant, acc, return_acc, name, shape)


def _depthwise(x, wi, bias, x_zp, requant, acc, stride, dilation, pad, return_acc, name):
    c = wi.shape[0]
    t_out = output_length(x.shape[0], wi.shape[2], stride, dilation, pad)
    wt = np.ascontiguousarray(wi[:, 0, :].T)  # [k, C]: one contiguous row of channels per tap
    # padding rows hold x_zp, so every tap takes part in the zero-point correction
    offset = bias.astype(np.int64) - x_zp * wt.sum(axis=0, dtype=np.int64)
    ex = np.empty(t_out * c, dtype=np.int64)
    nk.depthwise(_padded(x, x_zp, pad), stride, dilation, t_out, wt, offset, _tasks(t_out), ex)
    return _requantized(ex, requant, acc, return_acc, name, (t_out, c))


def _dense_conv(x, wi, bias, x_zp, requant, acc, stride, dilation, pad, return_acc, name):
    c_out, c_in, k = wi.shape
    t_out = output_length(x.shape[0], k, stride, dilation, pad)
    # Weights reordered tap-major ([C_out, k * C_in]) so that a window is k rows of the padded input; with
    # dilation 1 those rows are consecutive, so windows are read in place (rows of the matrix overlap).
    w2 = np.ascontiguousarray(wi.transpose(0, 2, 1).reshape(c_out, k * c_in))
    xp = _padded(x, x_zp, pad)
    if dilation == 1:
        xf, row_stride = xp.reshape(-1), stride * c_in
    else:
        taps = np.arange(t_out)[:, None] * stride + np.arange(k)[None, :] * dilation
        xf, row_stride = xp[taps].reshape(-1), k * c_in
    return _matmul(xf, row_stride, t_out, w2, bias, x_zp, requant, acc, return_acc, name, (t_out, c_out))


class NumbaBackend:
    name = "numba"

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
        wi, b, zp = check_linear(x, w, bias, x_zp, requant, acc, name)
        n_out, k = wi.shape
        lead = x.shape[:-1]
        w2 = np.ascontiguousarray(wi)
        return _matmul(_flat(x), k, math.prod(lead), w2, b, zp, requant, acc, return_acc, name, (*lead, n_out))

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
        wi, b, zp, stride, dilation, pad, depthwise = check_conv1d(
            x, w, bias, x_zp, requant, acc, stride, dilation, padding, groups, name
        )
        conv = _depthwise if depthwise else _dense_conv
        return conv(x, wi, b, zp, requant, acc, stride, dilation, pad, return_acc, name)

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
        if x.ndim == 0 or _expands(x.shape, requant.multiplier, requant.shift):
            return ops.requantize(x, requant, x_zp=x_zp, acc=acc, return_acc=return_acc, name=name)
        return _requantized(_centred(x, zp, x.shape).reshape(-1), requant, acc, return_acc, name, x.shape)

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
        shape = np.broadcast_shapes(a.shape, b.shape)
        p = params
        every = (p.a_multiplier, p.a_shift, p.b_multiplier, p.b_shift, p.out.multiplier, p.out.shift)
        if not shape or _expands(shape, *every):
            return ops.add(a, b, params, acc=acc, return_acc=return_acc, name=name)
        ep = Epilogue.build(p.out, acc, channels=shape[-1], size=math.prod(shape), return_acc=return_acc, name=name)
        # Each centred input shifted left, rescaled on its own (its errors come first), then summed.
        scaled = []
        for x, zp, m, s, first in (
            (a, p.a_zp, p.a_multiplier, p.a_shift, nr.CAT_A1),
            (b, p.b_zp, p.b_multiplier, p.b_shift, nr.CAT_B1),
        ):
            values = np.left_shift(_centred(x, zp, shape), p.left_shift).reshape(-1)
            scaled.append(ep.rescale_input(values, m, s, first))
        ep.run(np.add(scaled[0], scaled[1], out=scaled[0]))
        return ep.conclude(shape, return_acc)

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
        if not shape or _expands(shape, requant.multiplier, requant.shift):
            return ops.mul(a, b, requant, a_zp=a_zp, b_zp=b_zp, acc=acc, return_acc=return_acc, name=name)
        ex = _centred(a, azp, shape)
        ex *= _centred(b, bzp, shape)
        return _requantized(ex.reshape(-1), requant, acc, return_acc, name, shape)

    def lut(self, x: np.ndarray, table: np.ndarray, *, name: str = "lut") -> np.ndarray:
        check_lut(x, table, name)
        if x.ndim == 0:
            return ops.lut(x, table, name=name)
        out = np.empty(x.shape, dtype=table.dtype)
        nk.table_lookup(_flat(x), np.ascontiguousarray(table), -int(np.iinfo(x.dtype).min), out.reshape(-1))
        return out

    def clamp(self, x: np.ndarray, lo: int, hi: int, *, name: str = "clamp") -> np.ndarray:
        check_clamp(x, lo, hi, name)
        if x.ndim == 0:
            return ops.clamp(x, lo, hi, name=name)
        out = np.empty(x.shape, dtype=x.dtype)
        nk.clip(_flat(x), int(lo), int(hi), out.reshape(-1))
        return out

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
        t, channels = x.shape
        sums = x.sum(axis=0, dtype=np.int64) - t * zp
        scaled = requant_for_count(requant, t)  # as the reference: an illegal divided shift before any sum
        return _requantized(sums, scaled, acc, return_acc, name, (channels,))

    # The transformer ops (see :mod:`.numba_nn`).
    layernorm = staticmethod(numba_nn.layernorm)
    softmax = staticmethod(numba_nn.softmax)
    argmax = staticmethod(numba_nn.argmax)
    quantize = staticmethod(numba_nn.quantize)


def _native_order(value):
    """A byte-swapped array (e.g. dtype ``>i2``) as the same values in native order; anything else as it is."""
    if isinstance(value, np.ndarray) and not value.dtype.isnative:
        return value.astype(value.dtype.newbyteorder("="))
    return value


def _in_native_order(fn):
    """numba compiles for native byte order only; the ops depend on values, so swapped arrays are converted."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*map(_native_order, args), **{k: _native_order(v) for k, v in kwargs.items()})

    return wrapper


for _op in ops.OP_NAMES:
    setattr(NumbaBackend, _op, _in_native_order(getattr(NumbaBackend, _op)))
for _op in ops.NN_OP_NAMES:
    setattr(NumbaBackend, _op, staticmethod(_in_native_order(getattr(numba_nn, _op))))

__all__ = ["NumbaBackend", "get_threads", "set_threads"]
