"""Import a full-integer TFLite model into an intref graph, with the arithmetic of TFLite Micro's reference kernels.

Each TFLite operator becomes one or more intref nodes (see docs/TFLITE.md for the table); the parameters each
kernel derives when it is prepared (multipliers, shifts, clamp bounds, paddings) are computed here once, with the
same float arithmetic (:mod:`.params`), and stored in the graph as integers. The node that produces a TFLite
tensor carries its name, so a TFLite Micro dump of every tensor can be compared node by node (``intref vectors
verify``).

Float QUANTIZE at the inputs and DEQUANTIZE at the outputs are the graph's boundary: the graph starts at the
quantised tensor and ends at the integer one, and ``model.metadata["tflite"]`` records their scales and zero
points so callers can convert. A model with operators intref does not support is refused with one error listing
each of them and where it is used.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ...errors import IntrefFormatError
from ...graph import Model, ModelBuilder
from ...ops import AddParams
from ...ops.tflite_nonlinear import (
    LogisticTflite,
    SoftmaxTflite,
    TanhTflite,
    leaky_relu_tflite,
    logistic_tflite,
    relu_tflite,
    tanh_tflite,
)
from ...spec import Accumulator, Requant, pack_int4
from ...vectors.common import safe_name
from . import params as P
from .reader import TflModel, TflOperator, TflTensor, read_tflite

INT_TYPES = {"INT8": "int8", "INT16": "int16", "INT32": "int32"}


class UnsupportedTfliteError(IntrefFormatError):
    """The model uses operators (or operator forms) intref does not import; the message lists every one."""


def tensor_names(model: TflModel) -> dict[int, str]:
    """The intref name of each TFLite tensor: its own name made file-safe, unique. The node producing a tensor
    has the same name, so a dump of TFLite tensors named this way lines up with golden vectors."""
    names: dict[int, str] = {}
    used: set[str] = set()
    for t in model.tensors:
        base = safe_name(t.name, 120)
        name, k = base, 1
        while name in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        names[t.index] = name
    return names


class _Importer:
    def __init__(self, model: TflModel, name: str, reference: str = "tflm") -> None:
        self.m = model
        self.reference = reference
        self.t = model.tensors
        self.b = ModelBuilder(name, architecture="tflite")
        self.names = tensor_names(model)  # TFLite tensor index -> intref tensor (and node) name
        self.float_inputs: dict[str, dict] = {}
        self.float_outputs: dict[str, dict] = {}

    # --- helpers ---

    def q(self, i: int) -> tuple[float, int]:
        t = self.t[i]
        if len(t.scale) != 1:
            raise ValueError(f"{t.describe()} must have one scale and zero point, has {len(t.scale)}")
        return t.scale[0], t.zero_point[0]

    def dtype(self, i: int, allowed=("INT8",)) -> str:
        t = self.t[i]
        if t.dtype not in allowed:
            raise ValueError(f"{t.describe()} is {t.dtype.lower()}; this operator takes {'/'.join(allowed).lower()}")
        return INT_TYPES[t.dtype]

    def value(self, i: int) -> str:
        """The intref tensor holding TFLite tensor ``i`` as an operand: an activation, or a constant operand (e.g.
        ``x + c``) declared as a stored constant the first time it is used."""
        t = self.t[i]
        name = self.names[i]
        if t.data is not None and name not in self.b.tensors:
            if t.dtype not in ("INT8", "INT16"):
                raise ValueError(f"constant operand {t.describe()} must be int8 or int16")
            scale, zp = (t.scale[0], t.zero_point[0]) if len(t.scale) == 1 else (None, None)
            self.b.constant(name, t.data, scale=scale, zero_point=zp)
        return name

    def const(self, i: int) -> np.ndarray:
        t = self.t[i]
        if t.data is None:
            raise ValueError(f"{t.describe()} must be a constant")
        return t.data

    def same_quant(self, op: TflOperator, a: int, b: int) -> None:
        ta, tb = self.t[a], self.t[b]
        if ta.quantized and (ta.scale, ta.zero_point) != (tb.scale, tb.zero_point):
            raise ValueError(
                f"{op.op} moves data only: {ta.describe()} and {tb.describe()} must share scale and zero point"
            )

    def out(self, op: TflOperator) -> tuple[str, TflTensor]:
        i = op.outputs[0]
        return self.names[i], self.t[i]

    def node(self, op: TflOperator, kind: str, inputs, *, final: bool = True, suffix: str = "", **kw) -> str:
        """Add a node; the last node of an operator writes the operator's output tensor under its name."""
        name, t = self.out(op)
        rq = kw.get("requant")
        out_rq = rq.out if isinstance(rq, AddParams) else rq
        if isinstance(out_rq, Requant) and t.dtype == "INT16" and out_rq.out_dtype != np.int16:
            # An int16 output whose fused activation clamps within the int8 range: a requant's type follows its
            # range, so requantise to the whole int16 range and clamp after (the same values, in int16).
            wide = Requant(out_rq.scheme, out_rq.multiplier, out_rq.shift, out_rq.zero_point, -32768, 32767)
            kw["requant"] = dataclasses.replace(rq, out=wide) if isinstance(rq, AddParams) else wide
            scale, zp = self.q(op.outputs[0])
            kw.update(scale=scale, zero_point=zp)
            mid = self.node(op, kind, inputs, final=False, suffix=f"{suffix}.wide", **kw)
            clamp_q = {} if final else {"scale": scale, "zero_point": zp}
            attrs = {"lo": out_rq.lo, "hi": out_rq.hi}
            return self.node(op, "clamp", [mid], final=final, suffix=suffix, attrs=attrs, **clamp_q)
        if final:
            scale = t.scale[0] if len(t.scale) == 1 else None
            zp = t.zero_point[0] if len(t.zero_point) == 1 else None
            kw.setdefault("scale", scale)
            kw.setdefault("zero_point", zp)
            return self.b.node(kind, name, list(inputs), output=name, **kw)
        return self.b.node(kind, f"{name}{suffix}", list(inputs), output=f"{name}{suffix}", **kw)

    def requant(self, m, s, op: TflOperator, activation: str | None = None, scheme: str = P.SCHEME) -> Requant:
        i = op.outputs[0]
        scale, zp = self.q(i)
        lo, hi = P.activation_range(activation, self.t[i].dtype, scale, zp)
        return Requant(scheme, np.asarray(m, dtype=np.int64), np.asarray(s, dtype=np.int64), zp, lo, hi)

    def weights(self, data: np.ndarray, t: TflTensor):
        if t.dtype == "INT4":
            return pack_int4(data)
        if data.dtype != np.int8:
            raise ValueError(f"{t.describe()}: weights must be int8 or int4")
        return data

    def bias(self, op: TflOperator, k: int, channels: int) -> np.ndarray | None:
        if len(op.inputs) <= k or op.inputs[k] < 0:
            return None
        b = self.const(op.inputs[k])
        t = self.t[op.inputs[k]]
        if b.dtype not in (np.int32, np.int64) or b.size != channels:
            raise ValueError(f"{t.describe()}: the bias must be int32 or int64 with {channels} entries")
        if b.dtype == np.int64:  # the 16x8 form's int64 bias: intref's bias is int32
            if b.size and (b.min() < -(2**31) or b.max() > 2**31 - 1):
                raise ValueError(f"{t.describe()}: an int64 bias beyond the int32 range is not supported")
            b = b.astype(np.int32)
        return b.reshape(channels)

    # --- operators ---

    def conv_2d(self, op: TflOperator) -> None:
        w = self.const(op.inputs[1])
        oc, kh, kw, ic = w.shape
        c = self.t[op.inputs[0]].shape[3]
        if ic != c:
            raise ValueError(f"grouped convolution ({c} input channels, filters over {ic}) is not supported")
        self._conv(op, "conv2d", w.reshape(oc, kh * kw * ic), (kh, kw), scale_axis=0, extra={})

    def depthwise_conv_2d(self, op: TflOperator) -> None:
        w = self.const(op.inputs[1])
        one, kh, kw, oc = w.shape
        c = self.t[op.inputs[0]].shape[3]
        if one != 1 or oc % c:
            raise ValueError(f"depthwise filter {list(w.shape)} does not fit {c} input channels")
        # TFLite's [1, KH, KW, C*m] as intref's [C*m, KH*KW]
        w2 = w.reshape(kh * kw, oc).T.copy()
        self._conv(op, "depthwise_conv2d", w2, (kh, kw), scale_axis=3, extra={"depth_multiplier": oc // c})

    def _conv(self, op: TflOperator, kind: str, w2: np.ndarray, kernel, scale_axis: int, extra: dict) -> None:
        """A convolution node: weights as intref lays them out ([C_out, ...]), SAME/VALID padding resolved, per
        output channel multipliers."""
        x, wt = op.inputs[0], self.t[op.inputs[1]]
        self.dtype(x, ("INT8", "INT16"))
        self._check_weight_zp(wt)
        o = op.options
        stride, dilation = (o["stride_h"], o["stride_w"]), (o["dilation_h"], o["dilation_w"])
        pad_h, pad_w = self._padding(op, self.t[x].shape[1:3], kernel, stride, dilation)
        in_scale, in_zp = self.q(x)
        oc = w2.shape[0]
        m, s = P.conv_multipliers(in_scale, self._w_scales(wt, oc, scale_axis), self.q(op.outputs[0])[0])
        attrs = {"kernel": kernel, "stride": stride, "dilation": dilation, "pad_h": pad_h, "pad_w": pad_w}
        requant, acc = self._accumulation(op, m, s, o["activation"], P.SCHEME, int32_bias_allowed=kind == "conv2d")
        self.node(
            op,
            kind,
            [self.value(x)],
            params={"w": self.weights(w2, wt), **self._bias_param(op, oc)},
            attrs={**attrs, "x_zp": in_zp, **extra},
            requant=requant,
            acc=acc,
        )

    def _accumulation(self, op, m, s, activation, scheme: str, int32_bias_allowed: bool):
        """The requant and accumulator of a convolution or FULLY_CONNECTED. int8 activations accumulate in int32.
        The 16x8 form (int16 activations) does too with an int32 bias. With an int64 bias or none, it accumulates
        in int64 and rescales with TFLite's 64-bit MultiplyByQuantizedMultiplier. That rescale is exactly TOSA's
        apply_scale_16 (intref's ``tosa_scale16``): the multiplier is rounded to 16 bits, ``(M + 2^15) >> 16``
        (0x7FFF from 0x7FFF0000 up), and there is one rounding by ``2^(15 - shift)``."""
        if self.t[op.inputs[0]].dtype == "INT8":
            return self.requant(m, s, op, activation, scheme), Accumulator()
        bias = op.inputs[2] if len(op.inputs) > 2 else -1
        if bias >= 0 and self.t[bias].dtype == "INT32":
            if not int32_bias_allowed:
                raise ValueError("a 16x8 DEPTHWISE_CONV_2D takes an int64 bias")
            return self.requant(m, s, op, activation, scheme), Accumulator()
        m, s = np.atleast_1d(np.asarray(m, dtype=np.int64)), np.atleast_1d(np.asarray(s, dtype=np.int64))
        if np.any(s >= 8):
            raise ValueError(f"a 16x8 rescale needs shifts below 8, got {int(s.max())}")
        reduced = np.where(m < 0x7FFF0000, (m + (1 << 15)) >> 16, 0x7FFF)
        wide = self.requant(reduced, 15 - s, op, activation, "tosa_scale16")
        return wide, Accumulator("error", 48)  # TFLite requires the int64 accumulator to stay within 48 bits

    def fully_connected(self, op: TflOperator) -> None:
        x, w_i = op.inputs[0], op.inputs[1]
        dt = self.dtype(x, ("INT8", "INT16"))
        wt = self.t[w_i]
        w = self.const(w_i)
        if w.ndim != 2:
            raise ValueError(f"{wt.describe()}: FULLY_CONNECTED weights must be 2-D")
        if op.options.get("weights_format", 0):
            raise ValueError("shuffled FULLY_CONNECTED weights are not supported")
        units, k = w.shape
        self._check_weight_zp(wt)
        in_scale, in_zp = self.q(x)
        out_scale, out_zp = self.q(op.outputs[0])
        # LiteRT's reference FULLY_CONNECTED rounds the rescale once (measured: docs/TFLITE.md)
        scheme = "single" if self.reference == "litert" else P.SCHEME
        if len(wt.scale) > 1:
            m, s = P.conv_multipliers(in_scale, self._w_scales(wt, units, 0), out_scale)
        else:
            m, s = P.fc_multiplier(in_scale, wt.scale[0], out_scale)
        requant, acc = self._accumulation(op, m, s, op.options["activation"], scheme, int32_bias_allowed=True)
        size = int(np.prod(self.t[x].shape))
        if size % k:
            raise ValueError(f"input {list(self.t[x].shape)} does not split into rows of {k}")
        rows = size // k
        if dt == "int8":  # a linear layer over the rows
            kind, shape, attrs = "linear", (rows, units), {"x_zp": in_zp}
            in_shape = (rows, k)
        else:  # 16x8: a 1x1 convolution over [1, rows, 1, K], which has the 16-bit reference path
            kind, shape, in_shape = "conv2d", (1, rows, 1, units), (1, rows, 1, k)
            attrs = {"kernel": (1, 1), "stride": (1, 1), "dilation": (1, 1), "pad_h": (0, 0), "pad_w": (0, 0)}
            attrs["x_zp"] = in_zp
        src = self.value(x)
        if self.t[x].shape != in_shape:
            src = self.node(op, "reshape", [src], final=False, suffix=".rows", attrs={"shape": in_shape})
        oshape = self.t[op.outputs[0]].shape
        final = oshape == shape
        self.node(
            op,
            kind,
            [src],
            final=final,
            suffix=".fc",
            params={"w": self.weights(w, wt), **self._bias_param(op, units)},
            attrs=attrs,
            requant=requant,
            acc=acc,
            **({} if final else {"scale": out_scale, "zero_point": out_zp}),
        )
        if not final:
            self.node(op, "reshape", [f"{self.out(op)[0]}.fc"], attrs={"shape": oshape})

    def add(self, op: TflOperator, subtract: bool = False) -> None:
        a, b = op.inputs[:2]
        dt = self.dtype(a, ("INT8", "INT16"))
        self.dtype(b, ("INT8", "INT16"))
        if dt == "int16" and (op.options.get("pot_scale_int16") or self.t[a].zero_point[0] or self.t[b].zero_point[0]):
            raise ValueError(
                "16-bit ADD/SUB is supported in its general form only (zero points 0, pot_scale_int16 false)"
            )
        left = 15 if dt == "int16" else 20
        (s1, z1), (s2, z2) = self.q(a), self.q(b)
        (m1, sh1), (m2, sh2), (mo, sho) = P.add_multipliers(s1, s2, self.q(op.outputs[0])[0], left, subtract)
        out = self.requant(mo, sho, op, op.options["activation"])
        params = AddParams(z1, z2, left, np.int64(m1), np.int64(sh1), np.int64(m2), np.int64(sh2), out)
        self.node(op, "sub" if subtract else "add", [self.value(a), self.value(b)], requant=params, acc=Accumulator())

    def sub(self, op: TflOperator) -> None:
        self.add(op, subtract=True)

    def mul(self, op: TflOperator) -> None:
        a, b = op.inputs[:2]
        self.dtype(a, ("INT8", "INT16"))
        self.dtype(b, ("INT8", "INT16"))
        (s1, z1), (s2, z2) = self.q(a), self.q(b)
        m, s = P.multiplier(float(s1) * float(s2) / float(self.q(op.outputs[0])[0]))
        self.node(
            op,
            "mul",
            [self.value(a), self.value(b)],
            attrs={"a_zp": z1, "b_zp": z2},
            requant=self.requant(m, s, op, op.options["activation"]),
            acc=Accumulator(),
        )

    def mean(self, op: TflOperator) -> None:
        x = op.inputs[0]
        self.dtype(x, ("INT8", "INT16"))
        shape = self.t[x].shape
        axes = sorted({int(a) % len(shape) for a in np.atleast_1d(self.const(op.inputs[1]))})
        count = int(np.prod([shape[a] for a in axes]))
        in_scale, in_zp = self.q(x)
        m, s = P.mean_multiplier(in_scale, self.q(op.outputs[0])[0], count)
        keep = bool(op.options.get("keep_dims"))
        self.node(
            op,
            "reduce_sum",
            [self.value(x)],
            attrs={"axes": tuple(axes), "keep_dims": int(keep), "x_zp": in_zp},
            requant=self.requant(m, s, op),
            acc=Accumulator(),
        )

    def _pool(self, op: TflOperator, kind: str) -> None:
        x = op.inputs[0]
        self.dtype(x, ("INT8", "INT16"))
        self.same_quant(op, x, op.outputs[0])
        o = op.options
        n, h, w, c = self.t[x].shape
        k = (o["filter_h"], o["filter_w"])
        pad_h, pad_w = self._padding(op, (h, w), k, (o["stride_h"], o["stride_w"]), (1, 1))
        scale, zp = self.q(op.outputs[0])
        lo, hi = P.activation_range(o["activation"], self.t[x].dtype, scale, zp)
        self.node(
            op,
            kind,
            [self.value(x)],
            attrs={
                "kernel": k,
                "stride": (o["stride_h"], o["stride_w"]),
                "pad_h": pad_h,
                "pad_w": pad_w,
                "lo": lo,
                "hi": hi,
            },
        )

    def average_pool_2d(self, op: TflOperator) -> None:
        self._pool(op, "avg_pool2d")

    def max_pool_2d(self, op: TflOperator) -> None:
        self._pool(op, "max_pool2d")

    def reshape(self, op: TflOperator) -> None:
        x = op.inputs[0]
        self.same_quant(op, x, op.outputs[0])
        self.node(op, "reshape", [self.value(x)], attrs={"shape": self.t[op.outputs[0]].shape})

    squeeze = reshape
    expand_dims = reshape

    def transpose(self, op: TflOperator) -> None:
        x = op.inputs[0]
        self.same_quant(op, x, op.outputs[0])
        perm = tuple(int(p) % len(self.t[x].shape) for p in self.const(op.inputs[1]).ravel())
        self.node(op, "permute", [self.value(x)], attrs={"perm": perm})

    def pad(self, op: TflOperator) -> None:
        x = op.inputs[0]
        self.dtype(x, ("INT8", "INT16"))
        self.same_quant(op, x, op.outputs[0])
        pads = self.const(op.inputs[1]).astype(np.int64)
        if pads.shape != (len(self.t[x].shape), 2) or pads.min() < 0:
            raise ValueError(f"paddings {pads.tolist()} must be [rank, 2] of non-negative values")
        value = self.q(op.outputs[0])[1]
        if len(op.inputs) > 2 and op.inputs[2] >= 0:  # PADV2's constant
            value = int(self.const(op.inputs[2]).ravel()[0])
        self.node(op, "pad", [self.value(x)], attrs={"pads": tuple(int(v) for v in pads.ravel()), "value": value})

    padv2 = pad

    def strided_slice(self, op: TflOperator) -> None:
        x = op.inputs[0]
        self.same_quant(op, x, op.outputs[0])
        shape = self.t[x].shape
        o = op.options
        if o.get("ellipsis_mask") or o.get("new_axis_mask"):
            raise ValueError("STRIDED_SLICE with ellipsis_mask or new_axis_mask is not supported")
        begin, end, strides = (self.const(i).astype(np.int64).ravel() for i in op.inputs[1:4])
        rank = len(shape)
        if not len(begin) == len(end) == len(strides) == rank:
            raise ValueError(f"begin/end/strides must have {rank} entries")
        starts, sizes = [], []
        for a in range(rank):
            dim, s = shape[a], int(strides[a])
            if s == 0:
                raise ValueError(f"stride of axis {a} is 0")
            bit = 1 << a
            start, stop = int(begin[a]), int(end[a])
            if o.get("offset"):
                stop += start
            start = _axis_bound(start, dim, s, bool(o["begin_mask"] & bit), True)
            if o["shrink_axis_mask"] & bit:
                stop, s = start + 1, 1
            else:
                stop = _axis_bound(stop, dim, s, bool(o["end_mask"] & bit), False)
            count = max(0, -(-(stop - start) // s)) if s > 0 else max(0, -(-(start - stop) // -s))
            strides[a] = s
            starts.append(start if count else 0)
            sizes.append(count)
        full = tuple(sizes)
        oshape = self.t[op.outputs[0]].shape
        final = full == oshape
        self.node(
            op,
            "strided_slice",
            [self.value(x)],
            final=final,
            suffix=".slice",
            attrs={"begin": tuple(starts), "size": full, "strides": tuple(int(v) for v in strides)},
            **({} if final else {"scale": self.q(x)[0], "zero_point": self.q(x)[1]}),
        )
        if not final:
            self.node(op, "reshape", [f"{self.out(op)[0]}.slice"], attrs={"shape": oshape})

    def concatenation(self, op: TflOperator) -> None:
        for i in op.inputs:
            self.same_quant(op, i, op.outputs[0])
        if op.options.get("activation") not in (None, "NONE"):
            raise ValueError("CONCATENATION with a fused activation is not supported")
        axis = int(op.options["axis"]) % len(self.t[op.outputs[0]].shape)
        self.node(op, "concatenate", [self.value(i) for i in op.inputs], attrs={"axis": axis})

    def relu(self, op: TflOperator) -> None:
        x = op.inputs[0]
        dt = self.dtype(x, ("INT8", "INT16"))
        (si, zi), (so, zo) = self.q(x), self.q(op.outputs[0])
        m, s = P.relu_multiplier(si, so)
        table = relu_tflite(_all_values(dt), m, s, zi, zo)  # the kernel on every input
        self.node(op, "lut", [self.value(x)], params={"table": table})

    def relu6(self, op: TflOperator) -> None:
        x = op.inputs[0]
        dt = self.dtype(x, ("INT8", "INT16"))
        scale, zp = self.q(x)
        lo_q, hi_q = P.QRANGE[self.t[x].dtype]
        six = min(max(P.quantize_value(6.0, scale, zp), lo_q), hi_q)
        # TFLite Micro clamps to [zero, six] of the input's quantisation; the output's is not read
        if self.t[op.outputs[0]].dtype != self.t[x].dtype:
            raise ValueError(f"input and output types differ ({dt}, {self.t[op.outputs[0]].dtype.lower()})")
        self.node(op, "clamp", [self.value(x)], attrs={"lo": zp, "hi": six}, scale=scale, zero_point=zp)

    def leaky_relu(self, op: TflOperator) -> None:
        x = op.inputs[0]
        dt = self.dtype(x, ("INT8", "INT16"))
        (si, zi), (so, zo) = self.q(x), self.q(op.outputs[0])
        alpha, identity = P.leaky_relu_multipliers(si, op.options["alpha"], so)
        table = leaky_relu_tflite(_all_values(dt), identity, alpha, zi, zo)  # the kernel on every input
        self.node(op, "lut", [self.value(x)], params={"table": table})

    def softmax(self, op: TflOperator) -> None:
        x, out = op.inputs[0], op.outputs[0]
        in_dt = self.dtype(x, ("INT8", "INT16"))
        out_dt = self.dtype(out, ("INT8", "INT16"))
        (in_scale, in_zp), (out_scale, out_zp) = self.q(x), self.q(out)
        p = SoftmaxTflite.from_quantization(
            in_scale, op.options["beta"], out_scale, out_zp, np.dtype(in_dt), np.dtype(out_dt), input_zero_point=in_zp
        )
        attrs = {
            "multiplier": p.input_multiplier,
            "left_shift": p.input_left_shift,
            "diff_min": p.diff_min,
            "in_bits": 8 * p.in_dtype.itemsize,
            "out_bits": 8 * p.out_dtype.itemsize,
        }
        self.node(op, "softmax_tflite", [self.value(x)], attrs=attrs)

    def _sigmoid(self, op: TflOperator, params_cls, function) -> None:
        x, out = op.inputs[0], op.outputs[0]
        dt = self.dtype(x, ("INT8", "INT16"))
        if self.t[out].dtype != self.t[x].dtype:
            raise ValueError(f"input and output types differ ({dt}, {self.t[out].dtype.lower()})")
        params = params_cls.from_quantization(*self.q(x), *self.q(out), dtype=np.dtype(dt))
        table = function(_all_values(dt), params)  # the kernel on every input
        self.node(op, "lut", [self.value(x)], params={"table": table})

    def logistic(self, op: TflOperator) -> None:
        self._sigmoid(op, LogisticTflite, logistic_tflite)

    def tanh(self, op: TflOperator) -> None:
        self._sigmoid(op, TanhTflite, tanh_tflite)

    def quantize(self, op: TflOperator) -> None:
        x = op.inputs[0]
        out = op.outputs[0]
        if self.t[x].dtype == "FLOAT32":
            raise ValueError("QUANTIZE from float32 is supported only at the graph's inputs")
        self.dtype(x, ("INT8", "INT16"))
        self.dtype(out, ("INT8", "INT16"))
        (si, zi), (so, zo) = self.q(x), self.q(out)
        m, s = P.multiplier(float(si) / float(so))
        lo, hi = P.QRANGE[self.t[out].dtype]
        self.node(
            op,
            "requantize",
            [self.value(x)],
            attrs={"x_zp": zi},
            requant=Requant(P.SCHEME, np.int64(m), np.int64(s), zo, lo, hi),
            acc=Accumulator(),
        )

    # --- shared checks ---

    def _check_weight_zp(self, wt: TflTensor) -> None:
        if any(wt.zero_point):
            raise ValueError(f"{wt.describe()}: weights must be symmetric (zero point 0)")

    def _w_scales(self, wt: TflTensor, channels: int, axis: int) -> tuple[float, ...]:
        if len(wt.scale) == 1:
            return wt.scale * channels
        if len(wt.scale) != channels or wt.quantized_dimension != axis:
            raise ValueError(
                f"{wt.describe()}: {len(wt.scale)} scales on axis {wt.quantized_dimension}; "
                f"expected 1 or {channels} on axis {axis}"
            )
        return wt.scale

    def _bias_param(self, op: TflOperator, channels: int) -> dict:
        b = self.bias(op, 2, channels)
        return {} if b is None else {"bias": b}

    def _padding(self, op, size, k, stride, dilation):
        oshape = self.t[op.outputs[0]].shape
        pads, outs = [], []
        for a in range(2):
            if op.options["padding"] == "SAME":
                pad, out = P.same_padding(size[a], k[a], stride[a], dilation[a])
            elif op.options["padding"] == "VALID":
                pad, out = (0, 0), P.valid_output(size[a], k[a], stride[a], dilation[a])
            else:
                raise ValueError(f"padding {op.options['padding']} is not supported")
            pads.append(pad)
            outs.append(out)
        if tuple(outs) != tuple(oshape[1:3]):
            raise ValueError(f"the output {list(oshape)} does not match the computed size {outs}")
        return pads[0], pads[1]

    # --- the whole model ---

    def run(self) -> Model:
        consumed_inputs = self._boundary()
        for op in self.m.operators:
            if op.index in consumed_inputs:
                continue
            try:
                handler = _HANDLERS.get(op.op)
                if handler is None:
                    raise ValueError(f"{op.op} is supported only at a float output of the graph")
                handler(self, op)
            except ValueError as exc:
                raise UnsupportedTfliteError(
                    f"operator {op.index} ({op.op}, output {self.t[op.outputs[0]].describe()}): {exc}"
                ) from None
        return self.b.build()

    def _boundary(self) -> set[int]:
        """Graph inputs (a float input through QUANTIZE starts at the quantised tensor) and outputs (likewise
        through DEQUANTIZE); returns the indices of the boundary operators."""
        skipped: set[int] = set()
        producers = {o: op for op in self.m.operators for o in op.outputs}
        consumers: dict[int, list[TflOperator]] = {}
        for op in self.m.operators:
            for i in op.inputs:
                consumers.setdefault(i, []).append(op)
        for i in self.m.inputs:
            t = self.t[i]
            if t.dtype == "FLOAT32":
                users = consumers.get(i, [])
                if len(users) != 1 or users[0].op != "QUANTIZE":
                    raise UnsupportedTfliteError(f"float input {t.describe()} must feed exactly one QUANTIZE")
                q = users[0].outputs[0]
                skipped.add(users[0].index)
                self.float_inputs[self.names[q]] = {
                    "from": t.name,
                    "scale": self.t[q].scale[0],
                    "zero_point": self.t[q].zero_point[0],
                }
                i, t = q, self.t[q]
            self._declare_input(t)
        outputs = []
        for i in self.m.outputs:
            t = self.t[i]
            if t.dtype == "FLOAT32":
                op = producers.get(i)
                if op is None or op.op != "DEQUANTIZE":
                    raise UnsupportedTfliteError(f"float output {t.describe()} must come from a DEQUANTIZE")
                skipped.add(op.index)
                src = op.inputs[0]
                self.float_outputs[self.names[src]] = {
                    "to": t.name,
                    "scale": self.t[src].scale[0],
                    "zero_point": self.t[src].zero_point[0],
                }
                i = src
            outputs.append(self.names[i])
        self.b.output(*outputs)
        self.b.model["tflite"] = {
            "float_inputs": self.float_inputs,
            "float_outputs": self.float_outputs,
            "description": self.m.description,
            "reference": self.reference,
        }
        return skipped

    def _declare_input(self, t: TflTensor) -> None:
        if t.dtype not in ("INT8", "INT16"):
            raise UnsupportedTfliteError(f"input {t.describe()}: only int8/int16 (or float through QUANTIZE) inputs")
        scale, zp = (t.scale[0], t.zero_point[0]) if len(t.scale) == 1 else (None, None)
        self.b.input(self.names[t.index], INT_TYPES[t.dtype], t.shape, scale=scale, zero_point=zp)


def _axis_bound(value: int, dim: int, stride: int, masked: bool, is_begin: bool) -> int:
    """TF's StridedSlice start/stop of one axis: masks take the whole axis, negatives count from the end, and the
    result is clamped to [0, dim] (positive stride) or [-1, dim - 1] (negative)."""
    if masked:
        if is_begin:
            return 0 if stride > 0 else dim - 1
        return dim if stride > 0 else -1
    if value < 0:
        value += dim
    return min(max(value, 0), dim) if stride > 0 else min(max(value, -1), dim - 1)


def _all_values(dtype: str) -> np.ndarray:
    """Every value of an integer type, in that type: the inputs a lookup table is built on."""
    info = np.iinfo(dtype)
    return np.arange(info.min, info.max + 1).astype(dtype)


_HANDLERS: dict[str, Callable[[_Importer, TflOperator], None]] = {
    "CONV_2D": _Importer.conv_2d,
    "DEPTHWISE_CONV_2D": _Importer.depthwise_conv_2d,
    "FULLY_CONNECTED": _Importer.fully_connected,
    "ADD": _Importer.add,
    "SUB": _Importer.sub,
    "MUL": _Importer.mul,
    "MEAN": _Importer.mean,
    "AVERAGE_POOL_2D": _Importer.average_pool_2d,
    "MAX_POOL_2D": _Importer.max_pool_2d,
    "RESHAPE": _Importer.reshape,
    "SQUEEZE": _Importer.squeeze,
    "EXPAND_DIMS": _Importer.expand_dims,
    "TRANSPOSE": _Importer.transpose,
    "PAD": _Importer.pad,
    "PADV2": _Importer.padv2,
    "STRIDED_SLICE": _Importer.strided_slice,
    "CONCATENATION": _Importer.concatenation,
    "RELU": _Importer.relu,
    "RELU6": _Importer.relu6,
    "LEAKY_RELU": _Importer.leaky_relu,
    "QUANTIZE": _Importer.quantize,
    "SOFTMAX": _Importer.softmax,
    "LOGISTIC": _Importer.logistic,
    "TANH": _Importer.tanh,
}


def supported_operators() -> list[str]:
    return sorted(_HANDLERS)


def _refuse_unsupported(model: TflModel) -> None:
    missing: dict[str, list[str]] = {}
    for op in model.operators:
        if op.op not in _HANDLERS and op.op != "DEQUANTIZE":  # DEQUANTIZE: at float outputs only
            where = ", ".join(model.tensors[o].name for o in op.outputs)
            missing.setdefault(op.op, []).append(f"operator {op.index} (output {where})")
    if missing:
        lines = [f"  {name}: {'; '.join(places)}" for name, places in sorted(missing.items())]
        raise UnsupportedTfliteError(
            "the model uses operators intref does not import:\n"
            + "\n".join(lines)
            + f"\nsupported: {', '.join(supported_operators())}, and QUANTIZE/DEQUANTIZE at float inputs/outputs"
        )


REFERENCES = ("tflm", "litert")


def import_tflite(
    source: bytes | bytearray | str | os.PathLike, *, name: str | None = None, reference: str = "tflm"
) -> Model:
    """Import a full-integer TFLite model (bytes or a path) as an intref :class:`~intref.graph.Model`.

    ``reference``: ``tflm`` (default) follows TensorFlow Lite Micro's reference kernels; ``litert`` follows LiteRT's
    reference resolver where the two differ (FULLY_CONNECTED: single rounding; docs/TFLITE.md)."""
    if reference not in REFERENCES:
        raise ValueError(f"reference must be one of {', '.join(REFERENCES)}, got {reference!r}")
    model = read_tflite(source)
    if model.subgraphs != 1:
        raise UnsupportedTfliteError(f"the model has {model.subgraphs} subgraphs; only single-subgraph models import")
    _refuse_unsupported(model)
    if name is None:
        name = Path(source).stem if isinstance(source, (str, os.PathLike)) else "tflite-model"
    return _Importer(model, name, reference).run()
