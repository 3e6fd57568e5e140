"""Node kinds over tensors of any rank (the shapes TFLite models use): the data movement ``reshape``, ``permute``,
``pad``, ``strided_slice`` and ``concatenate``, the reduction ``reduce_sum``, the quantised ``sub`` and TFLite's
integer softmax ``softmax_tflite``.

Data movement is the same on every backend and runs NumPy; the others run the reference ops of
:mod:`intref.ops` on every backend (small tensors at the ends of keyword-spotting models: nothing for a compiled
kernel to win).
"""

from __future__ import annotations

import math

import numpy as np

from ..ops.elementwise import sub
from ..ops.reduce import reduce_sum
from ..ops.tflite_nonlinear import SoftmaxTflite, softmax_tflite
from .core_ops import Add, _out_dtype, _result
from .nn_ops import MAX_INDEX, MOVABLE, bind_numbered_inputs
from .registry import Attr, BoundNode, NodeKind, check_zero_point, dims_agree, need_dtype, register

MAX_RANK = 8


def _known(shape) -> bool:
    return all(isinstance(d, int) for d in shape)


@register
class Reshape(NodeKind):
    """``y = x.reshape(shape)`` in C order (data movement); the element count must not change."""

    op = "reshape"
    attrs = {"shape": Attr("ints", (), lo=0, hi=MAX_INDEX)}

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, MOVABLE, self.op)
        shape = bound.attrs["shape"]
        if _known(x.shape) and math.prod(x.shape) != math.prod(shape):
            raise ValueError(f"cannot reshape {list(x.shape)} ({math.prod(x.shape)} elements) to {list(shape)}")
        return [(x.dtype, shape)]

    def call(self, backend, bound, args):
        shape = bound.attrs["shape"]
        if args[0].size != math.prod(shape):
            raise ValueError(f"cannot reshape {list(args[0].shape)} to {list(shape)}")
        return [args[0].reshape(shape)], None


@register
class Permute(NodeKind):
    """``y = x.transpose(perm)``: axis i of y is axis perm[i] of x (data movement)."""

    op = "permute"
    attrs = {"perm": Attr("ints", (), lo=0, hi=MAX_RANK - 1)}

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, MOVABLE, self.op)
        perm = bound.attrs["perm"]
        if sorted(perm) != list(range(len(x.shape))):
            raise ValueError(f"perm {list(perm)} is not a permutation of the {len(x.shape)} axes of x")
        return [(x.dtype, tuple(x.shape[p] for p in perm))]

    def call(self, backend, bound, args):
        return [np.ascontiguousarray(args[0].transpose(bound.attrs["perm"]))], None


@register
class Pad(NodeKind):
    """``y = x`` with ``pads[2i]`` entries before and ``pads[2i+1]`` after it on axis i, all holding ``value``
    (for a quantised tensor, its zero point)."""

    op = "pad"
    attrs = {"pads": Attr("ints", (), lo=0, hi=1 << 16), "value": Attr()}

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, ("int8", "int16", "int32"), self.op)
        pads = bound.attrs["pads"]
        if len(pads) != 2 * len(x.shape):
            raise ValueError(f"pads has {len(pads)} entries; a {len(x.shape)}-D input needs {2 * len(x.shape)}")
        check_zero_point("value", bound.attrs["value"], x.dtype)
        shape = tuple(d + pads[2 * i] + pads[2 * i + 1] if isinstance(d, int) else None for i, d in enumerate(x.shape))
        return [(x.dtype, shape)]

    def call(self, backend, bound, args):
        pads = bound.attrs["pads"]
        widths = [(pads[2 * i], pads[2 * i + 1]) for i in range(args[0].ndim)]
        return [np.pad(args[0], widths, constant_values=bound.attrs["value"])], None


@register
class StridedSlice(NodeKind):
    """Per axis i: the ``size[i]`` entries at ``begin[i] + k * strides[i]`` (k = 0, 1, ...); strides may be
    negative, never 0, and every index must lie inside the axis (data movement)."""

    op = "strided_slice"
    attrs = {
        "begin": Attr("ints", (), lo=0, hi=MAX_INDEX),
        "size": Attr("ints", (), lo=0, hi=MAX_INDEX),
        "strides": Attr("ints", (), lo=-MAX_INDEX, hi=MAX_INDEX),
    }

    def _check(self, bound, shape) -> None:
        a = bound.attrs
        if not len(a["begin"]) == len(a["size"]) == len(a["strides"]) == len(shape):
            raise ValueError(f"begin, size and strides need one entry per axis of the {len(shape)}-D input")
        for i, (b, n, s, d) in enumerate(zip(a["begin"], a["size"], a["strides"], shape, strict=True)):
            if s == 0:
                raise ValueError(f"stride of axis {i} is 0")
            last = b + (n - 1) * s
            if isinstance(d, int) and n > 0 and not (0 <= b < d and 0 <= last < d):
                raise ValueError(f"axis {i}: indices {b}..{last} (step {s}) leave the axis of length {d}")

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, MOVABLE, self.op)
        self._check(bound, x.shape)
        return [(x.dtype, bound.attrs["size"])]

    def call(self, backend, bound, args):
        x = args[0]
        self._check(bound, x.shape)
        a = bound.attrs
        index = np.ix_(*[b + s * np.arange(n) for b, n, s in zip(a["begin"], a["size"], a["strides"], strict=True)])
        return [np.ascontiguousarray(x[index])], None


