"""Integer LayerNorm over the last axis (channels) of x [T, C].

With ``xc = x - x_zp`` (exact), per row:

    s   = sum_c xc                                    integer sum
    d_c = C * xc_c - s                                = C * (x_c - mean), no division
    v   = floor(sum_c d_c^2 / C) + eps                ~ C^2 * (variance + eps_real)
    D   = max(isqrt(v), 1)                            ~ C * sqrt(variance + eps_real)
    inv = floor(2^32 / D)                             fixed-point reciprocal, once per row
    n_c = round_half_up(d_c * inv / 2^(32 - F))       ~ 2^F * (x_c - mean) / sqrt(variance + eps_real)
    acc = n_c * gamma_c + beta_c                      the accumulator (policy applies here)
    y   = requant(acc)

``eps`` is the real epsilon in input units times C^2 (``round(C^2 * eps_real / s_x^2)``), ``gamma`` the int16
scale weights and ``beta`` the int32 bias at the scale ``s_gamma / 2^F``; ``F`` (``frac_bits``) sets the
precision of the normalised value.
"""

from __future__ import annotations

import numpy as np

from ..spec import Accumulator, Requant, div_pow2
from ..spec.fixedpoint import reciprocal
from ..spec.isqrt import isqrt
from . import _checks

RECIPROCAL_BITS = 32


def check_layernorm(x, gamma, beta, x_zp, eps, frac_bits, requant, acc, name):
    x = _checks.int_array(f"{name}: x", x, _checks.ELEMENTWISE_DTYPES, ndim=2)
    c = x.shape[1]
    if c < 1:
        raise ValueError(f"{name}: x needs at least one channel")
    gamma = _checks.int_array(f"{name}: gamma", gamma, (np.int8, np.int16), ndim=1)
    if gamma.shape[0] != c:
        raise ValueError(f"{name}: gamma has {gamma.shape[0]} entries for {c} channels")
    _checks.bias(f"{name}: beta", beta, c)
    zp = _checks.zero_point(f"{name}: x_zp", x_zp, x.dtype)
    eps = _checks.positive_int(f"{name}: eps", eps, minimum=0)
    frac_bits = _checks.positive_int(f"{name}: frac_bits", frac_bits, minimum=0)
    if frac_bits > 24:
        raise ValueError(f"{name}: frac_bits must be in [0, 24], got {frac_bits}")
    lo, hi = _checks.dtype_range(x.dtype)
    widest_d = c * (hi - lo)  # |d_c| <= C * (max - min)
    if c * widest_d**2 + eps >= 2**63 or widest_d * 2**RECIPROCAL_BITS >= 2**63:
        raise ValueError(f"{name}: {c} channels of {x.dtype} overflow the 64-bit variance")
    if requant is None:
        raise ValueError(f"{name}: requant is required")
    _checks.requant_for(name, requant, acc, c)
    return zp, eps, frac_bits


def normalize(xc: np.ndarray, eps: int, frac_bits: int) -> np.ndarray:
    """The normalised values n [T, C] (int64) of centred input rows ``xc`` (int64); see the module docstring."""
    c = xc.shape[1]
    d = c * xc - xc.sum(axis=1, keepdims=True)
    v = (d * d).sum(axis=1, keepdims=True) // c + eps
    inv = reciprocal(np.maximum(isqrt(v), 1), RECIPROCAL_BITS)
    return div_pow2(d * inv, RECIPROCAL_BITS - frac_bits, "half_up")


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
    """Integer LayerNorm of int8/int16 rows; see the module docstring for the exact definition."""
    zp, eps, frac_bits = check_layernorm(x, gamma, beta, x_zp, eps, frac_bits, requant, acc, name)
    b = _checks.bias(f"{name}: beta", beta, x.shape[1]).astype(np.int64)
    n = normalize(x.astype(np.int64) - zp, eps, frac_bits)
    held = acc.apply(n * gamma.astype(np.int64) + b, op=name)
    y = requant.apply(held)
    return (y, held) if return_acc else y
