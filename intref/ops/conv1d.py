"""1-D convolution over time (cross-correlation), time-major: x [T, C_in] -> y [T_out, C_out].

``acc[t, o] = bias[o] + sum_{i, j} (x[t*stride + j*dilation - pad_left, i] - x_zp) * w[o, i, j]``, where the
positions outside the input (the padding) hold ``x_zp`` and so contribute nothing. Two kinds of grouping:
dense (``groups=1``, w [C_out, C_in, k]; a pointwise conv is k = 1) and depthwise (``groups = C_in = C_out``,
w [C, 1, k]). ``T_out = (T + pad_left + pad_right - dilation*(k-1) - 1) // stride + 1`` (0 when negative).
"""

from __future__ import annotations

import numpy as np

from ..spec import Accumulator, PackedInt4, Requant
from . import _checks
from ._exact import exact_matmul


def output_length(t: int, k: int, stride: int, dilation: int, padding: tuple[int, int]) -> int:
    span = t + padding[0] + padding[1] - dilation * (k - 1) - 1
    return span // stride + 1 if span >= 0 else 0


def normalize_padding(padding, name: str) -> tuple[int, int]:
    pad = (padding, padding) if isinstance(padding, (int, np.integer)) else tuple(padding)
    if len(pad) != 2 or any(isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 0 for p in pad):
        raise ValueError(f"{name}: padding must be an int or a pair (left, right) of ints >= 0, got {padding!r}")
    return int(pad[0]), int(pad[1])


def check_conv1d(x, w, bias, x_zp, requant, acc, stride, dilation, padding, groups, name, unpack_weights: bool = True):
    """Validate a conv1d call; returns (int8 weights, int32 bias, x_zp, stride, dilation, (pl, pr), depthwise)."""
    x = _checks.int_array(f"{name}: x", x, _checks.ACTIVATION_DTYPES, ndim=2)
    shape = w.shape if isinstance(w, PackedInt4) else getattr(w, "shape", None)
    wi = _checks.weights(f"{name}: w", w, 3, unpack_weights)
    c_out, c_in_g, k = shape
    c_in = x.shape[1]
    stride = _checks.positive_int(f"{name}: stride", stride)
    dilation = _checks.positive_int(f"{name}: dilation", dilation)
    groups = _checks.positive_int(f"{name}: groups", groups)
    pad = normalize_padding(padding, name)
    if k < 1:
        raise ValueError(f"{name}: kernel size must be >= 1, got weights of shape {shape}")
    if groups == 1:
        if c_in_g != c_in:
            raise ValueError(f"{name}: x has {c_in} channels, dense weights expect {c_in_g}")
        depthwise = False
    elif groups == c_in and c_out == c_in and c_in_g == 1:
        depthwise = True
    else:
        raise ValueError(
            f"{name}: groups must be 1 (dense) or equal to the channel count with weights [C, 1, k] (depthwise); "
            f"got groups={groups}, x channels {c_in}, weights {shape}"
        )
    b = _checks.bias(f"{name}: bias", bias, c_out)
    zp = _checks.zero_point(f"{name}: x_zp", x_zp, x.dtype)
    _checks.requant_for(name, requant, acc, c_out)
    return wi, b, zp, stride, dilation, pad, depthwise


def conv1d(
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
    """Integer conv1d (dense, pointwise or depthwise); see the module docstring for the exact definition."""
    wi, b, zp, stride, dilation, pad, depthwise = check_conv1d(
        x, w, bias, x_zp, requant, acc, stride, dilation, padding, groups, name
    )
    c_out, _, k = wi.shape
    t_out = output_length(x.shape[0], k, stride, dilation, pad)
    centred = np.pad(x.astype(np.int64) - zp, (pad, (0, 0)))  # padding holds x_zp, i.e. 0 once centred
    taps = np.arange(t_out)[:, None] * stride + np.arange(k)[None, :] * dilation  # [T_out, k]
    windows = centred[taps]  # [T_out, k, C_in]
    if depthwise:
        exact = np.einsum("tjc,cj->tc", windows, wi[:, 0, :].astype(np.int64)) + b
    else:
        cols = windows.transpose(0, 2, 1).reshape(t_out, x.shape[1] * k)  # [T_out, C_in*k], same order as w[o].ravel()
        exact = exact_matmul(cols, wi.reshape(c_out, -1).astype(np.int64).T) + b
    held = acc.apply(exact.reshape(t_out, c_out), op=name)
    y = held if requant is None else requant.apply(held)
    return (y, held) if return_acc else y
