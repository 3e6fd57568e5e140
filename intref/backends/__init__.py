"""Backend registry.

``get(name)`` returns a backend: ``numpy`` (the reference), ``native`` (the compiled C core), ``numba``, or
``auto`` (native if it was built, else numba, else numpy). ``get()`` with no name reads ``INTREF_BACKEND``
(default ``auto``). ``cross_check`` runs one op on two backends and reports the first differing element.
"""

from __future__ import annotations

import importlib
import os
import warnings
from dataclasses import dataclass

import numpy as np

from .base import Backend, BackendUnavailable

NAMES: tuple[str, ...] = ("numpy", "native", "numba")
_MODULES = {
    "numpy": ("intref.backends.numpy_backend", "NumpyBackend"),
    "native": ("intref.backends.native", "NativeBackend"),
    "numba": ("intref.backends.numba_backend", "NumbaBackend"),
}
_instances: dict[str, Backend] = {}
_failures: dict[str, str] = {}
_warned_fallback = False


def _load(name: str) -> Backend:
    if name in _instances:
        return _instances[name]
    if name in _failures:
        raise BackendUnavailable(_failures[name])
    module_name, class_name = _MODULES[name]
    try:
        backend = getattr(importlib.import_module(module_name), class_name)()
    except (ImportError, OSError, BackendUnavailable) as exc:
        _failures[name] = f"backend '{name}' is unavailable: {exc}"
        raise BackendUnavailable(_failures[name]) from exc
    _instances[name] = backend
    return backend


def available() -> list[str]:
    """The backends that load on this machine, in the order ``auto`` prefers them."""
    found = []
    for name in ("native", "numba", "numpy"):
        try:
            _load(name)
            found.append(name)
        except BackendUnavailable:
            pass
    return found


def get(name: str | None = None) -> Backend:
    """A backend by name (``numpy``, ``native``, ``numba``, ``auto``); None reads ``INTREF_BACKEND``."""
    global _warned_fallback
    if name is None:
        name = os.environ.get("INTREF_BACKEND", "auto") or "auto"
    if isinstance(name, str):
        name = name.strip().lower()
    if name == "auto":
        try:
            return _load("native")
        except BackendUnavailable as exc:
            if not _warned_fallback:
                _warned_fallback = True
                warnings.warn(f"{exc}; falling back to the numba backend", RuntimeWarning, stacklevel=2)
        try:
            return _load("numba")
        except BackendUnavailable:
            return _load("numpy")
    if name not in _MODULES:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(NAMES)} or auto")
    return _load(name)


@dataclass(frozen=True)
class Mismatch:
    """The first element (C order) at which two backends disagree."""

    op: str
    output: int  # which returned array (0 = y, 1 = accumulator)
    index: tuple[int, ...]
    expected: int
    actual: int
    count: int  # number of differing elements in that array

    def __str__(self) -> str:
        return (
            f"{self.op}: output {self.output} differs at index {self.index}: expected {self.expected}, "
            f"got {self.actual} ({self.count} differing elements)"
        )


def _as_tuple(result) -> tuple:
    return result if isinstance(result, tuple) else (result,)


def compare(op: str, expected, actual) -> Mismatch | None:
    """First differing element between two results of the same op (dtype and shape must match too)."""
    exp_t, act_t = _as_tuple(expected), _as_tuple(actual)
    if len(exp_t) != len(act_t):
        raise AssertionError(f"{op}: returned {len(act_t)} arrays, expected {len(exp_t)}")
    for i, (e, a) in enumerate(zip(exp_t, act_t, strict=True)):
        if e.dtype != a.dtype or e.shape != a.shape:
            raise AssertionError(f"{op}: output {i} is {a.dtype}{a.shape}, expected {e.dtype}{e.shape}")
        diff = e != a
        if np.any(diff):
            flat = int(np.flatnonzero(diff.ravel())[0])
            idx = tuple(int(v) for v in np.unravel_index(flat, e.shape))
            return Mismatch(op, i, idx, int(e[idx]), int(a[idx]), int(diff.sum()))
    return None


def cross_check(op: str, *args, backends: tuple[str, str] = ("numpy", "native"), **kwargs) -> Mismatch | None:
    """Run ``op`` on two backends with the same arguments; None when they agree bit for bit."""
    first, second = (get(b) for b in backends)
    return compare(op, getattr(first, op)(*args, **kwargs), getattr(second, op)(*args, **kwargs))


__all__ = ["NAMES", "Backend", "BackendUnavailable", "Mismatch", "available", "compare", "cross_check", "get"]
