"""Random single-operator int8 TFLite models, shaped and quantised the way a TFLite converter makes them, and only
in forms TensorFlow Lite Micro accepts (its Prepare-time checks are noted where they shape a choice).

``CASES[op](rng)`` returns a :class:`Case`: the model's bytes and random inputs for its (non-constant) inputs over
the full integer range, both ends present. Sizes stay small (batch 1-2, spatial sizes 1-12): these run by the
thousand. ``INT16_CASES`` and ``INT4_CASES`` give the 16-bit-activation and int4-weight forms of the operators
that have them; ``chain_case`` a small keyword-spotting-like chain; ``unsupported_case`` a model with operators
the importer refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from intref.models.tflite.writer import OpDef, TensorDef, build_model

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")  # the fused activations converters emit


@dataclass
class Case:
    op: str
    model: bytes
    inputs: list[np.ndarray]
    info: dict = field(default_factory=dict)


CaseMaker = Callable[[np.random.Generator], Case]

# ---------------------------------------------------------------------------------------------------- helpers


def _int(rng: np.random.Generator, lo: int, hi: int) -> int:
    """An integer in [lo, hi], both ends included."""
    return int(rng.integers(lo, hi + 1))


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(0, len(options)))]


def _f32(x: float) -> float:
    """A float32 value as Python float: the scale TFLite stores, so that products of scales are exact here too."""
    return float(np.float32(x))


def _scale(rng: np.random.Generator, lo: float = 1e-3, hi: float = 1.0) -> float:
    return _f32(10 ** rng.uniform(np.log10(lo), np.log10(hi)))


def _act_scale(rng: np.random.Generator, dtype: str = "int8") -> float:
    """int8 activations: 1e-3 to 1; int16 ones cover about the same real range with 256 times finer steps."""
    return _scale(rng) if dtype == "int8" else _scale(rng, 1e-3 / 256, 1 / 256)


def _zp(rng: np.random.Generator, dtype: str = "int8") -> int:
    """int8 activations: any zero point; int16 ones are symmetric (zero point 0), as TFLite quantises them."""
    return 0 if dtype == "int16" else _int(rng, -128, 127)


def _values(rng: np.random.Generator, shape, dtype: str = "int8") -> np.ndarray:
    """Uniform over the dtype's whole range, with its minimum and maximum present (one of them for one element)."""
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max + 1, size=shape).astype(dtype)
    flat = x.reshape(-1)
    if flat.size:
        spots = rng.permutation(flat.size)[:2]
        ends = [info.min, info.max] if rng.random() < 0.5 else [info.max, info.min]
        for spot, end in zip(spots, ends, strict=False):
            flat[spot] = end
    return x


def _act(rng: np.random.Generator) -> str:
    return _pick(rng, ACTIVATIONS)


def _case(op: str, tensors: list[TensorDef], ops: list[OpDef], outputs: list[int], info: dict, rng) -> Case:
    """A model whose inputs are the tensors the operators read that are neither constants nor produced."""
    produced = {o for d in ops for o in d.outputs}
    inputs: list[int] = []
    for d in ops:
        for i in d.inputs:
            if i >= 0 and tensors[i].data is None and i not in produced and i not in inputs:
                inputs.append(i)
    model = build_model(tensors, ops, inputs, outputs)
    feeds = [_values(rng, tensors[i].shape, tensors[i].dtype) for i in inputs]
    return Case(op, model, feeds, info)


def _single(op: str, tensors: list[TensorDef], inputs: list[int], options: dict | None, info: dict, rng) -> Case:
    """One operator whose output is the last tensor."""
    out = len(tensors) - 1
    return _case(op, tensors, [OpDef(op, inputs, [out], options)], [out], info, rng)


def _const_i32(name: str, values) -> TensorDef:
    data = np.asarray(values, dtype=np.int32)
    return TensorDef(name, "int32", data.shape, data=data)


def _dims(rng: np.random.Generator, rank: int, lo: int = 1, hi: int = 6) -> tuple[int, ...]:
    return tuple(_int(rng, lo, hi) for _ in range(rank))


# --------------------------------------------------------------------------------------- weighted operators


