"""Calibration: activation statistics of the float network over a set of inputs, and range selection.

Two passes over the calibration inputs: the first finds each calibrated tensor's exact minimum and maximum (and, for
the ``output`` weight clipping method, each weight layer's input second-moment matrix E[x x^T]); the second fills
a histogram of ``BINS`` bins over [min, max] and one of |x| over [0, max|x|]. Ranges are then chosen per tensor:

``minmax``      the observed [min, max]
``percentile``  int8 with a zero point: the ``(100 - p)``-th and ``p``-th percentiles of the values; symmetric
                int8: the ``p``-th percentile of |x| (p = 99.99 by default)
``mse``         the clipping of [min, max] (scaled by a factor on the grid 1.00, 0.99, ..., 0.30) that minimises
                the expected squared quantisation error over the histogram (clipping plus rounding)

int16 tensors (residual stream, logits) always take max|x| times ``INT16_HEADROOM``: 16 bits leave room for inputs
louder than the calibration set at no cost in resolution that matters. Every range contains 0 and is rounded to 6
significant digits, which makes the recorded ranges (and so the model bytes) robust to the last-bit differences
of float arithmetic between machines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .fgraph import FGraph, FNode

BINS = 2048
METHODS = ("minmax", "percentile", "mse")
DEFAULT_PERCENTILE = 99.99
INT16_HEADROOM = 1.5
MSE_GRID = tuple(round(1.0 - 0.01 * i, 2) for i in range(71))  # 1.00 .. 0.30


def significant(value: float, digits: int = 6) -> float:
    """``value`` rounded to ``digits`` significant decimal digits (correctly rounded, platform independent)."""
    return float(f"{float(value):.{digits}g}")


@dataclass
class TensorStats:
    lo: float = np.inf
    hi: float = -np.inf
    count: int = 0
    hist: np.ndarray | None = None  # counts over [lo, hi]
    abs_hist: np.ndarray | None = None  # counts over [0, max|x|]
    channel_min: np.ndarray | None = None  # per channel (last axis)
    channel_max: np.ndarray | None = None

    @property
    def absmax(self) -> float:
        return max(abs(self.lo), abs(self.hi))

    def observe_range(self, x: np.ndarray) -> None:
        if x.size:
            self.lo = min(self.lo, float(x.min()))
            self.hi = max(self.hi, float(x.max()))
            self.count += int(x.size)
            rows = x.reshape(-1, x.shape[-1])
            lo, hi = rows.min(axis=0).astype(np.float64), rows.max(axis=0).astype(np.float64)
            first = self.channel_min is None
            self.channel_min = lo if first else np.minimum(self.channel_min, lo)
            self.channel_max = hi if first else np.maximum(self.channel_max, hi)

    def observe_hist(self, x: np.ndarray) -> None:
        if not x.size:
            return
        x = x.astype(np.float64).ravel()
        if self.hist is None:
            self.hist = np.zeros(BINS, dtype=np.int64)
            self.abs_hist = np.zeros(BINS, dtype=np.int64)
        self.hist += _bin_counts(x, self.lo, self.hi)
        self.abs_hist += _bin_counts(np.abs(x), 0.0, self.absmax)


def _bin_counts(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if hi <= lo:
        out = np.zeros(BINS, dtype=np.int64)
        out[0] = x.size
        return out
    idx = np.floor((x - lo) / (hi - lo) * BINS).astype(np.int64)
    return np.bincount(np.clip(idx, 0, BINS - 1), minlength=BINS)


@dataclass
class Calibration:
    """Statistics of the calibrated tensors and second-moment matrices of weight-layer inputs."""

    stats: dict[str, TensorStats]
    hessians: dict[str, np.ndarray]  # weight layer -> E[x x^T] of what it multiplies (float64; depthwise: per channel)
    inputs: int  # number of calibration inputs
    frames: int  # input frames in all


def _second_moment(node: FNode, x: np.ndarray) -> tuple[np.ndarray, int] | None:
    """sum x x^T over the rows a weight layer multiplies (and the row count), for the ``output`` clipping.

    linear: the input rows [rows, K]; dense conv1d: the im2col columns [T_out, C_in * k] in the weights' order;
    depthwise conv1d: one k x k matrix per channel ([C, k, k]).
    """
    if node.op == "linear":
        rows = x.reshape(-1, x.shape[-1]).astype(np.float64)
        return rows.T @ rows, rows.shape[0]
    if node.op != "conv1d":
        return None
    a = node.attrs
    w = node.params["w"]
    k = w.shape[-1]
    left, right = a["padding"]
    stride, dilation = a.get("stride", 1), a.get("dilation", 1)
    t_out = (x.shape[0] + left + right - dilation * (k - 1) - 1) // stride + 1
    if t_out <= 0:
        return None
    xp = np.pad(x.astype(np.float64), ((left, right), (0, 0)))
    taps = np.arange(t_out)[:, None] * stride + np.arange(k)[None, :] * dilation
    windows = xp[taps]  # [T_out, k, C]
    if a["groups"] == 1:
        cols = windows.transpose(0, 2, 1).reshape(t_out, -1)
        return cols.T @ cols, t_out
    return np.einsum("tjc,tlc->cjl", windows, windows), t_out


def collect(
    fg: FGraph,
    inputs: Sequence[np.ndarray],
    *,
    hessians: bool = True,
    histograms: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Calibration:
    """Run ``fg`` over ``inputs`` (float32 [t, C] each, or dicts of every input) twice and gather the statistics
    (module docstring)."""
    if not inputs:
        raise ValueError("calibration needs at least one input")
    wanted = {n.name for n in fg.nodes if n.calibrated}
    stats = {name: TensorStats() for name in wanted}
    sums: dict[str, np.ndarray] = {}
    rows: dict[str, int] = {}

    def first(node: FNode, args: list[np.ndarray], y: np.ndarray) -> None:
        if node.name in stats:
            stats[node.name].observe_range(y)
        if hessians and node.has_weights:
            found = _second_moment(node, args[0])
            if found is not None:
                sums[node.name] = sums.get(node.name, 0) + found[0]
                rows[node.name] = rows.get(node.name, 0) + found[1]

    def second(node: FNode, args: list[np.ndarray], y: np.ndarray) -> None:
        if node.name in stats:
            stats[node.name].observe_hist(y)

    frames = 0
    for i, x in enumerate(inputs):
        if progress:
            progress(f"calibration pass 1/2: input {i + 1}/{len(inputs)}")
        fg.run(x, first)
        frames += fg.rows(x)
    for i, x in enumerate(inputs if histograms else ()):
        if progress:
            progress(f"calibration pass 2/2: input {i + 1}/{len(inputs)}")
        fg.run(x, second)
    h = {name: sums[name] / rows[name] for name in sorted(sums)}
    return Calibration(stats, h, len(inputs), frames)


# --- range selection ---


def _centers(lo: float, hi: float) -> np.ndarray:
    return lo + (np.arange(BINS) + 0.5) * (hi - lo) / BINS


def _quantile(hist: np.ndarray, lo: float, hi: float, q: float) -> float:
    """The value below which a fraction ``q`` of the histogram's mass lies (linear within a bin)."""
    total = hist.sum()
    if total == 0 or hi <= lo:
        return hi
    cdf = np.cumsum(hist) / total
    i = int(np.searchsorted(cdf, q, side="left"))
    i = min(i, BINS - 1)
    below = cdf[i - 1] if i > 0 else 0.0
    inside = (q - below) / (cdf[i] - below) if cdf[i] > below else 1.0
    return lo + (i + min(max(inside, 0.0), 1.0)) * (hi - lo) / BINS


