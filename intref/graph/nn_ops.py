"""Node kinds of transformer and conformer layers: layernorm, softmax, split16, argmax, quantize, matmul, and the
data movement ops transpose, slice and concat.

The arithmetic ops call the backend method of the same name (``matmul`` calls ``backend.linear`` with the second
activation as its weights); the semantics live in :mod:`intref.ops`. Data movement is plain NumPy here: it
computes nothing. As in :mod:`intref.graph.core_ops`, everything the op would check at run time is checked at load
time where the declared shapes allow it, so a bad file fails on loading with the node's name.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from ..ops import SoftmaxParams
from ..ops.split import SHIFT_RANGE
from ..spec import dtype_for_range
from .core_ops import _check_channels, _out_dtype, _result
from .ir import INT_RANGES, dtype_name
from .registry import (
    Attr,
    BoundNode,
    NodeKind,
    check_zero_point,
    dims_agree,
    need_dtype,
    need_rank,
    register,
)

INT_ACTIVATIONS = ("int8", "int16", "int32")
# Data movement works on any activation type (int4 exists only as packed constants).
MOVABLE = ("int8", "uint8", "int16", "int32", "int64", "float32")
MAX_CONCAT = 4096
LAYERNORM_FRAC_BITS = 24  # ops.layernorm's limit
MAX_INDEX = 2**31 - 1


def _scalar_int(value, role: str) -> int:
    arr = np.asarray(value)
    if arr.size != 1 or arr.ndim > 1:
        raise ValueError(f"param {role!r} must be a scalar (shape [] or [1]), got shape {list(arr.shape)}")
    return int(arr.reshape(()))


@register
class LayerNorm(NodeKind):
    """``ops.layernorm``: integer mean and variance, integer square root, int16/int8 gamma, int32 beta."""

    op = "layernorm"
    params = ("gamma",)
    optional_params = ("beta",)
    attrs = {
        "x_zp": Attr(),
        "eps": Attr(default=0, lo=0, hi=2**62),
        "frac_bits": Attr(default=10, lo=0, hi=LAYERNORM_FRAC_BITS),
    }
    requant = "required"
    accumulates = True
    acc_optional = True  # call() takes want_acc

    def prepare(self, bound, param_specs):
        gamma = self.int_param(bound, "gamma", ("int8", "int16"), ndim=1)
        beta = None
        if "beta" in bound.spec.params:
            beta = self.int_param(bound, "beta", ("int32",), ndim=1)
            if beta.shape[0] != gamma.shape[0]:
                raise ValueError(f"beta has {beta.shape[0]} entries for {gamma.shape[0]} channels (gamma)")
        if gamma.shape[0] < 1:
            raise ValueError("gamma needs at least one channel")
        bound.extra["gamma"], bound.extra["beta"] = gamma, beta
        _check_channels(bound, gamma.shape[0])

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, ("int8", "int16"), self.op)
        need_rank("x", x, 2, self.op)
        c = bound.extra["gamma"].shape[0]
        if not dims_agree(x.shape[1], c):
            raise ValueError(f"input x has {x.shape[1]} channels, gamma has {c}")
        check_zero_point("x_zp", bound.attrs["x_zp"], x.dtype)
        lo, hi = INT_RANGES[x.dtype]
        widest = c * (hi - lo)  # |C * x_c - sum| <= C * (max - min): the op's own 64-bit bound
        if c * widest**2 + bound.attrs["eps"] >= 2**63 or widest * 2**32 >= 2**63:
            raise ValueError(f"{c} channels of {x.dtype} with eps {bound.attrs['eps']} overflow the 64-bit variance")
        return [(_out_dtype(bound), x.shape)]

    def call(self, backend, bound, args, want_acc: bool = True):
        a = bound.attrs
        out = backend.layernorm(
            args[0],
            bound.extra["gamma"],
            bound.extra["beta"],
            bound.requant,
            x_zp=a["x_zp"],
            eps=a["eps"],
            frac_bits=a["frac_bits"],
            acc=bound.acc,
            return_acc=want_acc,
            name=bound.name,
        )
        return _result(out, want_acc)


@register
class Softmax(NodeKind):
    """``ops.softmax`` over the last axis.

    The requant holds the softmax's parameters: ``multiplier``/``shift`` (per tensor) map the input to the Q8 log2
    domain under ``scheme``; the output is ``p + zero_point`` with ``p`` in ``[0, hi - lo]``, so ``lo`` must equal
    ``zero_point`` and ``out_max = hi - lo`` (int8: zero point -128, lo -128, hi 127, probability scale 1/255).
    """

    op = "softmax"
    requant = "required"

    def prepare(self, bound, param_specs):
        r = bound.requant
        if r.zero_point != r.lo:
            raise ValueError(f"softmax requant: lo = {r.lo} must equal the zero point {r.zero_point}")
        out_max = r.hi - r.lo
        if not 1 <= out_max <= 65535:
            raise ValueError(f"softmax requant: hi - lo = {out_max} must be in [1, 65535]")
        m = _scalar_int(r.multiplier, "multiplier")
        s = _scalar_int(r.shift, "shift")
        if m < 0:
            raise ValueError(f"softmax multiplier must be >= 0, got {m}")
        bound.extra["params"] = SoftmaxParams(r.scheme, m, s, out_max=out_max, out_zp=r.zero_point)

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, INT_ACTIVATIONS, self.op)
        if not x.shape or x.shape[-1] == 0:
            raise ValueError(f"input x needs a non-empty last axis, got shape {list(x.shape)}")
        return [(dtype_name(bound.extra["params"].out_dtype), x.shape)]

    def call(self, backend, bound, args):
        return [backend.softmax(args[0], bound.extra["params"], name=bound.name)], None


@register
class Split16(NodeKind):
    """``ops.split16``: an int16 tensor as its int8 halves ``hi`` and ``lo`` (two outputs), e.g. 15-bit softmax
    probabilities for int8 products: ``x - x_zp == 2^shift * (hi - hi_zp) + lo`` within the clamps."""

    op = "split16"
    outputs = ("hi", "lo")
    attrs = {
        "x_zp": Attr(lo=-(2**15), hi=2**15 - 1),
        "shift": Attr(default=7, lo=SHIFT_RANGE[0], hi=SHIFT_RANGE[1]),
        "hi_zp": Attr(lo=-128, hi=127),
    }

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, ("int16",), self.op)
        return [("int8", x.shape), ("int8", x.shape)]

    def call(self, backend, bound, args):
        a = bound.attrs
        hi, lo = backend.split16(args[0], x_zp=a["x_zp"], shift=a["shift"], hi_zp=a["hi_zp"], name=bound.name)
        return [hi, lo], None


@register
class Argmax(NodeKind):
    """``ops.argmax`` over the last axis after adding the optional int32 per-class ``offset``."""

    op = "argmax"
    optional_params = ("offset",)

    def prepare(self, bound, param_specs):
        bound.extra["offset"] = None
        if "offset" in bound.spec.params:
            bound.extra["offset"] = self.int_param(bound, "offset", ("int32",), ndim=1)

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, INT_ACTIVATIONS, self.op)
        if not x.shape or x.shape[-1] == 0:
            raise ValueError(f"input x needs a non-empty last axis, got shape {list(x.shape)}")
        offset = bound.extra["offset"]
        if offset is not None and not dims_agree(x.shape[-1], offset.shape[0]):
            raise ValueError(f"offset has {offset.shape[0]} entries for {x.shape[-1]} classes")
        return [("int32", x.shape[:-1])]

    def call(self, backend, bound, args):
        return [backend.argmax(args[0], bound.extra["offset"], name=bound.name)], None


@register
class Quantize(NodeKind):
    """``ops.quantize``: the float32 graph input to integers. The scale is a float32 scalar param (so a reader gets
    exactly the number the op divides by); ``zero_point``, ``lo`` and ``hi`` are attributes."""

    op = "quantize"
    params = ("scale",)
    attrs = {"zero_point": Attr(), "lo": Attr(default=-128), "hi": Attr(default=127)}

    def prepare(self, bound, param_specs):
        scale = self.int_param(bound, "scale", ("float32",), max_ndim=1)
        if scale.size != 1:
            raise ValueError(f"param 'scale' must be a scalar, got shape {list(scale.shape)}")
        value = float(np.asarray(scale).reshape(()))
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"scale must be a positive finite float32, got {value}")
        a = bound.attrs
        if a["lo"] > a["hi"]:
            raise ValueError(f"lo = {a['lo']} is above hi = {a['hi']}")
        if not a["lo"] <= a["zero_point"] <= a["hi"]:
            raise ValueError(f"zero_point {a['zero_point']} is outside [{a['lo']}, {a['hi']}]")
        bound.extra["scale"] = value
        bound.extra["dtype"] = dtype_name(dtype_for_range(a["lo"], a["hi"]))

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, ("float32",), self.op)
        return [(bound.extra["dtype"], x.shape)]

    def call(self, backend, bound, args):
        a = bound.attrs
        y = backend.quantize(args[0], bound.extra["scale"], a["zero_point"], a["lo"], a["hi"], name=bound.name)
        return [y], None


@register
class Matmul(NodeKind):
    """Product of two activations: ``y[..., n] = requant(acc(sum_k (a[..., k] - a_zp) * b[n, k]))``.

    ``b`` [N, K] plays the role of ``linear``'s weights (zero point 0, no bias), so this runs ``backend.linear``:
    attention scores ``q k^T`` (b = k) and context ``p v`` (b = v transposed). Without a requant the output is the
    raw accumulator.
    """

    op = "matmul"
    inputs = ("a", "b")
    attrs = {"a_zp": Attr()}
    requant = "optional"
    accumulates = True
    acc_optional = True  # call() takes want_acc

    def prepare(self, bound, param_specs):
        _check_channels(bound, None)

    def infer(self, bound, inputs):
        a, b = inputs
        need_dtype("a", a, ("int8",), self.op)
        need_dtype("b", b, ("int8",), self.op)
        need_rank("b", b, 2, self.op)
        if not a.shape:
            raise ValueError("input a must have at least one dimension")
        n, k = b.shape
        if not dims_agree(a.shape[-1], k):
            raise ValueError(f"input a has {a.shape[-1]} features, b has {k}")
        check_zero_point("a_zp", bound.attrs["a_zp"], a.dtype)
        _check_channels(bound, n)
        return [(_out_dtype(bound), (*a.shape[:-1], n))]

    def call(self, backend, bound, args, want_acc: bool = True):
        out = backend.linear(
            args[0],
            args[1],
            None,
            x_zp=bound.attrs["a_zp"],
            requant=bound.requant,
            acc=bound.acc,
            return_acc=want_acc,
            name=bound.name,
        )
        return _result(out, want_acc)


@register
class Transpose(NodeKind):
    """``y = x^T`` of a 2-D tensor (data movement)."""

    op = "transpose"

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, MOVABLE, self.op)
        need_rank("x", x, 2, self.op)
        return [(x.dtype, (x.shape[1], x.shape[0]))]

    def call(self, backend, bound, args):
        return [np.ascontiguousarray(args[0].T)], None


@register
class Slice(NodeKind):
    """``y = x[..., start:stop]``: a range of the last axis (data movement); ``0 <= start < stop``."""

    op = "slice"
    attrs = {"start": Attr(default=0, lo=0, hi=MAX_INDEX), "stop": Attr(default=1, lo=1, hi=MAX_INDEX)}

    def prepare(self, bound, param_specs):
        if bound.attrs["start"] >= bound.attrs["stop"]:
            raise ValueError(f"start = {bound.attrs['start']} must be below stop = {bound.attrs['stop']}")

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, MOVABLE, self.op)
        if not x.shape:
            raise ValueError("input x must have at least one dimension")
        start, stop = bound.attrs["start"], bound.attrs["stop"]
        last = x.shape[-1]
        if isinstance(last, int) and stop > last:
            raise ValueError(f"stop = {stop} is beyond the {last} entries of the last axis")
        return [(x.dtype, (*x.shape[:-1], stop - start))]

    def call(self, backend, bound, args):
        x = args[0]
        start, stop = bound.attrs["start"], bound.attrs["stop"]
        if stop > x.shape[-1]:
            raise ValueError(f"stop = {stop} is beyond the {x.shape[-1]} entries of the last axis")
        return [np.ascontiguousarray(x[..., start:stop])], None


def bind_numbered_inputs(kind: NodeKind, index, node, consts, tensors) -> BoundNode:
    """Bind a node taking 1 to MAX_CONCAT inputs, named by role ``x0 .. x{n-1}`` (golden vectors name inputs by
    role): a copy of the kind with this node's arity."""
    n = len(node.inputs)
    if not 1 <= n <= MAX_CONCAT:
        raise ValueError(f"{kind.op} takes 1 to {MAX_CONCAT} inputs, got {n}")
    kind = copy.copy(kind)
    kind.inputs = tuple(f"x{i}" for i in range(n))
    return NodeKind.bind(kind, index, node, consts, tensors)


