"""Write small TFLite models: single operators and short chains with chosen shapes and quantisation, so that
conformance with TensorFlow Lite Micro is tested on many random models rather than a few files.

The flatbuffer is built with ``flatbuffers.Builder`` from the field ids (slot numbers) of the TFLite schema
(``schema.fbs``, version 3, file identifier ``TFL3``); the operator and options codes come from the enums of the
``tflite`` package. Options are given by schema field name (``stride_w``, ``fused_activation_function``, ...),
enums by name (``"SAME"``, ``"RELU6"``). An operator is a ``BuiltinOperator`` name, or ``"CUSTOM:<code>"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import flatbuffers
import numpy as np
import tflite

SCHEMA_VERSION = 3
FILE_IDENTIFIER = b"TFL3"

# dtype name -> (TensorType, the NumPy dtype of the data given for a constant)
_TYPES: dict[str, tuple[int, type]] = {
    "float32": (tflite.TensorType.FLOAT32, np.float32),
    "int32": (tflite.TensorType.INT32, np.int32),
    "int64": (tflite.TensorType.INT64, np.int64),
    "int16": (tflite.TensorType.INT16, np.int16),
    "int8": (tflite.TensorType.INT8, np.int8),
    "int4": (tflite.TensorType.INT4, np.int8),  # given unpacked, one value per int8
}

# Field ids of the tables written (schema.fbs). A union takes two ids: its type, then its value.
_MODEL = {"version": 0, "operator_codes": 1, "subgraphs": 2, "description": 3, "buffers": 4}
_OPERATOR_CODE = {"deprecated_builtin_code": 0, "custom_code": 1, "version": 2, "builtin_code": 3}
_SUBGRAPH = {"tensors": 0, "inputs": 1, "outputs": 2, "operators": 3, "name": 4}
_BUFFER = {"data": 0}
_TENSOR = {"shape": 0, "type": 1, "buffer": 2, "name": 3, "quantization": 4, "is_variable": 5, "shape_signature": 7}
_QUANTIZATION = {"scale": 2, "zero_point": 3, "quantized_dimension": 6}
_OPERATOR = {
    "opcode_index": 0,
    "inputs": 1,
    "outputs": 2,
    "builtin_options_type": 3,
    "builtin_options": 4,
    "custom_options": 5,
}

# Field kinds of the options tables: scalars, enums (written as bytes) and int32 vectors.
_ACT = ("enum", tflite.ActivationFunctionType)
_PAD = ("enum", tflite.Padding)
_TYPE_ENUM = ("enum", tflite.TensorType)
_INT, _BOOL, _FLOAT, _INTS = ("int",), ("bool",), ("float",), ("ints",)

# options table -> {field: (field id, kind, schema default)}
_TABLES: dict[str, dict[str, tuple[int, tuple, Any]]] = {
    "Conv2DOptions": {
        "padding": (0, _PAD, 0),
        "stride_w": (1, _INT, 0),
        "stride_h": (2, _INT, 0),
        "fused_activation_function": (3, _ACT, 0),
        "dilation_w_factor": (4, _INT, 1),
        "dilation_h_factor": (5, _INT, 1),
        "quantized_bias_type": (6, _TYPE_ENUM, 0),
    },
    "DepthwiseConv2DOptions": {
        "padding": (0, _PAD, 0),
        "stride_w": (1, _INT, 0),
        "stride_h": (2, _INT, 0),
        "depth_multiplier": (3, _INT, 0),
        "fused_activation_function": (4, _ACT, 0),
        "dilation_w_factor": (5, _INT, 1),
        "dilation_h_factor": (6, _INT, 1),
    },
    "FullyConnectedOptions": {
        "fused_activation_function": (0, _ACT, 0),
        "weights_format": (1, ("enum", tflite.FullyConnectedOptionsWeightsFormat), 0),
        "keep_num_dims": (2, _BOOL, False),
        "asymmetric_quantize_inputs": (3, _BOOL, False),
        "quantized_bias_type": (4, _TYPE_ENUM, 0),
    },
    "AddOptions": {"fused_activation_function": (0, _ACT, 0), "pot_scale_int16": (1, _BOOL, True)},
    "SubOptions": {"fused_activation_function": (0, _ACT, 0), "pot_scale_int16": (1, _BOOL, True)},
    "MulOptions": {"fused_activation_function": (0, _ACT, 0)},
    "ReducerOptions": {"keep_dims": (0, _BOOL, False)},
    "Pool2DOptions": {
        "padding": (0, _PAD, 0),
        "stride_w": (1, _INT, 0),
        "stride_h": (2, _INT, 0),
        "filter_width": (3, _INT, 0),
        "filter_height": (4, _INT, 0),
        "fused_activation_function": (5, _ACT, 0),
    },
    "ReshapeOptions": {"new_shape": (0, _INTS, None)},
    "SqueezeOptions": {"squeeze_dims": (0, _INTS, None)},
    "PadOptions": {},
    "StridedSliceOptions": {
        "begin_mask": (0, _INT, 0),
        "end_mask": (1, _INT, 0),
        "ellipsis_mask": (2, _INT, 0),
        "new_axis_mask": (3, _INT, 0),
        "shrink_axis_mask": (4, _INT, 0),
        "offset": (5, _BOOL, False),
    },
    "ConcatenationOptions": {"axis": (0, _INT, 0), "fused_activation_function": (1, _ACT, 0)},
    "TransposeOptions": {},
    "SoftmaxOptions": {"beta": (0, _FLOAT, 0.0)},
    "LeakyReluOptions": {"alpha": (0, _FLOAT, 0.0)},
    "QuantizeOptions": {},
    "DequantizeOptions": {},
}

# operator -> its options table; other operators are written without options
OPTIONS_TABLE: dict[str, str] = {
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

_INT32 = (-(2**31), 2**31 - 1)


@dataclass
class TensorDef:
    name: str
    dtype: str  # "int8", "int16", "int32", "int64", "float32" or "int4"
    shape: tuple[int, ...]
    scale: float | Sequence[float] | None = None
    zero_point: int | Sequence[int] | None = None
    quantized_dimension: int = 0
    data: np.ndarray | None = None  # a constant: stored in its own buffer (int4: given unpacked, stored packed)
    shape_signature: tuple[int, ...] | None = None  # the shape with -1 for dimensions unknown at conversion
    is_variable: bool = False


@dataclass
class OpDef:
    op: str  # a BuiltinOperator name, or "CUSTOM:<code>"
    inputs: Sequence[int]  # tensor indices, -1 for an absent optional input
    outputs: Sequence[int]
    options: dict[str, Any] | None = field(default_factory=dict)  # None: no options table at all
    version: int = 1  # the operator code's version (TFLite Micro ignores it)
    custom_options: bytes | None = None


def pack_int4(values: np.ndarray) -> bytes:
    """Two int4 values a byte, element 2i in the low nibble, 2i+1 in the high one, an odd count padded with 0."""
    flat = np.asarray(values).ravel().astype(np.int64)
    if flat.size and (flat.min() < -8 or flat.max() > 7):
        raise ValueError("int4 data must lie in [-8, 7]")
    if flat.size % 2:
        flat = np.concatenate([flat, [0]])
    return ((flat[0::2] & 0xF) | ((flat[1::2] & 0xF) << 4)).astype(np.uint8).tobytes()


def unpack_int4(packed: bytes, count: int) -> np.ndarray:
    """The inverse of :func:`pack_int4`: ``count`` int8 values, sign-extended from the nibbles."""
    b = np.frombuffer(packed, dtype=np.uint8).astype(np.int8)
    pairs = np.stack([(b << 4) >> 4, b >> 4], axis=1).ravel()  # arithmetic shifts sign-extend
    return pairs[:count].astype(np.int8)


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def _int_list(values: Any, what: str) -> list[int]:
    try:
        items = list(values)
    except TypeError:
        raise ValueError(f"{what}: expected a sequence of integers, got {values!r}") from None
    if not all(_is_int(v) and _INT32[0] <= v <= _INT32[1] for v in items):
        raise ValueError(f"{what}: expected int32 values, got {items!r}")
    return [int(v) for v in items]


def _buffer_bytes(t: TensorDef) -> bytes:
    data = t.data
    if not isinstance(data, np.ndarray):
        raise ValueError(f"tensor {t.name!r}: data must be a NumPy array, got {type(data).__name__}")
    if data.shape != tuple(t.shape):
        raise ValueError(f"tensor {t.name!r}: data of shape {data.shape} for shape {tuple(t.shape)}")
    want = _TYPES[t.dtype][1]
    if data.dtype != want:
        raise ValueError(f"tensor {t.name!r}: {t.dtype} data must be given as {np.dtype(want)}, got {data.dtype}")
    if t.dtype == "int4":
        return pack_int4(data)
    return data.astype(np.dtype(want).newbyteorder("<")).tobytes()


def _check_tensor(t: TensorDef) -> None:
    if t.dtype not in _TYPES:
        raise ValueError(f"tensor {t.name!r}: unknown dtype {t.dtype!r} (one of {', '.join(_TYPES)})")
    shape = _int_list(t.shape, f"tensor {t.name!r} shape")
    if any(d < 0 for d in shape):
        raise ValueError(f"tensor {t.name!r}: negative dimension in shape {tuple(shape)}")
    if t.shape_signature is not None:
        sig = _int_list(t.shape_signature, f"tensor {t.name!r} shape_signature")
        if len(sig) != len(shape) or any(s != -1 and s != d for s, d in zip(sig, shape, strict=True)):
            raise ValueError(f"tensor {t.name!r}: shape_signature {sig} does not match shape {tuple(shape)}")
    if t.scale is None:
        if t.zero_point is not None:
            raise ValueError(f"tensor {t.name!r}: a zero point without a scale")
        return
    scales = np.atleast_1d(np.asarray(t.scale, dtype=np.float64))
    zps = np.atleast_1d(np.asarray(0 if t.zero_point is None else t.zero_point))
    if scales.ndim != 1 or not scales.size or not np.all(np.isfinite(scales)):
        raise ValueError(f"tensor {t.name!r}: scale must be a finite number or a non-empty list of them")
    if zps.ndim != 1 or not all(_is_int(z) for z in zps.tolist()):
        raise ValueError(f"tensor {t.name!r}: zero point must be an integer or a list of them")
    if zps.size not in (1, scales.size):
        raise ValueError(f"tensor {t.name!r}: {zps.size} zero points for {scales.size} scales")
    if scales.size > 1:
        axis = t.quantized_dimension
        if not (_is_int(axis) and 0 <= axis < len(shape)):
            raise ValueError(f"tensor {t.name!r}: quantized_dimension {axis} out of range for rank {len(shape)}")
        if shape[axis] != scales.size:
            raise ValueError(f"tensor {t.name!r}: {scales.size} scales for dimension {axis} of size {shape[axis]}")


class _Writer:
    """One model's flatbuffer, children before their parents (the builder writes back to front)."""

    def __init__(self) -> None:
        self.b = flatbuffers.Builder(4096)

    def ints(self, values: Sequence[int]) -> int:
        return self.b.CreateNumpyVector(np.asarray(list(values), dtype="<i4"))

    def data(self, payload: bytes) -> int:
        # schema.fbs: Buffer.data is force_align 16, so that kernels may read int32/int64 constants in place
        self.b.Prep(16, len(payload))
        return self.b.CreateNumpyVector(np.frombuffer(payload, dtype=np.uint8))

    def table(self, fields: list[tuple[str, int, Any, Any]]) -> int:
        """A table from (kind, field id, value, default): kinds int8/int32/uint32/bool/float/offset."""
        b = self.b
        b.StartObject(max((f[1] for f in fields), default=-1) + 1)
        for kind, slot, value, default in fields:
            if kind == "offset":
                b.PrependUOffsetTRelativeSlot(slot, value, 0)
            elif kind == "int8":
                b.PrependInt8Slot(slot, value, default)
            elif kind == "int32":
                b.PrependInt32Slot(slot, value, default)
            elif kind == "uint32":
                b.PrependUint32Slot(slot, value, default)
            elif kind == "bool":
                b.PrependBoolSlot(slot, value, default)
            elif kind == "float":
                b.PrependFloat32Slot(slot, value, default)
            else:
                raise AssertionError(kind)
        return b.EndObject()

    def vector_of_tables(self, offsets: list[int]) -> int:
        self.b.StartVector(4, len(offsets), 4)
        for off in reversed(offsets):
            self.b.PrependUOffsetTRelative(off)
        return self.b.EndVector()


