"""Node kinds of the arithmetic core: linear, conv1d, requantize, add, mul, lut, clamp, mean_over_time.

Each maps a node onto the op of the same name in :mod:`intref.ops` (and so on every backend); the semantics live
there. Here we only check, at load time, what the op would check at run time, so that a bad file fails on loading
with the node's name.
"""

from __future__ import annotations

import numpy as np

from ..ops import AddParams
from ..ops.conv1d import output_length
from ..ops.lut import TABLE_SIZE
from ..ops.reduce import requant_for_count
from ..spec import PackedInt4, scheme_limits
from ..spec.rescale import INT32_MAX
from .ir import INT_RANGES, TensorSpec, dtype_name
from .registry import (
    Attr,
    BoundNode,
    NodeKind,
    Shape,
    broadcast,
    check_zero_point,
    dims_agree,
    need_dtype,
    need_rank,
    register,
)

MAX_WINDOW = 1 << 16  # stride, dilation and padding: larger values are corruption, and padding allocates


def _acc_dtype(bound: BoundNode) -> str:
    return dtype_name(bound.acc.dtype)


def _out_dtype(bound: BoundNode) -> str:
    """Requantised output type, or the accumulator itself when the node has no requant."""
    return dtype_name(bound.requant.out_dtype) if bound.requant is not None else _acc_dtype(bound)


def _result(out, want_acc: bool) -> tuple[list[np.ndarray], np.ndarray | None]:
    """A backend result as (outputs, accumulator); without ``want_acc`` the op was asked for its output only."""
    if want_acc:
        y, acc = out
        return [y], acc
    return [out], None


def _check_channels(bound: BoundNode, channels) -> None:
    """Per-channel requant parameters must match the node's output channels (checked by ops at run time too)."""
    if bound.requant is None:
        return
    n = bound.requant.channels
    if n is not None and n != 1 and isinstance(channels, int) and n != channels:
        raise ValueError(f"requant has {n} per-channel parameters for {channels} output channels")
    width = scheme_limits(bound.requant.scheme).value_bits
    if bound.acc.bits > width:
        raise ValueError(
            f"a {bound.acc.bits}-bit accumulator cannot feed scheme '{bound.requant.scheme}' ({width}-bit)"
        )


def _weights(kind: NodeKind, bound: BoundNode, ndim: int):
    w = kind.int_param(bound, "w", ("int8", "int4"), ndim=ndim)
    bias = None
    if "bias" in bound.spec.params:
        bias = kind.int_param(bound, "bias", ("int32",), ndim=1)
        if bias.shape[0] != w.shape[0]:
            raise ValueError(f"bias has {bias.shape[0]} entries for {w.shape[0]} output channels")
    bound.extra["w"], bound.extra["bias"] = w, bias
    return w


@register
class Linear(NodeKind):
    op = "linear"
    params = ("w",)
    optional_params = ("bias",)
    attrs = {"x_zp": Attr()}
    requant = "optional"
    accumulates = True
    acc_optional = True  # call() takes want_acc

    def prepare(self, bound, param_specs):
        w = _weights(self, bound, 2)
        _check_channels(bound, w.shape[0])

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, ("int8",), self.op)
        if not x.shape:
            raise ValueError("input x must have at least one dimension")
        n, k = bound.extra["w"].shape
        if not dims_agree(x.shape[-1], k):
            raise ValueError(f"input x has {x.shape[-1]} features, w expects {k}")
        check_zero_point("x_zp", bound.attrs["x_zp"], x.dtype)
        return [(_out_dtype(bound), (*x.shape[:-1], n))]

    def call(self, backend, bound, args, want_acc: bool = True):
        out = backend.linear(
            args[0],
            bound.extra["w"],
            bound.extra["bias"],
            x_zp=bound.attrs["x_zp"],
            requant=bound.requant,
            acc=bound.acc,
            return_acc=want_acc,
            name=bound.name,
        )
        return _result(out, want_acc)


