"""Float32 building blocks shared by both hama acoustic models, with the runtime's exact formulas.

Activations are time-major [T, C] unless a docstring says [C, T] (the layout of the conv1d helpers).
"""

from __future__ import annotations

import numpy as np

from ...frontend.logmel import N_MELS

F32 = np.float32
LN_EPS = F32(1e-5)
# The runtime's GELU divides by sqrt(2) rounded to float16.
GELU_SQRT2 = F32(1.4140625)
# Abramowitz & Stegun 7.1.26 rational approximation of erf (|error| < 1.5e-7), as the runtime uses.
_AS_P = F32(0.3275911)
_AS_A = tuple(F32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))


def sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-x) = inf for very negative x gives the right limit, 0
        return F32(1) / (F32(1) + np.exp(-x))


def silu(x: np.ndarray) -> np.ndarray:
    return x * sigmoid(x)


def erf_as(x: np.ndarray) -> np.ndarray:
    """erf by A&S 7.1.26 on |x|, made odd by the sign."""
    a = np.abs(x)
    t = F32(1) / (F32(1) + _AS_P * a)
    a1, a2, a3, a4, a5 = _AS_A
    poly = ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t
    return np.sign(x) * (F32(1) - poly * np.exp(-a * a))


def gelu(x: np.ndarray) -> np.ndarray:
    return F32(0.5) * x * (F32(1) + erf_as(x / GELU_SQRT2))


def gelu_erf(x: np.ndarray) -> np.ndarray:
    """GELU with the exact 1/sqrt(2) (the hama P2G model's form): 0.5 x (1 + erf(x / sqrt(2)))."""
    return (F32(0.5) * x) * (F32(1) + erf_as(x * F32(0.70710677)))


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """LayerNorm over the last axis with the biased variance."""
    mean = x.mean(axis=-1, keepdims=True)
    d = x - mean
    var = (d * d).mean(axis=-1, keepdims=True)
    return d / np.sqrt(var + LN_EPS) * w + b


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def mhsa(a: np.ndarray, w_in: np.ndarray, b_in: np.ndarray, w_out: np.ndarray, b_out: np.ndarray, heads: int):
    """Bidirectional multi-head self-attention without mask or position term; w_in [C,3C] holds q|k|v columns."""
    c = a.shape[1]
    dh = c // heads
    qkv = a @ w_in + b_in
    scale = F32(dh**-0.5)
    ctx = np.empty_like(a)
    for j in range(heads):
        q = qkv[:, j * dh : (j + 1) * dh]
        k = qkv[:, c + j * dh : c + (j + 1) * dh]
        v = qkv[:, 2 * c + j * dh : 2 * c + (j + 1) * dh]
        ctx[:, j * dh : (j + 1) * dh] = softmax((q @ k.T) * scale) @ v
    return ctx @ w_out + b_out


def network_input(logmel: np.ndarray) -> np.ndarray:
    """The acoustic networks' input as float32 [80, t]; ValueError for any other shape."""
    x = np.asarray(logmel, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] != N_MELS:
        raise ValueError(f"log-mel must be [{N_MELS}, t], got {x.shape}")
    return x


def conv1d_stem(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense conv1d, kernel 3, stride 2, padding 1|1: x [C_in, t] -> [T, C_out] with T = (t - 1) // 2 + 1."""
    c_in, t = x.shape
    c_out, _, k = w.shape
    n_out = (t - 1) // 2 + 1
    xp = np.zeros((c_in, 2 * n_out + k - 1), dtype=x.dtype)
    xp[:, 1 : 1 + t] = x
    # im2col rows in the weight's (in, k) order.
    cols = np.stack([xp[:, j : j + 2 * n_out : 2] for j in range(k)], axis=-1)  # [C_in, T, k]
    cols = cols.transpose(1, 0, 2).reshape(n_out, c_in * k)
    return cols @ w.reshape(c_out, c_in * k).T + b


def depthwise_conv1d(x: np.ndarray, w: np.ndarray, b: np.ndarray, dilation: int = 1) -> np.ndarray:
    """Centred depthwise conv1d with zero padding: x [C, T], w [C, 1, k] (k odd) -> [C, T]."""
    c, t = x.shape
    k = w.shape[-1]
    pad = (k // 2) * dilation
    xp = np.zeros((c, t + 2 * pad), dtype=x.dtype)
    xp[:, pad : pad + t] = x
    y = np.zeros((c, t), dtype=x.dtype)
    for j in range(k):
        y += w[:, 0, j : j + 1] * xp[:, j * dilation : j * dilation + t]
    return y + b[:, None]


__all__ = [
    "N_MELS",
    "conv1d_stem",
    "depthwise_conv1d",
    "erf_as",
    "gelu",
    "gelu_erf",
    "layer_norm",
    "log_softmax",
    "mhsa",
    "network_input",
    "sigmoid",
    "silu",
    "softmax",
]
