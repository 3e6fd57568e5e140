"""Read a ``.tflite`` flatbuffer into plain Python: tensors (type, shape, quantisation, constant data) and operators
(name, inputs, outputs, builtin options), with every index and buffer checked.

The flatbuffer is parsed with the ``tflite`` package (the TFLite schema compiled to Python). A file that is not a
TFLite model, or whose tables point outside the file, raises :class:`TfliteFormatError` saying where.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tflite

from ...errors import IntrefFormatError

# TensorType names (schema.fbs) -> NumPy dtype of the stored data; int4 is stored packed, two per byte.
_DTYPES = {
    "FLOAT32": np.float32,
    "INT32": np.int32,
    "UINT8": np.uint8,
    "INT64": np.int64,
    "BOOL": np.bool_,
    "INT16": np.int16,
    "INT8": np.int8,
    "FLOAT64": np.float64,
    "INT4": np.int8,
    "UINT32": np.uint32,
    "UINT16": np.uint16,
}
_TYPE_NAMES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
_OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_ACTIVATIONS = {v: k for k, v in vars(tflite.ActivationFunctionType).items() if not k.startswith("_")}
_PADDINGS = {v: k for k, v in vars(tflite.Padding).items() if not k.startswith("_")}

_POOL_FIELDS = {
    "padding": "Padding",
    "stride_w": "StrideW",
    "stride_h": "StrideH",
    "filter_w": "FilterWidth",
    "filter_h": "FilterHeight",
    "activation": "FusedActivationFunction",
}
# The builtin options intref reads, per operator: (options table class, {field: accessor}). Enums become names.
_OPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "CONV_2D": (
        "Conv2DOptions",
        {
            "padding": "Padding",
            "stride_w": "StrideW",
            "stride_h": "StrideH",
            "dilation_w": "DilationWFactor",
            "dilation_h": "DilationHFactor",
            "activation": "FusedActivationFunction",
        },
    ),
    "DEPTHWISE_CONV_2D": (
        "DepthwiseConv2DOptions",
        {
            "padding": "Padding",
            "stride_w": "StrideW",
            "stride_h": "StrideH",
            "depth_multiplier": "DepthMultiplier",
            "dilation_w": "DilationWFactor",
            "dilation_h": "DilationHFactor",
            "activation": "FusedActivationFunction",
        },
    ),
    "FULLY_CONNECTED": (
        "FullyConnectedOptions",
        {"activation": "FusedActivationFunction", "weights_format": "WeightsFormat", "keep_num_dims": "KeepNumDims"},
    ),
    "ADD": ("AddOptions", {"activation": "FusedActivationFunction", "pot_scale_int16": "PotScaleInt16"}),
    "SUB": ("SubOptions", {"activation": "FusedActivationFunction", "pot_scale_int16": "PotScaleInt16"}),
    "MUL": ("MulOptions", {"activation": "FusedActivationFunction"}),
    "MEAN": ("ReducerOptions", {"keep_dims": "KeepDims"}),
    "AVERAGE_POOL_2D": ("Pool2DOptions", _POOL_FIELDS),
    "MAX_POOL_2D": ("Pool2DOptions", _POOL_FIELDS),
    "RESHAPE": ("ReshapeOptions", {"new_shape": "NewShapeAsNumpy"}),
    "SQUEEZE": ("SqueezeOptions", {"squeeze_dims": "SqueezeDimsAsNumpy"}),
    "STRIDED_SLICE": (
        "StridedSliceOptions",
        {
            "begin_mask": "BeginMask",
            "end_mask": "EndMask",
            "ellipsis_mask": "EllipsisMask",
            "new_axis_mask": "NewAxisMask",
            "shrink_axis_mask": "ShrinkAxisMask",
            "offset": "Offset",
        },
    ),
    "CONCATENATION": ("ConcatenationOptions", {"axis": "Axis", "activation": "FusedActivationFunction"}),
    "SOFTMAX": ("SoftmaxOptions", {"beta": "Beta"}),
    "LEAKY_RELU": ("LeakyReluOptions", {"alpha": "Alpha"}),
}


class TfliteFormatError(IntrefFormatError):
    """The bytes are not a readable TFLite model (or a table points outside the file)."""


@dataclass
class TflTensor:
    index: int
    name: str
    dtype: str  # TensorType name: "INT8", "INT16", "INT32", "FLOAT32", "INT4", ...
    shape: tuple[int, ...]
    scale: tuple[float, ...] = ()  # float32 values, as stored
    zero_point: tuple[int, ...] = ()
    quantized_dimension: int = 0
    data: np.ndarray | None = None  # constants (int4 unpacked to int8), in ``shape``

    @property
    def quantized(self) -> bool:
        return len(self.scale) > 0

    def describe(self) -> str:
        return f"tensor {self.index} {self.name!r} ({self.dtype.lower()}{list(self.shape)})"


@dataclass
class TflOperator:
    index: int
    op: str  # builtin name, or "CUSTOM:<code>"
    inputs: tuple[int, ...]  # -1: an absent optional input
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    custom_options: bytes = b""  # a custom operator's options (flexbuffers), as stored


@dataclass
class TflModel:
    tensors: list[TflTensor]
    operators: list[TflOperator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: str = ""
    subgraphs: int = 1


def _unpack_int4(raw: np.ndarray, count: int) -> np.ndarray:
    signed = raw.view(np.int8)
    out = np.empty(2 * raw.size, dtype=np.int8)
    out[0::2] = (signed << 4) >> 4  # low nibble first (the TFLite packing), sign-extended
    out[1::2] = signed >> 4
    return out[:count]


def _options(op_name: str, operator) -> dict[str, Any]:
    if op_name not in _OPTIONS:
        return {}
    cls_name, fields = _OPTIONS[op_name]
    table = operator.BuiltinOptions()
    options_cls = getattr(tflite, cls_name)
    out: dict[str, Any] = {}
    if table is None:  # all defaults
        obj = None
    else:
        obj = options_cls()
        obj.Init(table.Bytes, table.Pos)
    for key, accessor in fields.items():
        if obj is None:
            out[key] = None
            continue
        value = getattr(obj, accessor)()
        if key == "activation":
            value = _ACTIVATIONS.get(value, f"unknown({value})")
        elif key == "padding":
            value = _PADDINGS.get(value, f"unknown({value})")
        elif isinstance(value, np.ndarray):
            value = tuple(int(v) for v in value)
        elif isinstance(value, (np.floating, float)):
            value = float(np.float32(value))
        elif isinstance(value, (bool, np.bool_)):
            value = bool(value)
        elif isinstance(value, (int, np.integer)):
            value = int(value)
        out[key] = value
    return out


def _tensor(model, sg, i: int, size: int) -> TflTensor:
    t = sg.Tensors(i)
    type_name = _TYPE_NAMES.get(t.Type(), f"type {t.Type()}")
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    if any(d < 0 for d in shape):
        raise TfliteFormatError(f"tensor {i} has a dynamic shape {list(shape)}: only static shapes are supported")
    q = t.Quantization()
    scale: tuple[float, ...] = ()
    zps: tuple[int, ...] = ()
    qdim = 0
    if q is not None and q.ScaleLength():
        scale = tuple(float(s) for s in q.ScaleAsNumpy())
        zps = tuple(int(z) for z in q.ZeroPointAsNumpy()) if q.ZeroPointLength() else (0,) * len(scale)
        qdim = int(q.QuantizedDimension())
    name = t.Name().decode("utf-8", "replace") if t.Name() else f"t{i}"
    tensor = TflTensor(i, name, type_name, shape, scale, zps, qdim)
    b = t.Buffer()
    if not 0 <= b < model.BuffersLength():
        raise TfliteFormatError(f"tensor {i} {name!r} refers to buffer {b}, the model has {model.BuffersLength()}")
    buf = model.Buffers(b)
    if buf.Offset() > 1:
        raise TfliteFormatError(f"tensor {i} {name!r} keeps its data outside the flatbuffer: not supported")
    if buf.DataLength():
        raw = buf.DataAsNumpy()
        count = int(np.prod(shape, dtype=np.int64))
        if type_name not in _DTYPES:
            raise TfliteFormatError(f"tensor {i} {name!r} holds constant data of type {type_name}: not supported")
        if type_name == "INT4":
            if raw.size != (count + 1) // 2:
                raise TfliteFormatError(f"tensor {i} {name!r}: {raw.size} bytes for {count} int4 values")
            tensor.data = _unpack_int4(raw, count).reshape(shape)
        else:
            dtype = np.dtype(_DTYPES[type_name]).newbyteorder("<")
            if raw.size != count * dtype.itemsize:
                raise TfliteFormatError(
                    f"tensor {i} {name!r}: {raw.size} bytes of data for shape {list(shape)} of {type_name}"
                )
            tensor.data = raw.view(dtype).astype(dtype.newbyteorder("=")).reshape(shape)
    return tensor


def tflite_bytes(source: bytes | bytearray | memoryview | str | os.PathLike) -> bytes:
    """A model's bytes, given as bytes or as a path (an unreadable file is a TfliteFormatError)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    try:
        with open(source, "rb") as f:
            return f.read()
    except OSError as exc:
        raise TfliteFormatError(f"cannot read {source}: {exc.strerror or exc}") from None


