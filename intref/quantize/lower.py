"""Lowering: a float network (:class:`FGraph`) and a :class:`Recipe` -> an integer intref graph.

Every float node becomes one integer node of the same name whose output tensor has the same name (plus a
``requantize`` node ``<name>.i8`` in front of an op that reads int8 only when its input is an int16 tensor). All
stored values are derived from float64 scales with elementwise arithmetic, exact integer multiplier derivation and
decimal-arithmetic lookup tables, so the same weights and recipe give the same bytes on every machine.

Quantisation of each tensor (see :mod:`intref.quantize.fgraph` for the output kinds):

- ``a8``: scale (hi - lo) / 255, zero point round_half_even(-128 - lo / scale); ``s8``: max|range| / 127, zero point
  0; ``s16``: max|range| / 32767, zero point 0; ``p8`` (softmax): 1/255, zero point -128;
- the ``quantize`` input's scale is rounded to float32 (the op divides by a float32 parameter);
- a lookup table's output range is the function's image of the input grid (sigmoid: fixed 1/254, zero point -127,
  so that 0.5 and 1 are exact codes);
- weight layers: int32 bias at scale s_x * s_w[c], per-channel multiplier alpha * s_x * s_w[c] / s_y (alpha folds a
  constant factor such as the 0.5 of a half-step feed-forward module);
- layernorm: gamma as int16 at scale max|gamma| / 32767, beta as int32 at scale s_gamma / 2^F, eps in input units
  (round(C^2 eps / s_x^2)), F = the recipe's fraction bits (lowered if the accumulator could exceed int32);
- add: TFLite ADD with the largest left shift (at most 20) that keeps both inputs in int32;
- softmax: multiplier s_scores * alpha * log2(e) * 256 (attention's 1/sqrt(d) is alpha); with 15-bit
  probabilities P (int16) the product P V is two int8 products of P's exact halves (a ``split16`` node);
- argmax: the per-class offset in logit units, round_half_away(offset / s_logits).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..graph import Model, ModelBuilder
from ..ops import AddParams
from ..spec import Requant
from ..spec.rescale import INT32_MAX
from . import lut as lutmod
from .calibrate import INT8_READERS
from .fgraph import FGraph, FNode
from .recipe import Recipe
from .weights import quantize_bias, quantize_weights

LOG2E = 1.4426950408889634  # float64 of log2(e)
LN_EPS = float(np.float32(1e-5))  # the float models' LayerNorm epsilon (float32)
GAMMA_MAX = 32767
SIGMOID_OUT = (1.0 / 254.0, -127)
# Activations of int16 inputs: f(x) = x * gate(x), the gate a table on x requantised to int8 over [-G, G] (beyond
# it the gate is 0 or 1 to within 4e-4): (gate function, G).
GATES = {
    "silu": ("sigmoid", 8.0),
    "gelu": ("gelu_gate", 5.5),
    "gelu_erf": ("gelu_erf_gate", 5.5),
    "sigmoid": ("sigmoid", 8.0),
}
SOFTMAX_OUT = (1.0 / 255.0, -128)
# 15-bit probabilities: p * 32640 with zero point -16384 (int16), split into p = (128 * hi + lo) / 32640 with
# hi in [0, 255] (int8, zero point -128) and lo in [-64, 64] (int8) for the int8 products with v.
P15_MAX, P15_ZP, P15_SPLIT = 32640, -16384, 128
INT_BOUNDS = {"int8": (-128, 127), "int16": (-32768, 32767), "int32": (-(2**31), 2**31 - 1)}


@dataclass(frozen=True)
class QType:
    """How a tensor is held: integer type, scale, zero point and clamp bounds."""

    dtype: str
    scale: float | None
    zero_point: int = 0
    lo: int = -128
    hi: int = 127


def _round_half_away(v: float) -> int:
    return int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)


def qtype_from_range(kind: str, lo: float, hi: float, *, float32_scale: bool = False) -> QType:
    """The integer type of a tensor of output ``kind`` with real range [lo, hi]."""
    lo, hi = float(min(lo, 0.0)), float(max(hi, 0.0))
    if kind == "a8":
        scale = (hi - lo) / 255.0
        if float32_scale:
            scale = float(np.float32(scale))
        zp = int(np.clip(np.rint(-128.0 - lo / scale), -128, 127))
        return QType("int8", scale, zp, -128, 127)
    amax = max(-lo, hi)
    if kind == "s8":
        return QType("int8", amax / 127.0, 0, -128, 127)
    if kind == "s16":
        return QType("int16", amax / 32767.0, 0, -32768, 32767)
    raise ValueError(f"no range-based quantisation for output kind {kind!r}")


def _check_range(recipe: Recipe, name: str) -> list[float]:
    try:
        return recipe.ranges[name]
    except KeyError:
        raise ValueError(f"the recipe has no activation range for tensor {name!r}") from None


class Lowering:
    """One lowering run; ``model()`` gives the result."""

    def __init__(self, fg: FGraph, recipe: Recipe, progress: Callable[[str], None] | None = None) -> None:
        self.fg, self.recipe, self.progress = fg, recipe, progress
        info = dict(fg.info)
        self.b = ModelBuilder(
            info.pop("name", "model"),
            architecture=info.pop("architecture", "custom"),
            vocabulary=info.pop("vocabulary", None),
            frontend=info.pop("frontend", None),
            decoder=info.pop("decoder", None),
            source=info.pop("source", None),
            source_sha256=info.pop("source_sha256", None),
            recipe=provenance_recipe(recipe),
            **info,
        )
        self.q: dict[str, QType] = {}
        self.luts: dict[str, dict[str, Any]] = {}
        self.views: dict[str, str] = {}
        self.weight_constants: dict[str, tuple[str, np.ndarray]] = {}
        self.kinds = {n.name: n for n in fg.nodes}

    # --- quantisation of every tensor, before any node is emitted ---

    def plan(self) -> None:
        r = self.recipe
        for n in self.fg.nodes:
            if n.calibrated:
                lo, hi = _check_range(r, n.name)
                self.q[n.name] = qtype_from_range(n.out, lo, hi, float32_scale=n.op == "quantize")
        for i in self.fg.extra_inputs:
            self.q[i.name] = self.q[i.like] if i.like else QType("int32", None, 0, *INT_BOUNDS["int32"])
        if self.fg.input_dtype == "int32":
            self.q[self.fg.input] = QType("int32", None, 0, *INT_BOUNDS["int32"])
        for n in self.fg.nodes:
            if n.name in self.q:
                continue
            if "range_of" in n.attrs:
                self.q[n.name] = self.q[n.attrs["range_of"]]
            elif n.out == "same":
                self.q[n.name] = self.q[n.inputs[0]]
            elif n.out == "p8" and self.recipe.probability_bits == 15:
                self.q[n.name] = QType("int16", 1.0 / P15_MAX, P15_ZP, P15_ZP, P15_ZP + P15_MAX)
            elif n.out == "p8":
                self.q[n.name] = QType("int8", SOFTMAX_OUT[0], SOFTMAX_OUT[1])
            elif n.out == "acc":
                a, b = (self.q[t] for t in n.inputs)
                self.q[n.name] = QType("int32", a.scale * b.scale, 0, *INT_BOUNDS["int32"])
            elif n.out == "index":
                self.q[n.name] = QType("int32", None, 0, *INT_BOUNDS["int32"])
            elif n.out == "lut":
                self.q[n.name] = self._lut_qtype(n)
            else:
                raise ValueError(f"float node {n.name!r}: output kind {n.out!r} is not handled by the lowering")

    def _input_qtype(self, name: str, int8: bool) -> QType:
        q = self.q[name]
        if int8 and q.dtype == "int16":
            lo, hi = _check_range(self.recipe, f"{name}.i8")
            return qtype_from_range("a8", lo, hi)
        return q

    def _lut_qtype(self, n: FNode) -> QType:
        fn = n.attrs["fn"]
        qx = self.q[n.inputs[0]]
        if fn == "sigmoid":
            return QType("int8", SIGMOID_OUT[0], SIGMOID_OUT[1], -128, 127)
        if qx.dtype != "int8":
            raise ValueError(f"lut {n.name!r}: a table reads int8; an int16 input needs output kind a8 or s16")
        lo, hi = lutmod.image(fn, qx.scale, qx.zero_point)
        return qtype_from_range("a8", lo, hi)

    # --- emission ---

    def model(self) -> Model:
        self.plan()
        fg = self.fg
        self.b.input(fg.input, fg.input_dtype, fg.input_shape)
        for i in fg.extra_inputs:
            q = self.q[i.name]
            self.b.input(i.name, q.dtype, i.shape, scale=q.scale, zero_point=None if q.scale is None else q.zero_point)
        total = len(fg.nodes)
        for i, n in enumerate(fg.nodes):
            if self.progress and (i % 50 == 0 or i == total - 1):
                self.progress(f"building the integer graph: node {i + 1}/{total} ({n.name})")
            getattr(self, f"_emit_{n.op}")(n)
        self.b.output(*fg.outputs)
        self.b.provenance["quantization"] = {"luts": dict(sorted(self.luts.items()))}
        return self.b.build()

    def _arg(self, n: FNode, i: int) -> str:
        """Input ``i`` of ``n`` as the integer graph reads it: int16 tensors go through an int8 view for int8 ops."""
        name = n.inputs[i]
        if n.op not in INT8_READERS or self.q[name].dtype != "int16":
            return name
        if name in self.kinds and self.kinds[name].out == "p8":
            return name  # 15-bit probabilities: the product splits them itself (_emit_split_matmul)
        if name not in self.views:
            view = f"{name}.i8"
            qx, qy = self.q[name], self._input_qtype(name, int8=True)
            requant = Requant.from_scale(qx.scale / qy.scale, self.recipe.scheme, qy.zero_point, qy.lo, qy.hi)
            self.b.node(
                "requantize",
                view,
                [name],
                view,
                attrs={"x_zp": qx.zero_point},
                requant=requant,
                scale=qy.scale,
                zero_point=qy.zero_point,
            )
            self.views[name] = view
            self.q[view] = qy
        return self.views[name]

    def _qin(self, n: FNode, i: int) -> tuple[str, QType]:
        name = self._arg(n, i)
        return name, self.q[name]

    def _emit_quantize(self, n: FNode) -> None:
        q = self.q[n.name]
        self.b.node(
            "quantize",
            n.name,
            [n.inputs[0]],
            n.name,
            params={"scale": np.float32(q.scale).reshape(())},
            attrs={"zero_point": q.zero_point, "lo": q.lo, "hi": q.hi},
            scale=q.scale,
            zero_point=q.zero_point,
        )

    def _weight_constant(self, n: FNode) -> tuple[str, np.ndarray]:
        """The quantised weights of layer ``n`` as a constant (made once: a tied embedding reads them too) and
        their per-channel scales."""
        if n.name not in self.weight_constants:
            bits = self.recipe.bits[n.name]
            weight = n.params["w"]
            qw = quantize_weights(weight, bits, self.recipe.clip[n.name], self.recipe.delta(n.name, weight.shape))
            w = self.b.constant(f"{n.name}.w", qw.stored(), scale=qw.scales, axis=0)
            self.weight_constants[n.name] = (w, qw.scales)
        return self.weight_constants[n.name]

    def _weights(self, n: FNode, x_scale: float):
        w, w_scales = self._weight_constant(n)
        acc_scale = x_scale * w_scales
        # The bias scale is the accumulator's, s_x * s_w[c]: not repeated in the file.
        bias = self.b.constant(f"{n.name}.bias", quantize_bias(n.params["b"], acc_scale, n.name))
        return w, bias, acc_scale

    def _emit_weighted(self, n: FNode, op: str, attrs: dict[str, Any]) -> None:
        x, qx = self._qin(n, 0)
        qy = self.q[n.name]
        w, bias, acc_scale = self._weights(n, qx.scale)
        alpha = float(n.attrs.get("alpha", 1.0))
        requant = Requant.from_scale(alpha * acc_scale / qy.scale, self.recipe.scheme, qy.zero_point, qy.lo, qy.hi)
        self.b.node(
            op,
            n.name,
            [x],
            n.name,
            params={"w": w, "bias": bias},
            attrs={"x_zp": qx.zero_point, **attrs},
            requant=requant,
            scale=qy.scale,
            zero_point=qy.zero_point,
            shape=n.attrs.get("shape"),
        )

    def _emit_linear(self, n: FNode) -> None:
        self._emit_weighted(n, "linear", {})

    def _emit_conv1d(self, n: FNode) -> None:
        a = n.attrs
        attrs = {
            "stride": a.get("stride", 1),
            "dilation": a.get("dilation", 1),
            "padding": list(a["padding"]),
            "groups": a["groups"],
        }
        self._emit_weighted(n, "conv1d", attrs)

    def _emit_layernorm(self, n: FNode) -> None:
        x, qx = self._qin(n, 0)
        qy = self.q[n.name]
        gamma = n.params["gamma"].astype(np.float64)
        beta = n.params["beta"].astype(np.float64)
        c = gamma.shape[0]
        gmax = float(np.max(np.abs(gamma)))
        s_g = gmax / GAMMA_MAX if gmax > 0 else 1.0
        gq = np.clip(np.rint(gamma / s_g), -GAMMA_MAX, GAMMA_MAX).astype(np.int16)
        frac = self.recipe.layernorm_frac_bits
        while True:
            s_beta = s_g / 2.0**frac
            bq = np.rint(beta / s_beta)
            # |normalised| <= sqrt(C - 1) (plus rounding): the accumulator n * gamma + beta must stay in int32.
            worst = (math.sqrt(c) + 1) * 2.0**frac * GAMMA_MAX + float(np.max(np.abs(bq)))
            if worst < INT32_MAX or frac == 0:
                break
            frac -= 1
        eps = int(np.rint(c * c * LN_EPS / (qx.scale * qx.scale)))
        requant = Requant.from_scale(s_beta / qy.scale, self.recipe.scheme, qy.zero_point, qy.lo, qy.hi)
        g = self.b.constant(f"{n.name}.gamma", gq, scale=s_g)
        bt = self.b.constant(f"{n.name}.beta", bq.astype(np.int32), scale=s_beta)
        self.b.node(
            "layernorm",
            n.name,
            [x],
            n.name,
            params={"gamma": g, "beta": bt},
            attrs={"x_zp": qx.zero_point, "eps": eps, "frac_bits": frac},
            requant=requant,
            scale=qy.scale,
            zero_point=qy.zero_point,
        )

    def _table(self, name: str, fn: str, x: str, qx: QType, qy: QType) -> QType:
        """A ``lut`` node ``name`` of ``fn`` from ``x``; returns the output quantisation actually used."""
        table, out_scale = lutmod.build_table_avoiding_ties(fn, qx.scale, qx.zero_point, qy.scale, qy.zero_point)
        if out_scale != qy.scale:
            qy = QType(qy.dtype, out_scale, qy.zero_point, qy.lo, qy.hi)
        self.luts[name] = {"fn": fn, "min_tie_distance": table.min_tie_distance}
        t = self.b.constant(f"{name}.table", table.values)
        self.b.node("lut", name, [x], name, params={"table": t}, scale=qy.scale, zero_point=qy.zero_point)
        self.q[name] = qy
        return qy

    def _emit_lut(self, n: FNode) -> None:
        x, qx = self._qin(n, 0)
        fn = n.attrs["fn"]
        if qx.dtype == "int8":
            self._table(n.name, fn, x, qx, self.q[n.name])
            return
        # int16 input: requantise to int8 over the gate's range, table of the gate, then the product x * gate(x).
        gate_fn, g = GATES[fn]
        lo, hi = _check_range(self.recipe, x)
        qg = qtype_from_range("a8", max(lo, -g), min(hi, g))
        gin = f"{n.name}.gate_in"
        requant = Requant.from_scale(qx.scale / qg.scale, self.recipe.scheme, qg.zero_point, qg.lo, qg.hi)
        self.b.node(
            "requantize", gin, [x], gin, attrs={"x_zp": qx.zero_point}, requant=requant,
            scale=qg.scale, zero_point=qg.zero_point,
        )  # fmt: skip
        gate_q = QType("int8", SIGMOID_OUT[0], SIGMOID_OUT[1], -128, 127)
        if fn == "sigmoid":
            self._table(n.name, gate_fn, gin, qg, gate_q)
            return
        gate = self._table(f"{n.name}.gate", gate_fn, gin, qg, gate_q)
        qy = self.q[n.name]
        requant = self._requant(n, qx.scale * gate.scale / qy.scale, qy)
        self.b.node(
            "mul", n.name, [x, f"{n.name}.gate"], n.name, attrs={"a_zp": qx.zero_point, "b_zp": gate.zero_point},
            requant=requant, scale=qy.scale, zero_point=qy.zero_point,
        )  # fmt: skip

    def _emit_add(self, n: FNode) -> None:
        (a, qa), (bb, qb) = self._qin(n, 0), self._qin(n, 1)
        qy = self.q[n.name]
        shift = 20
        for q in (qa, qb):
            widest = max(q.hi - q.zero_point, q.zero_point - q.lo)
            while shift > 0 and widest << shift > INT32_MAX:
                shift -= 1
        params = AddParams.from_scales(
            qa.scale,
            qa.zero_point,
            qb.scale,
            qb.zero_point,
            qy.scale,
            qy.zero_point,
            self.recipe.scheme,
            qy.lo,
            qy.hi,
            left_shift=shift,
        )
        self.b.node("add", n.name, [a, bb], n.name, requant=params, scale=qy.scale, zero_point=qy.zero_point)

    def _emit_mul(self, n: FNode) -> None:
        (a, qa), (bb, qb) = self._qin(n, 0), self._qin(n, 1)
        qy = self.q[n.name]
        requant = self._requant(n, qa.scale * qb.scale / qy.scale, qy)
        self.b.node(
            "mul",
            n.name,
            [a, bb],
            n.name,
            attrs={"a_zp": qa.zero_point, "b_zp": qb.zero_point},
            requant=requant,
            scale=qy.scale,
            zero_point=qy.zero_point,
        )

    def _requant(self, n: FNode, real, qy: QType) -> Requant:
        """The output requantisation of ``n`` for the real factor ``real``, times its channel factors if any."""
        if "channel_scale" in n.attrs:
            real = np.asarray(real, dtype=np.float64) * n.attrs["channel_scale"].astype(np.float64)
        return Requant.from_scale(real, self.recipe.scheme, qy.zero_point, qy.lo, qy.hi)

    def _emit_rescale(self, n: FNode) -> None:
        x, qx = self._qin(n, 0)
        qy = self.q[n.name]
        self.b.node(
            "requantize", n.name, [x], n.name, attrs={"x_zp": qx.zero_point},
            requant=self._requant(n, qx.scale / qy.scale, qy), scale=qy.scale, zero_point=qy.zero_point,
        )  # fmt: skip

    def _emit_mean(self, n: FNode) -> None:
        x, qx = self._qin(n, 0)
        qy = self.q[n.name]
        requant = self._requant(n, qx.scale / qy.scale, qy)
        self.b.node(
            "mean_over_time",
            n.name,
            [x],
            n.name,
            attrs={"x_zp": qx.zero_point},
            requant=requant,
            scale=qy.scale,
            zero_point=qy.zero_point,
        )

    def _emit_move(self, n: FNode, op: str, attrs: dict[str, Any] | None = None, shape=None) -> None:
        q = self.q[n.name]
        inputs = [self._arg(n, i) for i in range(len(n.inputs))]
        for t in inputs:
            if self.q[t] != q:
                raise ValueError(f"{op} {n.name!r}: input {t!r} is quantised differently from the output")
        self.b.node(op, n.name, inputs, n.name, attrs=attrs or {}, scale=q.scale, zero_point=q.zero_point, shape=shape)

    def _emit_embed(self, n: FNode) -> None:
        """Token rows of the tied output projection's int8/int4 weights, each rescaled by its own multiplier to the
        output (int16) scale, plus the learned positions quantised at that scale."""
        qy = self.q[n.name]
        if qy.dtype != "int16" or qy.zero_point != 0:
            raise ValueError(f"embed {n.name!r}: the output must be int16 without a zero point (kind s16)")
        table, w_scales = self._weight_constant(self.kinds[n.attrs["tied_to"]])
        pos = np.rint(n.params["positions"].astype(np.float64) / qy.scale)
        if np.any(np.abs(pos) > qy.hi):
            raise ValueError(f"embed {n.name!r}: a position entry is beyond the output range; widen its range")
        requant = Requant.from_scale(w_scales / qy.scale, self.recipe.scheme, 0, qy.lo, qy.hi)
        positions = self.b.constant(f"{n.name}.positions_table", pos.astype(np.int16), scale=qy.scale)
        self.b.node(
            "embed", n.name, list(n.inputs), n.name, params={"table": table, "positions_table": positions},
            requant=requant, scale=qy.scale, zero_point=0,
        )  # fmt: skip

    def _emit_concat_rows(self, n: FNode) -> None:
        self._emit_move(n, "concat_rows", shape=n.attrs.get("shape"))

    def _emit_tail_rows(self, n: FNode) -> None:
        self._emit_move(n, "tail_rows", {"count": n.attrs.get("count", 1)})

    def _emit_slice(self, n: FNode) -> None:
        self._emit_move(n, "slice", {"start": n.attrs["start"], "stop": n.attrs["stop"]})

    def _emit_transpose(self, n: FNode) -> None:
        self._emit_move(n, "transpose")

    def _emit_concat(self, n: FNode) -> None:
        self._emit_move(n, "concat")

    def _emit_matmul(self, n: FNode) -> None:
        (a, qa), (bb, qb) = self._qin(n, 0), self._qin(n, 1)
        if qb.zero_point != 0:
            raise ValueError(f"matmul {n.name!r}: the second operand {bb!r} must have zero point 0")
        if qa.dtype == "int16":
            self._emit_split_matmul(n, a, qa, bb, qb)
            return
        qy = self.q[n.name]
        requant = None
        if n.out != "acc":
            requant = self._requant(n, qa.scale * qb.scale / qy.scale, qy)
        self.b.node(
            "matmul",
            n.name,
            [a, bb],
            n.name,
            attrs={"a_zp": qa.zero_point},
            requant=requant,
            scale=qy.scale,
            zero_point=qy.zero_point,
        )

    def _split_probability(self, p: str, qp: QType) -> tuple[str, str]:
        """15-bit probabilities P (int16) as two int8 tensors (one ``split16`` node): hi = round_half_up(p / 128)
        (zero point -128) and lo = p - 128 hi, exactly."""
        if p in self.views:
            return self.views[p]
        hi, lo = f"{p}.hi", f"{p}.lo"
        ratio = float(P15_SPLIT)
        self.b.node(
            "split16", f"{p}.split", [p], [hi, lo],
            attrs={"x_zp": qp.zero_point, "shift": P15_SPLIT.bit_length() - 1, "hi_zp": -128},
            scale=[ratio / P15_MAX, 1.0 / P15_MAX], zero_point=[-128, 0],
        )  # fmt: skip
        self.q[hi] = QType("int8", ratio / P15_MAX, -128)
        self.q[lo] = QType("int8", 1.0 / P15_MAX, 0)
        self.views[p] = (hi, lo)
        return hi, lo

    def _emit_split_matmul(self, n: FNode, a: str, qa: QType, bb: str, qb: QType) -> None:
        """P V with 15-bit P: (hi V) and (lo V) as int8 matmuls to int16 at a fine common scale, then added."""
        if n.out in ("acc", "s16") or qa.scale != 1.0 / P15_MAX:
            raise ValueError(f"matmul {n.name!r}: an int16 first operand must be a 15-bit probability")
        hi, lo = self._split_probability(a, qa)
        qy = self.q[n.name]
        fine = max(-qy.lo, qy.hi) * float(qy.scale) * 2.0 / 32767.0  # twice the output's range, in int16
        q16 = QType("int16", fine, 0, -32768, 32767)
        parts = []
        for part, q in ((hi, self.q[hi]), (lo, self.q[lo])):
            name = f"{n.name}.{part.rsplit('.', 1)[1]}"
            self.b.node(
                "matmul", name, [part, bb], name, attrs={"a_zp": q.zero_point},
                requant=Requant.from_scale(q.scale * qb.scale / fine, self.recipe.scheme, 0, -32768, 32767),
                scale=fine, zero_point=0,
            )  # fmt: skip
            self.q[name] = q16
            parts.append(name)
        if "channel_scale" in n.attrs:
            raise ValueError(f"matmul {n.name!r}: channel factors are not supported with 15-bit probabilities")
        params = AddParams.from_scales(
            fine, 0, fine, 0, qy.scale, qy.zero_point, self.recipe.scheme, qy.lo, qy.hi, left_shift=15
        )
        self.b.node("add", n.name, parts, n.name, requant=params, scale=qy.scale, zero_point=qy.zero_point)

    def _emit_softmax(self, n: FNode) -> None:
        x, qx = self._qin(n, 0)
        qy = self.q[n.name]
        real = qx.scale * float(n.attrs.get("alpha", 1.0)) * LOG2E * 256.0
        out_max = P15_MAX if qy.dtype == "int16" else 255
        requant = Requant.from_scale(real, self.recipe.scheme, qy.zero_point, qy.zero_point, qy.zero_point + out_max)
        self.b.node("softmax", n.name, [x], n.name, requant=requant, scale=qy.scale, zero_point=qy.zero_point)

    def _emit_argmax(self, n: FNode) -> None:
        x, qx = self._qin(n, 0)
        params = {}
        if "offset" in n.params:
            off = np.array([_round_half_away(float(v) / qx.scale) for v in n.params["offset"]], dtype=np.int64)
            if np.any(np.abs(off) > INT32_MAX):
                raise ValueError(f"argmax {n.name!r}: an offset does not fit int32 in logit units")
            params["offset"] = self.b.constant(f"{n.name}.offset", off.astype(np.int32), scale=qx.scale)
        self.b.node("argmax", n.name, [x], n.name, params=params)


def provenance_recipe(recipe: Recipe) -> dict[str, Any]:
    """The recipe as a model file records it: complete except the GPTQ code deltas, which the weights already hold
    (their sha256 identifies them)."""
    out = recipe.to_json()
    deltas = out.pop("code_deltas")
    digest = hashlib.sha256(json.dumps(deltas, sort_keys=True).encode("ascii")).hexdigest()
    out["code_deltas_sha256"] = digest if deltas else None
    return out


def lower(fg: FGraph, recipe: Recipe, progress: Callable[[str], None] | None = None) -> Model:
    """The integer model of ``fg`` under ``recipe`` (see the module docstring)."""
    missing = sorted({n.name for n in fg.weight_layers()} - set(recipe.bits))
    if missing:
        raise ValueError(f"the recipe has no weight bits for {missing}")
    return Lowering(fg, recipe, progress).model()


def qtypes(fg: FGraph, recipe: Recipe) -> dict[str, QType]:
    """The quantisation of every tensor (without building the model), e.g. to dequantise traced outputs."""
    lw = Lowering(fg, recipe)
    lw.plan()
    return lw.q


__all__ = ["LOG2E", "QType", "lower", "provenance_recipe", "qtype_from_range", "qtypes"]
