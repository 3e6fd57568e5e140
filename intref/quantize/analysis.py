"""Layer-by-layer error of an integer model against its float network.

The integer graph's tensors carry the float graph's names, so each integer node output, dequantised with its
tensor's scale and zero point, is compared with the float activation of the same name on the same input. The
signal-to-quantisation-noise ratio ``SQNR = 10 log10(sum x^2 / sum (x - x_int)^2)`` (dB) measures the error
accumulated up to that tensor; a drop from one tensor to the next points at the node that loses precision.
The ``.i8`` views of int16 tensors compare with their source tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..graph import Model, Tracer
from .fgraph import FGraph


@dataclass
class LayerError:
    name: str
    op: str
    dtype: str
    signal: float = 0.0  # sum of x^2 (float64)
    noise: float = 0.0  # sum of (x - x_int)^2
    clipped: int = 0  # integer outputs at the clamp bounds
    count: int = 0

    @property
    def sqnr_db(self) -> float:
        if self.noise == 0:
            return float("inf")
        return 10.0 * np.log10(self.signal / self.noise) if self.signal > 0 else float("-inf")

    @property
    def clip_fraction(self) -> float:
        return self.clipped / self.count if self.count else 0.0


def dequantize(arr: np.ndarray, scale, zero_point) -> np.ndarray:
    return (arr.astype(np.float64) - (zero_point or 0)) * scale


def layer_errors(model: Model, fg: FGraph, inputs: Sequence[np.ndarray], backend: str = "numpy") -> list[LayerError]:
    """Accumulated SQNR of every integer node output with a scale, summed over ``inputs`` (float32 [t, C])."""
    errors: dict[str, LayerError] = {}
    for x in inputs:
        floats: dict[str, np.ndarray] = {}

        def keep(node, args, y, floats=floats):
            floats[node.name] = y

        fg.run(x, keep)
        tracer = Tracer()
        model.run({fg.input: np.ascontiguousarray(x, dtype=np.float32)}, backend=backend, trace=tracer)
        for rec in tracer:
            name = rec.node.spec.outputs[0]
            spec = model.tensors[name]
            source = name[: -len(".i8")] if name.endswith(".i8") else name
            if spec.scale is None or isinstance(spec.scale, tuple) or source not in floats:
                continue
            ref = floats[source].astype(np.float64)
            got = dequantize(rec.outputs[0], spec.scale, spec.zero_point)
            e = errors.setdefault(name, LayerError(name, rec.node.op, spec.dtype))
            e.signal += float(np.sum(ref * ref))
            e.noise += float(np.sum((ref - got) ** 2))
            r = rec.node.requant
            if r is not None and rec.node.op != "softmax":
                e.clipped += int(np.sum((rec.outputs[0] == r.lo) | (rec.outputs[0] == r.hi)))
            e.count += int(rec.outputs[0].size)
    order = [rec_name for rec_name in (n.spec.outputs[0] for n in model.nodes) if rec_name in errors]
    return [errors[n] for n in order]


def format_errors(errors: Sequence[LayerError]) -> str:
    lines = [f"{'tensor':34s} {'op':14s} {'dtype':6s} {'SQNR dB':>8s} {'clipped %':>9s}"]
    for e in errors:
        lines.append(f"{e.name:34s} {e.op:14s} {e.dtype:6s} {e.sqnr_db:8.1f} {100 * e.clip_fraction:9.3f}")
    return "\n".join(lines)


# --- sensitivity: one tensor or one layer quantised, everything else float ---


def fake_quantize(x: np.ndarray, q) -> np.ndarray:
    """``x`` rounded to the integer grid of quantisation ``q`` (a :class:`intref.quantize.lower.QType`) and back."""
    if q.scale is None or q.dtype == "int32":
        return x
    codes = np.clip(np.rint(x.astype(np.float64) / q.scale) + q.zero_point, q.lo, q.hi)
    return ((codes - q.zero_point) * q.scale).astype(np.float32)


def sensitivity(
    fg: FGraph, recipe, inputs: Sequence[np.ndarray], output: str = "frames", activations: bool = True
) -> list[tuple[str, float]]:
    """Agreement of ``output`` with the float network when only one tensor (``act:<name>``) or one layer's weights
    (``w:<name>``) is quantised as ``recipe`` says, for every tensor and weight layer of ``fg`` (the network after
    the recipe's equalisation); sorted from the most harmful."""
    from .lower import qtypes
    from .weights import quantize_weights

    q = qtypes(fg, recipe)
    reference = [fg.run(x)[output] for x in inputs]

    def agreement(observe) -> float:
        same = total = 0
        for x, ref in zip(inputs, reference, strict=True):
            got = fg.run(x, observe)[output]
            same += int(np.sum(got == ref))
            total += int(ref.size)
        return same / total if total else 1.0

    results = []
    for n in fg.nodes if activations else ():
        if n.out in ("f32", "index", "acc", "same") or n.name not in q:
            continue
        qt = q[n.name]
        results.append(
            (
                f"act:{n.name}",
                agreement(lambda node, a, y, name=n.name, qt=qt: fake_quantize(y, qt) if node.name == name else None),
            )
        )
    for n in fg.weight_layers():
        original = n.params["w"]
        delta = recipe.delta(n.name, original.shape)
        qw = quantize_weights(original, recipe.bits[n.name], recipe.clip[n.name], delta).dequantized()
        n.params["w"] = qw.astype(np.float32)
        try:
            results.append((f"w:{n.name}", agreement(None)))
        finally:
            n.params["w"] = original
    return sorted(results, key=lambda r: r[1])


__all__ = ["LayerError", "dequantize", "fake_quantize", "format_errors", "layer_errors", "sensitivity"]
