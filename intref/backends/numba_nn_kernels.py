"""The numba backend's row kernels for LayerNorm, argmax and quantize (softmax's kernel lives in
:mod:`.numba_rescale`, beside the scheme functions it rescales its logits with).

Each op has a serial kernel over a range of rows (``*_range``; for quantize, of elements) and a parallel one
that cuts all rows into ``tasks`` consecutive ranges. Every row is computed alone, so results do not depend
on the thread count or on which kernel ran. The arithmetic is the reference's, in int64, in the same order,
so every intermediate value is the reference's.

Helpers live in this module, and the reference's constants come in as arguments: numba's on-disk cache checks
only the source file of the function it caches (not other modules, nor the globals it froze in).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

ISQRT_MAX = 3037000499  # floor(sqrt(2^63 - 1)): the largest root whose square fits int64


@njit(cache=True)
def _task_range(task, tasks, units):
    """The units [u0, u1) of one of ``tasks`` equal shares."""
    return task * units // tasks, (task + 1) * units // tasks


@njit(cache=True)
def isqrt(v):
    """floor(sqrt(v)) for int64 0 <= v < 2^63, exactly: a float estimate settled by integer comparisons."""
    r = min(np.int64(np.sqrt(np.float64(v))), ISQRT_MAX)
    while r * r > v:
        r -= 1
    while r < ISQRT_MAX and (r + 1) * (r + 1) <= v:
        r += 1
    return r


@njit(cache=True)
def layernorm_range(x, zp, gamma, beta, eps, frac_bits, bits, ex, r0, r1):
    """The exact accumulators of :func:`intref.ops.layernorm` for rows r0 .. r1 - 1 of ``x`` [T, C], into ``ex``
    (flat [T * C], int64).

    ``gamma`` and ``beta`` are int64 [C], ``bits`` the reference's reciprocal precision (32). Per row:
    s = sum(x - zp), d_c = C (x_c - zp) - s, v = floor(sum d^2 / C) + eps, inv = floor(2^bits / max(isqrt(v), 1)),
    n_c = round_half_up(d_c * inv / 2^(bits - F)), ex_c = n_c * gamma_c + beta_c.
    """
    c = x.shape[1]
    shift = bits - frac_bits  # >= 8: the rounding constant below is a true half
    half = np.int64(1) << (shift - 1)
    for r in range(r0, r1):
        xr = x[r]
        s = np.int64(0)
        for i in range(c):
            s += np.int64(xr[i]) - zp
        squares = np.int64(0)
        for i in range(c):
            d = c * (np.int64(xr[i]) - zp) - s
            squares += d * d
        v = squares // c + eps
        inv = (np.int64(1) << bits) // max(isqrt(v), 1)
        out0 = r * c
        for i in range(c):
            d = c * (np.int64(xr[i]) - zp) - s
            ex[out0 + i] = ((d * inv + half) >> shift) * gamma[i] + beta[i]


@njit(parallel=True, cache=True)
def layernorm_rows(x, zp, gamma, beta, eps, frac_bits, bits, ex, tasks):
    for task in prange(tasks):
        r0, r1 = _task_range(task, tasks, x.shape[0])
        layernorm_range(x, zp, gamma, beta, eps, frac_bits, bits, ex, r0, r1)


@njit(cache=True)
def argmax_range(x, offset, out, r0, r1):
    """``out[r]`` = the first index of the largest ``x[r, n] + offset[n]`` (int64 sums), for rows r0 .. r1 - 1."""
    n = x.shape[1]
    for r in range(r0, r1):
        xr = x[r]
        best = np.int64(xr[0]) + offset[0]
        for i in range(1, n):  # a max reduction: vectorises
            best = max(best, np.int64(xr[i]) + offset[i])
        i = 0
        while np.int64(xr[i]) + offset[i] != best:  # the lowest index holding it (ties go low)
            i += 1
        out[r] = i


@njit(parallel=True, cache=True)
def argmax_rows(x, offset, out, tasks):
    for task in prange(tasks):
        r0, r1 = _task_range(task, tasks, x.shape[0])
        argmax_range(x, offset, out, r0, r1)


@njit(cache=True)
def quantize_range(x, scale, qlo, qhi, zp, out, i0, i1):
    """``out = clip(rint(float64(x) / scale), qlo, qhi) + zp`` for elements i0 .. i1 - 1 (rint: ties to even, as
    np.rint; the division is IEEE float64, as NumPy's)."""
    for i in range(i0, i1):
        q = np.rint(np.float64(x[i]) / scale)
        out[i] = np.int64(min(max(q, qlo), qhi)) + zp


@njit(parallel=True, cache=True)
def quantize_flat(x, scale, qlo, qhi, zp, out, tasks):
    for task in prange(tasks):
        i0, i1 = _task_range(task, tasks, x.shape[0])
        quantize_range(x, scale, qlo, qhi, zp, out, i0, i1)


@njit(cache=True)
def split16_range(x, zp, shift, hi_zp, hi, lo, i0, i1):
    """ops.split16 for elements i0 .. i1 - 1: ``(v + 2^(shift-1)) >> shift`` is round_half_up(v / 2^shift)."""
    half = 1 << (shift - 1)
    for i in range(i0, i1):
        v = np.int64(x[i]) - zp
        h = min(max(((v + half) >> shift) + hi_zp, -128), 127)
        hi[i] = h
        lo[i] = min(max(v - ((h - hi_zp) << shift), -128), 127)


@njit(parallel=True, cache=True)
def split16_flat(x, zp, shift, hi_zp, hi, lo, tasks):
    for task in prange(tasks):
        i0, i1 = _task_range(task, tasks, x.shape[0])
        split16_range(x, zp, shift, hi_zp, hi, lo, i0, i1)
