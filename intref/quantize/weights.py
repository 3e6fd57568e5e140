"""Weight quantisation: symmetric, per output channel, int8 or int4, with a per-channel clipping search.

For output channel ``c`` with clip ratio ``r_c`` the scale is ``s_c = r_c * max|w_c| / q_max`` (q_max 127 for
int8, 7 for int4) and the codes are ``clip(round_half_even(w / s_c), lo, hi)`` with ``[lo, hi]`` = [-127, 127] (int8)
or [-8, 7] (int4: -8 is reached only by clipped negative weights). A channel of zeros gets scale 1 and codes 0.

Clip ratios are chosen on the grid ``GRID`` (1.00, 0.99, ..., 0.50; stored as integer percents) by one of:

``minmax``  r = 1 (no clipping)
``mse``     minimise the weight error sum_k (w_k - s q_k)^2
``output``  minimise the expected output error d^T H d with d = w_c - s q_c and H = E[x x^T] of what the layer
            multiplies over the calibration data (input rows, im2col columns, or per channel for depthwise): the
            error the clipping causes in the layer's output, not in its weights
``gptq``    the ``output`` clip ratios, then GPTQ rounding (:func:`gptq_codes`): each code rounded in turn with the
            error of the ones before compensated through H, instead of round-to-nearest

The search runs in float64 with elementwise arithmetic and ``np.sum`` (no BLAS, no threads) for ``mse``, so the
choice is the same everywhere; ``output`` uses a matrix product, and its choice is stored in the recipe, so a model
rebuilt from the recipe does not depend on it. Ties go to the larger clip ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec import PackedInt4, pack_int4

GRID = tuple(range(100, 49, -1))  # clip ratios in percent, searched in this order
METHODS = ("minmax", "mse", "output", "gptq")
GPTQ_DAMP = 0.1  # fraction of the mean diagonal added to H: measured best on held-out clips among 0.01, 0.1, 1
QMAX = {8: 127, 4: 7}
QRANGE = {8: (-127, 127), 4: (-8, 7)}


@dataclass(frozen=True)
class QuantizedWeights:
    codes: np.ndarray  # int8, the weight's own shape
    scales: np.ndarray  # float64 [C_out]
    clip: tuple[int, ...]  # clip ratio per channel, in percent
    bits: int

    def stored(self) -> np.ndarray | PackedInt4:
        """What the model stores: int8 codes, or int4 packed row by row."""
        return pack_int4(self.codes) if self.bits == 4 else self.codes

    def dequantized(self) -> np.ndarray:
        shape = (-1,) + (1,) * (self.codes.ndim - 1)
        return self.codes.astype(np.float64) * self.scales.reshape(shape)


def _rows(w: np.ndarray) -> np.ndarray:
    return np.asarray(w, dtype=np.float64).reshape(w.shape[0], -1)


def channel_scales(w: np.ndarray, bits: int, clip_percent) -> np.ndarray:
    """s_c = (clip_c / 100) * max|w_c| / q_max, float64; 1.0 for an all-zero channel."""
    amax = np.max(np.abs(_rows(w)), axis=1)
    clip = np.asarray(clip_percent, dtype=np.float64) / 100.0
    scales = clip * amax / QMAX[bits]
    return np.where(amax > 0, scales, 1.0)


def codes_for(w: np.ndarray, scales: np.ndarray, bits: int) -> np.ndarray:
    lo, hi = QRANGE[bits]
    rows = _rows(w)
    q = np.clip(np.rint(rows / scales[:, None]), lo, hi)
    return q.astype(np.int8).reshape(w.shape)


def search_clip(w: np.ndarray, bits: int, method: str, hessian: np.ndarray | None = None) -> tuple[int, ...]:
    """Per-channel clip ratio (percent) of ``w`` [C_out, ...] by ``method`` (see the module docstring)."""
    if method not in METHODS:
        raise ValueError(f"unknown weight clipping method {method!r} (known: {', '.join(METHODS)})")
    rows = _rows(w)
    n = rows.shape[0]
    if method == "minmax":
        return (100,) * n
    if method == "gptq":
        method = "output"  # GPTQ rounds on the scales of the output-error clipping
    if method == "output":
        if hessian is None:
            raise ValueError("the 'output' clipping method needs the input second-moment matrix (calibration)")
        k = rows.shape[1]
        if hessian.shape not in ((k, k), (n, k, k)):
            raise ValueError(f"second-moment matrix {hessian.shape} does not fit weights {w.shape}")
    best = np.full(n, np.inf)
    choice = np.full(n, GRID[0], dtype=np.int64)
    lo, hi = QRANGE[bits]
    amax = np.max(np.abs(rows), axis=1)
    for pct in GRID:
        scales = np.where(amax > 0, (pct / 100.0) * amax / QMAX[bits], 1.0)
        deq = np.clip(np.rint(rows / scales[:, None]), lo, hi) * scales[:, None]
        d = deq - rows
        if method == "mse":
            err = np.sum(d * d, axis=1)
        elif hessian.ndim == 3:  # one matrix per channel (depthwise)
            err = np.einsum("cj,cjl,cl->c", d, hessian, d)
        else:
            err = np.sum((d @ hessian) * d, axis=1)
        better = err < best  # strict: ties keep the larger ratio, searched first
        best = np.where(better, err, best)
        choice = np.where(better, pct, choice)
    return tuple(int(c) for c in choice)


def quantize_weights(w: np.ndarray, bits: int, clip_percent, delta: np.ndarray | None = None) -> QuantizedWeights:
    """Codes and scales of ``w`` [C_out, ...] for the given per-channel clip ratios (percent).

    ``delta`` (int8, the weight's shape) is added to the round-to-nearest codes: how a recipe stores the codes of
    a data-dependent rounding such as GPTQ (mostly zeros, so it compresses well)."""
    if bits not in QMAX:
        raise ValueError(f"weights are 4 or 8 bits, got {bits}")
    clip = tuple(int(c) for c in clip_percent)
    if len(clip) != w.shape[0] or not all(1 <= c <= 100 for c in clip):
        raise ValueError(f"need {w.shape[0]} clip ratios in 1..100 percent, got {len(clip)}")
    scales = channel_scales(w, bits, clip)
    codes = codes_for(w, scales, bits)
    if delta is not None:
        if delta.shape != w.shape:
            raise ValueError(f"code delta of shape {delta.shape} does not fit weights {w.shape}")
        lo, hi = QRANGE[bits]
        total = codes.astype(np.int64) + delta.astype(np.int64)
        if np.any((total < lo) | (total > hi)):
            raise ValueError(f"code delta leaves the int{bits} range [{lo}, {hi}]")
        codes = total.astype(np.int8)
    return QuantizedWeights(codes, scales, clip, bits)


def _gptq_rows(rows: np.ndarray, scales: np.ndarray, h: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """GPTQ for rows [N, K] sharing the second-moment matrix ``h`` [K, K]: columns in order of decreasing h_kk,
    each rounded to the nearest code, its error spread over the columns not yet rounded through the upper Cholesky
    factor of (h + damp)^-1."""
    w = rows.copy()
    k = w.shape[1]
    h = h.astype(np.float64).copy()
    diag = np.diag(h).copy()
    diag[diag <= 0] = 0.0
    order = np.argsort(-diag, kind="stable")
    w = w[:, order]
    h = h[np.ix_(order, order)]
    h[np.arange(k), np.arange(k)] += GPTQ_DAMP * max(float(np.mean(diag)), 1e-12)
    u = np.linalg.cholesky(np.linalg.inv(h)).T  # upper: (h^-1) = u^T u
    codes = np.zeros_like(w)
    for j in range(k):
        q = np.clip(np.rint(w[:, j] / scales), lo, hi)
        codes[:, j] = q
        err = (w[:, j] - q * scales) / u[j, j]
        w[:, j + 1 :] -= err[:, None] * u[j, j + 1 :][None, :]
    out = np.empty_like(codes)
    out[:, order] = codes
    return out


def gptq_codes(w: np.ndarray, bits: int, clip_percent, hessian: np.ndarray) -> np.ndarray:
    """Codes of ``w`` [C_out, ...] rounded by GPTQ on the scales of ``clip_percent`` (int8, the weight's shape).

    Uses LAPACK, so its result may differ between machines in rare ties: a recipe stores the codes it chose.
    """
    lo, hi = QRANGE[bits]
    rows = _rows(w)
    scales = channel_scales(w, bits, clip_percent)
    if hessian.ndim == 3:  # depthwise: one matrix per channel
        codes = np.concatenate(
            [_gptq_rows(rows[c : c + 1], scales[c : c + 1], hessian[c], lo, hi) for c in range(rows.shape[0])]
        )
    else:
        codes = _gptq_rows(rows, scales, hessian, lo, hi)
    return codes.astype(np.int8).reshape(w.shape)


def quantize_bias(b: np.ndarray, acc_scales: np.ndarray, name: str) -> np.ndarray:
    """int32 bias at the accumulator scale (input scale x weight scale, per channel)."""
    q = np.rint(np.asarray(b, dtype=np.float64) / acc_scales)
    if np.any(np.abs(q) > 2**31 - 1):
        raise ValueError(f"{name}: a bias does not fit int32 at its accumulator scale")
    return q.astype(np.int32)


__all__ = [
    "GRID",
    "METHODS",
    "QMAX",
    "QRANGE",
    "QuantizedWeights",
    "channel_scales",
    "codes_for",
    "gptq_codes",
    "quantize_bias",
    "quantize_weights",
    "search_clip",
]
