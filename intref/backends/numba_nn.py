"""The numba backend's transformer ops: layernorm, softmax, argmax, quantize and split16.

Each function has the signature, results, dtypes and errors of its reference op in :mod:`intref.ops`: the
arguments are checked with the reference's own ``check_*`` function, then compiled kernels do the work
(:mod:`.numba_nn_kernels`; softmax's in :mod:`.numba_rescale`). LayerNorm's accumulator policy and requant
run through the shared epilogue (:mod:`.numba_epilogue`).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .. import ops
from ..ops import _checks
from ..ops.argmax import check_argmax
from ..ops.layernorm import RECIPROCAL_BITS, check_layernorm
from ..ops.quantize import check_quantize
from ..ops.softmax import SoftmaxParams, check_softmax
from ..ops.split import check_split16
from ..spec import Accumulator, Requant, dtype_for_range
from ..spec.fixedpoint import EXP2_Q15
from ..spec.rescale import most_negative_input
from . import numba_nn_kernels as nk
from . import numba_rescale as nr
from .numba_epilogue import Epilogue, rescale_params

_EXP2 = np.ascontiguousarray(EXP2_Q15, dtype=np.int64)
# Element operations that make a parallel task worth starting (a few hundred microseconds): below that,
# waking the other threads costs more than it saves, and far more when they are busy elsewhere.
GRAIN = 1 << 19


def _launch(parallel, serial, units: int, unit_size: int, *args) -> None:
    """``serial(*args, 0, units)`` for work that fills one task, else ``parallel(*args, tasks)`` with a few
    tasks per thread (for balance)."""
    threads = numba.get_num_threads()
    tasks = min(units, 4 * threads, -(-units * unit_size // GRAIN)) if threads > 1 else 1
    if tasks <= 1:
        serial(*args, 0, units)
    else:
        parallel(*args, tasks)


def _rows(x: np.ndarray) -> np.ndarray:
    """``x`` as a C-contiguous [rows, last axis] array."""
    return np.ascontiguousarray(x).reshape(-1, x.shape[-1])


def layernorm(
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
    b = _checks.bias(f"{name}: beta", beta, c).astype(np.int64)
    ex = np.empty(t * c, dtype=np.int64)
    args = (np.ascontiguousarray(x), zp, gamma.astype(np.int64), b, eps, frac_bits, RECIPROCAL_BITS, ex)
    _launch(nk.layernorm_rows, nk.layernorm_range, t, c, *args)
    ep = Epilogue.build(requant, acc, channels=c, size=ex.size, return_acc=return_acc, name=name)
    ep.run(ex)
    return ep.conclude((t, c), return_acc)


def _keep(mask: np.ndarray | None, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The attend flags as distinct rows [M, N] and, per row of ``x``, the index of its flags row.

    A mask broadcasts to x's shape; only its own rows are laid out (a [T, T] mask of [H, T, T] scores stays
    T rows), each stretched to N when its last axis is 1.
    """
    n, lead = shape[-1], shape[:-1]
    if mask is None:
        return np.ones((1, n), dtype=np.bool_), np.zeros(math.prod(lead), dtype=np.int64)
    m = mask.reshape((1,) * (len(shape) - mask.ndim) + mask.shape)
    keep = np.ascontiguousarray(np.broadcast_to(m, m.shape[:-1] + (n,))).reshape(-1, n)
    ids = np.arange(keep.shape[0], dtype=np.int64).reshape(m.shape[:-1])
    return keep, np.ascontiguousarray(np.broadcast_to(ids, lead)).reshape(-1)


def softmax(x: np.ndarray, params: SoftmaxParams, *, mask: np.ndarray | None = None, name: str = "softmax"):
    check_softmax(x, params, mask, name)
    keep, keep_row = _keep(mask, x.shape)
    xr = _rows(x)
    rows, n = xr.shape
    y = np.empty(x.shape, dtype=params.out_dtype)
    failed = np.zeros(rows, dtype=np.bool_)
    rq = rescale_params(params.multiplier, params.shift, n)
    scheme = nr.SCHEME_CODES[params.scheme]
    floor = most_negative_input(params.scheme, params.multiplier, params.shift)
    # int8/int16 logits: x - max(x) takes at most 2^8 / 2^16 values, so their exponentials come from a table
    # built once per call, when there are at least as many elements (else every element is rescaled).
    span = 1 << (8 * x.dtype.itemsize)
    table = np.empty(span if x.dtype.itemsize <= 2 and x.size >= span else 0, dtype=np.int32)
    if table.size:
        nr.softmax_table(rq, scheme, _EXP2, floor, table)
    args = (xr, keep, keep_row, rq, scheme, _EXP2, floor, table, params.out_max, params.out_zp, y.reshape(rows, n))
    _launch(nr.softmax, nr.softmax_range, rows, n, *args, failed)
    if failed.any():  # a rescale the floor should rule out: the reference decides what happens
        return ops.softmax(x, params, mask=mask, name=name)
    return y


def argmax(x: np.ndarray, offset: np.ndarray | None = None, *, name: str = "argmax") -> np.ndarray:
    check_argmax(x, offset, name)
    xr = _rows(x)
    off = np.zeros(xr.shape[1], dtype=np.int64) if offset is None else offset.astype(np.int64)
    out = np.empty(x.shape[:-1], dtype=np.int32)
    _launch(nk.argmax_rows, nk.argmax_range, xr.shape[0], xr.shape[1], xr, off, out.reshape(-1))
    return out


def quantize(
    x: np.ndarray, scale: float, zero_point: int = 0, lo: int = -128, hi: int = 127, *, name: str = "quantize"
) -> np.ndarray:
    check_quantize(x, scale, zero_point, lo, hi, name)
    zp = int(zero_point)
    out = np.empty(x.shape, dtype=dtype_for_range(lo, hi))
    flat = np.ascontiguousarray(x).reshape(-1)
    qlo, qhi = float(int(lo) - zp), float(int(hi) - zp)  # exact: |bound| <= 2^32
    _launch(nk.quantize_flat, nk.quantize_range, flat.size, 1, flat, scale, qlo, qhi, zp, out.reshape(-1))
    return out


def split16(
    x: np.ndarray, *, x_zp: int = 0, shift: int = 7, hi_zp: int = 0, name: str = "split16"
) -> tuple[np.ndarray, np.ndarray]:
    zp, s, hzp = check_split16(x, x_zp, shift, hi_zp, name)
    hi, lo = np.empty(x.shape, dtype=np.int8), np.empty(x.shape, dtype=np.int8)
    flat = np.ascontiguousarray(x).reshape(-1)
    _launch(nk.split16_flat, nk.split16_range, flat.size, 1, flat, zp, s, hzp, hi.reshape(-1), lo.reshape(-1))
    return hi, lo


__all__ = ["argmax", "layernorm", "quantize", "softmax", "split16"]
