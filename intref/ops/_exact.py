"""Exact integer matrix products for the reference ops.

When every partial sum is an integer of magnitude below 2^53, a float64 product is exact whatever order or
fused multiply-adds the BLAS uses, and it is much faster than NumPy's integer matmul; otherwise the int64 path
runs. Both give the same int64 result.
"""

from __future__ import annotations

import numpy as np

_FLOAT64_EXACT = 2**53


def _max_abs(a: np.ndarray) -> int:
    return max(-int(a.min()), int(a.max())) if a.size else 0


def exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for int64 ``a`` [..., K] and ``b`` [K, N], exactly, as int64."""
    k = a.shape[-1]
    if k * _max_abs(a) * _max_abs(b) < _FLOAT64_EXACT:
        return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.int64)
    return np.matmul(a.astype(np.int64), b.astype(np.int64))
