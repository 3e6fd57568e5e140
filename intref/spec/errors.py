"""Arithmetic errors raised by the integer spec (and by every backend, which must agree with it)."""

from __future__ import annotations


class IntrefError(Exception):
    """Base class of every error intref raises on purpose."""


class AccumulatorOverflowError(IntrefError, OverflowError):
    """An accumulator left its declared width under the ``error`` overflow policy."""

    def __init__(self, op: str, index: int, value: int, bits: int) -> None:
        self.op, self.index, self.value, self.bits = op, int(index), int(value), int(bits)
        super().__init__(
            f"{op}: accumulator overflow at flat index {self.index}: exact value {self.value} "
            f"does not fit in {self.bits} bits (policy 'error'; choose 'wrap' or 'saturate' to emulate hardware)"
        )


class RescaleError(IntrefError, ArithmeticError):
    """A rescale scheme's own range requirement failed for one element (e.g. a TOSA REQUIRE)."""

    def __init__(self, scheme: str, index: int, value: int, reason: str) -> None:
        self.scheme, self.index, self.value, self.reason = scheme, int(index), int(value), reason
        super().__init__(f"rescale '{scheme}': element {self.index} (value {self.value}): {reason}")
