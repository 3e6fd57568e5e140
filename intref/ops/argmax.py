"""Argmax over the last axis after adding an integer offset per class (e.g. CTC's blank offset).

``index = argmax_n (x[..., n] + offset[n])``, computed exactly in int64; ties go to the lowest index.
"""

from __future__ import annotations

import numpy as np

from . import _checks


def check_argmax(x, offset, name):
    x = _checks.int_array(f"{name}: x", x, (np.int8, np.int16, np.int32))
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"{name}: x needs a non-empty last axis, got shape {x.shape}")
    if offset is not None:
        offset = _checks.int_array(f"{name}: offset", offset, (np.int32,), ndim=1)
        if offset.shape[0] != x.shape[-1]:
            raise ValueError(f"{name}: offset has {offset.shape[0]} entries for {x.shape[-1]} classes")


def argmax(x: np.ndarray, offset: np.ndarray | None = None, *, name: str = "argmax") -> np.ndarray:
    """Indices (int32) of the largest ``x + offset`` along the last axis."""
    check_argmax(x, offset, name)
    scores = x.astype(np.int64) if offset is None else x.astype(np.int64) + offset.astype(np.int64)
    return np.asarray(np.argmax(scores, axis=-1)).astype(np.int32)
