"""2-D convolution over NHWC images (cross-correlation), dense and depthwise, as TFLite lays them out.

Dense: x [N, H, W, C_in] (int8, or int16 for TFLite's 16x8 form), w [C_out, KH*KW*C_in] (TFLite's OHWI filter
with its last three axes flattened, so the bytes are the file's), ``acc[n, y, x, o] = bias[o] + sum_{i, j, c}
(x[n, y*sh + i*dh - pt, x*sw + j*dw - pl, c] - x_zp) * w[o, (i*KW + j)*C_in + c]``. Depthwise with multiplier m:
w [C_in*m, KH*KW]; output channel ``o`` reads input channel ``o // m``. Positions outside the image (the padding)
hold ``x_zp`` and so contribute nothing, which is what TFLite's kernels do by skipping them.
``H_out = (H + pt + pb - dh*(KH-1) - 1) // sh + 1``.

``patches`` gathers the receptive fields (data movement only); a convolution is then a ``linear`` over the
patches (dense) or a per-channel dot product (depthwise), which is how the graph runs them on every backend.
"""

from __future__ import annotations

import numpy as np

from ..spec import Accumulator, PackedInt4, Requant
from . import _checks
from ._exact import exact_matmul

Pair = tuple[int, int]


def output_size(size: int, k: int, stride: int, dilation: int, pad: Pair) -> int:
    span = size + pad[0] + pad[1] - dilation * (k - 1) - 1
    return span // stride + 1 if span >= 0 else 0


def patches(x: np.ndarray, kernel: Pair, stride: Pair, dilation: Pair, pad_h: Pair, pad_w: Pair, x_zp: int):
    """The receptive field of every output position: [N, H_out, W_out, KH, KW, C] in x's dtype, padding = x_zp."""
    n, h, w, c = x.shape
    kh, kw = kernel
    oh = output_size(h, kh, stride[0], dilation[0], pad_h)
    ow = output_size(w, kw, stride[1], dilation[1], pad_w)
    padded = np.pad(x, ((0, 0), pad_h, pad_w, (0, 0)), constant_values=x_zp)
    rows = np.arange(oh)[:, None] * stride[0] + np.arange(kh)[None, :] * dilation[0]  # [H_out, KH]
    cols = np.arange(ow)[:, None] * stride[1] + np.arange(kw)[None, :] * dilation[1]  # [W_out, KW]
    out = padded[:, rows[:, None, :, None], cols[None, :, None, :], :]  # [N, H_out, W_out, KH, KW, C]
    return np.ascontiguousarray(out)


def check_conv2d(x, w, bias, x_zp, requant, acc, kernel, depth_multiplier, name):
    """Validate a conv2d call; returns (int8 weights, int32 bias, x_zp)."""
    x = _checks.int_array(f"{name}: x", x, (np.int8, np.int16), ndim=4)  # int16: TFLite's 16x8 form
    shape = w.shape if isinstance(w, PackedInt4) else getattr(w, "shape", None)
    wi = _checks.weights(f"{name}: w", w, 2)
    kh, kw = kernel
    if kh < 1 or kw < 1:
        raise ValueError(f"{name}: kernel must be at least 1x1, got {kernel}")
    c_in = x.shape[3]
    if depth_multiplier == 0:  # dense
        if shape[1] != kh * kw * c_in:
            raise ValueError(
                f"{name}: w has {shape[1]} columns, {kh}x{kw} kernels over {c_in} channels need {kh * kw * c_in}"
            )
    elif shape != (c_in * depth_multiplier, kh * kw):
        raise ValueError(f"{name}: depthwise w must be [{c_in * depth_multiplier}, {kh * kw}], got {list(shape)}")
    b = _checks.bias(f"{name}: bias", bias, shape[0])
    zp = _checks.zero_point(f"{name}: x_zp", x_zp, x.dtype)
    _checks.requant_for(name, requant, acc, shape[0])
    return wi, b, zp


def conv2d(
    x: np.ndarray,
    w: np.ndarray | PackedInt4,
    bias: np.ndarray | None = None,
    *,
    kernel: Pair,
    x_zp: int = 0,
    requant: Requant | None = None,
    acc: Accumulator = Accumulator(),
    stride: Pair = (1, 1),
    dilation: Pair = (1, 1),
    pad_h: Pair = (0, 0),
    pad_w: Pair = (0, 0),
    depth_multiplier: int = 0,
    return_acc: bool = False,
    name: str = "conv2d",
):
    """Integer 2-D convolution, dense (``depth_multiplier=0``) or depthwise; see the module docstring."""
    wi, b, zp = check_conv2d(x, w, bias, x_zp, requant, acc, kernel, depth_multiplier, name)
    p = patches(x, kernel, stride, dilation, pad_h, pad_w, zp).astype(np.int64) - zp
    n, oh, ow, kh, kw, c = p.shape
    if depth_multiplier == 0:
        exact = exact_matmul(p.reshape(n, oh, ow, kh * kw * c), wi.astype(np.int64).T) + b
    else:
        per_out = np.repeat(p.reshape(n, oh, ow, kh * kw, c), depth_multiplier, axis=-1)  # channel o reads o // m
        exact = np.einsum("nyxkc,ck->nyxc", per_out, wi.astype(np.int64)) + b
    held = acc.apply(exact, op=name)
    y = held if requant is None else requant.apply(held)
    return (y, held) if return_acc else y
