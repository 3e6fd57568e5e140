"""Node kinds over NHWC images (the layout of TFLite models): ``conv2d``, ``depthwise_conv2d``, ``avg_pool2d``,
``max_pool2d``.

The semantics are :mod:`intref.ops.conv2d` and :mod:`intref.ops.pool2d`. A convolution runs on any backend as
data movement plus that backend's own kernel: the receptive fields are gathered (padding filled with the input zero
point) and a dense convolution is the backend's ``linear`` over them, a depthwise one the backend's depthwise
``conv1d`` with the kernel's taps as its time axis and a stride of one window. The accumulator and output are the
NHWC tensors, so an overflow names the NHWC flat index. The 16x8 form (int16 activations, int8 weights, a wide
accumulator) runs the reference :func:`intref.ops.conv2d.conv2d` on every backend: the compiled kernels take int8
activations only. Pooling has no multiply-accumulate and runs the reference op on every backend.
"""

from __future__ import annotations

import numpy as np

from ..ops.conv2d import conv2d, output_size, patches
from ..ops.pool2d import avg_pool2d, max_pool2d
from ..spec import PackedInt4
from .core_ops import MAX_WINDOW, _check_channels, _out_dtype, _result, _weights
from .registry import Attr, NodeKind, check_zero_point, need_dtype, need_rank, register

_WINDOW_ATTRS = {
    "kernel": Attr("pair", (1, 1), lo=1, hi=MAX_WINDOW),
    "stride": Attr("pair", (1, 1), lo=1, hi=MAX_WINDOW),
    "pad_h": Attr("pair", (0, 0), lo=0, hi=MAX_WINDOW),
    "pad_w": Attr("pair", (0, 0), lo=0, hi=MAX_WINDOW),
}


def _spatial(bound, x_shape, dilation=(1, 1)) -> tuple:
    a = bound.attrs
    sizes = []
    for axis in (0, 1):
        size = x_shape[1 + axis]
        pad = a["pad_h"] if axis == 0 else a["pad_w"]
        if not isinstance(size, int):
            sizes.append(None)
            continue
        out = output_size(size, a["kernel"][axis], a["stride"][axis], dilation[axis], pad)
        if out < 1:
            raise ValueError(f"the {'height' if axis == 0 else 'width'} {size} is smaller than the kernel's span")
        sizes.append(out)
    return tuple(sizes)


class _Conv(NodeKind):
    params = ("w",)
    optional_params = ("bias",)
    attrs = {**_WINDOW_ATTRS, "dilation": Attr("pair", (1, 1), lo=1, hi=MAX_WINDOW), "x_zp": Attr()}
    requant = "optional"
    accumulates = True
    acc_optional = True  # call() takes want_acc

    def _reference(self, bound, x: np.ndarray, want_acc: bool, depth_multiplier: int):
        a = bound.attrs
        out = conv2d(
            x,
            bound.extra["w"],
            bound.extra["bias"],
            kernel=a["kernel"],
            x_zp=a["x_zp"],
            requant=bound.requant,
            acc=bound.acc,
            stride=a["stride"],
            dilation=a["dilation"],
            pad_h=a["pad_h"],
            pad_w=a["pad_w"],
            depth_multiplier=depth_multiplier,
            return_acc=want_acc,
            name=bound.name,
        )
        return _result(out, want_acc)

    def _gather(self, bound, x: np.ndarray) -> np.ndarray:
        a = bound.attrs
        return patches(x, a["kernel"], a["stride"], a["dilation"], a["pad_h"], a["pad_w"], a["x_zp"])


def _reshaped_result(out, want_acc: bool, shape: tuple[int, ...]):
    if want_acc:
        y, acc = out
        return [y.reshape(shape)], acc.reshape(shape)
    return [out.reshape(shape)], None


@register
class Conv2d(_Conv):
    """Dense 2-D convolution: x int8 [N, H, W, C_in], w [C_out, KH*KW*C_in] (OHWI flattened), NHWC output."""

    op = "conv2d"

    def prepare(self, bound, param_specs):
        w = _weights(self, bound, 2)
        _check_channels(bound, w.shape[0])

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, ("int8", "int16"), self.op)
        need_rank("x", x, 4, self.op)
        kh, kw = bound.attrs["kernel"]
        c_out, cols = bound.extra["w"].shape
        if isinstance(x.shape[3], int) and cols != kh * kw * x.shape[3]:
            raise ValueError(
                f"w has {cols} columns; {kh}x{kw} kernels over {x.shape[3]} channels need {kh * kw * x.shape[3]}"
            )
        check_zero_point("x_zp", bound.attrs["x_zp"], x.dtype)
        oh, ow = _spatial(bound, x.shape, bound.attrs["dilation"])
        return [(_out_dtype(bound), (x.shape[0], oh, ow, c_out))]

    def call(self, backend, bound, args, want_acc: bool = True):
        if args[0].dtype == np.int16:
            return self._reference(bound, args[0], want_acc, 0)
        p = self._gather(bound, args[0])
        n, oh, ow = p.shape[:3]
        w = bound.extra["w"]
        out = backend.linear(
            p.reshape(n * oh * ow, -1),
            w,
            bound.extra["bias"],
            x_zp=bound.attrs["x_zp"],
            requant=bound.requant,
            acc=bound.acc,
            return_acc=want_acc,
            name=bound.name,
        )
        return _reshaped_result(out, want_acc, (n, oh, ow, w.shape[0]))


