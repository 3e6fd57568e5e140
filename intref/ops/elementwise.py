"""Elementwise integer ops: requantize, add, mul (two quantised inputs with their own scales) and clamp.

``add`` follows TFLite's quantised ADD (``sub`` its SUB): each input, centred on its zero point, is shifted left by
``left_shift`` (20 for int8 in TFLite) and rescaled by its own multiplier to a common scale; the two are summed
(the accumulator) and that sum is requantised to the output. ``mul`` multiplies the centred inputs (the
accumulator) and requantises the product. Inputs broadcast like NumPy; per-channel parameters run along the
last axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec import Accumulator, Requant, check_params, rescale
from ..spec.rescale import INT32_MAX
from . import _checks


@dataclass(frozen=True, eq=False)
class AddParams:
    """Quantisation of ``add``: input zero points, the common left shift, the per-input multipliers and the output."""

    a_zp: int
    b_zp: int
    left_shift: int
    a_multiplier: np.ndarray
    a_shift: np.ndarray
    b_multiplier: np.ndarray
    b_shift: np.ndarray
    out: Requant

    def __post_init__(self) -> None:
        if not isinstance(self.out, Requant):
            raise TypeError("AddParams.out must be a Requant")
        for side in ("a", "b"):
            m, s = check_params(self.out.scheme, getattr(self, f"{side}_multiplier"), getattr(self, f"{side}_shift"))
            m.setflags(write=False)  # own copies, read-only: backends cache what they derive from them
            s.setflags(write=False)
            object.__setattr__(self, f"{side}_multiplier", m)
            object.__setattr__(self, f"{side}_shift", s)
        if isinstance(self.left_shift, bool) or not isinstance(self.left_shift, (int, np.integer)):
            raise ValueError(f"AddParams: left_shift must be an integer, got {self.left_shift!r}")
        if not 0 <= int(self.left_shift) <= 30:
            raise ValueError(f"AddParams: left_shift = {self.left_shift} is outside [0, 30]")
        object.__setattr__(self, "left_shift", int(self.left_shift))

    @property
    def scheme(self) -> str:
        return self.out.scheme

    @classmethod
    def from_scales(
        cls,
        a_scale: float,
        a_zp: int,
        b_scale: float,
        b_zp: int,
        out_scale: float,
        out_zp: int,
        scheme: str = "tflite_double",
        lo: int = -128,
        hi: int = 127,
        left_shift: int = 20,
    ) -> AddParams:
        """TFLite's derivation: both inputs to the scale 2*max(a_scale, b_scale), then to the output."""
        from ..spec import quantize_multiplier

        twice_max = 2.0 * max(a_scale, b_scale)
        am, ash = quantize_multiplier(a_scale / twice_max, scheme)
        bm, bsh = quantize_multiplier(b_scale / twice_max, scheme)
        out = Requant.from_scale(twice_max / ((1 << left_shift) * out_scale), scheme, out_zp, lo, hi)
        return cls(a_zp, b_zp, left_shift, np.int64(am), np.int64(ash), np.int64(bm), np.int64(bsh), out)


def check_requantize(x, x_zp, requant, acc, name):
    x = _checks.int_array(f"{name}: x", x, (np.int8, np.int16, np.int32))
    zp = _checks.zero_point(f"{name}: x_zp", x_zp, x.dtype)
    channels = x.shape[-1] if x.ndim else 1
    _checks.requant_for(name, requant, acc, channels)
    if requant is None:
        raise ValueError(f"{name}: requant is required")
    return zp


def requantize(
    x: np.ndarray,
    requant: Requant,
    *,
    x_zp: int = 0,
    acc: Accumulator = Accumulator(),
    return_acc: bool = False,
    name: str = "requantize",
):
    """``y = requant(acc(x - x_zp))``: change the scale and zero point of a tensor (int8, int16 or int32)."""
    zp = check_requantize(x, x_zp, requant, acc, name)
    held = acc.apply(x.astype(np.int64) - zp, op=name)
    y = requant.apply(held)
    return (y, held) if return_acc else y


def _broadcast_channels(a: np.ndarray, b: np.ndarray, name: str) -> int:
    try:
        shape = a.shape if a.shape == b.shape else np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{name}: input shapes {a.shape} and {b.shape} do not broadcast") from None
    return shape[-1] if shape else 1


