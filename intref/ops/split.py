"""An int16 tensor as two int8 halves, so that int8 products can use all of its bits.

With ``v = x - x_zp``::

    hi = clamp(round_half_up(v / 2^shift) + hi_zp, -128, 127)
    lo = clamp(v - 2^shift * (hi - hi_zp), -128, 127)

so ``v == 2^shift * (hi - hi_zp) + lo`` exactly whenever neither clamp acts (for 15-bit softmax probabilities,
``v`` in [0, 32640] with shift 7 and hi_zp -128: hi - hi_zp in [0, 255], lo in [-64, 64]). Both outputs are what a
``requantize`` (scheme ``single``, scale 2^-shift, zero point hi_zp) followed by an exact TFLite ``add`` of
``x`` and ``-2^shift hi`` give, in one pass.
"""

from __future__ import annotations

import numpy as np

from ..spec import div_pow2
from . import _checks

SHIFT_RANGE = (1, 14)


def check_split16(x, x_zp, shift, hi_zp, name) -> tuple[int, int, int]:
    """Validate a split16 call; returns (x_zp, shift, hi_zp)."""
    x = _checks.int_array(f"{name}: x", x, (np.int16,))
    zp = _checks.zero_point(f"{name}: x_zp", x_zp, np.int16)
    lo, hi = SHIFT_RANGE
    if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or not lo <= int(shift) <= hi:
        raise ValueError(f"{name}: shift must be an integer in [{lo}, {hi}], got {shift!r}")
    hzp = _checks.zero_point(f"{name}: hi_zp", hi_zp, np.int8)
    return zp, int(shift), hzp


def split16(
    x: np.ndarray, *, x_zp: int = 0, shift: int = 7, hi_zp: int = 0, name: str = "split16"
) -> tuple[np.ndarray, np.ndarray]:
    """``(hi, lo)``, both int8 with the shape of the int16 ``x`` (see the module docstring)."""
    zp, s, hzp = check_split16(x, x_zp, shift, hi_zp, name)
    v = x.astype(np.int64) - zp
    hi = np.asarray(np.clip(div_pow2(v, s, "half_up") + hzp, -128, 127))
    lo = np.asarray(np.clip(v - (hi - hzp) * (1 << s), -128, 127))
    return hi.astype(np.int8), lo.astype(np.int8)  # arrays of x's shape, 0-d included