@register
class DepthwiseConv2d(_Conv):
    """Depthwise 2-D convolution: x int8 [N, H, W, C], w [C*m, KH*KW]; output channel o reads input channel o // m."""

    op = "depthwise_conv2d"
    attrs = {**_Conv.attrs, "depth_multiplier": Attr(default=1, lo=1, hi=MAX_WINDOW)}

    def prepare(self, bound, param_specs):
        w = _weights(self, bound, 2)
        kh, kw = bound.attrs["kernel"]
        if w.shape[1] != kh * kw:
            raise ValueError(f"w has {w.shape[1]} taps per channel, a {kh}x{kw} kernel has {kh * kw}")
        _check_channels(bound, w.shape[0])
        # the same weights as depthwise conv1d weights [C, 1, taps] (an int4 row keeps its packing)
        if isinstance(w, PackedInt4):
            bound.extra["w3"] = PackedInt4(w.data, (w.shape[0], 1, w.shape[1]), w.narrow)
        else:
            bound.extra["w3"] = w.reshape(w.shape[0], 1, w.shape[1])

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, ("int8", "int16"), self.op)
        need_rank("x", x, 4, self.op)
        c_out = bound.extra["w"].shape[0]
        m = bound.attrs["depth_multiplier"]
        if isinstance(x.shape[3], int) and x.shape[3] * m != c_out:
            raise ValueError(f"x has {x.shape[3]} channels; with depth_multiplier {m}, w needs {x.shape[3] * m} rows")
        check_zero_point("x_zp", bound.attrs["x_zp"], x.dtype)
        oh, ow = _spatial(bound, x.shape, bound.attrs["dilation"])
        return [(_out_dtype(bound), (x.shape[0], oh, ow, c_out))]

    def call(self, backend, bound, args, want_acc: bool = True):
        x = args[0]
        if x.dtype == np.int16:
            return self._reference(bound, x, want_acc, bound.attrs["depth_multiplier"])
        p = self._gather(bound, x)
        n, oh, ow, kh, kw, c = p.shape
        m = bound.attrs["depth_multiplier"]
        taps = p.reshape(n * oh * ow * kh * kw, c)
        if m > 1:
            taps = np.repeat(taps, m, axis=1)
        c_out = c * m
        out = backend.conv1d(
            np.ascontiguousarray(taps),
            bound.extra["w3"],
            bound.extra["bias"],
            x_zp=bound.attrs["x_zp"],
            requant=bound.requant,
            acc=bound.acc,
            stride=kh * kw,
            groups=c_out,
            return_acc=want_acc,
            name=bound.name,
        )
        return _reshaped_result(out, want_acc, (n, oh, ow, c_out))


class _Pool(NodeKind):
    attrs = {**_WINDOW_ATTRS, "lo": Attr(default=-128), "hi": Attr(default=127)}
    function = staticmethod(avg_pool2d)

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, ("int8", "int16"), self.op)
        need_rank("x", x, 4, self.op)
        lo, hi = bound.attrs["lo"], bound.attrs["hi"]
        check_zero_point("lo", lo, x.dtype)
        check_zero_point("hi", hi, x.dtype)
        if lo > hi:
            raise ValueError(f"lo = {lo} is above hi = {hi}")
        a = bound.attrs
        if a["pad_h"][0] >= a["kernel"][0] or a["pad_w"][0] >= a["kernel"][1]:
            raise ValueError(f"leading padding {a['pad_h'][0]}, {a['pad_w'][0]} must be below the kernel {a['kernel']}")
        oh, ow = _spatial(bound, x.shape)
        return [(x.dtype, (x.shape[0], oh, ow, x.shape[3]))]

    def call(self, backend, bound, args):
        a = bound.attrs
        y = self.function(
            args[0],
            kernel=a["kernel"],
            stride=a["stride"],
            pad_h=a["pad_h"],
            pad_w=a["pad_w"],
            lo=a["lo"],
            hi=a["hi"],
            name=bound.name,
        )
        return [y], None


@register
class AvgPool2d(_Pool):
    """The rounded mean of each window's values inside the image (TFLite AVERAGE_POOL_2D), clamped to [lo, hi]."""

    op = "avg_pool2d"
    function = staticmethod(avg_pool2d)


@register
class MaxPool2d(_Pool):
    """The maximum of each window's values inside the image (TFLite MAX_POOL_2D), clamped to [lo, hi]."""

    op = "max_pool2d"
    function = staticmethod(max_pool2d)


__all__ = ["AvgPool2d", "Conv2d", "DepthwiseConv2d", "MaxPool2d"]
