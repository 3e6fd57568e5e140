"""The Python side of the numba epilogue: parameters in, results and the reference's errors out.

:class:`Epilogue` holds one op call's accumulator, requantisation, output buffers and error records.
:meth:`Epilogue.run` applies the compiled epilogue to the op's exact sums; :meth:`Epilogue.conclude` then
raises the reference's error for the first offending element, if any, and shapes and types the results like
the reference op.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec import Accumulator, AccumulatorOverflowError, Requant, RescaleError
from ..spec.rescale import REASON_LEFT_SHIFT, REASON_RESULT, REASON_TOSA_VALUE
from . import numba_rescale as nr

WIDE_SCHEMES = ("dyadic", "onnx")  # their products may exceed 64 bits when the accumulator does


def product_limit(multiplier: np.ndarray) -> np.ndarray:
    """Largest |value| whose product with each multiplier stays below 2^62 (dyadic/onnx int64 path)."""
    safe = np.maximum(multiplier, 1)
    return np.where(multiplier > 0, np.int64(nr.PRODUCT_LIMIT) // safe, np.int64(nr.INT64_MAX))


def rescale_params(multiplier, shift, channels: int) -> np.ndarray:
    """[3, L] int64 (multiplier, shift, product limit) for element i at column ``i % L``.

    Per-channel parameters give L = ``channels`` (the last axis); per-tensor ones repeat, so L is one whole
    block, which keeps the kernel's loops long.
    """
    m = np.asarray(multiplier, dtype=np.int64)
    s = np.asarray(shift, dtype=np.int64)
    if m.size == 0 or s.size == 0 or channels == 0:  # an empty output: the kernel reads no parameter
        return np.zeros((3, 1), dtype=np.int64)
    length = channels if max(m.size, s.size) > 1 else nr.BLOCK
    out = np.empty((3, length), dtype=np.int64)
    out[0], out[1], out[2] = m, s, product_limit(m)  # broadcast along the channels
    return out


def rescale_reason(scheme: str, code: int) -> str:
    """The reference's reason for a failed check (code 1: the scheme's first check, 2: its second)."""
    if scheme == "tflite_double":
        return REASON_LEFT_SHIFT
    if scheme == "tosa_double" and code == 1:
        return REASON_TOSA_VALUE
    return REASON_RESULT


def first_error(errs: np.ndarray, vals: np.ndarray, cat: int) -> tuple[int, int] | None:
    """(flat index, value) of the first error of a category over all blocks (they run in index order)."""
    hits = np.flatnonzero(errs[:, cat] >= 0)
    if hits.size == 0:
        return None
    return int(errs[hits[0], cat]), int(vals[hits[0], cat])


@dataclass(frozen=True, eq=False)
class Epilogue:
    """Accumulator, requantisation, output buffers and error records of one op call."""

    acc: Accumulator
    requant: Requant | None
    name: str
    channels: int
    store_held: bool
    args: tuple  # (cfg, rq, y, held, errs, vals): what the kernel takes as ``out``

    @classmethod
    def build(
        cls, requant: Requant | None, acc: Accumulator, *, channels: int, size: int, return_acc: bool, name: str
    ) -> Epilogue:
        """For ``size`` outputs whose last axis has ``channels`` entries."""
        # The held accumulator is kept when asked for, when it is the output, and when a dyadic/onnx product
        # might not fit 64 bits (then the spec's own rescale finishes the job from it).
        store = return_acc or requant is None or (requant.scheme in WIDE_SCHEMES and acc.bits > 32)
        cfg = np.zeros(nr.CFG_SIZE, dtype=np.int64)
        cfg[nr.CFG_POLICY] = nr.POLICY_CODES[acc.policy]
        cfg[nr.CFG_BITS] = acc.bits
        cfg[nr.CFG_STORE_HELD] = int(store)
        if requant is None:
            rq = np.zeros((3, 1), dtype=np.int64)
        else:
            cfg[nr.CFG_REQUANT] = 1
            cfg[nr.CFG_SCHEME] = nr.SCHEME_CODES[requant.scheme]
            cfg[nr.CFG_ZP], cfg[nr.CFG_LO], cfg[nr.CFG_HI] = requant.zero_point, requant.lo, requant.hi
            rq = rescale_params(requant.multiplier, requant.shift, channels)
        # The kernel always writes int32 outputs and int64 accumulators (cast afterwards), so that it compiles
        # once rather than once per output and accumulator type; unused buffers stay empty.
        y = np.empty(size if requant is not None else 0, dtype=np.int32)
        held = np.empty(size if store else 0, dtype=np.int64)
        blocks = -(-size // nr.BLOCK)
        errs = np.full((blocks, nr.N_CATEGORIES), -1, dtype=np.int64)
        vals = np.zeros((blocks, nr.N_CATEGORIES), dtype=np.int64)
        return cls(acc, requant, name, channels, store, (cfg, rq, y, held, errs, vals))

    @property
    def scheme(self) -> str:
        return self.requant.scheme

    def run(self, ex: np.ndarray) -> None:
        """Hold, rescale and clamp the flat exact sums ``ex`` (int64, C order)."""
        nr.epilogue(ex, self.args)

    def rescale_input(self, values: np.ndarray, multiplier, shift, first_category: int) -> np.ndarray:
        """``add``: rescale one input's flat values with its own parameters and the output's scheme; its errors
        go to this call's records from ``first_category`` on."""
        cfg = np.zeros(nr.CFG_SIZE, dtype=np.int64)
        cfg[nr.CFG_RESCALE_ONLY] = 1
        cfg[nr.CFG_SCHEME] = nr.SCHEME_CODES[self.scheme]
        cfg[nr.CFG_FIRST_CATEGORY] = first_category
        rq = rescale_params(multiplier, shift, self.channels)
        result = np.empty(values.shape[0], dtype=np.int64)
        nr.epilogue(values, (cfg, rq, self.args[2][:0], result, self.args[4], self.args[5]))
        return result

    def raise_errors(self) -> bool:
        """Raise the reference's error, if any; True when the output needs the spec's wide rescale."""
        errs, vals = self.args[4], self.args[5]
        if not np.any(errs >= 0):
            return False
        ordered = (
            (nr.CAT_A1, 1),
            (nr.CAT_A2, 2),
            (nr.CAT_B1, 1),
            (nr.CAT_B2, 2),
            (nr.CAT_OVERFLOW, 0),
            (nr.CAT_R1, 1),
            (nr.CAT_R2, 2),
        )
        for cat, code in ordered:
            hit = first_error(errs, vals, cat)
            if hit is None:
                continue
            if cat == nr.CAT_OVERFLOW:
                raise AccumulatorOverflowError(self.name, hit[0], hit[1], self.acc.bits)
            raise RescaleError(self.scheme, hit[0], hit[1], rescale_reason(self.scheme, code))
        return first_error(errs, vals, nr.CAT_WIDE) is not None

    def conclude(self, shape: tuple[int, ...], return_acc: bool):
        """Raise, or return ``y`` / ``(y, acc)`` with the reference's shapes and types."""
        wide = self.raise_errors()
        y, held = self.args[2], self.args[3]
        held_out = held.reshape(shape).astype(self.acc.dtype, copy=False) if self.store_held else None
        if self.requant is None:
            return (held_out, held_out) if return_acc else held_out
        if wide:
            y_out = self.requant.apply(held_out)
        else:
            y_out = y.reshape(shape).astype(self.requant.out_dtype, copy=False)
        return (y_out, held_out) if return_acc else y_out
