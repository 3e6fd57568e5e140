"""The TFLite writer and the random single-operator models of tflite_cases.py.

- every model generator: 20 models each run by TensorFlow Lite Micro, outputs of the declared dtype and shape;
- every model read back with the ``tflite`` package (the schema's own generated reader): tensors, quantisation
  (per-channel too), buffers, operator codes, operators and their options are what was written;
- int4 constants: packed two a byte, low nibble first, and run by TFLite Micro like the same values in int8;
- bad writer input is refused with ValueError.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import tflite
import tflite_cases
from tflite_cases import CASES, INT4_CASES, INT16_CASES, chain_case, unsupported_case
from tflm_util import require_tflm, run_tflm

from intref.models.tflite.writer import OPTIONS_TABLE, OpDef, TensorDef, build_model, unpack_int4

MODELS = 20
NP_TYPES = {"float32": np.float32, "int32": np.int32, "int64": np.int64, "int16": np.int16, "int8": np.int8}
GENERATORS = (
    dict(CASES)
    | {f"{op}-int16": g for op, g in INT16_CASES.items()}
    | {f"{op}-int4": g for op, g in INT4_CASES.items()}
    | {"CHAIN": chain_case}
)


def _enum_names(enum) -> dict[int, str]:
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


TYPE_NAMES = _enum_names(tflite.TensorType)
OP_NAMES = _enum_names(tflite.BuiltinOperator)
OPTIONS_NAMES = _enum_names(tflite.BuiltinOptions)
ENUMS = {
    "padding": tflite.Padding,
    "fused_activation_function": tflite.ActivationFunctionType,
    "weights_format": tflite.FullyConnectedOptionsWeightsFormat,
    "quantized_bias_type": tflite.TensorType,
}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def _vector(table, name: str) -> list:
    return [] if getattr(table, f"{name}IsNone")() else getattr(table, f"{name}AsNumpy")().tolist()


def _read_options(op, table_name: str, keys) -> dict[str, Any]:
    table = getattr(tflite, table_name)()
    raw = op.BuiltinOptions()
    table.Init(raw.Bytes, raw.Pos)
    values = {}
    for key in keys:
        accessor = _camel(key)
        if hasattr(table, f"{accessor}AsNumpy"):
            values[key] = _vector(table, accessor)
        else:
            values[key] = getattr(table, accessor)()
    return values


def _written(value: Any, key: str) -> Any:
    """A written option as the reader gives it back: enums as numbers, vectors as lists, floats as float32."""
    if key in ENUMS and isinstance(value, str):
        return getattr(ENUMS[key], value)
    if isinstance(value, float):
        return float(np.float32(value))
    if isinstance(value, list | tuple):
        return [int(v) for v in value]
    return value


def _check_read_back(model: bytes, tensors, ops, inputs, outputs, description: str) -> None:
    """The model as the tflite package reads it holds exactly what was given to build_model."""
    assert tflite.Model.ModelBufferHasIdentifier(model, 0)
    m = tflite.Model.GetRootAsModel(model, 0)
    assert m.Version() == 3
    assert m.Description().decode() == description
    assert m.SubgraphsLength() == 1
    sg = m.Subgraphs(0)
    assert sg.InputsAsNumpy().tolist() == list(inputs)
    assert sg.OutputsAsNumpy().tolist() == list(outputs)
    assert m.Buffers(0).DataIsNone()  # the empty sentinel buffer
    assert sg.TensorsLength() == len(tensors)
    used_buffers = []
    for i, want in enumerate(tensors):
        t = sg.Tensors(i)
        assert t.Name().decode() == want.name
        assert TYPE_NAMES[t.Type()] == want.dtype.upper()
        assert _vector(t, "Shape") == list(want.shape)
        assert _vector(t, "ShapeSignature") == list(want.shape_signature or [])
        assert t.IsVariable() == want.is_variable
        if want.data is None:
            assert t.Buffer() == 0
        else:
            assert t.Buffer() != 0 and t.Buffer() not in used_buffers  # one buffer per constant
            used_buffers.append(t.Buffer())
            buf = m.Buffers(t.Buffer())
            raw = buf.DataAsNumpy().tobytes()
            assert buf._tab.Vector(buf._tab.Offset(4)) % 16 == 0  # schema.fbs: force_align 16
            if want.dtype == "int4":
                assert len(raw) == (want.data.size + 1) // 2
                got = unpack_int4(raw, want.data.size).reshape(want.shape)
            else:
                got = np.frombuffer(raw, dtype=np.dtype(NP_TYPES[want.dtype]).newbyteorder("<")).reshape(want.shape)
            assert np.array_equal(got, want.data), want.name
        q = t.Quantization()
        if want.scale is None:
            assert q is None or q.ScaleIsNone()
            continue
        scales = np.atleast_1d(np.asarray(want.scale, dtype=np.float32))
        zps = np.atleast_1d(np.asarray(0 if want.zero_point is None else want.zero_point, dtype=np.int64))
        zps = np.broadcast_to(zps, scales.shape)
        assert np.array_equal(q.ScaleAsNumpy(), scales), want.name
        assert np.array_equal(q.ZeroPointAsNumpy(), zps), want.name
        assert q.QuantizedDimension() == want.quantized_dimension
    assert len(used_buffers) + 1 == m.BuffersLength()

    codes = []
    for i in range(m.OperatorCodesLength()):
        code = m.OperatorCodes(i)
        assert code.DeprecatedBuiltinCode() == min(code.BuiltinCode(), 127)
        name = OP_NAMES[code.BuiltinCode()]
        codes.append(f"CUSTOM:{code.CustomCode().decode()}" if name == "CUSTOM" else name)
    assert sorted(codes) == sorted({op.op for op in ops})  # one code per operator kind
    assert sg.OperatorsLength() == len(ops)
    for i, want in enumerate(ops):
        op = sg.Operators(i)
        assert codes[op.OpcodeIndex()] == want.op
        assert op.InputsAsNumpy().tolist() == list(want.inputs)
        assert op.OutputsAsNumpy().tolist() == list(want.outputs)
        table = OPTIONS_TABLE.get(want.op)
        if table is None or want.options is None:
            assert op.BuiltinOptionsType() == tflite.BuiltinOptions.NONE
            continue
        assert OPTIONS_NAMES[op.BuiltinOptionsType()] == table
        got = _read_options(op, table, want.options)
        assert got == {k: _written(v, k) for k, v in want.options.items()}, want.op


class _Recorder:
    """Stands in for build_model in tflite_cases, keeping what each model was built from."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, tensors, ops, inputs, outputs, **kwargs) -> bytes:
        model = build_model(tensors, ops, inputs, outputs, **kwargs)
        self.calls.append((model, list(tensors), list(ops), list(inputs), list(outputs)))
        return model


