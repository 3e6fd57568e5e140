"""Integer softmax over the last axis, base-2 exponential by table, fixed-point reciprocal.

Per row of integer logits ``x`` (int8/16/32 at scale s_x):

    d   = max(x - max(x), floor)                      <= 0; floor = the most negative value the scheme
                                                      rescales legally (spec.rescale.most_negative_input)
    u   = -rescale(d, multiplier, shift, scheme)      >= 0: -d * s_x * log2(e) in 1/256 units (Q8)
    e   = exp2_neg_q8(u)                              2^(-u/256) in Q15, so e = 2^15 for the row's maximum
    S   = sum(e)                                      >= 2^15
    k   = bit_length(S);  inv = floor(2^(k+15) / S)   fixed-point reciprocal in (2^15, 2^16]
    p   = round_half_up(e * out_max * inv / 2^(k+15)) ~ out_max * e / S
    y   = p + out_zp

``(multiplier, shift)`` represent ``s_x * log2(e) * 256`` under ``scheme`` (attention folds 1/sqrt(d_head) into
it). The output is a probability at scale ``1/out_max``: for int8, ``out_max = 255`` and ``out_zp = -128``.
``mask`` (optional, bool, True = attend) gives masked positions e = 0; a row with nothing unmasked is all ``out_zp``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec import check_params, div_pow2, dtype_for_range, rescale
from ..spec.fixedpoint import exp2_neg_q8
from ..spec.rescale import most_negative_input
from . import _checks


@dataclass(frozen=True, eq=False)
class SoftmaxParams:
    """The input multiplier (to the Q8 log2 domain) and the output quantisation of a softmax."""

    scheme: str
    multiplier: int
    shift: int
    out_max: int = 255
    out_zp: int = -128

    def __post_init__(self) -> None:
        m, s = check_params(self.scheme, self.multiplier, self.shift)
        if m.ndim or s.ndim:
            raise ValueError("SoftmaxParams: multiplier and shift are per tensor (scalars)")
        if m < 0:
            raise ValueError("SoftmaxParams: multiplier must be >= 0")
        object.__setattr__(self, "multiplier", int(m))
        object.__setattr__(self, "shift", int(s))
        if not 1 <= int(self.out_max) <= 65535:
            raise ValueError(f"SoftmaxParams: out_max must be in [1, 65535], got {self.out_max}")
        dtype_for_range(int(self.out_zp), int(self.out_zp) + int(self.out_max))

    @property
    def out_dtype(self) -> type[np.signedinteger]:
        return dtype_for_range(self.out_zp, self.out_zp + self.out_max)


def check_softmax(x, params, mask, name):
    x = _checks.int_array(f"{name}: x", x, (np.int8, np.int16, np.int32))
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"{name}: x needs a non-empty last axis, got shape {x.shape}")
    if not isinstance(params, SoftmaxParams):
        raise TypeError(f"{name}: params must be a SoftmaxParams")
    if mask is not None:
        if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
            raise TypeError(f"{name}: mask must be a bool array")
        try:
            fits = np.broadcast_shapes(mask.shape, x.shape) == x.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{name}: mask shape {mask.shape} does not broadcast to {x.shape}")


def softmax(x: np.ndarray, params: SoftmaxParams, *, mask: np.ndarray | None = None, name: str = "softmax"):
    """Integer softmax of the last axis; see the module docstring for the exact definition."""
    check_softmax(x, params, mask, name)
    xi = x.astype(np.int64)
    keep = np.ones(x.shape, dtype=bool) if mask is None else np.broadcast_to(mask, x.shape)
    row_max = np.where(keep, xi, np.iinfo(np.int64).min).max(axis=-1, keepdims=True)
    # Far below the maximum every element has e = 0 anyway; the floor keeps the rescale legal for every scheme.
    floor = most_negative_input(params.scheme, params.multiplier, params.shift)
    d = np.maximum(np.where(keep, xi - row_max, 0), floor)
    u = -rescale(d, params.multiplier, params.shift, params.scheme)
    e = np.where(keep, exp2_neg_q8(np.maximum(u, 0)), 0)
    total = e.sum(axis=-1, keepdims=True)
    k = _bit_length(total)
    inv = (np.int64(1) << (k + 15)) // np.maximum(total, 1)
    p = div_pow2(e * params.out_max * inv, k + 15, "half_up")
    return (p + params.out_zp).astype(params.out_dtype)


def _bit_length(v: np.ndarray) -> np.ndarray:
    """Number of bits of each non-negative int64 (0 for 0)."""
    bits = np.zeros(v.shape, dtype=np.int64)
    w = v.copy()
    for step in (32, 16, 8, 4, 2, 1):
        big = w >= (np.int64(1) << step)
        bits += np.where(big, step, 0)
        w = np.where(big, w >> step, w)
    return bits + (w > 0)
