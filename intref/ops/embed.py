"""Token embedding with learned positions: rows of an integer table, each rescaled by its own multiplier, plus
the rows of an integer position table.

``y[i, :] = clamp(rescale(table[ids[i], :], multiplier[ids[i]], shift[ids[i]]) + positions_table[pos[i], :])``

The table is the int8 (or packed int4) weight matrix of a tied output projection, quantised per row; the
per-row requantisation maps each row's scale to the output's, so one table serves as both the embedding and the
projection. The position table is already at the output scale. ``requant`` holds the per-row multipliers and
shifts (one per table row), the scheme and the clamp; its zero point must be 0 (the output is symmetric, like
the residual stream it starts). Everything is exact in int64: the rescale is the scheme's, the sum is clamped
once.
"""

from __future__ import annotations

import numpy as np

from ..errors import IntrefInputError
from ..spec import PackedInt4, Requant, rescale
from . import _checks

INDEX_DTYPES = (np.int32,)


def check_embed(ids, positions, table, pos_table, requant: Requant, name: str) -> tuple[int, int]:
    """Validate the arguments; returns (rows of the table, rows of the position table)."""
    ids = _checks.int_array(f"{name}: ids", ids, INDEX_DTYPES, ndim=1)
    positions = _checks.int_array(f"{name}: positions", positions, INDEX_DTYPES, ndim=1)
    if ids.shape != positions.shape:
        raise ValueError(f"{name}: {ids.shape[0]} ids but {positions.shape[0]} positions")
    shape = _checks.weights(f"{name}: table", table, 2, unpack=False).shape
    pos_table = _checks.int_array(f"{name}: positions table", pos_table, (np.int16,), ndim=2)
    if pos_table.shape[1] != shape[1]:
        raise ValueError(f"{name}: position rows have {pos_table.shape[1]} entries, table rows {shape[1]}")
    if not isinstance(requant, Requant):
        raise TypeError(f"{name}: requant must be a Requant")
    if requant.zero_point != 0:
        raise ValueError(f"{name}: the output zero point must be 0, got {requant.zero_point}")
    if requant.channels not in (None, shape[0]):
        raise ValueError(f"{name}: requant has {requant.channels} channels for {shape[0]} table rows")
    for label, values, count in (("id", ids, shape[0]), ("position", positions, pos_table.shape[0])):
        bad = np.flatnonzero((values < 0) | (values >= count))
        if bad.size:
            i = int(bad[0])
            raise IntrefInputError(f"{name}: {label} {int(values[i])} at index {i} is outside [0, {count})")
    return shape[0], pos_table.shape[0]


def table_rows(table, ids: np.ndarray) -> np.ndarray:
    """The int8 rows ``ids`` of an int8 or packed int4 table."""
    if isinstance(table, PackedInt4):  # unpack only the rows asked for
        return PackedInt4(table.data[ids], (ids.shape[0], table.shape[1]), table.narrow).unpack()
    return table[ids]


def embed(
    ids: np.ndarray,
    positions: np.ndarray,
    table: np.ndarray | PackedInt4,
    pos_table: np.ndarray,
    requant: Requant,
    *,
    name: str = "embed",
) -> np.ndarray:
    """Embedding rows of ``ids`` at ``positions`` (int32 [n] each) -> [n, D] of ``requant``'s output type."""
    check_embed(ids, positions, table, pos_table, requant, name)
    rows = table_rows(table, ids).astype(np.int64)
    m = np.broadcast_to(requant.multiplier, (table.shape[0],))[ids]
    s = np.broadcast_to(requant.shift, (table.shape[0],))[ids]
    scaled = rescale(rows.T, m, s, requant.scheme).T  # per-channel parameters run along the last axis: rows of [D, n]
    total = scaled + pos_table[positions].astype(np.int64)
    return np.clip(total, requant.lo, requant.hi).astype(requant.out_dtype)


__all__ = ["check_embed", "embed", "table_rows"]