def _expected_dtype(tensor: TensorDef) -> np.dtype:
    return np.dtype(NP_TYPES[tensor.dtype])


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_random_models_run_in_tflite_micro_and_read_back(name, monkeypatch):
    require_tflm()
    recorder = _Recorder()
    monkeypatch.setattr(tflite_cases, "build_model", recorder)
    rng = np.random.default_rng(sum(map(ord, name)))
    for i in range(MODELS):
        case = GENERATORS[name](rng)
        model, tensors, ops, inputs, outputs = recorder.calls[-1]
        assert case.model == model
        _check_read_back(model, tensors, ops, inputs, outputs, "intref test model")
        assert len(case.inputs) == len(inputs)
        for x, idx in zip(case.inputs, inputs, strict=True):
            assert x.shape == tuple(tensors[idx].shape) and x.dtype == _expected_dtype(tensors[idx])
            if tensors[idx].dtype in ("int8", "int16") and x.size >= 2:  # both ends of the range are fed
                info = np.iinfo(x.dtype)
                assert x.min() == info.min and x.max() == info.max
        got = run_tflm(case.model, case.inputs)
        assert len(got) == len(outputs)
        for y, idx in zip(got, outputs, strict=True):
            want = tensors[idx]
            problem = f"{name} model {i} ({case.info}): got {y.dtype}{list(y.shape)}, declared {want.dtype}{want.shape}"
            assert y.shape == tuple(want.shape) and y.dtype == _expected_dtype(want), problem


