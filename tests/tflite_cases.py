"""Random single-operator int8 TFLite models, shaped and quantised the way a TFLite converter makes them.

``CASES[op](rng)`` returns a :class:`Case`: the model's bytes and random inputs (the full int8 range, with -128
and 127 present). Sizes stay small: these run by the thousand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from intref.models.tflite.writer import OpDef, TensorDef, build_model

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


@dataclass
class Case:
    op: str
    model: bytes
    inputs: list[np.ndarray]
    info: dict = field(default_factory=dict)


def _scale(rng, lo=1e-3, hi=1.0) -> float:
    return float(np.float32(10 ** rng.uniform(np.log10(lo), np.log10(hi))))


def _zp(rng, dtype="int8") -> int:
    return 0 if dtype == "int16" else int(rng.integers(-128, 128))


def _data(rng, shape, dtype="int8") -> np.ndarray:
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max + 1, size=shape).astype(dtype)
    if x.size >= 2:
        flat = x.reshape(-1)
        flat[rng.integers(0, x.size)] = info.min
        flat[rng.integers(0, x.size)] = info.max
    return x


def _single(op, tensors, inputs, outputs, options=None, info=None, rng=None, data_inputs=None) -> Case:
    model = build_model(tensors, [OpDef(op, inputs, outputs, options or {})], data_inputs or inputs[:1], outputs)
    feeds = [_data(rng, tensors[i].shape, tensors[i].dtype) for i in (data_inputs or inputs[:1])]
    return Case(op, model, feeds, info or {})


def _weights(rng, shape, int4: bool) -> np.ndarray:
    """Symmetric weights: int8 in [-127, 127], or int4 in [-8, 7] (stored packed)."""
    lo, hi = (-8, 8) if int4 else (-127, 128)
    return rng.integers(lo, hi, size=shape).astype(np.int8)


def _bias(rng, act: str, channels: int, in_scale, w_scales, values, allow_int32: bool = True) -> TensorDef:
    """int32 biases for int8 activations; for the 16x8 form int64 (the converter's), or int32 where TFLite Micro
    takes it (then it accumulates in int32)."""
    scales = [in_scale * ws for ws in w_scales] if len(w_scales) == channels else [in_scale * w_scales[0]]
    zps = [0] * len(scales)
    if act == "int16" and not (allow_int32 and rng.random() < 0.3):
        return TensorDef("b", "int64", (channels,), scales, zps, 0, values.astype(np.int64) * 64)
    return TensorDef("b", "int32", (channels,), scales, zps, 0, values)


def _out_size(size, k, stride, dilation, padding) -> int:
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size - (k - 1) * dilation - 1 + stride) // stride


def _window(rng, h, w, dilated: bool):
    """kernel, stride, dilation and padding that give at least one output position."""
    while True:
        k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        s = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        d = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if dilated else (1, 1)
        pad = str(rng.choice(["SAME", "VALID"]))
        oh, ow = _out_size(h, k[0], s[0], d[0], pad), _out_size(w, k[1], s[1], d[1], pad)
        if oh >= 1 and ow >= 1:
            return k, s, d, pad, oh, ow


def conv_2d(rng, int4: bool = False, act: str = "int8") -> Case:
    n, h, w, cin, cout = (int(rng.integers(a, b)) for a, b in ((1, 3), (1, 9), (1, 9), (1, 5), (1, 6)))
    k, s, d, pad, oh, ow = _window(rng, h, w, True)
    in_scale, w_scales = _scale(rng), [_scale(rng, 1e-3, 2e-2) for _ in range(cout)]
    depth = k[0] * k[1] * cin
    out_scale = float(np.float32(in_scale * np.median(w_scales) * np.sqrt(depth) * rng.uniform(20, 120)))
    weights = _weights(rng, (cout, k[0], k[1], cin), int4)
    bias = rng.integers(-(2**14), 2**14, size=cout).astype(np.int32)
    tensors = [
        TensorDef("x", act, (n, h, w, cin), in_scale, _zp(rng, act)),
        TensorDef("w", "int4" if int4 else "int8", weights.shape, w_scales, [0] * cout, 0, weights),
        _bias(rng, act, cout, in_scale, w_scales, bias),
        TensorDef("y", act, (n, oh, ow, cout), out_scale, _zp(rng, act)),
    ]
    opts = {
        "padding": pad,
        "stride_h": s[0],
        "stride_w": s[1],
        "dilation_h_factor": d[0],
        "dilation_w_factor": d[1],
        "fused_activation_function": str(rng.choice(ACTIVATIONS)),
    }
    return _single("CONV_2D", tensors, [0, 1, 2], [3], opts, opts | {"shape": (n, h, w, cin), "k": k}, rng)


def depthwise_conv_2d(rng, int4: bool = False, act: str = "int8") -> Case:
    n, h, w, cin, m = (int(rng.integers(a, b)) for a, b in ((1, 3), (1, 9), (1, 9), (1, 5), (1, 4)))
    cout = cin * m
    k, s, d, pad, oh, ow = _window(rng, h, w, True)
    in_scale, w_scales = _scale(rng), [_scale(rng, 1e-3, 2e-2) for _ in range(cout)]
    out_scale = float(np.float32(in_scale * np.median(w_scales) * k[0] * k[1] * rng.uniform(5, 60)))
    weights = _weights(rng, (1, k[0], k[1], cout), int4)
    bias = rng.integers(-(2**14), 2**14, size=cout).astype(np.int32)
    tensors = [
        TensorDef("x", act, (n, h, w, cin), in_scale, _zp(rng, act)),
        TensorDef("w", "int4" if int4 else "int8", weights.shape, w_scales, [0] * cout, 3, weights),
        _bias(rng, act, cout, in_scale, w_scales, bias, allow_int32=False),
        TensorDef("y", act, (n, oh, ow, cout), out_scale, _zp(rng, act)),
    ]
    opts = {
        "padding": pad,
        "stride_h": s[0],
        "stride_w": s[1],
        "dilation_h_factor": d[0],
        "dilation_w_factor": d[1],
        "depth_multiplier": m,
        "fused_activation_function": str(rng.choice(ACTIVATIONS)),
    }
    return _single("DEPTHWISE_CONV_2D", tensors, [0, 1, 2], [3], opts, opts | {"shape": (n, h, w, cin)}, rng)


def fully_connected(rng, int4: bool = False, act: str = "int8") -> Case:
    batch, depth, units = int(rng.integers(1, 4)), int(rng.integers(1, 40)), int(rng.integers(1, 9))
    per_channel = bool(rng.integers(0, 2)) and not int4  # TFLite Micro: int4 FULLY_CONNECTED is per-tensor only
    in_scale = _scale(rng)
    w_scales = [_scale(rng, 1e-3, 2e-2) for _ in range(units if per_channel else 1)]
    out_scale = float(np.float32(in_scale * np.median(w_scales) * np.sqrt(depth) * rng.uniform(20, 120)))
    weights = _weights(rng, (units, depth), int4)
    with_bias = bool(rng.integers(0, 4))
    tensors = [
        TensorDef("x", act, (batch, depth), in_scale, _zp(rng, act)),
        TensorDef("w", "int4" if int4 else "int8", weights.shape, w_scales, [0] * len(w_scales), 0, weights),
        _bias(rng, act, units, in_scale, w_scales, rng.integers(-(2**14), 2**14, size=units).astype(np.int32)),
        TensorDef("y", act, (batch, units), out_scale, _zp(rng, act)),
    ]
    opts = {"fused_activation_function": str(rng.choice(ACTIVATIONS))}
    inputs = [0, 1, 2] if with_bias else [0, 1, -1]
    info = opts | {"per_channel": per_channel, "bias": with_bias, "shape": (batch, depth, units), "act": act}
    return _single("FULLY_CONNECTED", tensors, inputs, [3], opts, info, rng)


def _broadcast_shapes(rng):
    shape = (1, int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 6)))
    other = [shape, (shape[-1],), (1, 1, 1, shape[-1]), (1, shape[1], 1, 1), ()][int(rng.integers(0, 5))]
    return (shape, other) if rng.integers(0, 2) else (other, shape), shape


def _binary(op: str, rng, dtype: str = "int8") -> Case:
    (sa, sb), out = _broadcast_shapes(rng)
    scales = [_scale(rng, 1e-2, 1.0) for _ in range(3)]
    if dtype == "int16":
        scales = [s / 256 for s in scales]
    if op == "MUL":
        scales[2] = float(np.float32(scales[0] * scales[1] * rng.uniform(20, 200) * (256 if dtype == "int16" else 1)))
    tensors = [
        TensorDef("a", dtype, sa, scales[0], _zp(rng, dtype)),
        TensorDef("b", dtype, sb, scales[1], _zp(rng, dtype)),
        TensorDef("y", dtype, out, scales[2], _zp(rng, dtype)),
    ]
    opts = {"fused_activation_function": str(rng.choice(ACTIVATIONS))}
    if dtype == "int16" and op != "MUL":
        opts["pot_scale_int16"] = False  # the general 16-bit form (the schema's default is the power-of-two one)
    return _single(op, tensors, [0, 1], [2], opts, opts | {"shapes": (sa, sb)}, rng, data_inputs=[0, 1])


def mean(rng, dtype: str = "int8") -> Case:
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 7)), int(rng.integers(1, 7)), int(rng.integers(1, 5)))
    axes = [[1, 2], [2, 1], [1], [2], [3], [1, 2, 3], [-1]][int(rng.integers(0, 7))]
    keep = bool(rng.integers(0, 2))
    resolved = sorted({a % 4 for a in axes})
    out = tuple(1 if i in resolved else d for i, d in enumerate(shape) if keep or i not in resolved)
    tensors = [
        TensorDef("x", dtype, shape, _scale(rng), _zp(rng, dtype)),
        TensorDef("axes", "int32", (len(axes),), data=np.array(axes, dtype=np.int32)),
        TensorDef("y", dtype, out, _scale(rng), _zp(rng, dtype)),
    ]
    info = {"axes": axes, "keep_dims": keep, "shape": shape}
    return _single("MEAN", tensors, [0, 1], [2], {"keep_dims": keep}, info, rng)


def _pool(op: str, rng, dtype: str = "int8") -> Case:
    shape = (1, int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 5)))
    while True:
        k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        s = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        pad = str(rng.choice(["SAME", "VALID"]))
        oh, ow = _out_size(shape[1], k[0], s[0], 1, pad), _out_size(shape[2], k[1], s[1], 1, pad)
        if oh >= 1 and ow >= 1:
            break
    scale, zp = _scale(rng), _zp(rng, dtype)
    tensors = [TensorDef("x", dtype, shape, scale, zp), TensorDef("y", dtype, (1, oh, ow, shape[3]), scale, zp)]
    opts = {
        "padding": pad,
        "stride_h": s[0],
        "stride_w": s[1],
        "filter_height": k[0],
        "filter_width": k[1],
        "fused_activation_function": str(rng.choice(ACTIVATIONS)),
    }
    return _single(op, tensors, [0], [1], opts, opts | {"shape": shape}, rng)


def _same_quant_pair(rng, shape_in, shape_out):
    scale, zp = _scale(rng), _zp(rng)
    return TensorDef("x", "int8", shape_in, scale, zp), TensorDef("y", "int8", shape_out, scale, zp)


def reshape(rng) -> Case:
    dims = [int(rng.integers(1, 5)) for _ in range(int(rng.integers(1, 5)))]
    size = int(np.prod(dims))
    out = [size] if rng.integers(0, 2) else [1, size]
    x, y = _same_quant_pair(rng, tuple(dims), tuple(out))
    shape_t = TensorDef("shape", "int32", (len(out),), data=np.array(out, dtype=np.int32))
    return _single("RESHAPE", [x, shape_t, y], [0, 1], [2], {"new_shape": out}, {"from": dims, "to": out}, rng)


def squeeze(rng) -> Case:
    shape = (1, int(rng.integers(1, 5)), 1, int(rng.integers(1, 5)))
    dims = [[0, 2], [2], [0]][int(rng.integers(0, 3))]
    out = tuple(d for i, d in enumerate(shape) if i not in dims)
    x, y = _same_quant_pair(rng, shape, out)
    return _single("SQUEEZE", [x, y], [0], [1], {"squeeze_dims": dims}, {"dims": dims}, rng)


def pad(rng) -> Case:
    shape = tuple(int(rng.integers(1, 5)) for _ in range(int(rng.integers(1, 5))))
    pads = rng.integers(0, 3, size=(len(shape), 2)).astype(np.int32)
    out = tuple(d + int(p.sum()) for d, p in zip(shape, pads, strict=True))
    x, y = _same_quant_pair(rng, shape, out)
    p = TensorDef("paddings", "int32", pads.shape, data=pads)
    return _single("PAD", [x, p, y], [0, 1], [2], {}, {"shape": shape, "pads": pads.tolist()}, rng)


def strided_slice(rng) -> Case:
    shape = tuple(int(rng.integers(1, 7)) for _ in range(int(rng.integers(1, 5))))
    rank = len(shape)
    begin = [int(rng.integers(-d, d)) for d in shape]
    end = [int(rng.integers(-d, d + 1)) for d in shape]
    strides = [int(rng.choice([1, 1, 2, 3, -1, -2])) for _ in shape]
    begin_mask, end_mask = int(rng.integers(0, 1 << rank)), int(rng.integers(0, 1 << rank))
    shrink = int(rng.integers(0, 1 << rank)) if rng.random() < 0.3 else 0
    sizes, keep = [], []
    for a, d in enumerate(shape):
        st = strides[a]
        if shrink >> a & 1:
            b0 = begin[a] + d if begin[a] < 0 else begin[a]
            if not 0 <= b0 < d:
                return strided_slice(rng)
            strides[a] = 1
            continue
        b0 = (0 if st > 0 else d - 1) if begin_mask >> a & 1 else (begin[a] + d if begin[a] < 0 else begin[a])
        e0 = (d if st > 0 else -1) if end_mask >> a & 1 else (end[a] + d if end[a] < 0 else end[a])
        b0 = min(max(b0, 0), d) if st > 0 else min(max(b0, -1), d - 1)
        e0 = min(max(e0, 0), d) if st > 0 else min(max(e0, -1), d - 1)
        n = max(0, -(-(e0 - b0) // st)) if st > 0 else max(0, -(-(b0 - e0) // -st))
        if n == 0:
            return strided_slice(rng)
        sizes.append(n)
        keep.append(a)
    if not sizes:
        return strided_slice(rng)
    x, y = _same_quant_pair(rng, shape, tuple(sizes))
    consts = [
        TensorDef(nm, "int32", (rank,), data=np.array(v, dtype=np.int32))
        for nm, v in (("begin", begin), ("end", end), ("strides", strides))
    ]
    opts = {"begin_mask": begin_mask, "end_mask": end_mask, "shrink_axis_mask": shrink}
    info = opts | {"shape": shape, "begin": begin, "end": end, "strides": strides}
    return _single("STRIDED_SLICE", [x, *consts, y], [0, 1, 2, 3], [4], opts, info, rng)


def concatenation(rng) -> Case:
    rank = int(rng.integers(1, 5))
    base = [int(rng.integers(1, 4)) for _ in range(rank)]
    axis = int(rng.integers(-rank, rank))
    count = int(rng.integers(1, 4))
    parts = []
    for _ in range(count):
        s = list(base)
        s[axis] = int(rng.integers(1, 4))
        parts.append(tuple(s))
    out = list(base)
    out[axis] = sum(p[axis] for p in parts)
    scale, zp = _scale(rng), _zp(rng)
    tensors = [TensorDef(f"x{i}", "int8", p, scale, zp) for i, p in enumerate(parts)]
    tensors.append(TensorDef("y", "int8", tuple(out), scale, zp))
    model = build_model(
        tensors, [OpDef("CONCATENATION", list(range(count)), [count], {"axis": axis})], list(range(count)), [count]
    )
    return Case("CONCATENATION", model, [_data(rng, p) for p in parts], {"parts": parts, "axis": axis})


def transpose(rng) -> Case:
    shape = tuple(int(rng.integers(1, 5)) for _ in range(int(rng.integers(1, 5))))
    perm = [int(v) for v in rng.permutation(len(shape))]
    x, y = _same_quant_pair(rng, shape, tuple(shape[p] for p in perm))
    p = TensorDef("perm", "int32", (len(perm),), data=np.array(perm, dtype=np.int32))
    return _single("TRANSPOSE", [x, p, y], [0, 1], [2], {}, {"shape": shape, "perm": perm}, rng)


def softmax(rng) -> Case:
    rows, n = int(rng.integers(1, 6)), int(rng.integers(1, 40))
    int16_out = bool(rng.random() < 0.3)
    out = ("int16", 1 / 65536, -32768) if int16_out else ("int8", 1 / 256, -128)
    beta = float(np.float32(rng.uniform(0.3, 2.0)))
    tensors = [
        TensorDef("x", "int8", (rows, n), _scale(rng, 1e-2, 0.5), _zp(rng)),
        TensorDef("y", out[0], (rows, n), out[1], out[2]),
    ]
    return _single("SOFTMAX", tensors, [0], [1], {"beta": beta}, {"beta": beta, "out": out[0]}, rng)


def _unary(op: str, rng, out_scale=None, out_zp=None, options=None, dtype: str = "int8") -> Case:
    shape = tuple(int(rng.integers(1, 6)) for _ in range(int(rng.integers(1, 4))))
    in_scale, in_zp = _scale(rng, 1e-2, 0.5), _zp(rng, dtype)
    o_scale = _scale(rng, 1e-2, 0.5) if out_scale is None else out_scale
    o_zp = _zp(rng, dtype) if out_zp is None else out_zp
    tensors = [TensorDef("x", dtype, shape, in_scale, in_zp), TensorDef("y", dtype, shape, o_scale, o_zp)]
    return _single(op, tensors, [0], [1], options or {}, {"in": (in_scale, in_zp), **(options or {})}, rng)


def relu6(rng) -> Case:
    shape = (int(rng.integers(1, 5)), int(rng.integers(1, 9)))
    x, y = _same_quant_pair(rng, shape, shape)
    x.scale = y.scale = _scale(rng, 1e-2, 0.1)
    return _single("RELU6", [x, y], [0], [1], {}, {"scale": x.scale, "zp": x.zero_point}, rng)


def quantize(rng) -> Case:
    kind = int(rng.integers(0, 3))
    src, dst = [("int8", "int8"), ("int8", "int16"), ("int16", "int8")][kind]
    shape = (int(rng.integers(1, 4)), int(rng.integers(1, 9)))
    tensors = [
        TensorDef("x", src, shape, _scale(rng, 1e-3, 0.5), _zp(rng, src)),
        TensorDef("y", dst, shape, _scale(rng, 1e-3, 0.5), _zp(rng, dst)),
    ]
    return _single("QUANTIZE", tensors, [0], [1], {}, {"from": src, "to": dst}, rng)


def dequantize(rng) -> Case:
    shape = (int(rng.integers(1, 4)), int(rng.integers(1, 9)))
    tensors = [TensorDef("x", "int8", shape, _scale(rng), _zp(rng)), TensorDef("y", "float32", shape)]
    return _single("DEQUANTIZE", tensors, [0], [1], {}, {}, rng)


CASES: dict[str, Callable[[np.random.Generator], Case]] = {
    "CONV_2D": conv_2d,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d,
    "FULLY_CONNECTED": fully_connected,
    "ADD": lambda rng: _binary("ADD", rng),
    "SUB": lambda rng: _binary("SUB", rng),
    "MUL": lambda rng: _binary("MUL", rng),
    "MEAN": mean,
    "AVERAGE_POOL_2D": lambda rng: _pool("AVERAGE_POOL_2D", rng),
    "MAX_POOL_2D": lambda rng: _pool("MAX_POOL_2D", rng),
    "RESHAPE": reshape,
    "SQUEEZE": squeeze,
    "PAD": pad,
    "STRIDED_SLICE": strided_slice,
    "CONCATENATION": concatenation,
    "TRANSPOSE": transpose,
    "SOFTMAX": softmax,
    "LOGISTIC": lambda rng: _unary("LOGISTIC", rng, 1 / 256, -128),
    "TANH": lambda rng: _unary("TANH", rng, 1 / 128, 0),
    "RELU": lambda rng: _unary("RELU", rng),
    "RELU6": relu6,
    "LEAKY_RELU": lambda rng: _unary("LEAKY_RELU", rng, options=_leaky_alpha(rng)),
    "QUANTIZE": quantize,
    "DEQUANTIZE": dequantize,
}


def _leaky_alpha(rng) -> dict:
    return {"alpha": float(np.float32(rng.uniform(0.01, 0.5)))}


# int16 activations (zero point 0, as TFLite quantises them) for the operators with a 16-bit form
INT16_CASES: dict[str, Callable[[np.random.Generator], Case]] = {
    "ADD": lambda rng: _binary("ADD", rng, "int16"),
    "SUB": lambda rng: _binary("SUB", rng, "int16"),
    "MUL": lambda rng: _binary("MUL", rng, "int16"),
    "MEAN": lambda rng: mean(rng, "int16"),
    "AVERAGE_POOL_2D": lambda rng: _pool("AVERAGE_POOL_2D", rng, "int16"),
    "MAX_POOL_2D": lambda rng: _pool("MAX_POOL_2D", rng, "int16"),
    "RELU": lambda rng: _unary("RELU", rng, dtype="int16"),
    "LEAKY_RELU": lambda rng: _unary("LEAKY_RELU", rng, options=_leaky_alpha(rng), dtype="int16"),
}

INT16_CASES |= {
    "CONV_2D": lambda rng: conv_2d(rng, act="int16"),
    "DEPTHWISE_CONV_2D": lambda rng: depthwise_conv_2d(rng, act="int16"),
    "FULLY_CONNECTED": lambda rng: fully_connected(rng, act="int16"),
}

# int4 weights (TFLite's packed INT4 tensors) for the operators that take them
INT4_CASES: dict[str, Callable[[np.random.Generator], Case]] = {
    "CONV_2D": lambda rng: conv_2d(rng, int4=True),
    "DEPTHWISE_CONV_2D": lambda rng: depthwise_conv_2d(rng, int4=True),
    "FULLY_CONNECTED": lambda rng: fully_connected(rng, int4=True),
}


def unsupported_case() -> bytes:
    """A model with operators the importer refuses: GATHER and a custom operator."""
    tensors = [
        TensorDef("x", "int8", (4, 3), 0.1, 0),
        TensorDef("idx", "int32", (2,), data=np.array([0, 2], dtype=np.int32)),
        TensorDef("g", "int8", (2, 3), 0.1, 0),
        TensorDef("y", "int8", (2, 3), 0.1, 0),
    ]
    ops = [OpDef("GATHER", [0, 1], [2]), OpDef("CUSTOM:MyOp", [2], [3])]
    return build_model(tensors, ops, [0], [3])


def chain_case(rng) -> Case:
    """A small random multi-operator model: CONV_2D, DEPTHWISE_CONV_2D, a pool, RESHAPE, FULLY_CONNECTED and
    SOFTMAX (each with random shapes, quantisation and fused activations), as a keyword classifier is built."""
    h, w, c = int(rng.integers(4, 12)), int(rng.integers(4, 12)), int(rng.integers(1, 4))
    tensors: list[TensorDef] = [TensorDef("x", "int8", (1, h, w, c), _scale(rng, 1e-2, 0.5), _zp(rng))]
    ops: list[OpDef] = []

    def activation_tensor(name, shape, scale):
        tensors.append(TensorDef(name, "int8", shape, float(np.float32(scale)), _zp(rng)))
        return len(tensors) - 1

    def const(name, dtype, data, scale=None, zp=None, axis=0):
        tensors.append(TensorDef(name, dtype, data.shape, scale, zp, axis, data))
        return len(tensors) - 1

    def conv(kind, x_i, cout):
        n_, h_, w_, cin = tensors[x_i].shape
        k, s, d, pad, oh, ow = _window(rng, h_, w_, True)
        in_scale = tensors[x_i].scale
        if kind == "CONV_2D":
            wshape, axis, depth = (cout, k[0], k[1], cin), 0, k[0] * k[1] * cin
        else:
            cout, wshape, axis, depth = cin * 2, (1, k[0], k[1], cin * 2), 3, k[0] * k[1]
        w_scales = [_scale(rng, 1e-3, 2e-2) for _ in range(cout)]
        wi = const(f"w{len(ops)}", "int8", _weights(rng, wshape, False), w_scales, [0] * cout, axis)
        bi = const(
            f"b{len(ops)}",
            "int32",
            rng.integers(-(2**12), 2**12, size=cout).astype(np.int32),
            [in_scale * ws for ws in w_scales],
            [0] * cout,
        )
        out_scale = in_scale * np.median(w_scales) * np.sqrt(depth) * rng.uniform(20, 80)
        y = activation_tensor(f"{kind.lower()}{len(ops)}", (n_, oh, ow, cout), out_scale)
        opts = {
            "padding": pad,
            "stride_h": s[0],
            "stride_w": s[1],
            "dilation_h_factor": d[0],
            "dilation_w_factor": d[1],
            "fused_activation_function": str(rng.choice(ACTIVATIONS)),
        }
        if kind == "DEPTHWISE_CONV_2D":
            opts["depth_multiplier"] = 2
        ops.append(OpDef(kind, [x_i, wi, bi], [y], opts))
        return y

    y = conv("CONV_2D", 0, int(rng.integers(2, 6)))
    y = conv("DEPTHWISE_CONV_2D", y, 0)
    n_, h_, w_, c_ = tensors[y].shape
    pool = str(rng.choice(["AVERAGE_POOL_2D", "MAX_POOL_2D"]))
    k = (min(2, h_), min(2, w_))
    ph, pw = _out_size(h_, k[0], k[0], 1, "VALID"), _out_size(w_, k[1], k[1], 1, "VALID")
    tensors.append(TensorDef("pool", "int8", (1, ph, pw, c_), tensors[y].scale, tensors[y].zero_point))
    ops.append(
        OpDef(
            pool,
            [y],
            [len(tensors) - 1],
            {"padding": "VALID", "stride_h": k[0], "stride_w": k[1], "filter_height": k[0], "filter_width": k[1]},
        )
    )
    p = len(tensors) - 1
    flat = ph * pw * c_
    shape_i = const("shape", "int32", np.array([1, flat], dtype=np.int32))
    tensors.append(TensorDef("flat", "int8", (1, flat), tensors[p].scale, tensors[p].zero_point))
    ops.append(OpDef("RESHAPE", [p, shape_i], [len(tensors) - 1], {"new_shape": [1, flat]}))
    f = len(tensors) - 1
    units = 4
    w_scale = _scale(rng, 1e-3, 2e-2)
    wi = const("fc_w", "int8", _weights(rng, (units, flat), False), w_scale, 0)
    bi = const(
        "fc_b", "int32", rng.integers(-(2**12), 2**12, size=units).astype(np.int32), tensors[f].scale * w_scale, 0
    )
    logits = activation_tensor("logits", (1, units), tensors[f].scale * w_scale * np.sqrt(flat) * rng.uniform(5, 40))
    ops.append(OpDef("FULLY_CONNECTED", [f, wi, bi], [logits], {}))
    tensors.append(TensorDef("probs", "int8", (1, units), 1 / 256, -128))
    ops.append(OpDef("SOFTMAX", [logits], [len(tensors) - 1], {"beta": 1.0}))
    model = build_model(tensors, ops, [0], [len(tensors) - 1])
    return Case("CHAIN", model, [_data(rng, tensors[0].shape)], {"shape": (h, w, c), "pool": pool})