@register
class Concat(NodeKind):
    """``y = concatenate([x0, x1, ...], last axis)`` of one or more tensors of one dtype (data movement).

    The inputs are named ``x0 .. x{n-1}``; every axis but the last must agree.
    """

    op = "concat"
    inputs = ("x0", "x1")

    def bind(self, index, node, consts, tensors) -> BoundNode:
        return bind_numbered_inputs(self, index, node, consts, tensors)

    def infer(self, bound, inputs):
        first = inputs[0]
        need_dtype("x0", first, MOVABLE, self.op)
        if not first.shape:
            raise ValueError("inputs must have at least one dimension")
        total = 0
        for i, x in enumerate(inputs):
            if x.dtype != first.dtype:
                raise ValueError(f"input x{i} ({x.name!r}) is {x.dtype}, x0 is {first.dtype}")
            if len(x.shape) != len(first.shape):
                raise ValueError(f"input x{i} ({x.name!r}) has shape {list(x.shape)}, x0 {list(first.shape)}")
            for d, (p, q) in enumerate(zip(x.shape[:-1], first.shape[:-1], strict=True)):
                if not dims_agree(p, q):
                    raise ValueError(f"input x{i} has {p} entries on axis {d}, x0 has {q}")
            last = x.shape[-1]
            total = total + last if isinstance(total, int) and isinstance(last, int) else None
        return [(first.dtype, (*first.shape[:-1], total))]

    def call(self, backend, bound, args):
        lead = args[0].shape[:-1]
        for i, x in enumerate(args):
            if x.shape[:-1] != lead:
                raise ValueError(f"input x{i} has shape {list(x.shape)}, x0 {list(args[0].shape)}")
        return [np.concatenate(args, axis=-1)], None
