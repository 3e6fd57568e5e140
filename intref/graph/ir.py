"""The graph as data: tensor specs, nodes and the graph document, exactly as they appear in the file's JSON."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FORMAT_VERSION = 1

# Logical dtypes: the NumPy type a tensor has in memory and the storage dtype of a constant in the container.
# int4 lives unpacked in int8 arrays and is stored packed (two values per byte, see intref.spec.int4).
DTYPES: dict[str, tuple[np.dtype, str]] = {
    "int4": (np.dtype(np.int8), "U8"),
    "int8": (np.dtype(np.int8), "I8"),
    "uint8": (np.dtype(np.uint8), "U8"),
    "int16": (np.dtype(np.int16), "I16"),
    "int32": (np.dtype(np.int32), "I32"),
    "int64": (np.dtype(np.int64), "I64"),
    "float32": (np.dtype(np.float32), "F32"),
}
INT_RANGES: dict[str, tuple[int, int]] = {
    "int4": (-8, 7),
    "int8": (-128, 127),
    "uint8": (0, 255),
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
}

Dim = int | str  # a size, or a symbol (e.g. "T") bound when the model runs


def dtype_name(dtype) -> str:
    """The logical name of a NumPy integer/float dtype (never int4, which has no NumPy type)."""
    name = np.dtype(dtype).name
    if name not in DTYPES or name == "int4":
        raise ValueError(f"dtype {name} has no intref logical type")
    return name


@dataclass(frozen=True)
class TensorSpec:
    """A tensor's type and quantisation. Constants have integer shapes; activations may use symbols."""

    name: str
    dtype: str
    shape: tuple[Dim, ...]
    scale: float | tuple[float, ...] | None = None
    zero_point: int | tuple[int, ...] | None = None
    axis: int | None = None  # the channel axis of a per-channel scale / zero point
    narrow: bool = False  # int4 only: values in -7..7 instead of -8..7

    @functools.cached_property
    def np_dtype(self) -> np.dtype:  # read for every tensor of every run
        return DTYPES[self.dtype][0]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dtype": self.dtype, "shape": list(self.shape)}
        out["scale"] = list(self.scale) if isinstance(self.scale, tuple) else self.scale
        out["zero_point"] = list(self.zero_point) if isinstance(self.zero_point, tuple) else self.zero_point
        if self.axis is not None:
            out["axis"] = self.axis
        if self.dtype == "int4":
            out["narrow"] = self.narrow
        return out

    def describe(self) -> str:
        dims = ", ".join(str(d) for d in self.shape)
        return f"{self.dtype}[{dims}]"


@dataclass(frozen=True)
class NodeSpec:
    """One node: an op applied to activation inputs, constant params (by role), attributes and quantisation."""

    name: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    requant: dict[str, Any] | None = None
    acc: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "op": self.op,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "params": dict(self.params),
            "attrs": {k: list(v) if isinstance(v, tuple) else v for k, v in self.attrs.items()},
        }
        if self.requant is not None:
            out["requant"] = dict(self.requant)
        if self.acc is not None:
            out["acc"] = dict(self.acc)
        return out


@dataclass
class GraphSpec:
    """The whole document: metadata, provenance, graph inputs/outputs, tensor specs and nodes in execution order."""

    inputs: list[str]
    outputs: list[str]
    tensors: dict[str, TensorSpec]
    nodes: list[NodeSpec]
    model: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "model": self.model,
            "provenance": self.provenance,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "tensors": {name: spec.to_json() for name, spec in self.tensors.items()},
            "nodes": [n.to_json() for n in self.nodes],
        }