def read_tflite(source: bytes | bytearray | str | os.PathLike) -> TflModel:
    """Parse a TFLite flatbuffer (bytes or a path) into a :class:`TflModel` (the first subgraph)."""
    data = tflite_bytes(source)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise TfliteFormatError("not a TFLite model (no 'TFL3' file identifier)")
    try:
        return _parse(data)
    except TfliteFormatError:
        raise
    except Exception as exc:  # flatbuffers raises struct/index errors on tables that point outside the file
        raise TfliteFormatError(f"corrupt TFLite flatbuffer: {type(exc).__name__}: {exc}") from None


def _parse(data: bytes) -> TflModel:
    model = tflite.Model.GetRootAsModel(data, 0)
    if model.SubgraphsLength() < 1:
        raise TfliteFormatError("the model has no subgraph")
    sg = model.Subgraphs(0)
    n = sg.TensorsLength()
    tensors = [_tensor(model, sg, i, n) for i in range(n)]
    codes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        if code == tflite.BuiltinOperator.CUSTOM:
            custom = oc.CustomCode()
            codes.append((f"CUSTOM:{custom.decode('utf-8', 'replace') if custom else '?'}", oc.Version()))
        else:
            codes.append((_OP_NAMES.get(code, f"BUILTIN_{code}"), oc.Version()))

    def indices(values, what: str) -> tuple[int, ...]:
        out = tuple(int(v) for v in values)
        for v in out:
            if not -1 <= v < n:
                raise TfliteFormatError(f"{what} refers to tensor {v}, the subgraph has {n}")
        return out

    operators = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        k = op.OpcodeIndex()
        if not 0 <= k < len(codes):
            raise TfliteFormatError(f"operator {i} has opcode index {k}, the model has {len(codes)} codes")
        name, version = codes[k]
        ins = indices(op.InputsAsNumpy() if op.InputsLength() else [], f"operator {i} ({name})")
        outs = indices(op.OutputsAsNumpy() if op.OutputsLength() else [], f"operator {i} ({name})")
        custom = bytes(op.CustomOptionsAsNumpy().tobytes()) if op.CustomOptionsLength() else b""
        operators.append(TflOperator(i, name, ins, outs, _options(name, op), version, custom))
    graph_in = indices(sg.InputsAsNumpy() if sg.InputsLength() else [], "the subgraph's inputs")
    graph_out = indices(sg.OutputsAsNumpy() if sg.OutputsLength() else [], "the subgraph's outputs")
    description = model.Description().decode("utf-8", "replace") if model.Description() else ""
    return TflModel(tensors, operators, graph_in, graph_out, description, model.SubgraphsLength())
