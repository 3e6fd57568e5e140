"""Fixed-point building blocks of the integer nonlinearities: a reciprocal and a base-2 exponential.

``reciprocal(d, bits)``  floor(2^bits / d) for d >= 1: one division per row, then multiplies per element.
``EXP2_Q15``             EXP2_Q15[r] = round(2^15 * 2^(-r/256)) for r = 0..255, the table of ``exp2_neg_q8``.
``exp2_neg_q8(u)``       2^(-u/256) in Q15 for u >= 0: the table entry of the fraction, shifted right by the
                         integer part (entries past 15 shifts are 0).

The table is computed with 40-digit decimal arithmetic and rounded half up; no entry is near a tie, so it is the
same on every machine. It is a constant of the algorithm, not a model parameter.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import numpy as np


def _exp2_table() -> np.ndarray:
    with localcontext() as ctx:
        ctx.prec = 40
        ln2 = Decimal(2).ln()
        values = [(Decimal(2**15) * (-(Decimal(r) / 256) * ln2).exp()) for r in range(256)]
        return np.array([int((v + Decimal("0.5")).to_integral_value(rounding="ROUND_FLOOR")) for v in values])


EXP2_Q15: np.ndarray = _exp2_table().astype(np.int64)
EXP2_Q15.setflags(write=False)


def reciprocal(d, bits: int) -> np.ndarray:
    """floor(2^bits / d), elementwise, for int64 ``d >= 1`` and 0 <= bits <= 62."""
    d = np.asarray(d, dtype=np.int64)
    if np.any(d < 1):
        raise ValueError("reciprocal: divisor must be >= 1")
    if not 0 <= bits <= 62:
        raise ValueError(f"reciprocal: bits must be in [0, 62], got {bits}")
    return (np.int64(1) << bits) // d


def exp2_neg_q8(u) -> np.ndarray:
    """2^(-u/256) in Q15 (int64) for ``u >= 0``."""
    u = np.asarray(u, dtype=np.int64)
    if np.any(u < 0):
        raise ValueError("exp2_neg_q8: argument must be >= 0")
    whole = np.minimum(u >> 8, 31)
    return EXP2_Q15[u & 255] >> whole
