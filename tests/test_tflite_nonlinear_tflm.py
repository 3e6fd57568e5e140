"""intref.ops.tflite_nonlinear against TensorFlow Lite Micro's reference kernels, element by element.

Each case is a single-operator model (SOFTMAX, LOGISTIC or TANH) built here with TFLite Micro's own schema object
API, with random quantisation parameters; its Prepare runs in TFLite Micro and in ``from_quantization``, its
output in both. int8 logistic and tanh see all 256 inputs, int16 all 65536; softmax sees batches of rows of one
random length (1..300) with random, all-equal, tied and extreme rows. Seeds are fixed, so every run compares the
same models.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite-micro (TensorFlow Lite Micro's Python interpreter) is not installed")
runtime = pytest.importorskip(
    "tflite_micro.python.tflite_micro.runtime", reason="tflite-micro's native interpreter does not load here"
)
flatbuffers = pytest.importorskip("flatbuffers", reason="flatbuffers (a tflite-micro dependency) is not installed")
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema  # noqa: E402

from intref.ops import tflite_nonlinear as tn  # noqa: E402

MODELS_PER_CASE = 500
_TENSOR_TYPES = {np.dtype(np.int8): schema.TensorType.INT8, np.dtype(np.int16): schema.TensorType.INT16}


def _tensor(name: str, shape, dtype, scale: float, zero_point: int, buffer: int):
    t = schema.TensorT()
    t.name, t.shape, t.type, t.buffer = name, list(shape), _TENSOR_TYPES[np.dtype(dtype)], buffer
    q = schema.QuantizationParametersT()
    q.scale, q.zeroPoint = [float(scale)], [int(zero_point)]
    t.quantization = q
    return t


def single_op_model(op: int, shape, in_dtype, in_q, out_dtype, out_q, beta: float | None = None) -> bytes:
    """A model of one operator from tensor 0 (``in_q`` = (scale, zero point)) to tensor 1 of the same shape."""
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = op, min(op, 127), 1
    operator = schema.OperatorT()
    operator.opcodeIndex, operator.inputs, operator.outputs = 0, [0], [1]
    if beta is not None:
        options = schema.SoftmaxOptionsT()
        options.beta = beta
        operator.builtinOptionsType, operator.builtinOptions = schema.BuiltinOptions.SoftmaxOptions, options
    subgraph = schema.SubGraphT()
    subgraph.tensors = [_tensor("x", shape, in_dtype, *in_q, 1), _tensor("y", shape, out_dtype, *out_q, 2)]
    subgraph.inputs, subgraph.outputs, subgraph.operators = [0], [1], [operator]
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [subgraph]
    model.buffers = [schema.BufferT() for _ in range(3)]  # buffer 0 is the empty sentinel
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def run_tflm(model: bytes, x: np.ndarray) -> np.ndarray:
    ip = runtime.Interpreter.from_bytes(model, arena_size=4 * x.nbytes + (256 << 10))
    ip.set_input(np.require(x, requirements="C"), 0)
    ip.invoke()
    return np.array(ip.get_output(0))


def assert_same(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape, what
    bad = np.flatnonzero(got.ravel() != want.ravel())
    assert bad.size == 0, f"{what}: {bad.size} of {got.size} elements differ, first at {bad[0]}"


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.float32(math.exp(rng.uniform(math.log(lo), math.log(hi)))))


def softmax_rows(rng: np.random.Generator, dtype, n: int, rows: int = 32) -> np.ndarray:
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max + 1, (rows, n))
    x[0] = x[0, 0]  # all equal
    x[1] = info.min  # all at the minimum
    x[2] = info.max
    x[3, :] = info.min
    x[3, rng.integers(0, n)] = info.max  # one maximum, the rest as far below as the type allows
    x[4] = rng.integers(info.max - 4, info.max + 1, n)  # near-ties at the top
    x[5] = rng.integers(-3, 4, n)  # near-ties around 0
    x[6, : (n + 1) // 2] = x[6].max()  # half the row tied at its maximum
    spread = max(1, int(rng.integers(1, info.max - info.min + 1)))
    x[7] = rng.integers(info.max - spread, info.max + 1, n)  # a random spread below the top
    return x.astype(dtype)


# ---- LOGISTIC and TANH ----


def _int8_sigmoid_params(rng: np.random.Generator, i: int) -> tuple[float, int]:
    if i < 8:  # the ends of the scales the int8 kernel handles
        scale = [2.0**-28, 2.0**-27 * 1.01, 7.99, 4.0, 1.0, 0.5, 2.0**-8, 1 / 255][i]
    else:
        scale = log_uniform(rng, 2.0**-12, 4.0)
    return scale, int(rng.integers(-128, 128))


@pytest.mark.parametrize(
    "op, cls, fn, out_q",
    [
        (schema.BuiltinOperator.LOGISTIC, tn.LogisticTflite, tn.logistic_tflite, (1 / 256, -128)),
        (schema.BuiltinOperator.TANH, tn.TanhTflite, tn.tanh_tflite, (1 / 128, 0)),
    ],
    ids=["logistic", "tanh"],
)
def test_int8_all_inputs(op, cls, fn, out_q):
    rng = np.random.default_rng(1 if cls is tn.LogisticTflite else 2)
    x = np.arange(-128, 128, dtype=np.int8).reshape(16, 16)
    for i in range(MODELS_PER_CASE):
        scale, zp = _int8_sigmoid_params(rng, i)
        params = cls.from_quantization(scale, zp, *out_q)
        want = run_tflm(single_op_model(op, x.shape, np.int8, (scale, zp), np.int8, out_q), x)
        assert_same(fn(x, params), want, f"{cls.__name__} int8 scale={scale!r} zp={zp}")


def _int16_sigmoid_scale(rng: np.random.Generator, i: int) -> float:
    pot = 2.0 ** int(rng.integers(-16, -8))
    kind = i % 4
    if kind == 0:
        return pot  # TFLite's power-of-two path where the shift allows, its multiplier path otherwise
    if kind == 1:  # around CheckedLog2's tolerance of 1e-3 in log2
        return float(np.float32(pot * 2.0 ** (rng.choice([-1, 1]) * rng.uniform(0.0, 2e-3))))
    return log_uniform(rng, 1e-6, 1.3)


@pytest.mark.parametrize(
    "op, cls, fn",
    [
        (schema.BuiltinOperator.LOGISTIC, tn.LogisticTflite, tn.logistic_tflite),
        (schema.BuiltinOperator.TANH, tn.TanhTflite, tn.tanh_tflite),
    ],
    ids=["logistic", "tanh"],
)
def test_int16_all_inputs(op, cls, fn):
    rng = np.random.default_rng(3 if cls is tn.LogisticTflite else 4)
    x = np.arange(-32768, 32768, dtype=np.int16).reshape(256, 256)
    out_q = (2.0**-15, 0)
    for i in range(MODELS_PER_CASE):
        scale = _int16_sigmoid_scale(rng, i)
        params = cls.from_quantization(scale, 0, *out_q, np.int16)
        want = run_tflm(single_op_model(op, x.shape, np.int16, (scale, 0), np.int16, out_q), x)
        assert_same(fn(x, params), want, f"{cls.__name__} int16 scale={scale!r} ({params})")


# ---- SOFTMAX ----


def _softmax_int8_scale_beta(rng: np.random.Generator, i: int) -> tuple[float, float]:
    beta = 1.0 if i % 2 else float(np.float32(rng.choice([0.5, 2.0, rng.uniform(0.1, 4.0)])))
    if i < 4:  # beta * scale * 2^26 capped at 2^31 - 1 (left shift 31), and just above the smallest allowed
        return [40.0, 64.0, 2.0**-25, 2.0**-20][i], 1.0
    return log_uniform(rng, 1e-3, 2.0), beta


@pytest.mark.parametrize("out_dtype", [np.int8, np.int16], ids=["to_int8", "to_int16"])
def test_softmax_int8_input(out_dtype):
    rng = np.random.default_rng(5 if out_dtype == np.int8 else 6)
    out_q = (1 / 256, -128) if out_dtype == np.int8 else (1 / 65536, -32768)
    for i in range(MODELS_PER_CASE):
        scale, beta = _softmax_int8_scale_beta(rng, i)
        n = [1, 2, 300][i] if i < 3 else int(rng.integers(1, 301))
        x = softmax_rows(rng, np.int8, n)
        zp = int(rng.integers(-128, 128))  # the input zero point cancels in x - max(x)
        params = tn.SoftmaxTflite.from_quantization(scale, beta, *out_q, np.int8, out_dtype)
        model = single_op_model(schema.BuiltinOperator.SOFTMAX, x.shape, np.int8, (scale, zp), out_dtype, out_q, beta)
        assert_same(tn.softmax_tflite(x, params), run_tflm(model, x), f"softmax int8 scale={scale!r} beta={beta!r}")


def test_softmax_int16():
    rng = np.random.default_rng(7)
    out_q = (1 / 32768, 0)
    for i in range(MODELS_PER_CASE):
        beta = 1.0 if i % 2 else float(np.float32(rng.uniform(0.25, 4.0)))
        # beta * scale below 5 keeps (x - max) << left_shift inside int32 for every int16 input
        scale = log_uniform(rng, 1e-6, 4.0 / beta)
        n = [1, 2, 300][i] if i < 3 else int(rng.integers(1, 301))
        x = softmax_rows(rng, np.int16, n)
        params = tn.SoftmaxTflite.from_quantization(scale, beta, *out_q, np.int16, np.int16)
        model = single_op_model(schema.BuiltinOperator.SOFTMAX, x.shape, np.int16, (scale, 0), np.int16, out_q, beta)
        assert_same(tn.softmax_tflite(x, params), run_tflm(model, x), f"softmax int16 scale={scale!r} beta={beta!r}")


def test_softmax_int16_every_table_entry():
    """Rows (max, max - d) for every d in [0, 65535] with (input_scale * beta) = 10/65535 (a multiplier of about 1),
    so the exp table is read at every input, and sums between 1 and 2 sweep the reciprocal table."""
    d = np.arange(65536)
    x = np.stack([np.full_like(d, 32767), 32767 - d], axis=1).astype(np.int16)
    out_q = (1 / 32768, 0)
    for scale in (10 / 65535, 10 / 65535 * 1.0001, 5 / 65535, 20 / 65535):
        scale = float(np.float32(scale))
        params = tn.SoftmaxTflite.from_quantization(scale, 1.0, *out_q, np.int16, np.int16)
        model = single_op_model(schema.BuiltinOperator.SOFTMAX, x.shape, np.int16, (scale, 0), np.int16, out_q, 1.0)
        assert_same(tn.softmax_tflite(x, params), run_tflm(model, x), f"softmax int16 sweep scale={scale!r}")


# ---- what Prepare refuses ----

_REFUSED = [
    # (op, in dtype, in (scale, zp), out dtype, out (scale, zp), beta, intref's params call)
    ("softmax", np.int8, (0.1, 0), np.int8, (1 / 255, -128), 1.0),
    ("softmax", np.int8, (0.1, 0), np.int8, (1 / 256, -127), 1.0),
    ("softmax", np.int8, (0.1, 0), np.int16, (1 / 65000, -32768), 1.0),
    ("softmax", np.int8, (0.1, 0), np.int16, (1 / 65536, 0), 1.0),
    ("softmax", np.int16, (0.001, 5), np.int16, (1 / 32768, 0), 1.0),
    ("softmax", np.int16, (0.001, 0), np.int16, (1 / 32000, 0), 1.0),
    ("logistic", np.int8, (0.1, 0), np.int8, (1 / 256, 0), None),
    ("logistic", np.int16, (2.0**-12, 3), np.int16, (2.0**-15, 0), None),
    ("logistic", np.int16, (2.0**-12, 0), np.int16, (2.0**-14, 0), None),
    ("tanh", np.int16, (2.0**-12, 0), np.int16, (2.0**-15 * 1.01, 0), None),
]
_ACCEPTED = [
    ("softmax", np.int8, (0.1, 0), np.int16, (1 / 65536 * 1.0009, -32768), 1.0),
    ("tanh", np.int8, (0.1, 0), np.int8, (0.3, 17), None),  # TANH checks nothing of its int8 output
    ("logistic", np.int8, (0.1, 0), np.int8, (0.3, -128), None),  # nor LOGISTIC of its output scale
    ("tanh", np.int16, (2.0**-15 * 1.0006, 0), np.int16, (2.0**-15, 0), None),
]


def _intref_params(op: str, in_dtype, in_q, out_dtype, out_q, beta):
    if op == "softmax":
        return tn.SoftmaxTflite.from_quantization(
            in_q[0], beta, *out_q, in_dtype, out_dtype, input_zero_point=in_q[1] if in_dtype == np.int16 else 0
        )
    cls = tn.LogisticTflite if op == "logistic" else tn.TanhTflite
    return cls.from_quantization(*in_q, *out_q, in_dtype)


_OPS = {
    "softmax": (schema.BuiltinOperator.SOFTMAX, tn.softmax_tflite),
    "logistic": (schema.BuiltinOperator.LOGISTIC, tn.logistic_tflite),
    "tanh": (schema.BuiltinOperator.TANH, tn.tanh_tflite),
}


@pytest.mark.parametrize("case", _REFUSED, ids=lambda c: f"{c[0]}-{np.dtype(c[1]).name}-{c[2]}-{c[4]}")
def test_refused_by_both(case):
    op, in_dtype, in_q, out_dtype, out_q, beta = case
    with pytest.raises(RuntimeError):
        run_tflm(
            single_op_model(_OPS[op][0], (2, 3), in_dtype, in_q, out_dtype, out_q, beta), np.zeros((2, 3), in_dtype)
        )
    with pytest.raises(ValueError):
        _intref_params(op, in_dtype, in_q, out_dtype, out_q, beta)


@pytest.mark.parametrize("case", _ACCEPTED, ids=lambda c: f"{c[0]}-{np.dtype(c[1]).name}-{c[2]}-{c[4]}")
def test_accepted_by_both(case):
    op, in_dtype, in_q, out_dtype, out_q, beta = case
    info = np.iinfo(in_dtype)
    x = np.linspace(info.min, info.max, 60).astype(in_dtype).reshape(4, 15)
    want = run_tflm(single_op_model(_OPS[op][0], x.shape, in_dtype, in_q, out_dtype, out_q, beta), x)
    assert_same(_OPS[op][1](x, _intref_params(op, in_dtype, in_q, out_dtype, out_q, beta)), want, str(case))