@register
class Conv1d(NodeKind):
    op = "conv1d"
    params = ("w",)
    optional_params = ("bias",)
    attrs = {
        "x_zp": Attr(),
        "stride": Attr(default=1, lo=1, hi=MAX_WINDOW),
        "dilation": Attr(default=1, lo=1, hi=MAX_WINDOW),
        "padding": Attr("pair", (0, 0), lo=0, hi=MAX_WINDOW),
        "groups": Attr(default=1, lo=1),
    }
    requant = "optional"
    accumulates = True
    acc_optional = True  # call() takes want_acc

    def prepare(self, bound, param_specs):
        w = _weights(self, bound, 3)
        c_out, c_in_g, k = w.shape
        if k < 1:
            raise ValueError(f"kernel size must be >= 1, got weights of shape {list(w.shape)}")
        groups = bound.attrs["groups"]
        if groups != 1 and not (c_in_g == 1 and groups == c_out):
            raise ValueError(
                f"groups = {groups} needs depthwise weights [C, 1, k] with C = groups, got {list(w.shape)}"
            )
        _check_channels(bound, c_out)

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, ("int8",), self.op)
        need_rank("x", x, 2, self.op)
        c_out, c_in_g, k = bound.extra["w"].shape
        a = bound.attrs
        c_in = c_in_g * a["groups"]
        if not dims_agree(x.shape[1], c_in):
            raise ValueError(f"input x has {x.shape[1]} channels, the weights expect {c_in}")
        check_zero_point("x_zp", a["x_zp"], x.dtype)
        t = x.shape[0]
        pad = a["padding"]
        if isinstance(t, int):
            t_out = output_length(t, k, a["stride"], a["dilation"], pad)
        elif a["stride"] == 1 and pad[0] + pad[1] == a["dilation"] * (k - 1):
            t_out = t  # "same" convolution keeps the symbol
        else:
            t_out = None
        return [(_out_dtype(bound), (t_out, c_out))]

    def call(self, backend, bound, args, want_acc: bool = True):
        a = bound.attrs
        out = backend.conv1d(
            args[0],
            bound.extra["w"],
            bound.extra["bias"],
            x_zp=a["x_zp"],
            requant=bound.requant,
            acc=bound.acc,
            stride=a["stride"],
            dilation=a["dilation"],
            padding=a["padding"],
            groups=a["groups"],
            return_acc=want_acc,
            name=bound.name,
        )
        return _result(out, want_acc)


@register
class Requantize(NodeKind):
    op = "requantize"
    attrs = {"x_zp": Attr()}
    requant = "required"
    accumulates = True
    acc_optional = True  # call() takes want_acc

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, ("int8", "int16", "int32"), self.op)
        check_zero_point("x_zp", bound.attrs["x_zp"], x.dtype)
        _check_channels(bound, x.shape[-1] if x.shape else 1)
        return [(_out_dtype(bound), x.shape)]

    def call(self, backend, bound, args, want_acc: bool = True):
        out = backend.requantize(
            args[0], bound.requant, x_zp=bound.attrs["x_zp"], acc=bound.acc, return_acc=want_acc, name=bound.name
        )
        return _result(out, want_acc)


def _pair_specs(op: str, a: TensorSpec, b: TensorSpec) -> Shape:
    need_dtype("a", a, ("int8", "int16"), op)
    need_dtype("b", b, ("int8", "int16"), op)
    return broadcast(a.shape, b.shape)


@register
class Add(NodeKind):
    op = "add"
    inputs = ("a", "b")
    params = ("a_multiplier", "a_shift", "b_multiplier", "b_shift")
    attrs = {"a_zp": Attr(), "b_zp": Attr(), "left_shift": Attr(default=20, lo=0, hi=30)}
    requant = "required"
    accumulates = True
    acc_optional = True  # call() takes want_acc

    def prepare(self, bound, param_specs):
        side = {r: self.int_param(bound, r, ("int32",), max_ndim=1) for r in self.params}
        a = bound.attrs
        bound.extra["params"] = AddParams(
            a["a_zp"],
            a["b_zp"],
            a["left_shift"],
            side["a_multiplier"],
            side["a_shift"],
            side["b_multiplier"],
            side["b_shift"],
            bound.requant,
        )

    def infer(self, bound, inputs):
        a, b = inputs
        shape = _pair_specs(self.op, a, b)
        p = bound.extra["params"]
        for role, spec, zp in (("a", a, p.a_zp), ("b", b, p.b_zp)):
            check_zero_point(f"{role}_zp", zp, spec.dtype)
            lo, hi = INT_RANGES[spec.dtype]
            if max(hi - zp, zp - lo) << p.left_shift > INT32_MAX:
                raise ValueError(f"left_shift {p.left_shift} overflows int32 for {spec.dtype} input {role}")
        _check_channels(bound, shape[-1] if shape else 1)
        return [(_out_dtype(bound), shape)]

    def call(self, backend, bound, args, want_acc: bool = True):
        p = bound.extra["params"]
        out = backend.add(args[0], args[1], p, acc=bound.acc, return_acc=want_acc, name=bound.name)
        return _result(out, want_acc)


