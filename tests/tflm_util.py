"""TensorFlow Lite Micro for tests: its Python interpreter (reference kernels) run on a model's bytes, or a clean
skip where the ``tflite-micro`` package is absent (it ships Linux x86-64 wheels only)."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
import tflite


def require_tflm() -> ModuleType:
    """The ``tflite_micro`` runtime module, or a skip naming why it could not be imported."""
    try:
        from tflite_micro.python.tflite_micro import runtime
    except Exception as exc:  # ImportError, or a wheel whose native library does not load here
        pytest.skip(f"tflite-micro is not installed: {type(exc).__name__}: {exc}")
    return runtime


_ITEMSIZE = {
    tflite.TensorType.FLOAT32: 4,
    tflite.TensorType.INT32: 4,
    tflite.TensorType.INT64: 8,
    tflite.TensorType.INT16: 2,
    tflite.TensorType.INT8: 1,
    tflite.TensorType.INT4: 1,  # unpacked into an int8 scratch buffer
}


def _arena_size(model: bytes, subgraph) -> int:
    """Room for every tensor kept at once plus the interpreter's own tables: the runtime's default (ten times
    the model's size) is too small for a small model with large activations, or with all tensors preserved."""
    total = 0
    for i in range(subgraph.TensorsLength()):
        t = subgraph.Tensors(i)
        total += int(np.prod(t.ShapeAsNumpy() if t.ShapeLength() else [])) * _ITEMSIZE.get(t.Type(), 8) + 64
    return 10 * len(model) + 4 * total + (64 << 10)


def run_tflm(
    model: bytes, inputs: list[np.ndarray], *, all_tensors: bool = False
) -> list[np.ndarray] | tuple[list[np.ndarray], dict[int, np.ndarray]]:
    """The model's outputs after one invoke on ``inputs``; with ``all_tensors`` also every tensor of the
    subgraph after the invoke, by tensor index (TFLite Micro keeps them all only when asked to)."""
    runtime = require_tflm()
    subgraph = tflite.Model.GetRootAsModel(model, 0).Subgraphs(0)
    if len(inputs) != subgraph.InputsLength():
        raise ValueError(f"the model has {subgraph.InputsLength()} inputs, {len(inputs)} given")
    config = (
        runtime.InterpreterConfig.kPreserveAllTensors if all_tensors else runtime.InterpreterConfig.kAllocationRecording
    )
    ip = runtime.Interpreter.from_bytes(model, arena_size=_arena_size(model, subgraph), intrepreter_config=config)
    for i, x in enumerate(inputs):
        ip.set_input(np.require(x, requirements="C"), i)  # not ascontiguousarray: it makes a scalar 1-D
    ip.invoke()
    outputs = [np.array(ip.get_output(i)) for i in range(subgraph.OutputsLength())]
    if not all_tensors:
        return outputs
    # GetTensor gives {"dtype", "shape", "tensor_data"} per tensor
    return outputs, {i: np.array(ip.GetTensor(i, 0)["tensor_data"]) for i in range(subgraph.TensorsLength())}
