"""NHWC convolution and pooling, and the N-D data movement and reduction nodes: the reference ops against plain
Python loops written the way TFLite's reference kernels state them (skip positions outside the image), and every
backend against the reference, element for element (outputs and accumulators)."""

from __future__ import annotations

import numpy as np
import pytest

from intref.graph import ModelBuilder
from intref.ops import AddParams
from intref.ops.conv2d import conv2d
from intref.ops.elementwise import sub
from intref.ops.pool2d import avg_pool2d, max_pool2d
from intref.ops.reduce import reduce_sum
from intref.spec import Accumulator, AccumulatorOverflowError, Requant, pack_int4, rescale


def _loop_conv(x, w, bias, x_zp, kernel, stride, dilation, pad_h, pad_w, m):
    """acc[n, oy, ox, o] in Python ints: dense (m == 0, w [O, KH*KW*C]) or depthwise (w [C*m, KH*KW])."""
    n, h, wd, c = x.shape
    kh, kw = kernel
    oh = (h + sum(pad_h) - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + sum(pad_w) - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    outs = w.shape[0]
    acc = np.zeros((n, oh, ow, outs), dtype=object)
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for o in range(outs):
                    total = int(bias[o]) if bias is not None else 0
                    for i in range(kh):
                        for j in range(kw):
                            y = oy * stride[0] + i * dilation[0] - pad_h[0]
                            xx = ox * stride[1] + j * dilation[1] - pad_w[0]
                            if not (0 <= y < h and 0 <= xx < wd):
                                continue
                            if m == 0:
                                for ch in range(c):
                                    total += (int(x[b, y, xx, ch]) - x_zp) * int(w[o, (i * kw + j) * c + ch])
                            else:
                                total += (int(x[b, y, xx, o // m]) - x_zp) * int(w[o, i * kw + j])
                    acc[b, oy, ox, o] = total
    return acc


def _random_conv(rng, depthwise: bool):
    n, h, wd, c = rng.integers(1, 3), rng.integers(1, 7), rng.integers(1, 7), rng.integers(1, 5)
    kernel = (int(rng.integers(1, min(h, 3) + 1)), int(rng.integers(1, min(wd, 3) + 1)))
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    dilation = (1, 1) if rng.random() < 0.5 else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    pad_h = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
    pad_w = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
    x = rng.integers(-128, 128, size=(n, h, wd, c), dtype=np.int8)
    m = int(rng.integers(1, 4)) if depthwise else 0
    outs = c * m if depthwise else int(rng.integers(1, 6))
    cols = kernel[0] * kernel[1] * (1 if depthwise else c)
    w = rng.integers(-128, 128, size=(outs, cols), dtype=np.int8)
    bias = rng.integers(-(2**16), 2**16, size=outs, dtype=np.int32)
    return x, w, bias, int(rng.integers(-128, 128)), kernel, stride, dilation, pad_h, pad_w, m


def _spans_fit(x, kernel, dilation, pad_h, pad_w) -> bool:
    return all(x.shape[1 + a] + sum(p) >= dilation[a] * (kernel[a] - 1) + 1 for a, p in ((0, pad_h), (1, pad_w)))


@pytest.mark.parametrize("depthwise", [False, True], ids=["dense", "depthwise"])
def test_conv2d_reference_matches_python_loops(depthwise):
    rng = np.random.default_rng(11 + depthwise)
    done = 0
    while done < 40:
        x, w, bias, zp, kernel, stride, dilation, pad_h, pad_w, m = _random_conv(rng, depthwise)
        if not _spans_fit(x, kernel, dilation, pad_h, pad_w):
            continue
        _, acc = conv2d(
            x,
            w,
            bias,
            kernel=kernel,
            x_zp=zp,
            stride=stride,
            dilation=dilation,
            pad_h=pad_h,
            pad_w=pad_w,
            depth_multiplier=m,
            requant=Requant("tflite_double", 1 << 30, 0),
            return_acc=True,
        )
        want = _loop_conv(x, w, bias, zp, kernel, stride, dilation, pad_h, pad_w, m)
        assert acc.shape == want.shape
        assert acc.tolist() == want.tolist()
        done += 1


def _loop_pool(x, kernel, stride, pad_h, pad_w, lo, hi, average: bool):
    n, h, wd, c = x.shape
    oh = (h + sum(pad_h) - kernel[0]) // stride[0] + 1
    ow = (wd + sum(pad_w) - kernel[1]) // stride[1] + 1
    out = np.zeros((n, oh, ow, c), dtype=np.int64)
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for ch in range(c):
                    vals = [
                        int(x[b, y, xx, ch])
                        for y in range(oy * stride[0] - pad_h[0], oy * stride[0] - pad_h[0] + kernel[0])
                        for xx in range(ox * stride[1] - pad_w[0], ox * stride[1] - pad_w[0] + kernel[1])
                        if 0 <= y < h and 0 <= xx < wd
                    ]
                    if average:  # TFLite: (sum +- count/2) / count, C division truncating toward zero
                        s, k = sum(vals), len(vals)
                        q = (s + k // 2) if s > 0 else (s - k // 2)
                        v = abs(q) // k * (1 if q >= 0 else -1)
                    else:
                        v = max(vals)
                    out[b, oy, ox, ch] = min(max(v, lo), hi)
    return out


@pytest.mark.parametrize("average", [True, False], ids=["avg", "max"])
@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_pool2d_reference_matches_python_loops(average, dtype):
    rng = np.random.default_rng(5)
    info = np.iinfo(dtype)
    for _ in range(40):
        x = rng.integers(info.min, info.max + 1, size=(1, rng.integers(1, 7), rng.integers(1, 7), 3), dtype=dtype)
        kernel = (int(rng.integers(1, x.shape[1] + 1)), int(rng.integers(1, x.shape[2] + 1)))
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        pad_h = (int(rng.integers(0, kernel[0])), int(rng.integers(0, kernel[0])))
        pad_w = (int(rng.integers(0, kernel[1])), int(rng.integers(0, kernel[1])))
        lo, hi = sorted(int(v) for v in rng.integers(info.min, info.max + 1, size=2))
        f = avg_pool2d if average else max_pool2d
        got = f(x, kernel=kernel, stride=stride, pad_h=pad_h, pad_w=pad_w, lo=lo, hi=hi)
        want = _loop_pool(x, kernel, stride, pad_h, pad_w, lo, hi, average)
        assert got.dtype == dtype
        assert got.tolist() == want.tolist()


def test_avg_pool_rounds_half_away_from_zero():
    x = np.array([1, 2, -1, -2], dtype=np.int8).reshape(1, 2, 2, 1)
    kw = dict(kernel=(1, 2), stride=(1, 2), pad_h=(0, 0), pad_w=(0, 0), lo=-128, hi=127)
    assert avg_pool2d(x, **kw).ravel().tolist() == [2, -2]  # 1.5 -> 2, -1.5 -> -2


def test_reduce_sum_and_sub_follow_their_definitions():
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, size=(2, 3, 4, 5), dtype=np.int8)
    rq = Requant("tflite_double", 1 << 30, -3, 4, -128, 127)
    y, acc = reduce_sum(x, rq, axes=(1, 2), keepdims=True, x_zp=-7, return_acc=True)
    assert acc.tolist() == (x.astype(np.int64) + 7).sum(axis=(1, 2), keepdims=True).tolist()
    assert y.tolist() == np.clip(rescale(acc, 1 << 30, -3, "tflite_double") + 4, -128, 127).tolist()
    a, b = (rng.integers(-128, 128, size=(3, 4), dtype=np.int8) for _ in range(2))
    p = AddParams.from_scales(0.05, 3, 0.02, -9, 0.07, 1)
    _, held = sub(a, b, p, return_acc=True)
    left = (a.astype(np.int64) - 3) << 20, (b.astype(np.int64) + 9) << 20
    want = rescale(left[0], p.a_multiplier, p.a_shift, p.scheme) - rescale(left[1], p.b_multiplier, p.b_shift, p.scheme)
    assert held.tolist() == want.tolist()


def _image_model(rng, int4: bool):
    """conv2d -> depthwise -> pools -> reduce_sum, plus the data movement nodes and sub."""
    b = ModelBuilder("image-ops")
    b.input("x", "int8", (1, 7, 6, 3), scale=0.1, zero_point=-5)
    w = rng.integers(-8 if int4 else -128, 8 if int4 else 128, size=(5, 3 * 3 * 3), dtype=np.int8)
    rq = Requant("tflite_double", rng.integers(1 << 30, 1 << 31, size=5), rng.integers(-12, -6, size=5), 3, -128, 127)
    b.node(
        "conv2d",
        "conv",
        ["x"],
        "c",
        params={"w": pack_int4(w) if int4 else w, "bias": rng.integers(-5000, 5000, size=5, dtype=np.int32)},
        attrs={"kernel": (3, 3), "stride": (2, 1), "dilation": (1, 2), "pad_h": (1, 1), "pad_w": (2, 1), "x_zp": -5},
        requant=rq,
    )
    wd = rng.integers(-8 if int4 else -128, 8 if int4 else 128, size=(10, 4), dtype=np.int8)
    rq2 = Requant("tflite_double", rng.integers(1 << 30, 1 << 31, size=10), rng.integers(-10, -5, size=10), -2)
    b.node(
        "depthwise_conv2d",
        "dw",
        ["c"],
        "d",
        params={"w": pack_int4(wd) if int4 else wd},
        attrs={
            "kernel": (2, 2),
            "stride": (1, 1),
            "dilation": (1, 1),
            "pad_h": (0, 1),
            "pad_w": (1, 0),
            "x_zp": 3,
            "depth_multiplier": 2,
        },
        requant=rq2,
    )
    pool = {"kernel": (2, 2), "stride": (1, 2), "pad_h": (0, 1), "pad_w": (1, 0), "lo": -100, "hi": 120}
    b.node("avg_pool2d", "avg", ["d"], "avg", attrs=pool)
    b.node("max_pool2d", "max", ["d"], "max", attrs=pool)
    b.node("sub", "diff", ["max", "avg"], "diff", requant=AddParams.from_scales(0.1, 0, 0.1, 0, 0.05, -1))
    b.node(
        "reduce_sum",
        "mean",
        ["diff"],
        "mean",
        attrs={"axes": (1, 2), "keep_dims": 0, "x_zp": -1},
        requant=Requant("tflite_double", 1 << 30, -2),
    )
    b.node("permute", "perm", ["d"], "p", attrs={"perm": (0, 3, 1, 2)})
    b.node("pad", "pad", ["p"], "pp", attrs={"pads": (0, 0, 1, 2, 0, 0, 3, 0), "value": -2})
    b.node(
        "strided_slice",
        "slice",
        ["pp"],
        "s",
        attrs={"begin": (0, 12, 2, 4), "size": (1, 5, 2, 2), "strides": (1, -2, 1, -1)},
    )
    b.node("reshape", "flat", ["s"], "f", attrs={"shape": (1, 20)})
    b.node("reshape", "flat2", ["mean"], "m2", attrs={"shape": (1, 10)})
    b.node("concatenate", "cat", ["f", "m2", "f"], "cat", attrs={"axis": 1})
    b.output("cat", "d")
    return b.build()


@pytest.mark.parametrize("int4", [False, True], ids=["int8", "int4"])
def test_image_nodes_every_backend_equals_reference(backend, int4):
    from intref.graph import Tracer

    rng = np.random.default_rng(8 + int4)
    model = _image_model(rng, int4)
    for _ in range(3):
        x = rng.integers(-128, 128, size=(1, 7, 6, 3), dtype=np.int8)
        want, got = Tracer(), Tracer()
        model.run({"x": x}, backend="numpy", trace=want)
        model.run({"x": x}, backend=backend, trace=got)
        for r, g in zip(want.records, got.records, strict=True):
            for a, b_ in zip(r.outputs, g.outputs, strict=True):
                assert a.dtype == b_.dtype and a.shape == b_.shape
                assert np.array_equal(a, b_), r.name
            if r.acc is not None:
                assert np.array_equal(r.acc, g.acc), r.name


def test_conv2d_overflow_names_the_nhwc_index(backend):
    b = ModelBuilder("overflow")
    b.input("x", "int8", (1, 2, 2, 1), scale=1.0, zero_point=0)
    w = np.full((2, 4), 127, dtype=np.int8)
    bias = np.array([0, 2**31 - 1 - 127 * 127 * 3], dtype=np.int32)
    b.node(
        "conv2d",
        "conv",
        ["x"],
        "y",
        params={"w": w, "bias": bias},
        attrs={"kernel": (2, 2), "stride": (1, 1), "dilation": (1, 1), "pad_h": (0, 0), "pad_w": (0, 0), "x_zp": 0},
        requant=Requant("tflite_double", 1 << 30, -20),
        acc=Accumulator("error"),
    )
    b.output("y")
    model = b.build()
    x = np.full((1, 2, 2, 1), 127, dtype=np.int8)  # channel 1: 4 * 127 * 127 + bias overflows by 127^2
    with pytest.raises(AccumulatorOverflowError) as info:
        model.run({"x": x}, backend=backend)
    assert info.value.index == 1


@pytest.mark.parametrize(
    "kind, attrs, message",
    [
        ("reshape", {"shape": (5, 5)}, "cannot reshape"),
        ("permute", {"perm": (0, 0, 1, 2)}, "not a permutation"),
        ("pad", {"pads": (0, 0), "value": 0}, "pads has 2 entries"),
        ("strided_slice", {"begin": (0, 0, 0, 0), "size": (1, 3, 1, 1), "strides": (1, 1, 1, 1)}, "leave the axis"),
        ("strided_slice", {"begin": (0, 0, 0, 0), "size": (1, 1, 1, 1), "strides": (1, 0, 1, 1)}, "is 0"),
        (
            "avg_pool2d",
            {"kernel": (2, 2), "stride": (1, 1), "pad_h": (2, 0), "pad_w": (0, 0), "lo": -128, "hi": 127},
            "leading padding",
        ),
    ],
)
def test_bad_attributes_fail_when_the_model_is_built(kind, attrs, message):
    b = ModelBuilder("bad")
    b.input("x", "int8", (1, 2, 2, 1), scale=1.0, zero_point=0)
    with pytest.raises(ValueError, match=message):
        b.node(kind, "n", ["x"], "y", attrs=attrs)
