"""Building a model in Python: inputs, constants and nodes; output types are inferred by the node kinds.

b = ModelBuilder("tiny", architecture="demo")
x = b.input("x", "int8", ("T", 16), scale=0.05, zero_point=0)
h = b.node("linear", "fc", [x], "h", params={"w": w, "bias": bias}, requant=Requant(...), scale=0.1)
b.output(h)
model = b.build()   # validated exactly as a loaded file is
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ops import AddParams
from ..spec import Accumulator, PackedInt4, Requant
from .ir import GraphSpec, NodeSpec, TensorSpec, dtype_name
from .model import Model
from .registry import get_kind


def _scale(value):
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else tuple(float(v) for v in arr.ravel())


def _zero_point(value):
    if value is None:
        return None
    arr = np.asarray(value)
    return int(arr) if arr.ndim == 0 else tuple(int(v) for v in arr.ravel())


class ModelBuilder:
    def __init__(
        self,
        name: str,
        *,
        architecture: str = "custom",
        vocabulary: list[str] | None = None,
        frontend: dict | None = None,
        decoder: dict | None = None,
        source: str | None = None,
        source_sha256: str | None = None,
        recipe: dict | None = None,
        **extra: Any,
    ) -> None:
        from .. import __version__

        self.model = {
            "name": name,
            "architecture": architecture,
            "vocabulary": vocabulary,
            "frontend": frontend,
            "decoder": decoder,
            **extra,
        }
        self.provenance = {
            "source": source,
            "source_sha256": source_sha256,
            "recipe": recipe,
            "intref_version": __version__,
        }
        self.tensors: dict[str, TensorSpec] = {}
        self.stored: dict[str, np.ndarray] = {}
        self.constants: dict[str, Any] = {}
        self.nodes: list[NodeSpec] = []
        self.inputs: list[str] = []
        self.outputs: list[str] = []

    def _declare(self, spec: TensorSpec) -> str:
        if spec.name in self.tensors:
            raise ValueError(f"tensor {spec.name!r} is already declared")
        self.tensors[spec.name] = spec
        return spec.name

    def input(self, name: str, dtype: str, shape, *, scale=None, zero_point=None, axis=None) -> str:
        self.inputs.append(name)
        return self._declare(TensorSpec(name, dtype, tuple(shape), _scale(scale), _zero_point(zero_point), axis))

    def constant(self, name: str, value, *, scale=None, zero_point=None, axis=None) -> str:
        """A stored tensor: an integer/float32 array, or a PackedInt4 (stored packed, declared int4)."""
        scale, zero_point = _scale(scale), _zero_point(zero_point)
        if isinstance(scale, tuple) and axis is None:
            axis = 0
        if isinstance(value, PackedInt4):
            spec = TensorSpec(name, "int4", value.shape, scale, zero_point, axis, value.narrow)
            stored = value.data
        else:
            value = np.asarray(value)
            spec = TensorSpec(name, dtype_name(value.dtype), tuple(value.shape), scale, zero_point, axis)
            stored = value
        self._declare(spec)
        self.stored[name] = np.asarray(stored, dtype=stored.dtype.newbyteorder("<"), order="C")
        self.constants[name] = value
        return name

    def _param(self, node: str, role: str, value) -> str:
        return value if isinstance(value, str) else self.constant(f"{node}.{role}", value)

    def node(
        self,
        op: str,
        name: str,
        inputs: list[str],
        output: str | list[str],
        *,
        params: dict | None = None,
        attrs: dict | None = None,
        requant: Requant | AddParams | dict | None = None,
        acc: Accumulator | dict | None = None,
        scale=None,
        zero_point=None,
        axis=None,
        shape=None,
    ) -> str:
        """Add a node; params map roles to tensor names or to arrays (stored as ``<node>.<role>``).

        ``requant`` is a Requant (or AddParams for ``add``), whose multipliers and shifts become constants, or the
        file's own requant object when the params already hold them. ``acc`` is an Accumulator or its dict.
        A kind with several outputs takes a list of output names, and ``scale`` and ``zero_point`` as lists with
        one entry per output; it returns the list of names.
        """
        if not isinstance(output, str):
            outputs = list(output)
            n = len(outputs)
            scales = [None] * n if scale is None else list(scale)
            zero_points = [None] * n if zero_point is None else list(zero_point)
            if len(scales) != n or len(zero_points) != n:
                raise ValueError(f"node {name!r}: give one scale and one zero point per output")
        else:
            outputs, scales, zero_points = [output], [scale], [zero_point]
        kind = get_kind(op)
        for out in outputs:
            if out in self.tensors:
                raise ValueError(f"tensor {out!r} is already declared")
        attrs = dict(attrs or {})
        params = {role: self._param(name, role, v) for role, v in (params or {}).items()}
        requant_json = None
        if isinstance(requant, AddParams):
            attrs.update(a_zp=requant.a_zp, b_zp=requant.b_zp, left_shift=requant.left_shift)
            for side in ("a", "b"):
                for part in ("multiplier", "shift"):
                    value = np.asarray(getattr(requant, f"{side}_{part}"), dtype=np.int32)
                    params[f"{side}_{part}"] = self.constant(f"{name}.{side}_{part}", value)
            requant = requant.out
        if isinstance(requant, Requant):
            params["multiplier"] = self.constant(f"{name}.multiplier", requant.multiplier.astype(np.int32))
            params["shift"] = self.constant(f"{name}.shift", requant.shift.astype(np.int32))
            requant_json = {
                "scheme": requant.scheme,
                "zero_point": requant.zero_point,
                "lo": requant.lo,
                "hi": requant.hi,
            }
        elif requant is not None:  # the file's own form: multiplier and shift are already among the params
            requant_json = dict(requant)
        for key, spec in kind.attrs.items():
            attrs.setdefault(key, spec.default)
        attrs = {k: list(v) if isinstance(v, tuple) else v for k, v in attrs.items()}
        if acc is None and kind.accumulates:
            acc = Accumulator()
        if isinstance(acc, Accumulator):
            acc = {"policy": acc.policy, "bits": int(acc.bits)}
        acc_json = dict(acc) if acc is not None else None
        spec = NodeSpec(name, op, tuple(inputs), tuple(outputs), params, attrs, requant_json, acc_json)
        bound = kind.bind(len(self.nodes), spec, self.constants, self.tensors)
        inferred_outputs = kind.infer(bound, [self.tensors[t] for t in inputs])
        declared = zip(outputs, inferred_outputs, scales, zero_points, strict=True)
        for out, (dtype, inferred), out_scale, out_zp in declared:
            out_shape = shape
            if out_shape is None:
                if any(d is None for d in inferred):
                    raise ValueError(f"node {name!r}: the output length depends on the input's; pass shape=")
                out_shape = inferred
            if out_zp is None:
                if requant_json is not None:
                    out_zp = requant_json["zero_point"]
                elif op == "clamp":
                    out_zp = self.tensors[inputs[0]].zero_point
            if out_scale is None and op == "clamp":
                out_scale = self.tensors[inputs[0]].scale
            self._declare(TensorSpec(out, dtype, tuple(out_shape), _scale(out_scale), _zero_point(out_zp), axis))
        self.nodes.append(spec)
        return output if isinstance(output, str) else outputs

    def output(self, *names: str) -> None:
        self.outputs.extend(names)

    def build(self) -> Model:
        graph = GraphSpec(self.inputs, self.outputs, self.tensors, self.nodes, self.model, self.provenance)
        return Model.from_parts(graph.to_json(), dict(self.stored))