def _options(w: _Writer, op: OpDef) -> tuple[int, int] | None:
    """(BuiltinOptions type, table offset) of an operator's options, or None when it has no options table."""
    table = OPTIONS_TABLE.get(op.op)
    if table is None:
        if op.options:
            raise ValueError(f"{op.op}: the writer knows no options of this operator, got {sorted(op.options)}")
        return None
    if op.options is None:
        return None
    spec = _TABLES[table]
    unknown = sorted(set(op.options) - set(spec))
    if unknown:
        raise ValueError(f"{op.op}: unknown option(s) {unknown}; {table} has {sorted(spec) or 'no fields'}")
    vectors = {
        key: w.ints(_int_list(value, f"{op.op} option {key}"))
        for key, value in op.options.items()
        if spec[key][1] is _INTS
    }
    fields = []
    for key, value in op.options.items():
        slot, kind, default = spec[key]
        where = f"{op.op} option {key}"
        if kind is _INTS:
            fields.append(("offset", slot, vectors[key], None))
        elif kind[0] == "enum":
            enum = kind[1]
            names = {n: v for n, v in vars(enum).items() if not n.startswith("_") and isinstance(v, int)}
            if isinstance(value, str):
                if value not in names:
                    raise ValueError(f"{where}: unknown value {value!r} (one of {', '.join(names)})")
                value = names[value]
            elif not (_is_int(value) and value in names.values()):
                raise ValueError(f"{where}: expected one of {', '.join(names)}, got {value!r}")
            fields.append(("int8", slot, int(value), default))
        elif kind is _INT:
            if not (_is_int(value) and _INT32[0] <= value <= _INT32[1]):
                raise ValueError(f"{where}: expected an int32, got {value!r}")
            fields.append(("int32", slot, int(value), default))
        elif kind is _BOOL:
            if not isinstance(value, bool | np.bool_):
                raise ValueError(f"{where}: expected a bool, got {value!r}")
            fields.append(("bool", slot, bool(value), default))
        elif kind is _FLOAT:
            if not (isinstance(value, int | float | np.floating | np.integer) and math.isfinite(float(value))):
                raise ValueError(f"{where}: expected a finite number, got {value!r}")
            fields.append(("float", slot, float(value), default))
    return getattr(tflite.BuiltinOptions, table), w.table(fields)


