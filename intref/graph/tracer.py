"""Tracer hooks: what the interpreter reports after each node.

A hook is any callable taking a :class:`NodeRecord`. It may return replacement outputs (same dtypes and shapes)
to inject a fault, e.g. to see how a flipped bit propagates; returning None leaves the outputs alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .registry import BoundNode


@dataclass(frozen=True)
class NodeRecord:
    """One node's run: its inputs, the accumulator before rescale (None for ops without one) and its outputs."""

    node: BoundNode
    inputs: tuple[np.ndarray, ...]
    acc: np.ndarray | None
    outputs: tuple[np.ndarray, ...]
    runtime_params: dict[str, np.ndarray]  # parameters derived at run time (e.g. mean_over_time's 1/T multiplier)

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def index(self) -> int:
        return self.node.index


class Tracer:
    """Collects a record per node, in execution order; ``tracer["name"]`` finds one by node name."""

    def __init__(self) -> None:
        self.records: list[NodeRecord] = []

    def __call__(self, record: NodeRecord) -> None:
        self.records.append(record)

    def __getitem__(self, name: str) -> NodeRecord:
        for r in self.records:
            if r.name == name:
                return r
        raise KeyError(name)

    def __iter__(self):
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)
