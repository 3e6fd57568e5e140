"""Post-training quantisation of a float network: calibration statistics + bit configuration -> recipe -> model.

``make_recipe`` takes every data-dependent decision (activation ranges, weight clip ratios) and ``build`` lowers
the network under a recipe; a recipe saved once rebuilds the same model without calibration data.

Weights (every layer, 4 or 8 bits): ``weight_method`` ``gptq`` (default) chooses per-channel clip ratios by the
output error (weighted by the second moments of the layer's input over the calibration data) and then rounds
with GPTQ; ``output`` the same clipping with round-to-nearest; ``mse`` clipping by the weight error; ``minmax``
no clipping. The GPTQ codes are stored in the recipe (as differences to round-to-nearest).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..graph import Model
from . import calibrate, weights
from .calibrate import Calibration
from .config import BitConfig
from .fgraph import FGraph
from .lower import lower
from .recipe import Recipe, encode_delta

WEIGHT_METHODS = weights.METHODS


def weight_choices(
    fg: FGraph, bits: dict[str, int], method: str, cal: Calibration | None, progress: Callable[[str], None] | None
) -> tuple[dict[str, list[int]], dict[str, str]]:
    """Per-channel clip ratios (percent) of every weight layer, and the GPTQ code deltas (``method == "gptq"``)."""
    layers = fg.weight_layers()
    clip, deltas = {}, {}
    for i, n in enumerate(layers):
        b = bits[n.name]
        m = method
        h = cal.hessians.get(n.name) if cal is not None else None
        if m in ("output", "gptq") and h is None:
            m = "mse"  # without calibration data: the weight error
        if progress and m != "minmax":
            progress(f"int{b} weights ({m}): layer {i + 1}/{len(layers)} {n.name}")
        w = n.params["w"]
        clip[n.name] = list(weights.search_clip(w, b, m, h))
        if m == "gptq":
            nearest = weights.quantize_weights(w, b, clip[n.name]).codes
            delta = weights.gptq_codes(w, b, clip[n.name], h).astype(np.int16) - nearest
            if np.any(delta):
                deltas[n.name] = encode_delta(delta.astype(np.int8))
    return dict(sorted(clip.items())), dict(sorted(deltas.items()))


def equalized(fg: FGraph, equalize: dict[str, list[int]]) -> FGraph:
    """A copy of ``fg`` with the channel equalisation applied (``fg`` itself if there is none)."""
    if not equalize:
        return fg
    out = fg.copy()
    for name in sorted(equalize):
        out.equalize(name, equalize[name])
    return out


def make_recipe(
    fg: FGraph,
    inputs: Sequence[np.ndarray],
    *,
    model_id: str,
    source_sha256: str,
    weights_label: str,
    bit_config: BitConfig,
    calibration_info: dict[str, Any],
    weight_method: str = "gptq",
    range_method: str = "percentile",
    percentile: float = calibrate.DEFAULT_PERCENTILE,
    equalize_alpha: float = 0.0,
    scheme: str = "single",
    residual_bits: int = 16,
    wide_activations: bool = True,
    layernorm_frac_bits: int = 10,
    probability_bits: int = 15,
    progress: Callable[[str], None] | None = None,
) -> Recipe:
    """Calibrate ``fg`` on ``inputs`` (float32 [t, C] each) and take every data-dependent decision.

    1. channel equalisation (only with ``equalize_alpha`` > 0; off by default, see docs/QUANTIZATION.md):
       per-channel ranges of the equalizable tensors, then power-of-two channel factors
       (:func:`intref.quantize.calibrate.choose_equalization`);
    2. statistics of the equalised network: histograms for the activation ranges, second moments for the clipping;
    3. activation ranges (``range_method``) and per-channel weight clip ratios.
    """
    if weight_method not in WEIGHT_METHODS:
        raise ValueError(f"unknown weight clipping method {weight_method!r} (known: {', '.join(WEIGHT_METHODS)})")
    bits = bit_config.resolve([n.name for n in fg.weight_layers()])
    equalize: dict[str, list[int]] = {}
    kept: dict[str, list[float]] = {}
    if equalize_alpha > 0:
        if progress:
            progress("channel equalisation: statistics of the network as built")
        first = calibrate.collect(fg, inputs, hessians=False, progress=progress)
        before = calibrate.choose_ranges(fg, first, range_method, percentile)
        equalize, kept = calibrate.choose_equalization(fg, first, before, equalize_alpha)
    work = equalized(fg, equalize)
    cal = calibrate.collect(work, inputs, hessians=weight_method in ("output", "gptq"), progress=progress)
    if progress:
        progress(f"choosing activation ranges ({range_method})")
    ranges = {**calibrate.choose_ranges(work, cal, range_method, percentile), **kept}
    clip, deltas = weight_choices(work, bits, weight_method, cal, progress)
    info = dict(calibration_info)
    info.update(inputs=cal.inputs, frames=cal.frames)
    return Recipe(
        model=model_id,
        source_sha256=source_sha256,
        weights=weights_label,
        bits=bits,
        clip=clip,
        weight_method=weight_method,
        ranges=ranges,
        range_method=range_method,
        percentile=percentile if range_method == "percentile" else None,
        calibration=info,
        scheme=scheme,
        residual_bits=residual_bits,
        wide_activations=wide_activations,
        equalize=equalize,
        code_deltas=deltas,
        layernorm_frac_bits=layernorm_frac_bits,
        probability_bits=probability_bits,
        extra={"bit_config": bit_config.to_json(), "equalize_alpha": equalize_alpha},
    )


def build(fg: FGraph, recipe: Recipe, progress: Callable[[str], None] | None = None) -> Model:
    """The integer model of ``fg`` (the network as built, before equalisation) under ``recipe``."""
    return lower(equalized(fg, recipe.equalize), recipe, progress)


__all__ = ["WEIGHT_METHODS", "build", "equalized", "make_recipe", "weight_choices"]