def _numpy_reference(op: str, tensors: list[TensorDef], ops: list[OpDef], feeds: dict[int, np.ndarray]):
    """What a data-movement operator computes, from the tensors and options written."""
    (d,) = ops
    opts, x = d.options or {}, feeds.get(d.inputs[0])
    out_shape = tuple(tensors[d.outputs[0]].shape)
    if op in ("RESHAPE", "SQUEEZE"):
        return x.reshape(out_shape)
    if op == "TRANSPOSE":
        return x.transpose(tensors[d.inputs[1]].data)
    if op == "PAD":
        return np.pad(x, tensors[d.inputs[1]].data, constant_values=tensors[d.outputs[0]].zero_point)
    if op == "CONCATENATION":
        parts = [feeds[i] if tensors[i].data is None else tensors[i].data for i in d.inputs]
        return np.concatenate(parts, axis=opts["axis"])
    if op == "STRIDED_SLICE":
        begin, end, strides = (tensors[i].data.tolist() for i in d.inputs[1:4])
        index: list = []
        for a in range(x.ndim):
            bit = 1 << a
            if opts["shrink_axis_mask"] & bit:
                index.append(begin[a])
            else:  # TFLite's index rules are Python's slice rules
                b = None if opts["begin_mask"] & bit else begin[a]
                e = None if opts["end_mask"] & bit else end[a]
                index.append(slice(b, e, strides[a]))
        return x[tuple(index)].reshape(out_shape)
    raise AssertionError(op)


@pytest.mark.parametrize("op", ["CONCATENATION", "PAD", "RESHAPE", "SQUEEZE", "STRIDED_SLICE", "TRANSPOSE"])
def test_data_movement_models_compute_what_was_written(op, monkeypatch):
    """The options and constants reach TFLite Micro as meant: begin/end masks by axis bit, paddings by
    [axis, side], the permutation, the concatenation axis, the output zero point as the pad value."""
    require_tflm()
    recorder = _Recorder()
    monkeypatch.setattr(tflite_cases, "build_model", recorder)
    rng = np.random.default_rng(77)
    for i in range(100):
        case = CASES[op](rng)
        _, tensors, ops, inputs, _ = recorder.calls[-1]
        want = _numpy_reference(op, tensors, ops, dict(zip(inputs, case.inputs, strict=True)))
        (got,) = run_tflm(case.model, case.inputs)
        assert np.array_equal(got, want), f"{op} model {i}: {case.info}"


def test_all_tensors_after_invoke():
    require_tflm()
    case = CASES["CONV_2D"](np.random.default_rng(5))
    m = tflite.Model.GetRootAsModel(case.model, 0)
    sg = m.Subgraphs(0)
    outputs, every = run_tflm(case.model, case.inputs, all_tensors=True)
    assert sorted(every) == list(range(sg.TensorsLength()))
    assert np.array_equal(every[sg.Inputs(0)], case.inputs[0])
    assert np.array_equal(every[sg.Outputs(0)], outputs[0])
    bias = sg.Tensors(2)
    stored = np.frombuffer(m.Buffers(bias.Buffer()).DataAsNumpy().tobytes(), dtype="<i4")
    assert np.array_equal(every[2].ravel(), stored)


def test_unsupported_case_holds_gather_and_a_custom_operator():
    model = unsupported_case(np.random.default_rng(1))
    m = tflite.Model.GetRootAsModel(model, 0)
    codes = [m.OperatorCodes(i) for i in range(m.OperatorCodesLength())]
    assert [OP_NAMES[c.BuiltinCode()] for c in codes] == ["GATHER", "CUSTOM"]
    assert codes[1].CustomCode() == b"MyOp"
    assert codes[1].DeprecatedBuiltinCode() == tflite.BuiltinOperator.CUSTOM
    sg = m.Subgraphs(0)
    assert [sg.Tensors(sg.Operators(i).Outputs(0)).Name() for i in range(2)] == [b"g", b"y"]
    assert sg.Operators(1).CustomOptionsAsNumpy().tolist() == [0]
    assert unsupported_case() == unsupported_case()


