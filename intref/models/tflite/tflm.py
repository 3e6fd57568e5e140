"""Run a model with the TensorFlow Lite Micro Python interpreter (the PyPI package ``tflite-micro``, an optional
dependency) and dump every tensor, named as the imported intref graph names them, for ``intref vectors verify``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...errors import IntrefInputError
from .importer import tensor_names
from .reader import read_tflite


def interpreter_module():
    """The ``tflite_micro`` runtime module, or a clear error saying how to get it."""
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as exc:
        raise IntrefInputError(
            f"running TensorFlow Lite Micro needs the tflite-micro package (pip install tflite-micro): {exc}"
        ) from None
    return runtime


def run_all_tensors(data: bytes, inputs: list[np.ndarray]) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
    """Invoke the model once; returns its outputs and every tensor the interpreter kept, by tensor index."""
    runtime = interpreter_module()
    ip = runtime.Interpreter.from_bytes(data, intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    for i, x in enumerate(inputs):
        ip.set_input(x, i)
    ip.invoke()
    outputs = [np.array(ip.get_output(i)) for i in range(len(read_tflite(data).outputs))]
    tensors = {}
    for index in range(len(read_tflite(data).tensors)):
        try:
            tensors[index] = np.array(ip.GetTensor(index, 0)["tensor_data"])
        except (RuntimeError, ValueError, KeyError):  # tensors the interpreter does not keep (e.g. scratch)
            continue
    return outputs, tensors


def dump(source: str | os.PathLike, inputs: list[np.ndarray], out: str | os.PathLike) -> list[Path]:
    """Write ``<name>.npy`` for every operator output and graph input of the TFLite model, after one run."""
    data = Path(source).read_bytes()
    model = read_tflite(data)
    names = tensor_names(model)
    _, tensors = run_all_tensors(data, inputs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    wanted = [i for op in model.operators for i in op.outputs] + list(model.inputs)
    for index in wanted:
        if index in tensors:
            path = out / f"{names[index]}.npy"
            np.save(path, tensors[index].reshape(model.tensors[index].shape))
            written.append(path)
    return written
