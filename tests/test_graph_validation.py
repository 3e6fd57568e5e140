"""A malformed model file raises IntrefFormatError naming the node or tensor and the problem (never a crash)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from intref.errors import IntrefError, IntrefFormatError
from intref.graph import load, loads
from intref.graph.container import parse, serialize
from intref.vectors.synthetic import demo_model


@pytest.fixture(scope="module")
def parts():
    c = parse(demo_model().to_bytes())
    return json.loads(c.metadata["intref"]), dict(c.arrays)


def _load(doc, arrays, metadata=None):
    return loads(serialize(metadata or {"intref": json.dumps(doc)}, arrays))


def _node(doc, name):
    return next(n for n in doc["nodes"] if n["name"] == name)


def _fails(doc, arrays, *fragments, node=None, tensor=None):
    with pytest.raises(IntrefFormatError) as info:
        _load(doc, arrays)
    message = str(info.value)
    for f in fragments:
        assert f in message, message
    if node is not None:
        assert info.value.node == node, message
    if tensor is not None:
        assert info.value.tensor == tensor, message
    return info.value


def test_valid_parts_load(parts):
    _load(*parts)


# --- the container ---


@pytest.mark.parametrize("size", [0, 3, 7])
def test_truncated_header_length(size):
    with pytest.raises(IntrefFormatError, match="too short"):
        loads(b"\x00" * size)


def test_header_length_larger_than_file(parts):
    data = bytearray(serialize({"intref": json.dumps(parts[0])}, parts[1]))
    data[:8] = (len(data)).to_bytes(8, "little")
    with pytest.raises(IntrefFormatError, match="larger than the file"):
        loads(bytes(data))
    data[:8] = (2**63).to_bytes(8, "little")
    with pytest.raises(IntrefFormatError, match="exceeds the limit"):
        loads(bytes(data))


def test_truncated_data(parts):
    data = serialize({"intref": json.dumps(parts[0])}, parts[1])
    with pytest.raises(IntrefFormatError, match="file holds only"):
        loads(data[:-5])


def test_corrupt_header_json(parts):
    data = bytearray(serialize({"intref": json.dumps(parts[0])}, parts[1]))
    data[9] = ord("?")
    with pytest.raises(IntrefFormatError, match="not valid JSON"):
        loads(bytes(data))


def test_declared_size_larger_than_file(parts):
    doc, arrays = parts
    data = serialize({"intref": json.dumps(doc)}, arrays)
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    header["stem.w"]["shape"] = [16, 8, 3 * 2**40]  # dimension inflation: the product far exceeds the file
    text = json.dumps(header).encode()
    with pytest.raises(IntrefFormatError, match="needs") as info:
        loads(len(text).to_bytes(8, "little") + text + data[8 + n :])
    assert info.value.tensor == "stem.w"


def test_overlapping_tensors(parts):
    doc, arrays = parts
    data = serialize({"intref": json.dumps(doc)}, arrays)
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    first = min((e for k, e in header.items() if k != "__metadata__"), key=lambda e: e["data_offsets"][0])
    second = next(
        e for k, e in header.items() if k != "__metadata__" and e["data_offsets"][0] == first["data_offsets"][1]
    )
    second["data_offsets"] = [v - 4 for v in second["data_offsets"]]
    text = json.dumps(header).encode()
    with pytest.raises(IntrefFormatError, match="overlaps"):
        loads(len(text).to_bytes(8, "little") + text + data[8 + n :])


def test_not_an_intref_model(parts):
    with pytest.raises(IntrefFormatError, match="not an intref model"):
        loads(serialize({"format": "pt"}, parts[1]))


def test_repeated_keys_and_nan_are_rejected(parts):
    doc, arrays = parts
    text = json.dumps(doc).replace('"format_version": 1', '"format_version": 1, "format_version": 1', 1)
    with pytest.raises(IntrefFormatError, match="repeats the key"):
        _load(None, arrays, {"intref": text})
    bad = copy.deepcopy(doc)
    bad["tensors"]["x"]["scale"] = float("nan")
    with pytest.raises(IntrefFormatError, match="NaN"):
        _load(None, arrays, {"intref": json.dumps(bad)})


# --- the document ---


@pytest.mark.parametrize("version", [0, 2, 99])
def test_unknown_format_version(parts, version):
    doc = copy.deepcopy(parts[0])
    doc["format_version"] = version
    _fails(doc, parts[1], "unknown format version")


def test_unknown_op(parts):
    doc = copy.deepcopy(parts[0])
    _node(doc, "relu")["op"] = "frobnicate"
    _fails(doc, parts[1], "unknown op 'frobnicate'", node="relu")


def test_dangling_reference(parts):
    doc = copy.deepcopy(parts[0])
    _node(doc, "gate")["inputs"][1] = "nowhere"
    _fails(doc, parts[1], "'nowhere' is not declared", node="gate")


def test_cyclic_reference(parts):
    doc = copy.deepcopy(parts[0])
    _node(doc, "relu")["inputs"] = ["h_relu"]  # its own output
    _fails(doc, parts[1], "cyclic", node="relu")
    doc = copy.deepcopy(parts[0])
    _node(doc, "dw")["inputs"] = ["h_gate"]  # made by a later node
    _fails(doc, parts[1], "used before it is produced", node="dw")


def test_output_produced_twice(parts):
    doc = copy.deepcopy(parts[0])
    _node(doc, "sig")["outputs"] = ["h_act"]
    _fails(doc, parts[1], "also produced by node 'act'", node="sig")


def test_declared_output_dtype_mismatch(parts):
    doc = copy.deepcopy(parts[0])
    doc["tensors"]["h_dw"]["dtype"] = "int16"
    _fails(doc, parts[1], "declared int16", node="dw")


def test_shape_mismatch(parts):
    doc = copy.deepcopy(parts[0])
    doc["tensors"]["x"]["shape"] = ["T", 9]
    _fails(doc, parts[1], "9 channels", node="stem")
    doc = copy.deepcopy(parts[0])
    doc["tensors"]["logits"]["shape"] = ["T", 11]
    _fails(doc, parts[1], "declared int8[T, 11]", node="logits")


def test_stored_dtype_mismatch(parts):
    doc, arrays = copy.deepcopy(parts[0]), dict(parts[1])
    arrays["stem.bias"] = arrays["stem.bias"].astype(np.int16)
    _fails(doc, arrays, "stored as I32", tensor="stem.bias")


def test_int4_outside_declared_range(parts):
    doc, arrays = parts[0], dict(parts[1])
    packed = np.array(arrays["pw.w"])
    packed[3, 2] = 0x08  # -8 in a narrow (-7..7) tensor
    arrays["pw.w"] = packed
    _fails(doc, arrays, "outside the declared range [-7, 7]", tensor="pw.w")


def test_int4_packed_shape_mismatch(parts):
    doc = copy.deepcopy(parts[0])
    doc["tensors"]["dw.w"]["shape"] = [16, 1, 7]
    _fails(doc, parts[1], "packed int4", tensor="dw.w")


def test_shift_outside_the_scheme_range(parts):
    doc, arrays = parts[0], dict(parts[1])
    shift = np.array(arrays["stem.shift"])
    shift[4] = 31  # tflite_double shifts are in [-31, 30]
    arrays["stem.shift"] = shift
    _fails(doc, arrays, "shift[4] = 31 is outside the legal range [-31, 30]", node="stem")


def test_multiplier_outside_the_scheme_range(parts):
    doc, arrays = parts[0], dict(parts[1])
    arrays["down.multiplier"] = np.full(16, 2**15, dtype=np.int32)  # tosa_scale16 takes < 2^15
    _fails(doc, arrays, "multiplier[0] = 32768", node="down")


def test_unknown_scheme(parts):
    doc = copy.deepcopy(parts[0])
    _node(doc, "logits")["requant"]["scheme"] = "banker"
    _fails(doc, parts[1], "unknown rescale scheme", node="logits")


def test_missing_tensor(parts):
    doc, arrays = parts[0], dict(parts[1])
    del arrays["logits.bias"]
    _fails(doc, arrays, "not a stored constant", node="logits")
    doc = copy.deepcopy(parts[0])
    del doc["tensors"]["stem.w"]
    _fails(doc, parts[1], "does not declare it", tensor="stem.w")


def test_missing_param_and_attribute(parts):
    doc = copy.deepcopy(parts[0])
    del _node(doc, "sig")["params"]["table"]
    _fails(doc, parts[1], "needs the params ['table']", node="sig")
    doc = copy.deepcopy(parts[0])
    del _node(doc, "dw")["attrs"]["dilation"]
    _fails(doc, parts[1], "needs the attributes ['dilation']", node="dw")


def test_bad_attribute_values(parts):
    doc = copy.deepcopy(parts[0])
    _node(doc, "dw")["attrs"]["stride"] = 0
    _fails(doc, parts[1], "stride", node="dw")
    doc = copy.deepcopy(parts[0])
    _node(doc, "stem")["attrs"]["padding"] = [1, 2**40]
    _fails(doc, parts[1], "padding", node="stem")
    doc = copy.deepcopy(parts[0])
    _node(doc, "relu")["attrs"]["lo"] = 200  # above the int8 range
    _fails(doc, parts[1], "lo = 200", node="relu")


def test_requant_zero_point_must_match_declared(parts):
    doc = copy.deepcopy(parts[0])
    doc["tensors"]["h_stem"]["zero_point"] = 4
    _fails(doc, parts[1], "zero point 4", node="stem")


def test_accumulator_too_wide_for_scheme(parts):
    doc = copy.deepcopy(parts[0])
    _node(doc, "stem")["acc"]["bits"] = 40  # tflite_double takes 32-bit values
    _fails(doc, parts[1], "40-bit accumulator", node="stem")


def test_lut_table_size(parts):
    doc, arrays = copy.deepcopy(parts[0]), dict(parts[1])
    arrays["act.table"] = arrays["act.table"][:255]
    doc["tensors"]["act.table"]["shape"] = [255]
    _fails(doc, arrays, "needs a table of 256 entries", node="act")


def test_load_names_the_file(parts, tmp_path):
    doc = copy.deepcopy(parts[0])
    _node(doc, "relu")["op"] = "nope"
    path = tmp_path / "bad.intref"
    path.write_bytes(serialize({"intref": json.dumps(doc)}, parts[1]))
    with pytest.raises(IntrefFormatError) as info:
        load(path)
    assert str(path) in str(info.value) and "node 'relu'" in str(info.value)
    empty = tmp_path / "empty.intref"
    empty.write_bytes(b"")
    with pytest.raises(IntrefFormatError, match="too short"):
        load(empty)


def test_format_error_is_an_intref_error():
    assert issubclass(IntrefFormatError, IntrefError) and issubclass(IntrefFormatError, ValueError)
