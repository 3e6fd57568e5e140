"""Integer square root: ``isqrt(n) = floor(sqrt(n))`` for 0 <= n < 2^63, exactly.

Any algorithm that returns the floor is conforming (hardware typically uses a bit-serial or Newton iteration).
Here a float estimate is corrected with exact integer comparisons, which is fast and exact in NumPy.
"""

from __future__ import annotations

import numpy as np


def isqrt(n) -> np.ndarray:
    """floor(sqrt(n)) elementwise for int64 ``n >= 0``."""
    n = np.asarray(n, dtype=np.int64)
    if np.any(n < 0):
        raise ValueError("isqrt: argument must be >= 0")
    r = np.floor(np.sqrt(n.astype(np.float64))).astype(np.int64)
    r = np.minimum(r, 3037000499)  # floor(sqrt(2^63 - 1)); keeps r*r below 2^63
    # The float estimate is within one or two of the answer; settle it with exact integer tests.
    for _ in range(2):
        r = np.where(r * r > n, r - 1, r)
    for _ in range(2):
        nxt = r + 1
        r = np.where((nxt <= 3037000499) & (nxt * nxt <= n), nxt, r)
    return r
