"""The TFLite reader and importer on their own (no TFLite Micro needed): malformed files, refused operators and
forms, the float boundary, the command line, and imported models surviving a save and load."""

from __future__ import annotations

import numpy as np
import pytest
from tflite_cases import CASES, unsupported_case

from intref.graph import loads
from intref.models.tflite import TfliteFormatError, UnsupportedTfliteError, import_tflite, read_tflite
from intref.models.tflite.boundary import dequantize, quantize, run
from intref.models.tflite.writer import OpDef, TensorDef, build_model


def test_unsupported_operators_are_listed_in_one_error():
    with pytest.raises(UnsupportedTfliteError) as info:
        import_tflite(unsupported_case())
    message = str(info.value)
    assert "GATHER: operator 0 (output g)" in message
    assert "CUSTOM:MyOp: operator 1 (output y)" in message
    assert "supported:" in message


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "no 'TFL3'"),
        (b"\x00" * 64, "no 'TFL3'"),
        (b"\x10\x00\x00\x00TFL3" + b"\xff" * 40, "corrupt"),
    ],
)
def test_malformed_files_are_refused_clearly(data, message):
    with pytest.raises(TfliteFormatError, match=message):
        read_tflite(data)


def test_truncated_models_never_crash():
    model = CASES["CONV_2D"](np.random.default_rng(0)).model
    for cut in range(8, len(model), max(1, len(model) // 40)):
        try:
            import_tflite(model[:cut])
        except (TfliteFormatError, UnsupportedTfliteError, ValueError):
            pass


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(TfliteFormatError, match="cannot read"):
        read_tflite(tmp_path / "absent.tflite")


def _reshape_model(out_scale: float) -> bytes:
    tensors = [TensorDef("x", "int8", (2, 3), 0.1, 1), TensorDef("y", "int8", (6,), out_scale, 1)]
    return build_model(tensors, [OpDef("RESHAPE", [0], [1])], [0], [1])


def test_data_movement_with_a_change_of_scale_is_refused():
    import_tflite(_reshape_model(0.1))
    with pytest.raises(UnsupportedTfliteError, match="RESHAPE moves data only"):
        import_tflite(_reshape_model(0.2))


def test_power_of_two_int16_add_is_refused_with_the_reason():
    tensors = [TensorDef(n, "int16", (1, 4), 2**-10, 0) for n in ("a", "b", "y")]
    model = build_model(tensors, [OpDef("ADD", [0, 1], [2], {"pot_scale_int16": True})], [0, 1], [2])
    with pytest.raises(UnsupportedTfliteError, match="general form only"):
        import_tflite(model)


def test_16x8_int64_bias_beyond_int32_is_refused():
    w = np.ones((3, 4), dtype=np.int8)
    tensors = [
        TensorDef("x", "int16", (1, 4), 0.001, 0),
        TensorDef("w", "int8", (3, 4), 0.01, 0, data=w),
        TensorDef("b", "int64", (3,), 1e-5, 0, data=np.array([0, 2**40, 0], dtype=np.int64)),
        TensorDef("y", "int16", (1, 3), 0.01, 0),
    ]
    model = build_model(tensors, [OpDef("FULLY_CONNECTED", [0, 1, 2], [3])], [0], [3])
    with pytest.raises(UnsupportedTfliteError, match="int64 bias beyond the int32 range"):
        import_tflite(model)


def test_float_boundary_quantises_and_dequantises_like_tflite():
    tensors = [
        TensorDef("f", "float32", (1, 5)),
        TensorDef("q", "int8", (1, 5), 0.5, 3),
        TensorDef("r", "int8", (1, 5), 0.5, 3),
        TensorDef("o", "float32", (1, 5)),
    ]
    ops = [OpDef("QUANTIZE", [0], [1]), OpDef("RELU", [1], [2]), OpDef("DEQUANTIZE", [2], [3])]
    model = import_tflite(build_model(tensors, ops, [0], [3]))
    assert [t.name for t in model.inputs] == ["q"] and [t.name for t in model.outputs] == ["r"]
    x = np.array([[-0.75, -0.25, 0.25, 0.75, 100.0]], dtype=np.float32)
    # x / 0.5 = -1.5, -0.5, 0.5, 1.5, 200: ties away from zero, then + 3 and clamped to int8
    assert quantize(x, 0.5, 3, np.int8).tolist() == [[1, 2, 4, 5, 127]]
    assert dequantize(np.array([1, 127], dtype=np.int8), 0.5, 3).tolist() == [-1.0, 62.0]
    (y,) = run(model, [x])
    assert y.dtype == np.float32
    assert y.tolist() == [[0.0, 0.0, 0.5, 1.0, 62.0]]  # RELU at the output zero point 3


def test_imported_model_survives_save_and_load(tmp_path):
    case = CASES["DEPTHWISE_CONV_2D"](np.random.default_rng(3))
    model = import_tflite(case.model)
    again = loads(model.to_bytes())
    assert again.sha256 == model.sha256
    assert np.array_equal(run(model, case.inputs)[0], run(again, case.inputs)[0])


def test_import_command_writes_a_loadable_model(tmp_path, capsys):
    from intref.cli import main
    from intref.graph import load

    case = CASES["CONV_2D"](np.random.default_rng(1))
    src = tmp_path / "conv.tflite"
    src.write_bytes(case.model)
    assert main(["import-tflite", str(src), "-o", str(tmp_path / "conv.intref")]) == 0
    assert "conv2d x1" in capsys.readouterr().out
    assert load(tmp_path / "conv.intref").nodes[0].op == "conv2d"
    (tmp_path / "bad.tflite").write_bytes(unsupported_case())
    assert main(["import-tflite", str(tmp_path / "bad.tflite"), "-o", str(tmp_path / "bad.intref")]) == 2
    assert "GATHER" in capsys.readouterr().err
    assert not (tmp_path / "bad.intref").exists()


def test_litert_reference_rounds_fully_connected_once():
    rng = np.random.default_rng(0)
    while True:
        case = CASES["FULLY_CONNECTED"](rng)
        if case.info["per_channel"] and case.info["shape"][2] > 1:  # one unit is a per-tensor scale
            break
    tflm, litert = import_tflite(case.model), import_tflite(case.model, reference="litert")
    linear = [n for n in tflm.nodes if n.op == "linear"][0].name
    assert tflm.node(linear).requant.scheme == "tflite_double"
    assert litert.node(linear).requant.scheme == "single"
    assert litert.metadata["tflite"]["reference"] == "litert"
    with pytest.raises(ValueError, match="reference must be one of"):
        import_tflite(case.model, reference="tflite")
