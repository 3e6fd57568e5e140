"""Packed 4-bit integers.

Layout (ONNX INT4, TFLite/TFLM, CMSIS-NN s4 and TOSA serialization agree): element 2i sits in the low nibble of
byte i, element 2i+1 in the high nibble; an odd count is padded with a zero nibble. Unpacking sign-extends each
nibble (``(int8)(b << 4) >> 4`` for the low one, ``(int8)b >> 4`` for the high one).

Ranges: ``narrow`` is -7..7 (TOSA), full is -8..7 (ONNX, TFLite, CMSIS-NN). Packing a value outside the chosen
range is an error, never a silent wrap.

A weight tensor of logical shape ``(N, ...)`` is packed row by row: each of its N rows (everything after the
first axis, flattened in C order) starts on a byte boundary, so a kernel can unpack one output channel or a
panel of them without touching its neighbours. A 1-D tensor is a single row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def int4_range(narrow: bool) -> tuple[int, int]:
    return (-7, 7) if narrow else (-8, 7)


def pack_nibbles(values, narrow: bool = False) -> np.ndarray:
    """Pack a 1-D sequence of int4 values into ``ceil(n / 2)`` bytes (uint8)."""
    v = np.asarray(values)
    if v.ndim != 1:
        raise ValueError(f"pack_nibbles expects a 1-D array, got shape {v.shape}")
    if not np.issubdtype(v.dtype, np.integer):
        raise ValueError(f"int4 values must be integers, got dtype {v.dtype}")
    lo, hi = int4_range(narrow)
    bad = (v < lo) | (v > hi)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"int4 value {int(v[i])} at index {i} is outside [{lo}, {hi}]")
    nib = (v.astype(np.int64) & 0xF).astype(np.uint8)
    if nib.size % 2:
        nib = np.append(nib, np.uint8(0))
    return (nib[0::2] | (nib[1::2] << 4)).astype(np.uint8)


def unpack_nibbles(packed, count: int) -> np.ndarray:
    """Unpack ``count`` int4 values (int8) from the bytes of :func:`pack_nibbles`."""
    b = np.asarray(packed)
    if b.dtype != np.uint8 or b.ndim != 1:
        raise ValueError(f"packed int4 data must be a 1-D uint8 array, got {b.dtype} {b.shape}")
    if b.size != (count + 1) // 2:
        raise ValueError(f"{count} int4 values need {(count + 1) // 2} bytes, got {b.size}")
    signed = b.view(np.int8)
    low = (signed << 4) >> 4  # arithmetic shift sign-extends the low nibble
    high = signed >> 4
    out = np.empty(2 * b.size, dtype=np.int8)
    out[0::2], out[1::2] = low, high
    return out[:count]


@dataclass(frozen=True, eq=False)
class PackedInt4:
    """An int4 tensor packed row by row: ``data`` is uint8 of shape ``(rows, ceil(row_len / 2))``."""

    data: np.ndarray
    shape: tuple[int, ...]
    narrow: bool = False

    def __post_init__(self) -> None:
        shape = tuple(int(d) for d in self.shape)
        object.__setattr__(self, "shape", shape)
        if not shape or any(d < 0 for d in shape):
            raise ValueError(f"PackedInt4: invalid logical shape {shape}")
        rows, row_len = rows_and_length(shape)
        expected = (rows, (row_len + 1) // 2)
        if self.data.dtype != np.uint8 or self.data.shape != expected:
            raise ValueError(
                f"PackedInt4: logical shape {shape} needs uint8 data of shape {expected}, "
                f"got {self.data.dtype} {self.data.shape}"
            )
        if self.narrow and self.data.size:
            # -8 (nibble 0x8) is the one value the narrow range excludes; padding nibbles are zero.
            if np.any((self.data & 0x0F) == 0x08) or np.any((self.data >> 4) == 0x08):
                raise ValueError("PackedInt4: narrow-range tensor holds -8")
        if row_len % 2 and self.data.size and np.any(self.data[:, -1] >> 4):
            raise ValueError("PackedInt4: padding nibble of an odd-length row is not zero")

    @property
    def rows(self) -> int:
        return rows_and_length(self.shape)[0]

    @property
    def row_len(self) -> int:
        return rows_and_length(self.shape)[1]

    def unpack(self) -> np.ndarray:
        """The int8 tensor of the logical shape."""
        rows, row_len = rows_and_length(self.shape)
        if rows == 0 or row_len == 0:
            return np.zeros(self.shape, dtype=np.int8)
        signed = self.data.view(np.int8)
        out = np.empty((rows, 2 * self.data.shape[1]), dtype=np.int8)
        out[:, 0::2] = (signed << 4) >> 4
        out[:, 1::2] = signed >> 4
        return out[:, :row_len].reshape(self.shape)


def rows_and_length(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 1:
        return 1, shape[0]
    return shape[0], int(np.prod(shape[1:], dtype=np.int64))


def pack_int4(values, narrow: bool = False) -> PackedInt4:
    """Pack an integer tensor (values in the int4 range) row by row."""
    v = np.asarray(values)
    if v.ndim == 0:
        raise ValueError("pack_int4 needs at least one dimension")
    if not np.issubdtype(v.dtype, np.integer):
        raise ValueError(f"int4 values must be integers, got dtype {v.dtype}")
    lo, hi = int4_range(narrow)
    bad = (v < lo) | (v > hi)
    if np.any(bad):
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"int4 value {int(v.ravel()[i])} at flat index {i} is outside [{lo}, {hi}]")
    rows, row_len = rows_and_length(v.shape)
    flat = v.reshape(rows, row_len).astype(np.int64) & 0xF
    if row_len % 2:
        flat = np.concatenate([flat, np.zeros((rows, 1), dtype=np.int64)], axis=1)
    data = (flat[:, 0::2] | (flat[:, 1::2] << 4)).astype(np.uint8)
    return PackedInt4(data, v.shape, narrow)
