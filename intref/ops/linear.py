"""Fully connected layer: ``y[..., n] = requant(acc(bias[n] + sum_k (x[..., k] - x_zp) * w[n, k]))``."""

from __future__ import annotations

import numpy as np

from ..spec import Accumulator, PackedInt4, Requant
from . import _checks
from ._exact import exact_matmul


def check_linear(x, w, bias, x_zp, requant, acc, name, unpack_weights: bool = True):
    """Validate a linear call; returns (int8 weights [N, K], int32 bias [N], x_zp)."""
    x = _checks.int_array(f"{name}: x", x, _checks.ACTIVATION_DTYPES)
    if x.ndim < 1:
        raise ValueError(f"{name}: x must have at least one dimension")
    shape = w.shape if isinstance(w, PackedInt4) else getattr(w, "shape", None)
    wi = _checks.weights(f"{name}: w", w, 2, unpack_weights)
    n, k = shape
    if x.shape[-1] != k:
        raise ValueError(f"{name}: x has {x.shape[-1]} input features, w expects {k}")
    b = _checks.bias(f"{name}: bias", bias, n)
    zp = _checks.zero_point(f"{name}: x_zp", x_zp, x.dtype)
    _checks.requant_for(name, requant, acc, n)
    return wi, b, zp


def linear(
    x: np.ndarray,
    w: np.ndarray | PackedInt4,
    bias: np.ndarray | None = None,
    *,
    x_zp: int = 0,
    requant: Requant | None = None,
    acc: Accumulator = Accumulator(),
    return_acc: bool = False,
    name: str = "linear",
):
    """Integer linear layer.

    x: int8 [..., K]; w: int8 [N, K] or packed int4 of logical shape (N, K); bias: int32 [N] or None.
    Returns y (the requant's output type) or, without a requant, the accumulator itself; with
    ``return_acc`` a pair ``(y, acc)``.
    """
    wi, b, zp = check_linear(x, w, bias, x_zp, requant, acc, name)
    exact = exact_matmul(x.astype(np.int64) - zp, wi.astype(np.int64).T) + b
    held = acc.apply(exact, op=name)
    y = held if requant is None else requant.apply(held)
    return (y, held) if return_acc else y