def _expected_error(centers: np.ndarray, counts: np.ndarray, lo: float, hi: float, levels: int) -> float:
    """Mean squared error of quantising values at ``centers`` (weights ``counts``) to ``levels`` steps on [lo, hi]."""
    step = (hi - lo) / (levels - 1)
    if step <= 0:
        return float(np.sum(counts * centers * centers))
    clipped = np.clip(centers, lo, hi)
    err = (centers - clipped) ** 2 + np.where(centers == clipped, step * step / 12.0, 0.0)
    return float(np.sum(counts * err))


def _mse_range(s: TensorStats, symmetric: bool, levels: int) -> tuple[float, float]:
    if symmetric:
        centers = _centers(0.0, s.absmax)
        errors = [_expected_error(centers, s.abs_hist, -a * s.absmax, a * s.absmax, levels) for a in MSE_GRID]
        a = MSE_GRID[int(np.argmin(errors))]
        return -a * s.absmax, a * s.absmax
    centers = _centers(s.lo, s.hi)
    lo0, hi0 = min(s.lo, 0.0), max(s.hi, 0.0)
    errors = [_expected_error(centers, s.hist, a * lo0, a * hi0, levels) for a in MSE_GRID]
    a = MSE_GRID[int(np.argmin(errors))]
    return a * lo0, a * hi0


def choose_range(s: TensorStats, kind: str, method: str, percentile: float = DEFAULT_PERCENTILE) -> tuple[float, float]:
    """The real range [lo, hi] (lo <= 0 <= hi, 6 significant digits) of a tensor of output ``kind``."""
    if method not in METHODS:
        raise ValueError(f"unknown range method {method!r} (known: {', '.join(METHODS)})")
    if s.count == 0:
        raise ValueError("no calibration data reached this tensor")
    if kind == "s16":
        a = s.absmax * INT16_HEADROOM
        lo, hi = -a, a
    elif method == "minmax" or s.hist is None:
        lo, hi = s.lo, s.hi
        if kind == "s8":
            lo, hi = -s.absmax, s.absmax
    elif method == "percentile":
        p = percentile / 100.0
        if kind == "s8":
            a = _quantile(s.abs_hist, 0.0, s.absmax, p)
            lo, hi = -a, a
        else:
            lo, hi = _quantile(s.hist, s.lo, s.hi, 1.0 - p), _quantile(s.hist, s.lo, s.hi, p)
    else:
        lo, hi = _mse_range(s, kind == "s8", 256)
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo <= 0:
        hi = lo + 1e-6  # a constant-zero tensor still needs a positive scale
    return significant(lo), significant(hi)


