"""The float network as a graph of named tensors, one node per future integer node.

A model builder (e.g. :mod:`intref.models.hama.integer`) describes a network once as an :class:`FGraph`; the
same description is run in float32 to calibrate (every tensor can be observed by name) and lowered node by node
to an integer graph (:mod:`intref.quantize.lower`), whose tensors carry the same names. So a float activation and
its integer counterpart are always found under one name, which is what per-layer error analysis needs.

``rescale`` is the identity in float: it marks where the integer graph requantises a tensor (e.g. the int16
residual stream to int8 for a convolution), with its own range and optionally per-channel factors.

Each node has one output, named like the node, and an output kind that says how it is held in integers:

``f32``    the float graph input (before ``quantize``)
``a8``     int8 with a zero point (asymmetric), range from calibration
``s8``     int8, zero point 0 (attention q, k, v: ``matmul`` takes its second operand without a zero point)
``s16``    int16, zero point 0 (residual stream, logits)
``p8``     softmax probability: int8 at scale 1/255, zero point -128, or 15-bit int16 (``probability_bits``)
``acc``    the raw int32 accumulator of a ``matmul`` (attention scores), scale = product of the input scales
``index``  int32 class index (``argmax``)
``lut``    int8 output of a lookup table on an int8 input, range = the function's image of the input's grid (no
           calibration). An activation of an int16 input is computed as a product instead (see ``lower``) and has
           a calibrated output kind (``a8`` or ``s16``).
``same``   data movement: the input's own quantisation

A graph has one main input (float32 ``[t, C]`` for the acoustic models, where the integer region starts at its
``quantize`` node; int32 token ids for a decoder) and optionally more (:class:`FInput`): int32 indices (positions)
or float tensors held like one of the graph's own tensors (a decoder's key/value cache is held like the keys and
values it came from). ``run`` then takes a dict of all inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..models.hama.layers import gelu, gelu_erf, layer_norm, sigmoid, silu, softmax

OUT_KINDS = ("f32", "a8", "s8", "s16", "p8", "acc", "index", "lut", "same")
OPS = (
    "quantize",
    "embed",
    "concat_rows",
    "tail_rows",
    "rescale",
    "conv1d",
    "linear",
    "layernorm",
    "lut",
    "add",
    "mul",
    "mean",
    "slice",
    "concat",
    "transpose",
    "matmul",
    "softmax",
    "argmax",
)
WEIGHT_OPS = ("conv1d", "linear")
FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "gelu": gelu,
    "gelu_erf": gelu_erf,
    "silu": silu,
    "sigmoid": sigmoid,
}
# Ops without weights that can scale their output channels in their requantisation (see FGraph.equalize).
SCALABLE = ("mean", "mul", "rescale")
# Kinds whose range comes from calibration.
CALIBRATED = ("a8", "s8", "s16")
F32 = np.float32


@dataclass
class FNode:
    """One float node: ``op`` of ``inputs`` with float ``params`` and ``attrs``; its output kind is ``out``."""

    name: str
    op: str
    inputs: tuple[str, ...]
    out: str
    params: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"float node {self.name!r}: unknown op {self.op!r}")
        if self.out not in OUT_KINDS:
            raise ValueError(f"float node {self.name!r}: unknown output kind {self.out!r}")
        self.inputs = tuple(self.inputs)

    @property
    def has_weights(self) -> bool:
        return self.op in WEIGHT_OPS

    @property
    def calibrated(self) -> bool:
        """Whether the output's range is chosen from calibration statistics."""
        return (
            self.out in CALIBRATED
            and self.op not in ("slice", "transpose", "softmax")
            and "range_of" not in self.attrs  # takes another tensor's range (e.g. attention heads: their concat's)
        )


@dataclass(frozen=True)
class FInput:
    """A further graph input: int32 indices (``like`` None) or a float tensor held like the tensor ``like``."""

    name: str
    dtype: str  # "int32" or "float32"
    shape: tuple[Any, ...]
    like: str | None = None

    def __post_init__(self) -> None:
        if (self.dtype == "float32") != (self.like is not None) or self.dtype not in ("int32", "float32"):
            raise ValueError(f"graph input {self.name!r}: int32 indices, or float32 held like a graph tensor")