def _out_size(size: int, k: int, stride: int, dilation: int, padding: str) -> int:
    """TFLite's output size of a window (ComputeOutSize): 0 when a VALID window does not fit."""
    if padding == "SAME":
        return (size + stride - 1) // stride
    return max(0, (size - (k - 1) * dilation - 1 + stride) // stride)


def _window(rng: np.random.Generator, h: int, w: int, kmax: int = 5, dilated: bool = True) -> dict:
    """Kernel, strides, dilation and padding with at least one output position. As in Keras (and so in
    converted models), a dilated window has stride 1."""
    while True:
        k = (_int(rng, 1, kmax), _int(rng, 1, kmax))
        if dilated and rng.random() < 0.35:
            s, d = (1, 1), (_int(rng, 1, 3), _int(rng, 1, 3))
        else:
            s, d = (_int(rng, 1, 3), _int(rng, 1, 3)), (1, 1)
        pad = _pick(rng, ("SAME", "VALID"))
        oh, ow = _out_size(h, k[0], s[0], d[0], pad), _out_size(w, k[1], s[1], d[1], pad)
        if oh and ow:
            return {"k": k, "s": s, "d": d, "padding": pad, "out": (oh, ow)}


def _weights(rng: np.random.Generator, shape, axis: int, int4: bool) -> np.ndarray:
    """Symmetric weights, int8 in [-127, 127] or int4 in [-8, 7]; as a converter scales each output channel by
    its largest magnitude, every channel reaches the end of the range."""
    lo, hi = (-8, 7) if int4 else (-127, 127)
    w = rng.integers(lo, hi + 1, size=shape).astype(np.int8)
    for c in range(shape[axis]):
        spot = [int(rng.integers(0, d)) for d in shape]
        spot[axis] = c
        w[tuple(spot)] = _pick(rng, (lo, hi))
    return w


def _w_scales(rng: np.random.Generator, count: int) -> list[float]:
    return [_scale(rng, 2e-4, 5e-2) for _ in range(count)]


def _out_scale(rng: np.random.Generator, in_scale: float, w_scales: list[float], depth: int) -> float:
    """Near the spread of the accumulator for uniform int8 data, from mostly in range to often saturating."""
    spread = in_scale * float(np.median(w_scales)) * np.sqrt(depth) * 127
    return _f32(spread * 10 ** rng.uniform(-1.2, 0.6))


def _bias(
    rng: np.random.Generator,
    act: str,
    in_scale: float,
    w_scales: list[float],
    channels: int,
    depth: int,
    int32_for_16x8: bool = False,
) -> TensorDef:
    """The bias at scale in_scale * w_scale, per channel when the weights are: int32 for int8 activations; for
    int16 activations int64 as converters write it, or int32 where TFLite Micro takes that (int32 accumulator)."""
    reach = int(min(2**24, np.sqrt(depth) * 5000 * 10 ** rng.uniform(-1, 1)))
    values = rng.integers(-reach, reach + 1, size=channels)
    scales = [_f32(in_scale * s) for s in w_scales]
    dtype = "int64" if act == "int16" and not int32_for_16x8 else "int32"
    return TensorDef("bias", dtype, (channels,), scales, [0] * len(scales), 0, values.astype(dtype))


def _conv_options(win: dict, rng: np.random.Generator, **extra) -> dict:
    """The options of CONV_2D / DEPTHWISE_CONV_2D for a window from ``_window``, and a random fused activation."""
    return {
        "padding": win["padding"],
        "stride_h": win["s"][0],
        "stride_w": win["s"][1],
        "dilation_h_factor": win["d"][0],
        "dilation_w_factor": win["d"][1],
        **extra,
        "fused_activation_function": _act(rng),
    }


def conv_2d(rng: np.random.Generator, int4: bool = False, act: str = "int8") -> Case:
    n, h, w, cin, cout = _int(rng, 1, 2), _int(rng, 1, 12), _int(rng, 1, 12), _int(rng, 1, 8), _int(rng, 1, 8)
    win = _window(rng, h, w)
    (kh, kw), (oh, ow) = win["k"], win["out"]
    in_scale, w_scales = _scale(rng), _w_scales(rng, cout)  # per output channel, quantized_dimension 0
    depth = kh * kw * cin
    weights = _weights(rng, (cout, kh, kw, cin), 0, int4)
    # TFLite Micro's 16x8 CONV_2D accumulates in int32 when the bias is int32 (conv.cc)
    int32_bias = act == "int16" and rng.random() < 0.3
    tensors = [
        TensorDef("input", act, (n, h, w, cin), in_scale, _zp(rng, act)),
        TensorDef("filter", "int4" if int4 else "int8", weights.shape, w_scales, [0] * cout, 0, weights),
        _bias(rng, act, in_scale, w_scales, cout, depth, int32_bias),
        TensorDef("output", act, (n, oh, ow, cout), _out_scale(rng, in_scale, w_scales, depth), _zp(rng, act)),
    ]
    opts = _conv_options(win, rng)
    info = opts | {"input": (n, h, w, cin), "filter": weights.shape, "act": act, "int4": int4}
    return _single("CONV_2D", tensors, [0, 1, 2], opts, info, rng)


def depthwise_conv_2d(rng: np.random.Generator, int4: bool = False, act: str = "int8") -> Case:
    n, h, w, cin, m = _int(rng, 1, 2), _int(rng, 1, 12), _int(rng, 1, 12), _int(rng, 1, 8), _int(rng, 1, 3)
    cout = cin * m
    win = _window(rng, h, w)
    (kh, kw), (oh, ow) = win["k"], win["out"]
    in_scale, w_scales = _scale(rng), _w_scales(rng, cout)  # per output channel, quantized_dimension 3
    weights = _weights(rng, (1, kh, kw, cout), 3, int4)
    tensors = [
        TensorDef("input", act, (n, h, w, cin), in_scale, _zp(rng, act)),
        TensorDef("filter", "int4" if int4 else "int8", weights.shape, w_scales, [0] * cout, 3, weights),
        # TFLite Micro's 16x8 DEPTHWISE_CONV_2D reads an int64 bias only (depthwise_conv.cc)
        _bias(rng, act, in_scale, w_scales, cout, kh * kw),
        TensorDef("output", act, (n, oh, ow, cout), _out_scale(rng, in_scale, w_scales, kh * kw), _zp(rng, act)),
    ]
    # TFLite Micro's reference kernel takes the multiplier from the options: it must be right
    opts = _conv_options(win, rng, depth_multiplier=m)
    info = opts | {"input": (n, h, w, cin), "filter": weights.shape, "act": act, "int4": int4}
    return _single("DEPTHWISE_CONV_2D", tensors, [0, 1, 2], opts, info, rng)


def fully_connected(rng: np.random.Generator, int4: bool = False, act: str = "int8") -> Case:
    """[batch, depth] input, or [batch, time, depth] with keep_num_dims (output [batch, time, units]) or without
    (output [batch * time, units]); per-tensor or per-channel weights (TFLite Micro refuses per-channel int4
    weights: fully_connected_common.cc); the bias may be absent (input -1)."""
    lead = (_int(rng, 1, 2),) if rng.random() < 0.7 else (_int(rng, 1, 2), _int(rng, 1, 6))
    depth, units = _int(rng, 1, 32), _int(rng, 1, 12)
    keep = len(lead) > 1 and bool(rng.random() < 0.5)
    per_channel = not int4 and bool(rng.random() < 0.5)
    in_scale, w_scales = _scale(rng), _w_scales(rng, units if per_channel else 1)
    weights = _weights(rng, (units, depth), 0, int4)
    with_bias = bool(rng.random() < 0.8)
    int32_bias = act == "int16" and rng.random() < 0.3  # fully_connected.cc: 16x8 with an int32 bias
    rows = int(np.prod(lead))
    out_shape = (*lead, units) if keep else (rows, units)
    tensors = [
        TensorDef("input", act, (*lead, depth), in_scale, _zp(rng, act)),
        TensorDef("weights", "int4" if int4 else "int8", weights.shape, w_scales, [0] * len(w_scales), 0, weights),
        _bias(rng, act, in_scale, w_scales, units, depth, int32_bias),
        TensorDef("output", act, out_shape, _out_scale(rng, in_scale, w_scales, depth), _zp(rng, act)),
    ]
    opts = {"fused_activation_function": _act(rng), "keep_num_dims": keep}
    info = opts | {
        "shape": (rows, depth, units),
        "input": (*lead, depth),
        "per_channel": per_channel,
        "bias": with_bias,
        "act": act,
        "int4": int4,
    }
    return _single("FULLY_CONNECTED", tensors, [0, 1, 2 if with_bias else -1], opts, info, rng)


# ------------------------------------------------------------------------------------------ elementwise


def _broadcast_pair(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Two shapes that broadcast as NumPy does (TFLite Micro: up to 4-D), and the result."""
    n, h, w, c = _int(rng, 1, 2), _int(rng, 1, 8), _int(rng, 1, 8), _int(rng, 1, 8)
    full = (n, h, w, c)
    kind = _pick(rng, ("same", "channel", "channel4", "scalar", "row", "cross", "rank2", "rank3"))
    if kind == "same":
        a, b = full, full
    elif kind == "channel":  # a per-channel vector, as a bias or a scale is added or multiplied
        a, b = full, (c,)
    elif kind == "channel4":
        a, b = full, (1, 1, 1, c)
    elif kind == "scalar":
        a, b = full, ()
    elif kind == "row":
        a, b = full, (1, h, 1, 1)
    elif kind == "cross":  # both sides broadcast
        a, b = (n, h, 1, c), (1, 1, w, c)
    elif kind == "rank2":
        a, b = (h, c), (1, c)
    else:
        a, b = (n, h, c), (h, 1)
    if rng.random() < 0.5:
        a, b = b, a
    return a, b, tuple(np.broadcast_shapes(a, b))


def _binary(op: str, rng: np.random.Generator, dtype: str = "int8") -> Case:
    """ADD, SUB or MUL with broadcasting; one operand is sometimes a constant, as a converter folds it."""
    sa, sb, out = _broadcast_pair(rng)
    lo, hi = (1e-3, 1.0) if dtype == "int8" else (3e-5, 3e-2)
    a_scale, b_scale = _scale(rng, lo, hi), _scale(rng, lo, hi)
    if op == "MUL":
        top = 127.0 if dtype == "int8" else 32767.0
        o_scale = _f32(a_scale * b_scale * top * 10 ** rng.uniform(-0.5, 2.0))
    else:
        o_scale = _f32(max(a_scale, b_scale) * 10 ** rng.uniform(-0.5, 0.8))
    const_b = bool(rng.random() < 0.3)
    tensors = [
        TensorDef("a", dtype, sa, a_scale, _zp(rng, dtype)),
        TensorDef("b", dtype, sb, b_scale, _zp(rng, dtype), data=_values(rng, sb, dtype) if const_b else None),
        TensorDef("output", dtype, out, o_scale, _zp(rng, dtype)),
    ]
    opts = {"fused_activation_function": _act(rng)}
    if dtype == "int16" and op != "MUL":
        opts["pot_scale_int16"] = False  # the general 16-bit form, as converters write it for int16 models
    info = opts | {"shapes": (sa, sb), "const_b": const_b, "dtype": dtype}
    return _single(op, tensors, [0, 1], opts, info, rng)


def mean(rng: np.random.Generator, dtype: str = "int8") -> Case:
    """MEAN over [1, 2] of NHWC (global average pooling), over time of [batch, time, channels], and other axis
    sets (negative ones too), keep_dims or not; TFLite Micro's int8/int16 MEAN reduces any axes (reduce_common.cc)."""
    rank = _pick(rng, (4, 4, 3, 2))
    shape = (_int(rng, 1, 2), *_dims(rng, rank - 1, 1, 8))
    axes = list(
        _pick(
            rng,
            {
                4: ([1, 2], [1, 2], [2, 1], [1], [2], [3], [-1], [1, 2, 3], [0, 1, 2, 3], [-3, -2]),
                3: ([1], [1], [-2], [2], [1, 2], [0, 1]),
                2: ([1], [-1], [0], [0, 1]),
            }[rank],
        )
    )
    keep = bool(rng.random() < 0.5)
    reduced = {a % rank for a in axes}
    out = tuple(1 if i in reduced else d for i, d in enumerate(shape) if keep or i not in reduced)
    tensors = [
        TensorDef("input", dtype, shape, _act_scale(rng, dtype), _zp(rng, dtype)),
        _const_i32("axes", axes),
        TensorDef("output", dtype, out, _act_scale(rng, dtype), _zp(rng, dtype)),
    ]
    info = {"input": shape, "axes": axes, "keep_dims": keep, "dtype": dtype}
    return _single("MEAN", tensors, [0, 1], {"keep_dims": keep}, info, rng)


def _pool(op: str, rng: np.random.Generator, dtype: str = "int8") -> Case:
    """AVERAGE_POOL_2D / MAX_POOL_2D: TFLite Micro requires the output's scale and zero point to be the input's
    (pooling_common.cc)."""
    n, h, w, c = _int(rng, 1, 2), _int(rng, 1, 12), _int(rng, 1, 12), _int(rng, 1, 8)
    win = _window(rng, h, w, dilated=False)
    (kh, kw), (oh, ow) = win["k"], win["out"]
    scale, zp = _act_scale(rng, dtype), _zp(rng, dtype)
    tensors = [
        TensorDef("input", dtype, (n, h, w, c), scale, zp),
        TensorDef("output", dtype, (n, oh, ow, c), scale, zp),
    ]
    opts = {
        "padding": win["padding"],
        "stride_h": win["s"][0],
        "stride_w": win["s"][1],
        "filter_height": kh,
        "filter_width": kw,
        "fused_activation_function": _act(rng),
    }
    return _single(op, tensors, [0], opts, opts | {"input": (n, h, w, c), "dtype": dtype}, rng)


# ----------------------------------------------------------------------------------------- data movement


def _same_quant(rng: np.random.Generator, in_shape, out_shape, dtype: str = "int8") -> list[TensorDef]:
    """Input and output with one scale and zero point: converters give data-movement operators the same
    quantisation on both sides, and TFLite Micro's kernels copy bytes without rescaling."""
    scale, zp = _scale(rng), _zp(rng, dtype)
    return [
        TensorDef("input", dtype, tuple(in_shape), scale, zp),
        TensorDef("output", dtype, tuple(out_shape), scale, zp),
    ]


def _factor(rng: np.random.Generator, size: int, rank: int) -> list[int]:
    """A random shape of ``rank`` dimensions holding ``size`` elements."""
    dims = [1] * rank
    rest = size
    for p in range(2, size + 1):
        while rest % p == 0:
            dims[int(rng.integers(0, rank))] *= p
            rest //= p
    return dims


def reshape(rng: np.random.Generator) -> Case:
    """The output tensor holds the shape (TFLite Micro reads it, reshape_common.cc); the shape input may have one
    -1, as a converter leaves a dynamic batch; new_shape in the options or not; rarely the one-input form."""
    src = _dims(rng, _int(rng, 1, 4), 1, 6)
    size = int(np.prod(src))
    dst = _factor(rng, size, _int(rng, 1, 4))
    x, y = _same_quant(rng, src, dst)
    shape_values = list(dst)
    if rng.random() < 0.3:
        shape_values[int(rng.integers(0, len(dst)))] = -1
    form = _pick(rng, ("tensor", "tensor", "tensor+options", "options"))
    opts = {"new_shape": shape_values} if form != "tensor" else {}
    if form == "options":
        tensors, inputs = [x, y], [0]
    else:
        tensors, inputs = [x, _const_i32("shape", shape_values), y], [0, 1]
    info = {"from": src, "to": dst, "shape_values": shape_values, "form": form}
    return _single("RESHAPE", tensors, inputs, opts, info, rng)


def squeeze(rng: np.random.Generator) -> Case:
    """Drop unit dimensions: the listed ones (negative indices too), or all when squeeze_dims is empty."""
    while True:
        shape = tuple(_pick(rng, (1, 1, _int(rng, 2, 6))) for _ in range(_int(rng, 2, 4)))
        units = [i for i, d in enumerate(shape) if d == 1]
        if units and len(units) < len(shape):
            break
    rank = len(shape)
    if rng.random() < 0.2:
        dims: list[int] = []
        gone = set(units)
    else:
        chosen = sorted(int(i) for i in rng.choice(units, size=_int(rng, 1, len(units)), replace=False))
        dims = [i - rank if rng.random() < 0.3 else i for i in chosen]
        gone = set(chosen)
    out = tuple(d for i, d in enumerate(shape) if i not in gone)
    return _single(
        "SQUEEZE", _same_quant(rng, shape, out), [0], {"squeeze_dims": dims}, {"input": shape, "dims": dims}, rng
    )


def pad(rng: np.random.Generator) -> Case:
    """Pad with the output zero point (TFLite Micro: pad.cc); int32 paddings [rank, 2], constant (pad_common.cc)."""
    shape = _dims(rng, _int(rng, 1, 4), 1, 6)
    pads = rng.integers(0, 4, size=(len(shape), 2)).astype(np.int32)
    if len(shape) == 4 and rng.random() < 0.5:  # the usual image padding: height and width only
        pads[0] = pads[3] = 0
    out = tuple(d + int(p.sum()) for d, p in zip(shape, pads, strict=True))
    x, y = _same_quant(rng, shape, out)
    p = TensorDef("paddings", "int32", pads.shape, data=pads)
    return _single("PAD", [x, p, y], [0, 1], {}, {"input": shape, "paddings": pads.tolist()}, rng)


def _slice_extent(dim: int, begin: int, end: int, stride: int, masked_begin: bool, masked_end: bool) -> int:
    """Elements of one axis a strided slice takes (TFLite's strided_slice_logic: negative indices count from
    the end, then clamp to [0, dim] going forward, [-1, dim - 1] going backward; a mask takes the whole side)."""
    if masked_begin:
        start = 0 if stride > 0 else dim - 1
    else:
        start = begin + dim if begin < 0 else begin
        start = min(max(start, 0), dim) if stride > 0 else min(max(start, -1), dim - 1)
    if masked_end:
        stop = dim if stride > 0 else -1
    else:
        stop = end + dim if end < 0 else end
        stop = min(max(stop, 0), dim) if stride > 0 else min(max(stop, -1), dim - 1)
    span = stop - start if stride > 0 else start - stop
    return max(0, -(-span // abs(stride)))


def strided_slice(rng: np.random.Generator) -> Case:
    """Begin/end (out of range and negative too), strides -3..3 (not 0), begin/end masks and shrink_axis_mask.
    TFLite Micro ignores ellipsis_mask, new_axis_mask and offset (strided_slice_common.cc sets the masks to 0),
    so they are never set; a shrunk axis takes one in-range index with stride 1 and no mask bits, as converters
    write x[:, i]; input rank at most 4 (strided_slice_common.cc)."""
    while True:
        shape = _dims(rng, _int(rng, 1, 4), 1, 8)
        begin, end, strides, out = [], [], [], []
        begin_mask = end_mask = shrink = 0
        for a, dim in enumerate(shape):
            if rng.random() < 0.15:
                shrink |= 1 << a
                i = _int(rng, 0, dim - 1)
                begin.append(i - dim if rng.random() < 0.5 else i)
                end.append(begin[-1] + 1)
                strides.append(1)
                continue
            st = _pick(rng, (1, 1, 1, 2, 3, -1, -2, -3))
            b, e = _int(rng, -dim - 1, dim + 1), _int(rng, -dim - 1, dim + 1)
            mb, me = bool(rng.random() < 0.25), bool(rng.random() < 0.25)
            begin_mask |= mb << a
            end_mask |= me << a
            begin.append(b)
            end.append(e)
            strides.append(st)
            out.append(_slice_extent(dim, b, e, st, mb, me))
        if out and all(out):  # a non-empty result of rank >= 1
            break
    x, y = _same_quant(rng, shape, out)
    consts = [_const_i32("begin", begin), _const_i32("end", end), _const_i32("strides", strides)]
    opts = {"begin_mask": begin_mask, "end_mask": end_mask, "shrink_axis_mask": shrink}
    info = opts | {"input": shape, "begin": begin, "end": end, "strides": strides, "output": tuple(out)}
    return _single("STRIDED_SLICE", [x, *consts, y], [0, 1, 2, 3], opts, info, rng)


def concatenation(rng: np.random.Generator) -> Case:
    """1-4 inputs along any axis (negative too). TFLite Micro requires every int8 input to have the output's
    scale and zero point, and no fused activation (concatenation.cc); an input is sometimes a constant."""
    rank = _int(rng, 1, 4)
    base = list(_dims(rng, rank, 1, 5))
    axis = _int(rng, -rank, rank - 1)
    count = _int(rng, 1, 4)
    parts = []
    for _ in range(count):
        s = list(base)
        s[axis] = _int(rng, 1, 4)
        parts.append(tuple(s))
    out = list(base)
    out[axis] = sum(p[axis] for p in parts)
    scale, zp = _scale(rng), _zp(rng)
    constant = int(rng.integers(0, count)) if count > 1 and rng.random() < 0.25 else -1
    tensors = [
        TensorDef(f"input{i}", "int8", p, scale, zp, data=_values(rng, p) if i == constant else None)
        for i, p in enumerate(parts)
    ]
    tensors.append(TensorDef("output", "int8", tuple(out), scale, zp))
    opts = {"axis": axis, "fused_activation_function": "NONE"}
    info = {"parts": parts, "axis": axis, "constant": constant}
    return _single("CONCATENATION", tensors, list(range(count)), opts, info, rng)


def transpose(rng: np.random.Generator) -> Case:
    """Any permutation of rank 1-4 (TFLite Micro: at most 5, a constant perm; transpose_common.cc)."""
    shape = _dims(rng, _int(rng, 1, 4), 1, 6)
    perm = [int(v) for v in rng.permutation(len(shape))]
    tensors = [*_same_quant(rng, shape, [shape[p] for p in perm])]
    tensors.insert(1, _const_i32("perm", perm))
    return _single("TRANSPOSE", tensors, [0, 1], {}, {"input": shape, "perm": perm}, rng)


# ---------------------------------------------------------------------------------------------- activations


def softmax(rng: np.random.Generator) -> Case:
    """Over the last axis; int8 output at 1/256, zero point -128, or (rarely) int16 at 1/65536, zero point -32768:
    TFLite Micro checks both (softmax_common.cc). Random beta."""
    shape = _dims(rng, _int(rng, 1, 4), 1, 6)
    shape = (*shape[:-1], _int(rng, 1, 12))
    int16_out = bool(rng.random() < 0.2)
    out = ("int16", 1 / 65536, -32768) if int16_out else ("int8", 1 / 256, -128)
    beta = _f32(rng.uniform(0.1, 2.0)) if rng.random() < 0.7 else 1.0
    tensors = [
        TensorDef("input", "int8", shape, _scale(rng, 1e-3, 0.5), _zp(rng)),
        TensorDef("output", out[0], shape, out[1], out[2]),
    ]
    return _single("SOFTMAX", tensors, [0], {"beta": beta}, {"input": shape, "beta": beta, "out": out[0]}, rng)


def softmax16(rng: np.random.Generator) -> Case:
    """int16 in and out: zero points 0, output 1/32768 (softmax_common.cc); the input scale keeps
    scale * beta below the kernel's limit."""
    shape = _dims(rng, _int(rng, 1, 4), 1, 6)
    shape = (*shape[:-1], _int(rng, 1, 12))
    beta = _f32(rng.uniform(0.1, 2.0)) if rng.random() < 0.7 else 1.0
    tensors = [
        TensorDef("input", "int16", shape, _scale(rng, 3e-5, 3e-3), 0),
        TensorDef("output", "int16", shape, 1 / 32768, 0),
    ]
    return _single("SOFTMAX", tensors, [0], {"beta": beta}, {"input": shape, "beta": beta, "out": "int16"}, rng)


def _unary(op: str, rng: np.random.Generator, out_q=None, options=None, dtype: str = "int8", info=None) -> Case:
    shape = (_int(rng, 1, 2), *_dims(rng, _int(rng, 0, 3), 1, 8))
    lo, hi = (1e-3, 1.0) if dtype == "int8" else (3e-5, 3e-3)
    in_scale, in_zp = _scale(rng, lo, hi), _zp(rng, dtype)
    o_scale, o_zp = out_q if out_q is not None else (_scale(rng, lo, hi), _zp(rng, dtype))
    tensors = [TensorDef("input", dtype, shape, in_scale, in_zp), TensorDef("output", dtype, shape, o_scale, o_zp)]
    details = {"input": shape, "in_q": (in_scale, in_zp), "out_q": (o_scale, o_zp), "dtype": dtype}
    return _single(op, tensors, [0], options or {}, details | (options or {}) | (info or {}), rng)


def logistic(rng: np.random.Generator) -> Case:
    """Output 1/256, zero point -128: TFLite Micro checks the zero point and assumes the scale (logistic_common.cc)."""
    return _unary("LOGISTIC", rng, (1 / 256, -128))


def tanh(rng: np.random.Generator) -> Case:
    """Output 1/128, zero point 0: assumed, not checked, by TFLite Micro's int8 TANH (tanh.cc)."""
    return _unary("TANH", rng, (1 / 128, 0))


def relu(rng: np.random.Generator, dtype: str = "int8") -> Case:
    """Input and output quantised apart: TFLite Micro rescales (activations_common.cc)."""
    return _unary("RELU", rng, dtype=dtype)


def relu6(rng: np.random.Generator) -> Case:
    """One quantisation for input and output: TFLite Micro's int8 RELU6 clamps the input's values without
    rescaling (activations_common.cc)."""
    shape = (_int(rng, 1, 2), *_dims(rng, _int(rng, 0, 3), 1, 8))
    tensors = _same_quant(rng, shape, shape)
    tensors[0].scale = tensors[1].scale = _scale(rng, 3e-3, 0.2)  # 6.0 within or beyond the int8 range
    info = {"input": shape, "q": (tensors[0].scale, tensors[0].zero_point)}
    return _single("RELU6", tensors, [0], {}, info, rng)


def leaky_relu(rng: np.random.Generator, dtype: str = "int8") -> Case:
    alpha = _f32(rng.uniform(0.01, 0.5)) if rng.random() < 0.8 else _pick(rng, (0.2, 0.3))
    return _unary("LEAKY_RELU", rng, options={"alpha": alpha}, dtype=dtype)


def quantize(rng: np.random.Generator) -> Case:
    """Requantisation int8 -> int8, int8 -> int16 and int16 -> int8 (int16 zero point 0)."""
    src, dst = _pick(rng, (("int8", "int8"), ("int8", "int16"), ("int16", "int8")))
    shape = (_int(rng, 1, 2), *_dims(rng, _int(rng, 0, 3), 1, 8))
    tensors = [
        TensorDef("input", src, shape, _act_scale(rng, src), _zp(rng, src)),
        TensorDef("output", dst, shape, _act_scale(rng, dst), _zp(rng, dst)),
    ]
    return _single("QUANTIZE", tensors, [0], {}, {"from": src, "to": dst, "input": shape}, rng)


def dequantize(rng: np.random.Generator) -> Case:
    """int8 -> float32 (a model's float output)."""
    shape = (_int(rng, 1, 2), *_dims(rng, _int(rng, 0, 3), 1, 8))
    tensors = [TensorDef("input", "int8", shape, _scale(rng), _zp(rng)), TensorDef("output", "float32", shape)]
    return _single("DEQUANTIZE", tensors, [0], {}, {"input": shape}, rng)


CASES: dict[str, CaseMaker] = {
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
    "LOGISTIC": logistic,
    "TANH": tanh,
    "RELU": relu,
    "RELU6": relu6,
    "LEAKY_RELU": leaky_relu,
    "QUANTIZE": quantize,
    "DEQUANTIZE": dequantize,
}

# int16 activations (zero point 0) for the operators with a 16-bit form; convolutions and FULLY_CONNECTED with
# int8 weights and an int64 bias (or an int32 one where TFLite Micro takes it)
INT16_CASES: dict[str, CaseMaker] = {
    "CONV_2D": lambda rng: conv_2d(rng, act="int16"),
    "DEPTHWISE_CONV_2D": lambda rng: depthwise_conv_2d(rng, act="int16"),
    "FULLY_CONNECTED": lambda rng: fully_connected(rng, act="int16"),
    "ADD": lambda rng: _binary("ADD", rng, "int16"),
    "SUB": lambda rng: _binary("SUB", rng, "int16"),
    "MUL": lambda rng: _binary("MUL", rng, "int16"),
    "MEAN": lambda rng: mean(rng, "int16"),
    "AVERAGE_POOL_2D": lambda rng: _pool("AVERAGE_POOL_2D", rng, "int16"),
    "MAX_POOL_2D": lambda rng: _pool("MAX_POOL_2D", rng, "int16"),
    "RELU": lambda rng: relu(rng, "int16"),
    "LEAKY_RELU": lambda rng: leaky_relu(rng, "int16"),
    "SOFTMAX": softmax16,
    "LOGISTIC": lambda rng: _unary("LOGISTIC", rng, (2**-15, 0), dtype="int16"),  # output 2^-15 (logistic_common.cc)
    "TANH": lambda rng: _unary("TANH", rng, (2**-15, 0), dtype="int16"),
}

# int4 weights (TFLite's packed INT4 tensors) for the operators TFLite Micro runs them with
INT4_CASES: dict[str, CaseMaker] = {
    "CONV_2D": lambda rng: conv_2d(rng, int4=True),
    "DEPTHWISE_CONV_2D": lambda rng: depthwise_conv_2d(rng, int4=True),
    "FULLY_CONNECTED": lambda rng: fully_connected(rng, int4=True),
}


def unsupported_case(rng: np.random.Generator | None = None) -> bytes:
    """A model with two operators the importer refuses: GATHER (output ``g``) then a custom operator
    ``CUSTOM:MyOp`` (output ``y``)."""
    if rng is None:
        rng = np.random.default_rng(0)
    rows, cols = _int(rng, 2, 6), _int(rng, 1, 4)
    picks = rng.integers(0, rows, size=2).astype(np.int32)
    scale, zp = _scale(rng), _zp(rng)
    tensors = [
        TensorDef("x", "int8", (rows, cols), scale, zp),
        TensorDef("idx", "int32", (2,), data=picks),
        TensorDef("g", "int8", (2, cols), scale, zp),
        TensorDef("y", "int8", (2, cols), scale, zp),
    ]
    ops = [OpDef("GATHER", [0, 1], [2]), OpDef("CUSTOM:MyOp", [2], [3], custom_options=b"\x00")]
    return build_model(tensors, ops, [0], [3])


def chain_case(rng: np.random.Generator) -> Case:
    """A small keyword-spotting-like model: CONV_2D, DEPTHWISE_CONV_2D, a pool, RESHAPE, FULLY_CONNECTED and
    SOFTMAX, each with random shapes, quantisation and fused activations."""
    h, w, c = _int(rng, 4, 12), _int(rng, 4, 12), _int(rng, 1, 3)
    tensors: list[TensorDef] = [TensorDef("input", "int8", (1, h, w, c), _scale(rng, 1e-2, 0.5), _zp(rng))]
    ops: list[OpDef] = []

    def add(t: TensorDef) -> int:
        tensors.append(t)
        return len(tensors) - 1

    def conv(kind: str, x: int) -> int:
        _, xh, xw, cin = tensors[x].shape
        in_scale = tensors[x].scale
        win = _window(rng, xh, xw, kmax=4)
        (kh, kw), (oh, ow) = win["k"], win["out"]
        if kind == "CONV_2D":
            cout, axis, depth = _int(rng, 2, 6), 0, kh * kw * cin
            shape = (cout, kh, kw, cin)
        else:
            cout, axis, depth = cin * 2, 3, kh * kw
            shape = (1, kh, kw, cout)
        w_scales = _w_scales(rng, cout)
        wi = add(
            TensorDef(f"w{len(ops)}", "int8", shape, w_scales, [0] * cout, axis, _weights(rng, shape, axis, False))
        )
        bias = _bias(rng, "int8", in_scale, w_scales, cout, depth)
        bias.name = f"b{len(ops)}"
        bi = add(bias)
        y = add(
            TensorDef(
                f"{kind.lower()}{len(ops)}",
                "int8",
                (1, oh, ow, cout),
                _out_scale(rng, in_scale, w_scales, depth),
                _zp(rng),
            )
        )
        opts = _conv_options(win, rng, **({"depth_multiplier": 2} if kind == "DEPTHWISE_CONV_2D" else {}))
        ops.append(OpDef(kind, [x, wi, bi], [y], opts))
        return y

    y = conv("DEPTHWISE_CONV_2D", conv("CONV_2D", 0))
    _, yh, yw, yc = tensors[y].shape
    pool = _pick(rng, ("AVERAGE_POOL_2D", "MAX_POOL_2D"))
    kh, kw = min(2, yh), min(2, yw)
    ph, pw = _out_size(yh, kh, kh, 1, "VALID"), _out_size(yw, kw, kw, 1, "VALID")
    p = add(TensorDef("pool", "int8", (1, ph, pw, yc), tensors[y].scale, tensors[y].zero_point))
    ops.append(
        OpDef(
            pool,
            [y],
            [p],
            {"padding": "VALID", "stride_h": kh, "stride_w": kw, "filter_height": kh, "filter_width": kw},
        )
    )
    flat = ph * pw * yc
    shape_i = add(_const_i32("shape", [-1, flat]))
    f = add(TensorDef("flat", "int8", (1, flat), tensors[p].scale, tensors[p].zero_point))
    ops.append(OpDef("RESHAPE", [p, shape_i], [f]))
    units = _int(rng, 2, 6)
    w_scale = _w_scales(rng, 1)
    wi = add(TensorDef("fc_w", "int8", (units, flat), w_scale, 0, 0, _weights(rng, (units, flat), 0, False)))
    bias = _bias(rng, "int8", tensors[f].scale, w_scale, units, flat)
    bias.name = "fc_b"
    bi = add(bias)
    logits = add(TensorDef("logits", "int8", (1, units), _out_scale(rng, tensors[f].scale, w_scale, flat), _zp(rng)))
    ops.append(OpDef("FULLY_CONNECTED", [f, wi, bi], [logits], {"fused_activation_function": "NONE"}))
    probs = add(TensorDef("probs", "int8", (1, units), 1 / 256, -128))
    ops.append(OpDef("SOFTMAX", [logits], [probs], {"beta": 1.0}))
    return _case("CHAIN", tensors, ops, [probs], {"input": (h, w, c), "pool": pool, "units": units}, rng)
