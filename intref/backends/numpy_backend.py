"""The reference backend: the ops of :mod:`intref.ops`, unchanged."""

from __future__ import annotations

from .. import ops


class NumpyBackend:
    name = "numpy"

    linear = staticmethod(ops.linear)
    conv1d = staticmethod(ops.conv1d)
    requantize = staticmethod(ops.requantize)
    add = staticmethod(ops.add)
    mul = staticmethod(ops.mul)
    lut = staticmethod(ops.lut)
    clamp = staticmethod(ops.clamp)
    mean_over_time = staticmethod(ops.mean_over_time)
    layernorm = staticmethod(ops.layernorm)
    softmax = staticmethod(ops.softmax)
    argmax = staticmethod(ops.argmax)
    quantize = staticmethod(ops.quantize)
    split16 = staticmethod(ops.split16)
