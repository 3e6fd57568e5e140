"""The reference backend: every integer op, written only in terms of :mod:`intref.spec`."""

from .argmax import argmax
from .conv1d import conv1d, output_length
from .elementwise import AddParams, add, clamp, mul, requantize
from .embed import embed
from .layernorm import layernorm
from .linear import linear
from .lut import lut
from .quantize import quantize
from .reduce import mean_over_time
from .softmax import SoftmaxParams, softmax
from .split import split16

OP_NAMES: tuple[str, ...] = ("linear", "conv1d", "requantize", "add", "mul", "lut", "clamp", "mean_over_time")
# The ops of transformer/conformer layers; the reference backend has them, the compiled backends follow.
NN_OP_NAMES: tuple[str, ...] = ("layernorm", "softmax", "argmax", "quantize", "split16")

__all__ = [
    "NN_OP_NAMES",
    "OP_NAMES",
    "AddParams",
    "SoftmaxParams",
    "argmax",
    "layernorm",
    "quantize",
    "softmax",
    "split16",
    "add",
    "clamp",
    "conv1d",
    "embed",
    "linear",
    "lut",
    "mean_over_time",
    "mul",
    "output_length",
    "requantize",
]