@register
class Mul(NodeKind):
    op = "mul"
    inputs = ("a", "b")
    attrs = {"a_zp": Attr(), "b_zp": Attr()}
    requant = "required"
    accumulates = True
    acc_optional = True  # call() takes want_acc

    def infer(self, bound, inputs):
        a, b = inputs
        shape = _pair_specs(self.op, a, b)
        check_zero_point("a_zp", bound.attrs["a_zp"], a.dtype)
        check_zero_point("b_zp", bound.attrs["b_zp"], b.dtype)
        _check_channels(bound, shape[-1] if shape else 1)
        return [(_out_dtype(bound), shape)]

    def call(self, backend, bound, args, want_acc: bool = True):
        a = bound.attrs
        out = backend.mul(
            args[0],
            args[1],
            bound.requant,
            a_zp=a["a_zp"],
            b_zp=a["b_zp"],
            acc=bound.acc,
            return_acc=want_acc,
            name=bound.name,
        )
        return _result(out, want_acc)


@register
class Lut(NodeKind):
    op = "lut"
    params = ("table",)

    def prepare(self, bound, param_specs):
        self.int_param(bound, "table", ("int8", "int16"), ndim=1)

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, ("int8", "int16"), self.op)
        table = bound.consts["table"]
        size = TABLE_SIZE[x.np_dtype.type]
        if table.shape[0] != size:
            raise ValueError(f"a {x.dtype} input needs a table of {size} entries, got {table.shape[0]}")
        return [(table.dtype.name, x.shape)]

    def call(self, backend, bound, args):
        return [backend.lut(args[0], bound.consts["table"], name=bound.name)], None


@register
class Clamp(NodeKind):
    op = "clamp"
    attrs = {"lo": Attr(default=-128), "hi": Attr(default=127)}

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, ("int8", "int16", "int32"), self.op)
        lo, hi = bound.attrs["lo"], bound.attrs["hi"]
        check_zero_point("lo", lo, x.dtype)
        check_zero_point("hi", hi, x.dtype)
        if lo > hi:
            raise ValueError(f"lo = {lo} is above hi = {hi}")
        return [(x.dtype, x.shape)]

    def call(self, backend, bound, args):
        return [backend.clamp(args[0], bound.attrs["lo"], bound.attrs["hi"], name=bound.name)], None


@register
class MeanOverTime(NodeKind):
    op = "mean_over_time"
    attrs = {"x_zp": Attr()}
    requant = "required"
    accumulates = True
    acc_optional = True  # call() takes want_acc

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, ("int8", "int16"), self.op)
        need_rank("x", x, 2, self.op)
        check_zero_point("x_zp", bound.attrs["x_zp"], x.dtype)
        if x.shape[0] == 0:
            raise ValueError("the mean over time of an empty sequence is undefined")
        _check_channels(bound, x.shape[1])
        return [(_out_dtype(bound), (x.shape[1],))]

    def call(self, backend, bound, args, want_acc: bool = True):
        out = backend.mean_over_time(
            args[0], bound.requant, x_zp=bound.attrs["x_zp"], acc=bound.acc, return_acc=want_acc, name=bound.name
        )
        return _result(out, want_acc)

    def runtime_params(self, bound, args):
        # The stored (multiplier, shift) is divided by T when the node runs; hardware derives the same pair.
        r = requant_for_count(bound.requant, args[0].shape[0])
        return {"multiplier_t": r.multiplier.astype(np.int32), "shift_t": r.shift.astype(np.int32)}


def weight_bits(bound: BoundNode) -> int | None:
    """4 or 8 for nodes with weights, None otherwise (for reports)."""
    w = bound.extra.get("w")
    if w is None:
        return None
    return 4 if isinstance(w, PackedInt4) else 8
