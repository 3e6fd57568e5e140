"""2-D pooling over NHWC images, as TFLite's integer kernels define it.

Only positions inside the image take part (padding is skipped, not filled). ``avg_pool2d``: the integer sum of
the window's values divided by their count, rounded half away from zero; ``max_pool2d``: their maximum. Both then
clamp to ``[lo, hi]`` (the fused activation) and keep the input's type and scale.
"""

from __future__ import annotations

import numpy as np

from ..spec import div_round
from . import _checks
from .conv2d import Pair, output_size


def _windows(x: np.ndarray, kernel: Pair, stride: Pair, pad_h: Pair, pad_w: Pair):
    """Per output position, the window's values [N, H_out, W_out, KH, KW, C] (int64) and which are inside."""
    n, h, w, c = x.shape
    kh, kw = kernel
    oh = output_size(h, kh, stride[0], 1, pad_h)
    ow = output_size(w, kw, stride[1], 1, pad_w)
    rows = np.arange(oh)[:, None] * stride[0] + np.arange(kh)[None, :] - pad_h[0]  # [H_out, KH]
    cols = np.arange(ow)[:, None] * stride[1] + np.arange(kw)[None, :] - pad_w[0]
    inside = ((rows >= 0) & (rows < h))[:, None, :, None] & ((cols >= 0) & (cols < w))[None, :, None, :]
    values = x[:, np.clip(rows, 0, h - 1)[:, None, :, None], np.clip(cols, 0, w - 1)[None, :, None, :], :]
    return values.astype(np.int64), inside[None, :, :, :, :, None]


def check_pool2d(x, kernel, stride, pad_h, pad_w, lo, hi, name) -> None:
    x = _checks.int_array(f"{name}: x", x, _checks.ELEMENTWISE_DTYPES, ndim=4)
    dlo, dhi = _checks.dtype_range(x.dtype)
    if not dlo <= lo <= hi <= dhi:
        raise ValueError(f"{name}: clamp [{lo}, {hi}] must lie in the {x.dtype} range [{dlo}, {dhi}]")
    for label, pair in (("kernel", kernel), ("stride", stride)):
        if min(pair) < 1:
            raise ValueError(f"{name}: {label} must be at least 1, got {pair}")
    if pad_h[0] >= kernel[0] or pad_w[0] >= kernel[1]:
        # a window wholly in the padding has no values: TFLite's kernel fails on it
        raise ValueError(f"{name}: leading padding {pad_h[0]}, {pad_w[0]} must be smaller than the kernel {kernel}")


def avg_pool2d(x, *, kernel: Pair, stride: Pair, pad_h: Pair, pad_w: Pair, lo: int, hi: int, name="avg_pool2d"):
    """x: int8/int16 [N, H, W, C] -> the rounded mean of each window (inside positions only), clamped."""
    check_pool2d(x, kernel, stride, pad_h, pad_w, lo, hi, name)
    values, inside = _windows(x, kernel, stride, pad_h, pad_w)
    total = np.where(inside, values, 0).sum(axis=(3, 4))
    count = np.broadcast_to(inside, values.shape).sum(axis=(3, 4))
    if np.any(count == 0):
        raise ValueError(f"{name}: a window lies wholly in the padding")
    mean = div_round(total, count, "half_away")
    return np.clip(mean, lo, hi).astype(x.dtype)


def max_pool2d(x, *, kernel: Pair, stride: Pair, pad_h: Pair, pad_w: Pair, lo: int, hi: int, name="max_pool2d"):
    """x: int8/int16 [N, H, W, C] -> the maximum of each window (inside positions only), clamped."""
    check_pool2d(x, kernel, stride, pad_h, pad_w, lo, hi, name)
    values, inside = _windows(x, kernel, stride, pad_h, pad_w)
    if not inside.any(axis=(3, 4)).all():
        raise ValueError(f"{name}: a window lies wholly in the padding")
    top = np.where(inside, values, np.iinfo(np.int64).min).max(axis=(3, 4))
    return np.clip(top, lo, hi).astype(x.dtype)
