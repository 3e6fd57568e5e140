"""Table lookup: an int8 input indexes a 256-entry table at ``x + 128``, an int16 input a 65536-entry table at
``x + 32768``. Any int8 -> int8 function (SiLU, GELU, sigmoid, tanh at fixed scales) is exact this way."""

from __future__ import annotations

import numpy as np

from . import _checks

TABLE_SIZE = {np.int8: 256, np.int16: 65536}


def check_lut(x, table, name):
    x = _checks.int_array(f"{name}: x", x, (np.int8, np.int16))
    table = _checks.int_array(f"{name}: table", table, (np.int8, np.int16), ndim=1)
    size = TABLE_SIZE[x.dtype.type]
    if table.shape[0] != size:
        raise ValueError(f"{name}: a {x.dtype} input needs a table of {size} entries, got {table.shape[0]}")


def lut(x: np.ndarray, table: np.ndarray, *, name: str = "lut") -> np.ndarray:
    """``table[x - min(x.dtype)]``, in the table's type."""
    check_lut(x, table, name)
    offset = -int(np.iinfo(x.dtype).min)
    return table[x.astype(np.int64) + offset]
