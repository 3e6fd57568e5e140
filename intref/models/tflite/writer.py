"""Write small TFLite models: single operators and short chains with chosen shapes and quantisation, so that
conformance with TensorFlow Lite Micro is tested on many random models rather than a few files.

Built with ``flatbuffers.Builder`` through the builder functions the ``tflite`` package generates from the TFLite
schema (version 3, file identifier ``TFL3``). Options are given by schema field name (``stride_w``,
``fused_activation_function``, ...), enums by name (``"SAME"``, ``"RELU6"``).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import flatbuffers
import numpy as np
import tflite

_TYPES = {
    "float32": (tflite.TensorType.FLOAT32, np.float32),
    "int32": (tflite.TensorType.INT32, np.int32),
    "int64": (tflite.TensorType.INT64, np.int64),
    "int16": (tflite.TensorType.INT16, np.int16),
    "int8": (tflite.TensorType.INT8, np.int8),
    "int4": (tflite.TensorType.INT4, np.int8),
}
# operator -> its options table (schema name); operators absent here take no options
_OPTIONS = {
    "CONV_2D": "Conv2DOptions",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions",
    "ADD": "AddOptions",
    "SUB": "SubOptions",
    "MUL": "MulOptions",
    "MEAN": "ReducerOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions",
    "RESHAPE": "ReshapeOptions",
    "SQUEEZE": "SqueezeOptions",
    "PAD": "PadOptions",
    "STRIDED_SLICE": "StridedSliceOptions",
    "CONCATENATION": "ConcatenationOptions",
    "TRANSPOSE": "TransposeOptions",
    "SOFTMAX": "SoftmaxOptions",
    "LEAKY_RELU": "LeakyReluOptions",
    "QUANTIZE": "QuantizeOptions",
    "DEQUANTIZE": "DequantizeOptions",
}
_VECTOR_OPTIONS = {"new_shape", "squeeze_dims"}
_ENUMS = {"padding": tflite.Padding, "fused_activation_function": tflite.ActivationFunctionType}


@dataclass
class TensorDef:
    name: str
    dtype: str
    shape: tuple[int, ...]
    scale: float | Sequence[float] | None = None
    zero_point: int | Sequence[int] | None = None
    quantized_dimension: int = 0
    data: np.ndarray | None = None  # a constant: stored in its own buffer (int4: given unpacked, stored packed)


@dataclass
class OpDef:
    op: str  # a builtin operator name, or "CUSTOM:<code>"
    inputs: Sequence[int]
    outputs: Sequence[int]
    options: dict[str, Any] = field(default_factory=dict)


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _module(name: str):
    return importlib.import_module(f"tflite.{name}")


def _int_vector(b: flatbuffers.Builder, values) -> int:
    return b.CreateNumpyVector(np.asarray(list(values), dtype=np.int32))


def _pack_int4(values: np.ndarray) -> np.ndarray:
    flat = values.ravel().astype(np.int64)
    if flat.size and (flat.min() < -8 or flat.max() > 7):
        raise ValueError("int4 data must lie in [-8, 7]")
    if flat.size % 2:
        flat = np.concatenate([flat, [0]])
    return ((flat[0::2] & 0xF) | ((flat[1::2] & 0xF) << 4)).astype(np.uint8)


def _buffer_bytes(t: TensorDef) -> np.ndarray:
    if t.dtype not in _TYPES:
        raise ValueError(f"tensor {t.name!r}: unknown dtype {t.dtype!r}")
    data = np.asarray(t.data)
    if data.shape != tuple(t.shape):
        raise ValueError(f"tensor {t.name!r}: data of shape {data.shape} for shape {tuple(t.shape)}")
    if t.dtype == "int4":
        return _pack_int4(data)
    want = _TYPES[t.dtype][1]
    if data.dtype != want:
        raise ValueError(f"tensor {t.name!r}: data is {data.dtype}, the tensor is {t.dtype}")
    return np.frombuffer(data.astype(np.dtype(want).newbyteorder("<")).tobytes(), dtype=np.uint8)


def _quantization(b: flatbuffers.Builder, t: TensorDef) -> int | None:
    if t.scale is None:
        return None
    scales = np.atleast_1d(np.asarray(t.scale, dtype=np.float32))
    zps = np.atleast_1d(np.asarray(0 if t.zero_point is None else t.zero_point, dtype=np.int64))
    if zps.size == 1 and scales.size > 1:
        zps = np.repeat(zps, scales.size)
    q = _module("QuantizationParameters")
    s_vec = b.CreateNumpyVector(scales)
    z_vec = b.CreateNumpyVector(zps)
    q.QuantizationParametersStart(b)
    q.QuantizationParametersAddScale(b, s_vec)
    q.QuantizationParametersAddZeroPoint(b, z_vec)
    q.QuantizationParametersAddQuantizedDimension(b, int(t.quantized_dimension))
    return q.QuantizationParametersEnd(b)


def _options(b: flatbuffers.Builder, op: OpDef) -> tuple[int, int | None]:
    """(BuiltinOptions type, table offset) of an operator's options."""
    table = _OPTIONS.get(op.op)
    if table is None:
        if op.options:
            raise ValueError(f"{op.op} takes no options, got {sorted(op.options)}")
        return 0, None
    mod = _module(table)
    vectors = {k: _int_vector(b, v) for k, v in op.options.items() if k in _VECTOR_OPTIONS}
    getattr(mod, f"{table}Start")(b)
    for key, value in op.options.items():
        adder = getattr(mod, f"{table}Add{_camel(key)}", None)
        if adder is None:
            raise ValueError(f"{op.op} has no option {key!r}")
        if key in vectors:
            value = vectors[key]
        elif key in _ENUMS and isinstance(value, str):
            value = getattr(_ENUMS[key], value)
        adder(b, value)
    return getattr(tflite.BuiltinOptions, table), getattr(mod, f"{table}End")(b)


