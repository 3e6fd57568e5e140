"""The accumulator: how an exact integer sum is held in a register of finite width.

intref first forms the exact sum (bias included) and then applies the policy once, to that sum:

- ``error``    (default) raise ``AccumulatorOverflowError`` naming the op and the first flat index that does not fit;
- ``wrap``     two's complement modulo 2^bits, which is what a wrapping adder gives whatever the summation order;
- ``saturate`` clamp the exact sum to the register's range. Hardware that saturates every partial sum in its own
               order can give other values; intref models saturation of the final sum only.

The width is 16..64 bits (default 32, the int32 accumulator of TFLite, TOSA and CMSIS-NN; 24 for some DSPs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .errors import AccumulatorOverflowError

OverflowPolicy = Literal["error", "wrap", "saturate"]
POLICIES: tuple[str, ...] = ("error", "wrap", "saturate")


@dataclass(frozen=True)
class Accumulator:
    """Overflow policy and width of an op's accumulator."""

    policy: OverflowPolicy = "error"
    bits: int = 32

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"accumulator policy must be one of {POLICIES}, got {self.policy!r}")
        if isinstance(self.bits, bool) or not isinstance(self.bits, (int, np.integer)) or not 16 <= self.bits <= 64:
            raise ValueError(f"accumulator bits must be an integer in [16, 64], got {self.bits!r}")

    @property
    def bounds(self) -> tuple[int, int]:
        return -(2 ** (self.bits - 1)), 2 ** (self.bits - 1) - 1

    @property
    def dtype(self) -> type[np.signedinteger]:
        """The NumPy type that holds this accumulator: int32 up to 32 bits, int64 above."""
        return np.int32 if self.bits <= 32 else np.int64

    def apply(self, exact, op: str = "op") -> np.ndarray:
        """Hold the exact int64 sums ``exact`` in this accumulator (raising, wrapping or saturating)."""
        exact = np.asarray(exact, dtype=np.int64)
        lo, hi = self.bounds
        if self.bits == 64:
            return exact.copy()
        if self.policy == "error":
            bad = (exact < lo) | (exact > hi)
            if np.any(bad):
                i = int(np.flatnonzero(bad.ravel())[0])
                raise AccumulatorOverflowError(op, i, int(exact.ravel()[i]), self.bits)
            held = exact
        elif self.policy == "wrap":
            held = ((exact - lo) & ((1 << self.bits) - 1)) + lo
        else:
            held = np.clip(exact, lo, hi)
        return held.astype(self.dtype)
