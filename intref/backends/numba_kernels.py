"""The numba backend's sum kernels: exact int64 sums of products (matrix product, depthwise convolution) and
the two table/clip kernels. Requantisation happens afterwards in :mod:`.numba_rescale`.

int8 x int8 products are at most 2^14 in magnitude, so partial sums of up to ``K_CHUNK = 2^16`` terms fit
int32 exactly. The partial sums are stored to int32 buffers (which lets LLVM keep the whole reduction in
32-bit lanes and use multiply-add instructions) and then added into int64 totals. Zero points are taken out
through weight sums, ``sum (x - zp) w = sum x w - zp sum w``, so the inner loops multiply raw int8 values.

Work is cut into a fixed number of tasks of consecutive units (allocating scratch once per task); every output
element is computed the same way whatever the thread count. Helpers live in this module (numba's cache checks
only the source file of the function it caches).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

K_CHUNK = 65536  # int8 x int8 partial sums over this many terms fit int32 (65536 * 2^14 = 2^30)


@njit(cache=True)
def _task_range(task, tasks, units):
    """The units [u0, u1) of one of ``tasks`` equal shares."""
    return task * units // tasks, (task + 1) * units // tasks


@njit(cache=True)
def _dots(xr, w, k0, n0, n1, part):
    """``part[n - n0] = sum_i xr[i] * w[n, k0 + i]`` for n0 <= n < n1, with at most K_CHUNK terms (exact in int32)."""
    k = xr.shape[0]
    for n in range(n0, n1):
        wr = w[n, k0 : k0 + k]
        s = 0
        for i in range(k):
            s += np.int32(xr[i]) * np.int32(wr[i])
        part[n - n0] = s  # the int32 store lets LLVM keep the whole reduction in 32-bit lanes


@njit(parallel=True, cache=True)
def gemm(xf, row_stride, rows, w, offset, n_block, tasks, ex):
    """``ex[r, n] = offset[n] + sum_k xf[r*row_stride + k] * w[n, k]`` for r < rows (``ex`` flat, C order).

    Rows of x may overlap (a stride-1 convolution reads its windows straight from the padded input). The
    output is cut into (row, block of ``n_block`` outputs) tiles, so that a single row still splits.
    """
    n_out, k = w.shape
    blocks = (n_out + n_block - 1) // n_block
    for task in prange(tasks):
        part = np.empty(n_block, np.int32)
        t0, t1 = _task_range(task, tasks, rows * blocks)
        for tile in range(t0, t1):
            r = tile // blocks
            n0 = (tile - r * blocks) * n_block
            n1 = min(n_out, n0 + n_block)
            base = r * row_stride
            out0 = r * n_out
            for n in range(n0, n1):
                ex[out0 + n] = offset[n]
            for k0 in range(0, k, K_CHUNK):  # one pass unless k > K_CHUNK
                _dots(xf[base + k0 : base + min(k, k0 + K_CHUNK)], w, k0, n0, n1, part)
                for n in range(n0, n1):
                    ex[out0 + n] += part[n - n0]


@njit(parallel=True, cache=True)
def depthwise(xp, stride, dilation, t_out, wt, offset, tasks, ex):
    """``ex[t, c] = offset[c] + sum_j xp[t*stride + j*dilation, c] * wt[j, c]`` (``ex`` flat, C order).

    ``xp`` is the padded input [T_pad, C] and ``wt`` the taps [k, C], so every inner loop runs along channels.
    """
    taps, channels = wt.shape
    for task in prange(tasks):
        part = np.empty(channels, np.int32)
        t0, t1 = _task_range(task, tasks, t_out)
        for t in range(t0, t1):
            out0 = t * channels
            for c in range(channels):
                ex[out0 + c] = offset[c]
            for j0 in range(0, taps, K_CHUNK):
                for c in range(channels):
                    part[c] = 0
                for j in range(j0, min(taps, j0 + K_CHUNK)):
                    xr = xp[t * stride + j * dilation]
                    wr = wt[j]
                    for c in range(channels):
                        part[c] += np.int32(xr[c]) * np.int32(wr[c])
                for c in range(channels):
                    ex[out0 + c] += part[c]


@njit(parallel=True, cache=True)
def row_sums(w):
    """``sum_k w[n, k]`` as int64 [N] (for the zero-point correction of a matrix product)."""
    n_out, k = w.shape
    sums = np.zeros(n_out, np.int64)
    for n in prange(n_out):
        for k0 in range(0, k, K_CHUNK):
            wr = w[n, k0 : min(k, k0 + K_CHUNK)]
            s = 0
            for i in range(wr.shape[0]):
                s += np.int32(wr[i])
            sums[n] += np.int32(s)  # exact: |s| <= K_CHUNK * 128
    return sums


@njit(parallel=True, cache=True)
def table_lookup(x, table, offset, out):
    for i in prange(x.shape[0]):
        out[i] = table[np.int64(x[i]) + offset]


@njit(parallel=True, cache=True)
def clip(x, lo, hi, out):
    for i in prange(x.shape[0]):
        out[i] = min(max(x[i], lo), hi)
