"""Node kinds, registered by op name.

A node kind knows one op's contract in a graph: its activation inputs, its constant params (by role), its
attributes, whether it has a requantisation and an accumulator. It binds a node to ready-to-call arguments
(checking every parameter), infers the type of its outputs, and calls the op on a backend. Later ops
(layernorm, softmax, attention, argmax, ...) register themselves the same way::

    @register
    class Argmax(NodeKind):
        op = "argmax"
        ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..errors import IntrefFormatError, show
from ..spec import Accumulator, PackedInt4, Requant
from .ir import INT_RANGES, Dim, NodeSpec, TensorSpec

Shape = tuple[Dim | None, ...]  # None: not known before the model runs
MAX_ATTR_ITEMS = 64  # list attributes hold per-axis values (shapes, permutations, paddings): more is corruption


@dataclass(frozen=True)
class Attr:
    """An integer attribute (``kind="int"``), a pair of them (``kind="pair"``) or a list of any length
    (``kind="ints"``, e.g. a permutation or a shape), each value within inclusive bounds."""

    kind: str = "int"
    default: Any = 0
    lo: int = -(2**31)
    hi: int = 2**31 - 1

    def parse(self, name: str, value) -> Any:
        listed = self.kind in ("pair", "ints")
        items = value if listed else [value]
        if self.kind == "pair" and not (isinstance(value, (list, tuple)) and len(value) == 2):
            raise ValueError(f"attribute {name} must be a pair of integers, got {show(value)}")
        if self.kind == "ints" and not (isinstance(value, (list, tuple)) and len(value) <= MAX_ATTR_ITEMS):
            raise ValueError(f"attribute {name} must be a list of at most {MAX_ATTR_ITEMS} integers, got {show(value)}")
        for v in items:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not self.lo <= v <= self.hi:
                raise ValueError(f"attribute {name} = {show(value)} must hold integers in [{self.lo}, {self.hi}]")
        return tuple(int(v) for v in items) if listed else int(value)


@dataclass
class BoundNode:
    """A node bound to its constants: everything needed to call the op, checked once at load time."""

    index: int
    spec: NodeSpec
    kind: NodeKind
    attrs: dict[str, Any]
    consts: dict[str, np.ndarray | PackedInt4]  # role -> value (int4 weights stay packed)
    requant: Requant | None = None
    acc: Accumulator | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # kind-specific prepared objects (e.g. AddParams)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def op(self) -> str:
        return self.spec.op


class NodeKind:
    """Base class of node kinds; subclasses set the class attributes and override ``infer`` and ``call``."""

    op: ClassVar[str] = ""
    inputs: ClassVar[tuple[str, ...]] = ("x",)  # activation roles, in order
    outputs: ClassVar[tuple[str, ...]] = ("y",)  # output roles, in order
    params: ClassVar[tuple[str, ...]] = ()  # required constant roles
    optional_params: ClassVar[tuple[str, ...]] = ()
    attrs: ClassVar[dict[str, Attr]] = {}
    requant: ClassVar[str] = "none"  # "none", "optional" or "required"
    accumulates: ClassVar[bool] = False

    # --- binding (load time) ---

    def bind(self, index: int, node: NodeSpec, consts: dict, tensors: dict[str, TensorSpec]) -> BoundNode:
        """Check the node's shape of arguments and build its op arguments; ValueError/TypeError name the problem."""
        if len(node.inputs) != len(self.inputs):
            raise ValueError(
                f"{self.op} takes {len(self.inputs)} inputs ({', '.join(self.inputs)}), got {len(node.inputs)}"
            )
        if len(node.outputs) != len(self.outputs):
            count = "one output" if len(self.outputs) == 1 else f"{len(self.outputs)} outputs"
            raise ValueError(f"{self.op} has {count} ({', '.join(self.outputs)}), got {len(node.outputs)}")
        roles = set(self.params) | set(self.optional_params)
        if self.requant != "none":
            roles |= {"multiplier", "shift"}
        unknown = set(node.params) - roles
        if unknown:
            raise ValueError(f"{self.op} has no params {sorted(show(r) for r in unknown)} (known: {sorted(roles)})")
        missing = set(self.params) - set(node.params)
        if missing:
            raise ValueError(f"{self.op} needs the params {sorted(missing)}")
        unknown_attrs = set(node.attrs) - set(self.attrs)
        if unknown_attrs:
            raise ValueError(f"{self.op} has no attributes {sorted(show(a) for a in unknown_attrs)}")
        missing_attrs = set(self.attrs) - set(node.attrs)
        if missing_attrs:
            raise ValueError(f"{self.op} needs the attributes {sorted(missing_attrs)}")
        attrs = {k: spec.parse(k, node.attrs[k]) for k, spec in self.attrs.items()}
        bound = BoundNode(index, node, self, attrs, {r: consts[t] for r, t in node.params.items()})
        bound.requant = self._requant(node, bound)
        bound.acc = self._acc(node)
        self.prepare(bound, {r: tensors[t] for r, t in node.params.items()})
        return bound

    def _requant(self, node: NodeSpec, bound: BoundNode) -> Requant | None:
        has_params = "multiplier" in node.params or "shift" in node.params
        if node.requant is None:
            if self.requant == "required":
                raise ValueError(f"{self.op} needs a requant")
            if has_params:
                raise ValueError("multiplier/shift params given without a requant")
            return None
        if self.requant == "none":
            raise ValueError(f"{self.op} has no requant")
        raw = node.requant
        if set(raw) != {"scheme", "zero_point", "lo", "hi"}:
            raise ValueError(f"requant must have exactly the fields scheme, zero_point, lo, hi; got {sorted(raw)}")
        if not isinstance(raw["scheme"], str):
            raise ValueError(f"requant scheme must be a string, got {show(raw['scheme'])}")
        m = self.int_param(bound, "multiplier", ("int32",), max_ndim=1)
        s = self.int_param(bound, "shift", ("int32",), max_ndim=1)
        return Requant(raw["scheme"], m, s, raw["zero_point"], raw["lo"], raw["hi"])

    def _acc(self, node: NodeSpec) -> Accumulator | None:
        if not self.accumulates:
            if node.acc is not None:
                raise ValueError(f"{self.op} has no accumulator")
            return None
        raw = node.acc
        if raw is None or set(raw) != {"policy", "bits"}:
            raise ValueError("acc must be given with exactly the fields policy and bits")
        return Accumulator(raw["policy"], raw["bits"])

    def int_param(
        self, bound: BoundNode, role: str, dtypes: tuple[str, ...], max_ndim: int | None = None, ndim: int | None = None
    ):
        """A constant param by role, checked for its logical dtype (int4 params are PackedInt4) and rank."""
        if role not in bound.spec.params:
            raise ValueError(f"{self.op} needs the param {role!r}")
        value = bound.consts[role]
        logical = "int4" if isinstance(value, PackedInt4) else value.dtype.name
        if logical not in dtypes:
            raise ValueError(f"param {role!r} must be {' or '.join(dtypes)}, got {logical}")
        rank = len(value.shape)
        if (ndim is not None and rank != ndim) or (max_ndim is not None and rank > max_ndim):
            want = f"{ndim} dimensions" if ndim is not None else f"at most {max_ndim} dimensions"
            raise ValueError(f"param {role!r} must have {want}, got shape {list(value.shape)}")
        return value

    def prepare(self, bound: BoundNode, param_specs: dict[str, TensorSpec]) -> None:
        """Kind-specific checks of params and attributes, and prepared call arguments in ``bound.extra``."""

    # --- typing ---

    def infer(self, bound: BoundNode, inputs: list[TensorSpec]) -> list[tuple[str, Shape]]:
        """The dtype and shape of each output, given the declared input specs."""
        raise NotImplementedError

    # --- running ---

    def call(self, backend, bound: BoundNode, args: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray | None]:
        """Run the op on ``backend``: the outputs and the accumulator before rescale (None if there is none)."""
        raise NotImplementedError

    def runtime_params(self, bound: BoundNode, args: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Parameters derived when the node runs (e.g. the multiplier divided by T), for golden vectors."""
        return {}


_KINDS: dict[str, NodeKind] = {}


def register(cls: type[NodeKind]) -> type[NodeKind]:
    """Class decorator: make ``cls`` the node kind of ``cls.op``."""
    if not cls.op:
        raise ValueError(f"{cls.__name__} has no op name")
    if cls.op in _KINDS:
        raise ValueError(f"node kind {cls.op!r} is already registered")
    _KINDS[cls.op] = cls()
    return cls


def get_kind(op: str) -> NodeKind:
    try:
        return _KINDS[op]
    except KeyError:
        raise IntrefFormatError(f"unknown op {show(op)} (known: {', '.join(sorted(_KINDS))})") from None


def kinds() -> list[str]:
    return sorted(_KINDS)


# --- shape helpers shared by node kinds ---


def check_zero_point(name: str, value: int, dtype: str) -> None:
    lo, hi = INT_RANGES[dtype]
    if not lo <= value <= hi:
        raise ValueError(f"{name} = {value} is outside the {dtype} range [{lo}, {hi}]")


def need_dtype(role: str, spec: TensorSpec, allowed: tuple[str, ...], op: str) -> None:
    if spec.dtype not in allowed:
        raise ValueError(f"input {role} ({spec.name!r}) is {spec.dtype}; {op} takes {' or '.join(allowed)}")


def need_rank(role: str, spec: TensorSpec, rank: int, op: str) -> None:
    if len(spec.shape) != rank:
        raise ValueError(f"input {role} ({spec.name!r}) has shape {list(spec.shape)}; {op} needs {rank} dimensions")


def dims_agree(a: Dim | None, b: Dim | None) -> bool:
    """Whether two dimensions can be equal (symbols and unknowns are settled at run time)."""
    return not (isinstance(a, int) and isinstance(b, int) and a != b)


def broadcast(a: tuple, b: tuple) -> Shape:
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == y:
            out.append(x)
        elif x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif isinstance(x, int) and isinstance(y, int):
            raise ValueError(f"input shapes {list(a)} and {list(b)} do not broadcast")
        else:
            out.append(x if isinstance(x, int) else y if isinstance(y, int) else None)
    return tuple(reversed(out))


def output_matches(inferred: Shape, declared: tuple) -> bool:
    if len(inferred) != len(declared):
        return False
    return all(i is None or i == d for i, d in zip(inferred, declared, strict=True))