def build_model(
    tensors: Sequence[TensorDef],
    ops: Sequence[OpDef],
    inputs: Sequence[int],
    outputs: Sequence[int],
    *,
    description: str = "intref test model",
) -> bytes:
    """The bytes of a one-subgraph TFLite model."""
    b = flatbuffers.Builder(1024)
    codes: list[str] = []
    for op in ops:
        name = op.op
        if not name.startswith("CUSTOM:") and not hasattr(tflite.BuiltinOperator, name):
            raise ValueError(f"unknown operator {name!r}")
        if name not in codes:
            codes.append(name)

    # buffers: 0 is the empty buffer, then one per constant
    buf_mod = _module("Buffer")
    buffer_of: dict[int, int] = {}
    buffer_offsets = []
    buf_mod.BufferStart(b)
    buffer_offsets.append(buf_mod.BufferEnd(b))
    for i, t in enumerate(tensors):
        if t.data is None:
            continue
        data = b.CreateNumpyVector(_buffer_bytes(t))
        buf_mod.BufferStart(b)
        buf_mod.BufferAddData(b, data)
        buffer_of[i] = len(buffer_offsets)
        buffer_offsets.append(buf_mod.BufferEnd(b))

    t_mod = _module("Tensor")
    tensor_offsets = []
    for i, t in enumerate(tensors):
        if t.dtype not in _TYPES:
            raise ValueError(f"tensor {t.name!r}: unknown dtype {t.dtype!r}")
        name = b.CreateString(t.name)
        shape = _int_vector(b, t.shape)
        quant = _quantization(b, t)
        t_mod.TensorStart(b)
        t_mod.TensorAddShape(b, shape)
        t_mod.TensorAddType(b, _TYPES[t.dtype][0])
        t_mod.TensorAddBuffer(b, buffer_of.get(i, 0))
        t_mod.TensorAddName(b, name)
        if quant is not None:
            t_mod.TensorAddQuantization(b, quant)
        tensor_offsets.append(t_mod.TensorEnd(b))

    o_mod = _module("Operator")
    op_offsets = []
    for op in ops:
        for idx in (*op.inputs, *op.outputs):
            if not -1 <= idx < len(tensors):
                raise ValueError(f"{op.op} refers to tensor {idx}, there are {len(tensors)}")
        kind, options = _options(b, op)
        ins, outs = _int_vector(b, op.inputs), _int_vector(b, op.outputs)
        o_mod.OperatorStart(b)
        o_mod.OperatorAddOpcodeIndex(b, codes.index(op.op))
        o_mod.OperatorAddInputs(b, ins)
        o_mod.OperatorAddOutputs(b, outs)
        if options is not None:
            o_mod.OperatorAddBuiltinOptionsType(b, kind)
            o_mod.OperatorAddBuiltinOptions(b, options)
        op_offsets.append(o_mod.OperatorEnd(b))

    def table_vector(start, offsets) -> int:
        start(b, len(offsets))
        for off in reversed(offsets):
            b.PrependUOffsetTRelative(off)
        return b.EndVector()

    sg_mod = _module("SubGraph")
    sg_tensors = table_vector(sg_mod.SubGraphStartTensorsVector, tensor_offsets)
    sg_ops = table_vector(sg_mod.SubGraphStartOperatorsVector, op_offsets)
    sg_in, sg_out = _int_vector(b, inputs), _int_vector(b, outputs)
    sg_name = b.CreateString("main")
    sg_mod.SubGraphStart(b)
    sg_mod.SubGraphAddTensors(b, sg_tensors)
    sg_mod.SubGraphAddOperators(b, sg_ops)
    sg_mod.SubGraphAddInputs(b, sg_in)
    sg_mod.SubGraphAddOutputs(b, sg_out)
    sg_mod.SubGraphAddName(b, sg_name)
    subgraph = sg_mod.SubGraphEnd(b)

    oc_mod = _module("OperatorCode")
    code_offsets = []
    for name in codes:
        custom = b.CreateString(name.split(":", 1)[1]) if name.startswith("CUSTOM:") else None
        code = tflite.BuiltinOperator.CUSTOM if custom is not None else getattr(tflite.BuiltinOperator, name)
        oc_mod.OperatorCodeStart(b)
        oc_mod.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        oc_mod.OperatorCodeAddBuiltinCode(b, code)
        oc_mod.OperatorCodeAddVersion(b, 1)
        if custom is not None:
            oc_mod.OperatorCodeAddCustomCode(b, custom)
        code_offsets.append(oc_mod.OperatorCodeEnd(b))

    m_mod = _module("Model")
    m_codes = table_vector(m_mod.ModelStartOperatorCodesVector, code_offsets)
    m_subgraphs = table_vector(m_mod.ModelStartSubgraphsVector, [subgraph])
    m_buffers = table_vector(m_mod.ModelStartBuffersVector, buffer_offsets)
    desc = b.CreateString(description)
    m_mod.ModelStart(b)
    m_mod.ModelAddVersion(b, 3)
    m_mod.ModelAddOperatorCodes(b, m_codes)
    m_mod.ModelAddSubgraphs(b, m_subgraphs)
    m_mod.ModelAddDescription(b, desc)
    m_mod.ModelAddBuffers(b, m_buffers)
    b.Finish(m_mod.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())
