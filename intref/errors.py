"""Every error intref raises on purpose derives from :class:`IntrefError`.

The arithmetic errors live in :mod:`intref.spec.errors` (spec/ imports nothing of ours) and are re-exported here
beside the errors of the model file, the interpreter and the golden vectors.
"""

from __future__ import annotations

from .spec.errors import AccumulatorOverflowError, IntrefError, RescaleError


def show(value: object, limit: int = 60) -> str:
    """A short repr for messages about untrusted input (a corrupt file may hold very long names)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class IntrefFormatError(IntrefError, ValueError):
    """A model file (or a document inside it) is malformed; the message names the node or tensor and the problem."""

    def __init__(
        self, problem: str, *, node: str | None = None, tensor: str | None = None, source: str | None = None
    ) -> None:
        self.problem, self.node, self.tensor, self.source = problem, node, tensor, source
        where = []
        if source:
            where.append(str(source))
        if node is not None:
            where.append(f"node {show(node)}")
        if tensor is not None:
            where.append(f"tensor {show(tensor)}")
        super().__init__(": ".join([*where, problem]))

    def with_source(self, source: str) -> IntrefFormatError:
        """The same error, naming the file it came from."""
        return IntrefFormatError(self.problem, node=self.node, tensor=self.tensor, source=source)


class IntrefInputError(IntrefError, ValueError):
    """Inputs given to a model (or to a command) do not match what it declares."""


class NodeError(IntrefError, RuntimeError):
    """A node failed at run time for a reason the file could not rule out (e.g. a shape only known at run time)."""

    def __init__(self, node: str, op: str, problem: str) -> None:
        self.node, self.op, self.problem = node, op, problem
        super().__init__(f"node {show(node)} ({op}): {problem}")


class BackendMismatchError(IntrefError, AssertionError):
    """Two backends disagree on a node (``check=`` mode): the first differing element, with both values."""

    def __init__(
        self,
        node: str,
        op: str,
        tensor: str,
        backends: tuple[str, str],
        index: tuple[int, ...] | None,
        values: tuple[object, object],
        count: int,
        detail: str = "",
    ) -> None:
        self.node, self.op, self.tensor, self.backends = node, op, tensor, backends
        self.index, self.values, self.count = index, values, count
        a, b = backends
        if index is None:
            message = f"node {show(node)} ({op}): {tensor}: {detail or f'{a} gives {values[0]}, {b} gives {values[1]}'}"
        else:
            message = (
                f"node {show(node)} ({op}): {tensor} differs at index {index}: {a} gives {values[0]}, "
                f"{b} gives {values[1]} ({count} differing elements)"
            )
        super().__init__(message)


class VectorsError(IntrefError, ValueError):
    """A golden-vector directory or a device dump is malformed or incomplete."""


__all__ = [
    "AccumulatorOverflowError",
    "BackendMismatchError",
    "IntrefError",
    "IntrefFormatError",
    "IntrefInputError",
    "NodeError",
    "RescaleError",
    "VectorsError",
    "show",
]