def test_operator_codes_beyond_127_keep_the_deprecated_field_saturated():
    code = tflite.BuiltinOperator.BROADCAST_TO  # 130
    assert code > 127
    tensors = [
        TensorDef("x", "int8", (1, 3), 0.1, 0),
        TensorDef("shape", "int32", (2,), data=np.array([2, 3], dtype=np.int32)),
        TensorDef("y", "int8", (2, 3), 0.1, 0),
    ]
    model = build_model(tensors, [OpDef("BROADCAST_TO", [0, 1], [2])], [0], [2], description="broadcast")
    opcode = tflite.Model.GetRootAsModel(model, 0).OperatorCodes(0)
    assert (opcode.DeprecatedBuiltinCode(), opcode.BuiltinCode()) == (127, code)
    assert tflite.Model.GetRootAsModel(model, 0).Description() == b"broadcast"


def test_options_can_be_left_out_and_versions_set():
    tensors = [TensorDef("x", "int8", (2, 3), 0.1, 1), TensorDef("y", "int8", (6,), 0.1, 1)]
    for options, kind in ((None, tflite.BuiltinOptions.NONE), ({}, tflite.BuiltinOptions.ReshapeOptions)):
        model = build_model(tensors, [OpDef("RESHAPE", [0], [1], options, version=2)], [0], [1])
        m = tflite.Model.GetRootAsModel(model, 0)
        assert m.Subgraphs(0).Operators(0).BuiltinOptionsType() == kind
        assert m.OperatorCodes(0).Version() == 2


def test_shape_signature_and_variable_flag_read_back():
    tensors = [
        TensorDef("x", "int8", (1, 4), 0.1, 0, shape_signature=(-1, 4)),
        TensorDef("state", "int8", (1, 4), 0.1, 0, is_variable=True),
        TensorDef("y", "int8", (1, 4), 0.1, 0, shape_signature=(-1, 4)),
    ]
    ops = [OpDef("ADD", [0, 1], [2], {"fused_activation_function": "NONE"})]
    _check_read_back(build_model(tensors, ops, [0], [2]), tensors, ops, [0], [2], "intref test model")


INT4_VALUES = np.array([-8, 7, -1, 0, 3], dtype=np.int8)


def test_int4_constants_are_packed_low_nibble_first():
    tensors = [
        TensorDef("x", "int8", (1, 5), 0.1, 0),
        TensorDef("w", "int4", (1, 5), 0.5, 0, data=INT4_VALUES.reshape(1, 5)),
        TensorDef("y", "int8", (1, 1), 0.5, 0),
    ]
    ops = [OpDef("FULLY_CONNECTED", [0, 1, -1], [2])]
    model = build_model(tensors, ops, [0], [2])
    m = tflite.Model.GetRootAsModel(model, 0)
    w = m.Subgraphs(0).Tensors(1)
    assert w.Type() == tflite.TensorType.INT4
    assert w.ShapeAsNumpy().tolist() == [1, 5]  # the logical shape; the buffer holds the packed bytes
    packed = m.Buffers(w.Buffer()).DataAsNumpy().tobytes()
    assert packed == bytes([0x78, 0x0F, 0x03])  # (-8, 7), (-1, 0), (3, padding 0)
    assert unpack_int4(packed, 5).tolist() == INT4_VALUES.tolist()
    _check_read_back(model, tensors, ops, [0], [2], "intref test model")


@pytest.mark.parametrize("op", sorted(INT4_CASES))
def test_int4_weights_run_like_the_same_values_in_int8(op, monkeypatch):
    """TFLite Micro unpacks the writer's int4 buffers to the values written: the model with the weights
    stored as int8 gives the same outputs."""
    require_tflm()
    recorder = _Recorder()
    monkeypatch.setattr(tflite_cases, "build_model", recorder)
    rng = np.random.default_rng(44)
    for _ in range(5):
        case = INT4_CASES[op](rng)
        _, tensors, ops, inputs, outputs = recorder.calls[-1]
        as_int8 = [TensorDef(**{**vars(t), "dtype": "int8"}) if t.dtype == "int4" else t for t in tensors]
        want = run_tflm(build_model(as_int8, ops, inputs, outputs), case.inputs)
        got = run_tflm(case.model, case.inputs)
        assert all(np.array_equal(w, g) for w, g in zip(want, got, strict=True))