@dataclass
class FGraph:
    """A float network: the main input ``input`` (float32 ``[t, C]`` time-major, or int32 ids), nodes in execution
    order, named outputs, and optionally further inputs."""

    input: str
    input_shape: tuple[Any, ...]
    nodes: list[FNode] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # model metadata for the integer graph
    input_dtype: str = "float32"
    extra_inputs: list[FInput] = field(default_factory=list)

    @property
    def input_names(self) -> list[str]:
        return [self.input, *(i.name for i in self.extra_inputs)]

    def add(self, name: str, op: str, inputs: Iterable[str], out: str, **kw) -> str:
        if name in self.input_names or any(n.name == name for n in self.nodes):
            raise ValueError(f"float graph: name {name!r} is used twice")
        params = {k: np.asarray(v, dtype=F32) for k, v in kw.pop("params", {}).items()}
        self.nodes.append(FNode(name, op, tuple(inputs), out, params, kw))
        return name

    def node(self, name: str) -> FNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def weight_layers(self) -> list[FNode]:
        return [n for n in self.nodes if n.has_weights]

    def consumers(self) -> dict[str, list[FNode]]:
        out: dict[str, list[FNode]] = {}
        for n in self.nodes:
            for t in n.inputs:
                out.setdefault(t, []).append(n)
        return out

    def copy(self) -> FGraph:
        return copy.deepcopy(self)

    def equalize(self, name: str, log2_scale: Iterable[int]) -> None:
        """Scale channel ``c`` of tensor ``name`` by ``r_c = 2^log2_scale[c]`` and its consumers' weights by ``1/r_c``.

        The network computes the same function (exactly: powers of two), but the tensor's channels get similar
        ranges, so one int8 scale serves them all. The producer takes ``r`` into its weights and bias (linear,
        conv1d, layernorm) or into its requantisation (``channel_scale``: mean, mul, rescale); every consumer must
        be a linear or conv1d layer, which divides the matching input columns by ``r``.
        """
        r = np.exp2(np.asarray(list(log2_scale), dtype=np.float64)).astype(F32)
        node = self.node(name)
        consumers = self.consumers().get(name, [])
        if not consumers or any(c.op not in WEIGHT_OPS for c in consumers) or name in self.outputs:
            raise ValueError(f"cannot equalize {name!r}: every consumer must be a linear or conv1d layer")
        p = node.params
        if node.op in ("linear", "conv1d"):
            shape = (-1,) + (1,) * (p["w"].ndim - 1)
            p["w"] = p["w"] * r.reshape(shape)
            p["b"] = p["b"] * r
        elif node.op == "layernorm":
            p["gamma"], p["beta"] = p["gamma"] * r, p["beta"] * r
        elif node.op in SCALABLE or (node.op == "lut" and node.out != "lut"):  # a gated activation ends in a mul
            old = node.attrs.get("channel_scale")
            node.attrs["channel_scale"] = r if old is None else (old * r).astype(F32)
        else:
            raise ValueError(f"cannot equalize {name!r}: its op {node.op!r} cannot scale its channels")
        for c in consumers:
            w = c.params["w"]
            if c.op == "linear":
                c.params["w"] = w / r[None, :]
            elif c.attrs["groups"] == 1:
                c.params["w"] = w / r[None, :, None]
            else:
                c.params["w"] = w / r[:, None, None]

    def parameter_count(self) -> int:
        """Learned float parameters (weights, biases, norm scales and shifts)."""
        return sum(
            int(p.size)
            for n in self.nodes
            for k, p in n.params.items()
            if k != "offset" and not (k == "table" and "tied_to" in n.attrs)  # a tied table is counted once
        )

    def run(self, x, observe: Callable[[FNode, list[np.ndarray], np.ndarray], Any] | None = None):
        """Float32 forward pass of input ``x`` (a dict of every input when there are several); returns
        ``{output name: array}``.

        ``observe(node, inputs, output)`` is called after every node (for calibration and error analysis); if it
        returns an array, that replaces the node's output (to simulate the quantisation of one tensor).
        Intermediate tensors are freed after their last use.
        """
        env = self.input_values(x)
        last = {}
        for i, n in enumerate(self.nodes):
            for t in n.inputs:
                last[t] = i
        for i, n in enumerate(self.nodes):
            args = [env[t] for t in n.inputs]
            y = evaluate(n, args)
            if observe is not None:
                replaced = observe(n, args, y)
                if replaced is not None:
                    y = replaced
            env[n.name] = y
            for t in n.inputs:
                if last.get(t) == i and t not in self.outputs:
                    env.pop(t, None)
        return {t: env[t] for t in self.outputs}

    def input_values(self, x) -> dict[str, np.ndarray]:
        """``{input name: array}`` from the main input alone or a dict of every input, in their dtypes."""
        values = x if isinstance(x, dict) else {self.input: x}
        if set(values) != set(self.input_names):
            raise ValueError(f"float graph: inputs {sorted(values)} given, {self.input_names} expected")
        dtypes = {self.input: self.input_dtype, **{i.name: i.dtype for i in self.extra_inputs}}
        return {k: np.ascontiguousarray(v, dtype=dtypes[k]) for k, v in values.items()}

    def rows(self, x) -> int:
        """Rows (time steps or tokens) of the main input in ``x``."""
        return int(np.shape(x[self.input] if isinstance(x, dict) else x)[0])


