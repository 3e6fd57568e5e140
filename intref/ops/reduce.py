"""Mean over time: the integer sum over T, then the node's multiplier divided by T in integers.

``y[c] = requant_T(acc(sum_t (x[t, c] - x_zp)))`` where ``requant_T`` is the node's requant with its
``(multiplier, shift)`` replaced by ``divide_multiplier(multiplier, shift, T)``: the node stores the ratio of the
input and output scales, and the fixed-point reciprocal of T is folded in at run time, since T is the clip's length.
"""

from __future__ import annotations

import numpy as np

from ..spec import Accumulator, Requant, divide_multiplier
from . import _checks


def check_mean(x, x_zp, requant, acc, name):
    x = _checks.int_array(f"{name}: x", x, _checks.ELEMENTWISE_DTYPES, ndim=2)
    if x.shape[0] < 1:
        raise ValueError(f"{name}: the mean over time of an empty sequence is undefined")
    if requant is None:
        raise ValueError(f"{name}: requant is required")
    _checks.requant_for(name, requant, acc, x.shape[1])
    return _checks.zero_point(f"{name}: x_zp", x_zp, x.dtype)


def requant_for_count(requant: Requant, count: int) -> Requant:
    m, s = divide_multiplier(requant.multiplier, requant.shift, count, requant.scheme)
    return Requant(requant.scheme, m, s, requant.zero_point, requant.lo, requant.hi)


def mean_over_time(
    x: np.ndarray,
    requant: Requant,
    *,
    x_zp: int = 0,
    acc: Accumulator = Accumulator(),
    return_acc: bool = False,
    name: str = "mean_over_time",
):
    """x: int8/int16 [T, C] -> y [C] (the requant's output type)."""
    zp = check_mean(x, x_zp, requant, acc, name)
    divided = requant_for_count(requant, x.shape[0])  # parameters first: an illegal shift for this T is a ValueError
    held = acc.apply((x.astype(np.int64) - zp).sum(axis=0), op=name)
    y = divided.apply(held)
    return (y, held) if return_acc else y


def check_sum(x, axes, x_zp, requant, acc, name):
    x = _checks.int_array(f"{name}: x", x, _checks.ELEMENTWISE_DTYPES)
    if not axes or len(set(axes)) != len(axes) or not all(0 <= a < x.ndim for a in axes):
        raise ValueError(f"{name}: axes {list(axes)} must be distinct axes of a {x.ndim}-D input")
    if requant is None:
        raise ValueError(f"{name}: requant is required")
    _checks.requant_for(name, requant, acc, None)
    if requant.channels not in (None, 1):
        raise ValueError(f"{name}: the requant must be per-tensor")
    return _checks.zero_point(f"{name}: x_zp", x_zp, x.dtype)


def reduce_sum(
    x: np.ndarray,
    requant: Requant,
    *,
    axes: tuple[int, ...],
    keepdims: bool,
    x_zp: int = 0,
    acc: Accumulator = Accumulator(),
    return_acc: bool = False,
    name: str = "reduce_sum",
):
    """``y = requant(acc(sum over axes of (x - x_zp)))``: x int8/int16, any rank; a mean folds 1/count into the
    requant's multiplier (TFLite's MEAN does it that way, see intref.models.tflite)."""
    zp = check_sum(x, axes, x_zp, requant, acc, name)
    held = acc.apply((x.astype(np.int64) - zp).sum(axis=tuple(axes), keepdims=keepdims), op=name)
    y = requant.apply(held)
    return (y, held) if return_acc else y