def _operator_code(name: str) -> tuple[int, str | None]:
    """(builtin code, custom code) of an operator name."""
    if name.startswith("CUSTOM:"):
        custom = name.split(":", 1)[1]
        if not custom:
            raise ValueError("a custom operator needs a code: 'CUSTOM:<code>'")
        return tflite.BuiltinOperator.CUSTOM, custom
    code = getattr(tflite.BuiltinOperator, name, None) if name.isupper() else None
    if not isinstance(code, int) or name == "CUSTOM":
        raise ValueError(f"unknown operator {name!r} (a BuiltinOperator name or 'CUSTOM:<code>')")
    return code, None


def build_model(
    tensors: Sequence[TensorDef],
    ops: Sequence[OpDef],
    inputs: Sequence[int],
    outputs: Sequence[int],
    *,
    description: str = "intref test model",
) -> bytes:
    """The bytes of a one-subgraph TFLite model: buffer 0 empty, one buffer per constant tensor."""
    n = len(tensors)
    for t in tensors:
        _check_tensor(t)
    codes: list[str] = []
    for op in ops:
        _operator_code(op.op)
        for idx in _int_list(op.inputs, f"{op.op} inputs"):
            if not -1 <= idx < n:
                raise ValueError(f"{op.op} reads tensor {idx}; there are {n}")
        for idx in _int_list(op.outputs, f"{op.op} outputs"):
            if not 0 <= idx < n:
                raise ValueError(f"{op.op} writes tensor {idx}; there are {n}")
        if not _is_int(op.version) or op.version < 1:
            raise ValueError(f"{op.op}: version must be a positive integer, got {op.version!r}")
        if op.op not in codes:
            codes.append(op.op)
    for what, indices in (("input", inputs), ("output", outputs)):
        for idx in _int_list(indices, f"model {what}s"):
            if not 0 <= idx < n:
                raise ValueError(f"model {what} {idx}: there are {n} tensors")
    payloads = {i: _buffer_bytes(t) for i, t in enumerate(tensors) if t.data is not None}

    w = _Writer()
    b = w.b
    buffers = [w.table([])]  # buffer 0: the empty sentinel that tensors without data refer to
    buffer_of: dict[int, int] = {}
    for i, payload in payloads.items():
        buffer_of[i] = len(buffers)
        buffers.append(w.table([("offset", _BUFFER["data"], w.data(payload), None)]))

    tensor_offsets = []
    for i, t in enumerate(tensors):
        name = b.CreateString(t.name)
        shape = w.ints(t.shape)
        signature = w.ints(t.shape_signature) if t.shape_signature is not None else None
        fields = [
            ("offset", _TENSOR["shape"], shape, None),
            ("int8", _TENSOR["type"], _TYPES[t.dtype][0], tflite.TensorType.FLOAT32),
            ("uint32", _TENSOR["buffer"], buffer_of.get(i, 0), 0),
            ("offset", _TENSOR["name"], name, None),
            ("bool", _TENSOR["is_variable"], bool(t.is_variable), False),
        ]
        if t.scale is not None:
            scales = np.atleast_1d(np.asarray(t.scale, dtype="<f4"))
            zps = np.atleast_1d(np.asarray(0 if t.zero_point is None else t.zero_point, dtype="<i8"))
            if zps.size == 1 and scales.size > 1:  # as converters write it: one zero point per scale
                zps = np.repeat(zps, scales.size)
            s_vec, z_vec = b.CreateNumpyVector(scales), b.CreateNumpyVector(zps)
            quant = w.table(
                [
                    ("offset", _QUANTIZATION["scale"], s_vec, None),
                    ("offset", _QUANTIZATION["zero_point"], z_vec, None),
                    ("int32", _QUANTIZATION["quantized_dimension"], int(t.quantized_dimension), 0),
                ]
            )
            fields.append(("offset", _TENSOR["quantization"], quant, None))
        if signature is not None:
            fields.append(("offset", _TENSOR["shape_signature"], signature, None))
        tensor_offsets.append(w.table(fields))

    op_offsets = []
    for op in ops:
        options = _options(w, op)
        ins, outs = w.ints(op.inputs), w.ints(op.outputs)
        custom = (
            b.CreateNumpyVector(np.frombuffer(bytes(op.custom_options), dtype=np.uint8))
            if op.custom_options is not None
            else None
        )
        fields = [
            ("uint32", _OPERATOR["opcode_index"], codes.index(op.op), 0),
            ("offset", _OPERATOR["inputs"], ins, None),
            ("offset", _OPERATOR["outputs"], outs, None),
        ]
        if options is not None:
            fields.append(("int8", _OPERATOR["builtin_options_type"], options[0], 0))
            fields.append(("offset", _OPERATOR["builtin_options"], options[1], None))
        if custom is not None:
            fields.append(("offset", _OPERATOR["custom_options"], custom, None))
        op_offsets.append(w.table(fields))

    sg_tensors = w.vector_of_tables(tensor_offsets)
    sg_ops = w.vector_of_tables(op_offsets)
    sg_in, sg_out = w.ints(inputs), w.ints(outputs)
    sg_name = b.CreateString("main")
    subgraph = w.table(
        [
            ("offset", _SUBGRAPH["tensors"], sg_tensors, None),
            ("offset", _SUBGRAPH["inputs"], sg_in, None),
            ("offset", _SUBGRAPH["outputs"], sg_out, None),
            ("offset", _SUBGRAPH["operators"], sg_ops, None),
            ("offset", _SUBGRAPH["name"], sg_name, None),
        ]
    )

    code_offsets = []
    for name in codes:
        code, custom_code = _operator_code(name)
        version = max(op.version for op in ops if op.op == name)
        fields = [
            # converters write both: the byte-wide field (saturated at 127) and the int32 one
            ("int8", _OPERATOR_CODE["deprecated_builtin_code"], min(code, 127), 0),
            ("int32", _OPERATOR_CODE["version"], version, 1),
            ("int32", _OPERATOR_CODE["builtin_code"], code, 0),
        ]
        if custom_code is not None:
            fields.append(("offset", _OPERATOR_CODE["custom_code"], b.CreateString(custom_code), None))
        code_offsets.append(w.table(fields))

    m_codes = w.vector_of_tables(code_offsets)
    m_subgraphs = w.vector_of_tables([subgraph])
    m_buffers = w.vector_of_tables(buffers)
    desc = b.CreateString(description)
    model = w.table(
        [
            ("uint32", _MODEL["version"], SCHEMA_VERSION, 0),
            ("offset", _MODEL["operator_codes"], m_codes, None),
            ("offset", _MODEL["subgraphs"], m_subgraphs, None),
            ("offset", _MODEL["description"], desc, None),
            ("offset", _MODEL["buffers"], m_buffers, None),
        ]
    )
    b.Finish(model, file_identifier=FILE_IDENTIFIER)
    return bytes(b.Output())