def _conv_tensors() -> list[TensorDef]:
    w = np.ones((2, 1, 1, 3), dtype=np.int8)
    return [
        TensorDef("x", "int8", (1, 4, 4, 3), 0.1, 0),
        TensorDef("w", "int8", (2, 1, 1, 3), [0.1, 0.2], [0, 0], 0, w),
        TensorDef("b", "int32", (2,), [0.01, 0.02], [0, 0], 0, np.zeros(2, dtype=np.int32)),
        TensorDef("y", "int8", (1, 4, 4, 2), 0.3, 0),
    ]


def _build(tensors=None, op="CONV_2D", options=None, inputs=(0, 1, 2), outputs=(3,), model_inputs=(0,)) -> bytes:
    tensors = _conv_tensors() if tensors is None else tensors
    ops = [OpDef(op, list(inputs), list(outputs), {"padding": "SAME"} if options is None else options)]
    return build_model(tensors, ops, list(model_inputs), [outputs[0]])


def _with(index: int, **changes) -> list[TensorDef]:
    tensors = _conv_tensors()
    tensors[index] = TensorDef(**{**vars(tensors[index]), **changes})
    return tensors


def test_a_well_formed_model_builds():
    _build()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"op": "NOT_AN_OPERATOR"}, "unknown operator"),
        ({"op": "conv_2d"}, "unknown operator"),
        ({"op": "CUSTOM"}, "unknown operator"),
        ({"op": "CUSTOM:", "options": {}}, "needs a code"),
        ({"options": {"stride": 2}}, r"unknown option\(s\) \['stride'\]"),
        ({"options": {"padding": "FULL"}}, "unknown value 'FULL'"),
        ({"options": {"fused_activation_function": 9}}, "expected one of"),
        ({"options": {"stride_w": 1.5}}, "expected an int32"),
        ({"options": {"stride_w": True}}, "expected an int32"),
        ({"op": "GATHER", "options": {"axis": 0}}, "knows no options"),
        ({"op": "SOFTMAX", "options": {"beta": "one"}}, "expected a finite number"),
        ({"op": "FULLY_CONNECTED", "options": {"keep_num_dims": 1}}, "expected a bool"),
        ({"op": "RESHAPE", "options": {"new_shape": [1, 2.5]}}, "int32 values"),
        ({"tensors": _with(0, dtype="uint8")}, "unknown dtype 'uint8'"),
        ({"tensors": _with(1, data=np.ones((2, 1, 1, 3), dtype=np.int32))}, "must be given as int8, got int32"),
        ({"tensors": _with(1, data=np.ones((2, 1, 3), dtype=np.int8))}, r"data of shape \(2, 1, 3\)"),
        ({"tensors": _with(1, data=[[1]])}, "must be a NumPy array"),
        ({"tensors": _with(1, dtype="int4", data=np.full((2, 1, 1, 3), 8, dtype=np.int8))}, r"\[-8, 7\]"),
        ({"tensors": _with(1, dtype="int4", data=np.ones((2, 1, 1, 3), dtype=np.int16))}, "must be given as int8"),
        ({"tensors": _with(1, scale=[0.1, 0.2, 0.3], zero_point=0)}, "3 scales for dimension 0 of size 2"),
        ({"tensors": _with(1, zero_point=[0, 0, 0])}, "3 zero points for 2 scales"),
        ({"tensors": _with(1, quantized_dimension=4)}, "out of range"),
        ({"tensors": _with(0, zero_point=0.5)}, "zero point must be an integer"),
        ({"tensors": _with(0, scale=None, zero_point=3)}, "zero point without a scale"),
        ({"tensors": _with(0, scale=float("nan"))}, "finite"),
        ({"tensors": _with(0, shape=(1, -4, 4, 3))}, "negative dimension"),
        ({"tensors": _with(0, shape_signature=(1, 4, 4))}, "does not match"),
        ({"inputs": (0, 1, 7)}, "reads tensor 7"),
        ({"outputs": (-1,)}, "writes tensor -1"),
        ({"model_inputs": (9,)}, "model input 9"),
    ],
)
def test_bad_writer_input_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _build(**kwargs)
