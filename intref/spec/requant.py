"""Requantisation: ``y = clamp(zero_point + rescale(acc, multiplier, shift), lo, hi)``.

One object carries a node's output quantisation: the rescale scheme, per-tensor or per-output-channel
``(multiplier, shift)``, the output zero point and the clamp bounds. The addition and the clamp are exact (int64).
The output type is the narrowest of int8, int16 and int32 that holds ``[lo, hi]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .multiplier import quantize_multipliers
from .rescale import INT32_MAX, INT32_MIN, check_params, rescale


def dtype_for_range(lo: int, hi: int) -> type[np.signedinteger]:
    for dt in (np.int8, np.int16, np.int32):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return dt
    raise ValueError(f"clamp range [{lo}, {hi}] does not fit in int32")


@dataclass(frozen=True, eq=False)
class Requant:
    """Output quantisation of a node (see the module docstring)."""

    scheme: str
    multiplier: np.ndarray
    shift: np.ndarray
    zero_point: int = 0
    lo: int = -128
    hi: int = 127

    def __post_init__(self) -> None:
        m, s = check_params(self.scheme, self.multiplier, self.shift)
        if m.shape != s.shape and m.ndim and s.ndim:
            raise ValueError(f"requant: multiplier shape {m.shape} and shift shape {s.shape} differ")
        for arr in (m, s):  # own copies, read-only: a Requant never changes (backends cache what they derive)
            arr.setflags(write=False)
        shape = np.broadcast_shapes(m.shape, s.shape)
        object.__setattr__(self, "_channels", shape[0] if shape else None)
        object.__setattr__(self, "multiplier", m)
        object.__setattr__(self, "shift", s)
        for name in ("zero_point", "lo", "hi"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"requant: {name} must be an integer, got {value!r}")
            if not INT32_MIN <= int(value) <= INT32_MAX:
                raise ValueError(f"requant: {name} = {value} does not fit in int32")
            object.__setattr__(self, name, int(value))
        if self.lo > self.hi:
            raise ValueError(f"requant: clamp lo = {self.lo} is above hi = {self.hi}")

    @classmethod
    def from_scale(cls, scale, scheme: str, zero_point: int = 0, lo: int = -128, hi: int = 127) -> Requant:
        """Derive ``(multiplier, shift)`` from a real scale (scalar or per channel) with the scheme's own rule."""
        m, s = quantize_multipliers(scale, scheme)
        return cls(scheme, m, s, zero_point, lo, hi)

    @property
    def channels(self) -> int | None:
        """Number of output channels the parameters are for, or None when they are per-tensor."""
        return self._channels

    @property
    def out_dtype(self) -> type[np.signedinteger]:
        return dtype_for_range(self.lo, self.hi)

    def apply(self, acc) -> np.ndarray:
        """Requantise an accumulator (per-channel parameters run along its last axis)."""
        scaled = rescale(acc, self.multiplier, self.shift, self.scheme)
        # Clamp before adding the zero point: the same result as clamping the exact sum, and no int64 wrap.
        zp = self.zero_point
        return np.asarray(np.clip(scaled, self.lo - zp, self.hi - zp) + zp).astype(self.out_dtype)