def choose_ranges(
    fg: FGraph, cal: Calibration, method: str, percentile: float = DEFAULT_PERCENTILE
) -> dict[str, list[float]]:
    """Ranges of every calibrated tensor, plus ``<name>.i8`` for int16 tensors that an int8-only op reads."""
    out: dict[str, list[float]] = {}
    for name in sorted(int8_views(fg)):
        out[f"{name}.i8"] = list(choose_range(cal.stats[name], "a8", method, percentile))
    for node in fg.nodes:
        if node.calibrated:
            out[node.name] = list(choose_range(cal.stats[node.name], node.out, method, percentile))
    return dict(sorted(out.items()))


# --- channel equalisation ---

# "lut" here is an activation of an int16 input, computed as a product (its output kind is calibrated).
EQUALIZE_PRODUCERS = ("linear", "conv1d", "layernorm", "mean", "mul", "rescale", "lut")
MAX_LOG2_SCALE = 8


def equalizable(fg: FGraph) -> list[str]:
    """int8 tensors whose channels can be rescaled exactly: the producer can scale its channels and every consumer
    is a linear or conv1d layer (see :meth:`FGraph.equalize`)."""
    consumers = fg.consumers()
    out = []
    for n in fg.nodes:
        users = consumers.get(n.name, [])
        if (
            n.out == "a8"
            and n.calibrated
            and n.op in EQUALIZE_PRODUCERS
            and users
            and all(u.has_weights for u in users)
            and n.name not in fg.outputs
        ):
            out.append(n.name)
    return out


def _gains(lo: float, hi: float, cmin: np.ndarray, cmax: np.ndarray) -> np.ndarray:
    """The largest factor >= 1 that keeps each channel's [cmin, cmax] inside [lo, hi]."""
    limit = 2.0**MAX_LOG2_SCALE
    with np.errstate(divide="ignore", invalid="ignore"):
        up = np.where(cmax > 0, hi / cmax, limit)
        down = np.where(cmin < 0, lo / cmin, limit)
    return np.clip(np.minimum(up, down), 1.0, limit)


def choose_equalization(
    fg: FGraph, cal: Calibration, ranges: dict[str, list[float]], alpha: float = 1.0
) -> tuple[dict[str, list[int]], dict[str, list[float]]]:
    """Per-channel factors 2^k for the equalizable tensors, and the range each of them keeps.

    For a tensor with chosen range [lo, hi] (``ranges``) and channel ranges [lo_c, hi_c] over the calibration data,
    two layouts are compared: keep [lo, hi] (each channel widened by the largest factor that stays inside it), or
    take the symmetric [-A, A], A = max(-lo, hi), which lets channels whose values sit on one side of zero (e.g.
    the outputs of GELU, whose minimum every channel shares) grow too, at twice the step. The layout with the smaller
    mean log step per channel (step / factor) wins. Factors are 2^k with k_c = floor(alpha * log2 g_c) in
    [0, MAX_LOG2_SCALE]: powers of two keep the float network exactly equal. alpha < 1 leaves part of the gain to
    the consumer's weights. Returns ({tensor: k}, {tensor: kept range}).
    """
    factors, kept = {}, {}
    for name in equalizable(fg):
        s = cal.stats[name]
        if s.channel_min is None or name not in ranges:
            continue
        lo, hi = ranges[name]
        cmin, cmax = np.minimum(s.channel_min, 0.0), np.maximum(s.channel_max, 0.0)
        a = max(-lo, hi)
        options = []
        for rlo, rhi in ((lo, hi), (-a, a)):
            k = np.clip(np.floor(alpha * np.log2(_gains(rlo, rhi, cmin, cmax))), 0, MAX_LOG2_SCALE)
            score = np.log2(rhi - rlo) - float(np.mean(k))  # mean log2 of the effective step per channel
            options.append((score, [rlo, rhi], k.astype(int)))
        _, rng, k = min(options, key=lambda o: o[0])
        if np.any(k):
            factors[name] = [int(v) for v in k]
            kept[name] = [significant(rng[0]), significant(rng[1])]
    return factors, kept


# Ops that read int8 only (the integer graph inserts a requantize in front of them for an int16 input).
INT8_READERS = ("linear", "conv1d", "matmul")


def int8_views(fg: FGraph) -> set[str]:
    """int16 tensors that some op reading only int8 consumes."""
    kinds = {n.name: n.out for n in fg.nodes}
    return {t for n in fg.nodes if n.op in INT8_READERS for t in n.inputs if kinds.get(t) == "s16"}


__all__ = [
    "BINS",
    "EQUALIZE_PRODUCERS",
    "choose_equalization",
    "equalizable",
    "DEFAULT_PERCENTILE",
    "INT8_READERS",
    "INT16_HEADROOM",
    "METHODS",
    "Calibration",
    "TensorStats",
    "choose_range",
    "choose_ranges",
    "collect",
    "int8_views",
    "significant",
]
