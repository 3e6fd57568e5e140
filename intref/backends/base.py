"""What a backend is: an object with one method per integer op, each with the signature of :mod:`intref.ops`.

A backend computes exactly what the reference ops compute (same values, same output and accumulator dtypes,
same exception types for the same first offending element). The reference backend *is* :mod:`intref.ops`;
the others are faster implementations of it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..ops import OP_NAMES


@runtime_checkable
class Backend(Protocol):
    name: str

    def linear(self, x, w, bias=None, **kwargs): ...
    def conv1d(self, x, w, bias=None, **kwargs): ...
    def requantize(self, x, requant, **kwargs): ...
    def add(self, a, b, params, **kwargs): ...
    def mul(self, a, b, requant, **kwargs): ...
    def lut(self, x, table, **kwargs): ...
    def clamp(self, x, lo, hi, **kwargs): ...
    def mean_over_time(self, x, requant, **kwargs): ...


class BackendUnavailable(RuntimeError):
    """A backend that cannot run here (not built, dependency missing); the message says why."""


__all__ = ["OP_NAMES", "Backend", "BackendUnavailable"]