@register
class Concatenate(NodeKind):
    """``y = concatenate([x0, x1, ...], axis)`` of one or more tensors of one dtype and rank (data movement)."""

    op = "concatenate"
    inputs = ("x0", "x1")
    attrs = {"axis": Attr(default=0, lo=0, hi=MAX_RANK - 1)}

    def bind(self, index, node, consts, tensors) -> BoundNode:
        return bind_numbered_inputs(self, index, node, consts, tensors)

    def infer(self, bound, inputs):
        first = inputs[0]
        need_dtype("x0", first, MOVABLE, self.op)
        axis = bound.attrs["axis"]
        if axis >= len(first.shape):
            raise ValueError(f"axis {axis} is not an axis of the {len(first.shape)}-D inputs")
        total = 0
        for i, x in enumerate(inputs):
            if x.dtype != first.dtype or len(x.shape) != len(first.shape):
                raise ValueError(f"input x{i} ({x.name!r}) is {x.describe()}, x0 is {first.describe()}")
            for d, (p, q) in enumerate(zip(x.shape, first.shape, strict=True)):
                if d != axis and not dims_agree(p, q):
                    raise ValueError(f"input x{i} has {p} entries on axis {d}, x0 has {q}")
            part = x.shape[axis]
            total = total + part if isinstance(total, int) and isinstance(part, int) else None
        return [(first.dtype, (*first.shape[:axis], total, *first.shape[axis + 1 :]))]

    def call(self, backend, bound, args):
        return [np.concatenate(args, axis=bound.attrs["axis"])], None


@register
class ReduceSum(NodeKind):
    """``ops.reduce_sum``: the integer sum of ``x - x_zp`` over ``axes`` (kept as size-1 axes when ``keep_dims``),
    requantised; a mean has 1/count folded into its multiplier."""

    op = "reduce_sum"
    attrs = {
        "axes": Attr("ints", (), lo=0, hi=MAX_RANK - 1),
        "keep_dims": Attr(default=0, lo=0, hi=1),
        "x_zp": Attr(),
    }
    requant = "required"
    accumulates = True
    acc_optional = True

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, ("int8", "int16"), self.op)
        axes, keep = bound.attrs["axes"], bound.attrs["keep_dims"]
        if not axes or len(set(axes)) != len(axes) or max(axes) >= len(x.shape):
            raise ValueError(f"axes {list(axes)} must be distinct axes of the {len(x.shape)}-D input")
        if bound.requant.channels not in (None, 1):
            raise ValueError("the requant of reduce_sum must be per-tensor")
        check_zero_point("x_zp", bound.attrs["x_zp"], x.dtype)
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes)
        return [(_out_dtype(bound), shape)]

    def call(self, backend, bound, args, want_acc: bool = True):
        a = bound.attrs
        out = reduce_sum(
            args[0],
            bound.requant,
            axes=a["axes"],
            keepdims=bool(a["keep_dims"]),
            x_zp=a["x_zp"],
            acc=bound.acc,
            return_acc=want_acc,
            name=bound.name,
        )
        return _result(out, want_acc)


@register
class Sub(Add):
    """``ops.sub``: TFLite's quantised SUB, the parameters of ``add`` with the rescaled b subtracted."""

    op = "sub"

    def call(self, backend, bound, args, want_acc: bool = True):
        p = bound.extra["params"]
        out = sub(args[0], args[1], p, acc=bound.acc, return_acc=want_acc, name=bound.name)
        return _result(out, want_acc)


@register
class SoftmaxTfliteNode(NodeKind):
    """``ops.softmax_tflite``: TFLite's integer softmax over the last axis (int8 to int8 or int16, int16 to int16),
    with the kernel's parameters as attributes. Runs the reference op on every backend."""

    op = "softmax_tflite"
    attrs = {
        "multiplier": Attr(default=1 << 30, lo=0, hi=2**31 - 1),
        "left_shift": Attr(default=0, lo=-31, hi=31),
        "diff_min": Attr(default=0, lo=-(2**31), hi=0),
        "in_bits": Attr(default=8, lo=8, hi=16),
        "out_bits": Attr(default=8, lo=8, hi=16),
    }

    def prepare(self, bound, param_specs):
        a = bound.attrs
        for key in ("in_bits", "out_bits"):
            if a[key] not in (8, 16):
                raise ValueError(f"{key} must be 8 or 16, got {a[key]}")
        dtypes = {8: np.int8, 16: np.int16}
        bound.extra["params"] = SoftmaxTflite(
            a["multiplier"], a["left_shift"], a["diff_min"], dtypes[a["in_bits"]], dtypes[a["out_bits"]]
        )

    def infer(self, bound, inputs):
        (x,) = inputs
        want = "int8" if bound.attrs["in_bits"] == 8 else "int16"
        need_dtype("x", x, (want,), self.op)
        if not x.shape:
            raise ValueError("input x needs at least one dimension")
        return [("int8" if bound.attrs["out_bits"] == 8 else "int16", x.shape)]

    def call(self, backend, bound, args):
        return [softmax_tflite(args[0], bound.extra["params"], name=bound.name)], None


__all__ = ["Concatenate", "Pad", "Permute", "ReduceSum", "Reshape", "SoftmaxTfliteNode", "StridedSlice", "Sub"]