def check_add(a, b, params, acc, name):
    a = _checks.int_array(f"{name}: a", a, _checks.ELEMENTWISE_DTYPES)
    b = _checks.int_array(f"{name}: b", b, _checks.ELEMENTWISE_DTYPES)
    if not isinstance(params, AddParams):
        raise TypeError(f"{name}: params must be an AddParams")
    channels = _broadcast_channels(a, b, name)
    _checks.requant_for(name, params.out, acc, channels)
    for side, x, zp in (("a", a, params.a_zp), ("b", b, params.b_zp)):
        zp = _checks.zero_point(f"{name}: {side}_zp", zp, x.dtype)
        lo, hi = _checks.dtype_range(x.dtype)
        widest = max(hi - zp, zp - lo)
        if widest << params.left_shift > INT32_MAX:
            raise ValueError(
                f"{name}: left_shift {params.left_shift} overflows int32 for {x.dtype} input '{side}' "
                f"with zero point {zp}"
            )


def add(
    a: np.ndarray,
    b: np.ndarray,
    params: AddParams,
    *,
    acc: Accumulator = Accumulator(),
    return_acc: bool = False,
    name: str = "add",
):
    """Quantised addition of two int8/int16 tensors with their own scales (TFLite ADD)."""
    check_add(a, b, params, acc, name)
    return _scaled_sum(a, b, params, 1, acc, return_acc, name)


def sub(
    a: np.ndarray,
    b: np.ndarray,
    params: AddParams,
    *,
    acc: Accumulator = Accumulator(),
    return_acc: bool = False,
    name: str = "sub",
):
    """Quantised ``a - b`` (TFLite SUB): as ``add``, but the rescaled b is subtracted. (Negating b's multiplier
    instead would differ on ties, since the rescale rounds ties toward +inf.)"""
    check_add(a, b, params, acc, name)
    return _scaled_sum(a, b, params, -1, acc, return_acc, name)


def _scaled_sum(a, b, params: AddParams, sign: int, acc: Accumulator, return_acc: bool, name: str):
    # Broadcast first so that every error names a flat index of the output.
    a, b = np.broadcast_arrays(a.astype(np.int64), b.astype(np.int64))
    p = params
    a_scaled = rescale((a - p.a_zp) << p.left_shift, p.a_multiplier, p.a_shift, p.scheme)
    b_scaled = rescale((b - p.b_zp) << p.left_shift, p.b_multiplier, p.b_shift, p.scheme)
    held = acc.apply(a_scaled + sign * b_scaled, op=name)
    y = params.out.apply(held)
    return (y, held) if return_acc else y


def check_mul(a, b, a_zp, b_zp, requant, acc, name):
    a = _checks.int_array(f"{name}: a", a, _checks.ELEMENTWISE_DTYPES)
    b = _checks.int_array(f"{name}: b", b, _checks.ELEMENTWISE_DTYPES)
    channels = _broadcast_channels(a, b, name)
    if requant is None:
        raise ValueError(f"{name}: requant is required")
    _checks.requant_for(name, requant, acc, channels)
    return _checks.zero_point(f"{name}: a_zp", a_zp, a.dtype), _checks.zero_point(f"{name}: b_zp", b_zp, b.dtype)


def mul(
    a: np.ndarray,
    b: np.ndarray,
    requant: Requant,
    *,
    a_zp: int = 0,
    b_zp: int = 0,
    acc: Accumulator = Accumulator(),
    return_acc: bool = False,
    name: str = "mul",
):
    """Quantised product of two int8/int16 tensors: ``y = requant(acc((a - a_zp) * (b - b_zp)))``."""
    azp, bzp = check_mul(a, b, a_zp, b_zp, requant, acc, name)
    held = acc.apply((a.astype(np.int64) - azp) * (b.astype(np.int64) - bzp), op=name)
    y = requant.apply(held)
    return (y, held) if return_acc else y


def check_clamp(x, lo, hi, name):
    x = _checks.int_array(f"{name}: x", x, (np.int8, np.int16, np.int32))
    dlo, dhi = _checks.dtype_range(x.dtype)
    for label, v in (("lo", lo), ("hi", hi)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not dlo <= int(v) <= dhi:
            raise ValueError(f"{name}: {label} = {v!r} must be an integer in the {x.dtype} range [{dlo}, {dhi}]")
    if lo > hi:
        raise ValueError(f"{name}: lo = {lo} is above hi = {hi}")


def clamp(x: np.ndarray, lo: int, hi: int, *, name: str = "clamp") -> np.ndarray:
    """``min(max(x, lo), hi)`` in the input's own type (a ReLU/ReLU6 on quantised values)."""
    check_clamp(x, lo, hi, name)
    return np.clip(x, lo, hi).astype(x.dtype)
