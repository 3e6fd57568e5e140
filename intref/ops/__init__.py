"""The reference backend: every integer op, written only in terms of :mod:`intref.spec`."""

from .conv1d import conv1d, output_length
from .elementwise import AddParams, add, clamp, mul, requantize
from .linear import linear
from .lut import lut
from .reduce import mean_over_time

OP_NAMES: tuple[str, ...] = ("linear", "conv1d", "requantize", "add", "mul", "lut", "clamp", "mean_over_time")

__all__ = [
    "OP_NAMES",
    "AddParams",
    "add",
    "clamp",
    "conv1d",
    "linear",
    "lut",
    "mean_over_time",
    "mul",
    "output_length",
    "requantize",
]