def conv1d_float(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, dilation: int, padding, groups: int):
    """Time-major float conv1d: x [T, C_in], w [C_out, C_in/groups, k] -> [T_out, C_out] (zero padding)."""
    c_out, c_in_g, k = w.shape
    left, right = padding
    t_out = (x.shape[0] + left + right - dilation * (k - 1) - 1) // stride + 1
    xp = np.pad(x, ((left, right), (0, 0)))
    taps = np.arange(max(t_out, 0))[:, None] * stride + np.arange(k)[None, :] * dilation
    windows = xp[taps]  # [T_out, k, C_in]
    if groups == 1:
        cols = windows.transpose(0, 2, 1).reshape(windows.shape[0], -1)
        y = cols @ w.reshape(c_out, -1).T
    else:
        y = np.zeros((windows.shape[0], c_out), dtype=F32)
        for j in range(k):
            y += windows[:, j, :] * w[:, 0, j]
    return (y + b).astype(F32)


def evaluate(n: FNode, args: list[np.ndarray]) -> np.ndarray:
    """The float32 value of node ``n`` on its inputs (the hama reference formulas)."""
    a = n.attrs
    y = _evaluate(n, args)
    if "channel_scale" in a:
        y = (y * a["channel_scale"]).astype(F32)
    return y


def _evaluate(n: FNode, args: list[np.ndarray]) -> np.ndarray:
    a, p = n.attrs, n.params
    op = n.op
    if op in ("quantize", "rescale"):
        return args[0]
    if op == "embed":
        return (p["table"][args[0]] + p["positions"][args[1]]).astype(F32)
    if op == "concat_rows":
        return np.concatenate(args, axis=0)
    if op == "tail_rows":
        return np.ascontiguousarray(args[0][-a.get("count", 1) :])
    if op == "conv1d":
        y = conv1d_float(args[0], p["w"], p["b"], a.get("stride", 1), a.get("dilation", 1), a["padding"], a["groups"])
        return y * F32(a.get("alpha", 1.0)) if a.get("alpha", 1.0) != 1.0 else y
    if op == "linear":
        y = args[0] @ p["w"].T + p["b"]
        return (y * F32(a.get("alpha", 1.0))).astype(F32) if a.get("alpha", 1.0) != 1.0 else y.astype(F32)
    if op == "layernorm":
        return layer_norm(args[0], p["gamma"], p["beta"]).astype(F32)
    if op == "lut":
        return FUNCTIONS[a["fn"]](args[0]).astype(F32)
    if op == "add":
        return (args[0] + args[1]).astype(F32)
    if op == "mul":
        return (args[0] * args[1]).astype(F32)
    if op == "mean":
        return args[0].mean(axis=0, dtype=F32)
    if op == "slice":
        return np.ascontiguousarray(args[0][..., a["start"] : a["stop"]])
    if op == "concat":
        return np.concatenate(args, axis=-1)
    if op == "transpose":
        return np.ascontiguousarray(args[0].T)
    if op == "matmul":
        return (args[0] @ args[1].T).astype(F32)
    if op == "softmax":
        return softmax(args[0] * F32(a.get("alpha", 1.0))).astype(F32)
    if op == "argmax":
        scores = args[0] + p["offset"] if "offset" in p else args[0]
        return np.argmax(scores, axis=-1).astype(np.int32)
    raise ValueError(f"float node {n.name!r}: unknown op {op!r}")


__all__ = [
    "CALIBRATED",
    "FUNCTIONS",
    "OPS",
    "OUT_KINDS",
    "SCALABLE",
    "WEIGHT_OPS",
    "FGraph",
    "FInput",
    "FNode",
    "conv1d_float",
    "evaluate",
]
