"""Argument checks shared by the reference ops (and reused by every backend before it calls compiled code)."""

from __future__ import annotations

import numpy as np

from ..spec import Accumulator, PackedInt4, Requant, scheme_limits

ACTIVATION_DTYPES = (np.int8,)
ELEMENTWISE_DTYPES = (np.int8, np.int16)


def int_array(name: str, value, dtypes: tuple[type, ...], ndim: int | None = None) -> np.ndarray:
    """``value`` as an ndarray of one of ``dtypes`` (no conversion: a wrong dtype is the caller's error)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(value).__name__}")
    if value.dtype.type not in dtypes:
        allowed = ", ".join(np.dtype(d).name for d in dtypes)
        raise TypeError(f"{name} must have dtype {allowed}; got {value.dtype}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {value.shape}")
    return value


# The integer types every op takes, without an np.iinfo lookup per call.
_RANGES: dict[type, tuple[int, int]] = {
    np.int8: (-(2**7), 2**7 - 1),
    np.int16: (-(2**15), 2**15 - 1),
    np.int32: (-(2**31), 2**31 - 1),
    np.int64: (-(2**63), 2**63 - 1),
    np.uint8: (0, 2**8 - 1),
}


def dtype_range(dtype) -> tuple[int, int]:
    known = _RANGES.get(dtype if isinstance(dtype, type) else getattr(dtype, "type", None))
    if known is not None:
        return known
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def zero_point(name: str, value, dtype) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    lo, hi = dtype_range(dtype)
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name} = {value} is outside the {np.dtype(dtype).name} range [{lo}, {hi}]")
    return int(value)


def weights(name: str, w, ndim: int, unpack: bool = True) -> np.ndarray | PackedInt4:
    """int8 weights, or packed int4 (unpacked to int8 unless ``unpack`` is False, for kernels that unpack
    panel by panel), with the expected number of dimensions."""
    if isinstance(w, PackedInt4):
        if len(w.shape) != ndim:
            raise ValueError(f"{name} must have {ndim} dimensions, got logical shape {w.shape}")
        return w.unpack() if unpack else w
    return int_array(name, w, (np.int8,), ndim)


def bias(name: str, b, channels: int) -> np.ndarray:
    if b is None:
        return np.zeros(channels, dtype=np.int32)
    b = int_array(name, b, (np.int32,), 1)
    if b.shape[0] != channels:
        raise ValueError(f"{name} has {b.shape[0]} entries for {channels} output channels")
    return b


def requant_for(op: str, requant: Requant | None, acc: Accumulator, channels: int | None) -> None:
    """A node's requantisation must fit its accumulator and its channel count."""
    if not isinstance(acc, Accumulator):
        raise TypeError(f"{op}: acc must be an intref.spec.Accumulator, got {type(acc).__name__}")
    if requant is None:
        return
    if not isinstance(requant, Requant):
        raise TypeError(f"{op}: requant must be an intref.spec.Requant, got {type(requant).__name__}")
    width = scheme_limits(requant.scheme).value_bits
    if acc.bits > width:
        raise ValueError(
            f"{op}: a {acc.bits}-bit accumulator cannot feed scheme '{requant.scheme}', which takes {width}-bit values"
        )
    n = requant.channels
    if n is not None and n != 1 and n != channels:
        raise ValueError(f"{op}: requant has {n} per-channel parameters for {channels} output channels")


def positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
