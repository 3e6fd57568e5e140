"""Quantising the hama P2G model: calibration from the acoustic model's phonemes on real speech, the bit
configurations, and the build from a recipe.

Calibration runs the float step graph's greedy decoding on the phonemes the float hama 1.7.0 acoustic model
hears in the calibration clips (what the integer P2G reads in use) and records every step's inputs; ranges and
weight clipping then come from :func:`intref.quantize.ptq.make_recipe` like for the acoustic models.

Bit configurations: ``int8``; ``mixed``: 4-bit feed-forward matrices (``L*.fc*``, 44% of the non-embedding
weights), everything else 8-bit, the tied embedding included (it is also the output projection, whose top-2
logit margins go down to 0.0014); ``int4``: 4 bits except the tied embedding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ...quantize import ptq
from ...quantize.config import BitConfig, uniform
from ...quantize.recipe import Recipe, RecipeError
from .p2g_integer import MODEL_ID, calibration_steps, p2g_float_graph

Progress = Callable[[str], None]
WEIGHT_PRESETS: dict[str, BitConfig] = {
    "int8": uniform(8),
    "mixed": BitConfig(8, (("L*.fc*", 4),)),
    "int4": BitConfig(4, (("logits", 8),)),
}


def learned_parameters(p2g) -> int:
    """Float parameters of the P2G weights (the tied embedding once): 7,299,936 for hama's p2g.hama."""
    arrays = [p2g.embedding, p2g.positions, p2g.norm_w, p2g.norm_b]
    arrays += [v for layer in p2g.layers for v in vars(layer).values() if isinstance(v, np.ndarray)]
    return sum(int(a.size) for a in arrays)


def calibration_prefixes(audio: Sequence, progress: Progress | None = None) -> list[list[int]]:
    """P2G prefixes of the float hama 1.7.0 acoustic model's transcriptions of 16 kHz waveforms."""
    from .model import load_acoustic_model
    from .p2g_text import asr_words_to_phonemes, load_p2g_vocab

    acoustic = load_acoustic_model()
    vocab = load_p2g_vocab()
    out = []
    for i, wav in enumerate(audio):
        if progress:
            progress(f"calibration phonemes {i + 1}/{len(audio)}")
        words = acoustic.transcribe(wav).words
        out.append(vocab.prefix(vocab.source_tokens(asr_words_to_phonemes(words))))
    return out


def quantize_p2g(
    *,
    weights: str = "int8",
    config: BitConfig | None = None,
    prefixes: Sequence[Sequence[int]] | None = None,
    calibration_info: dict | None = None,
    recipe: Recipe | None = None,
    asset=None,
    progress: Progress | None = None,
    **options,
):
    """``(integer Model, Recipe)`` of the P2G model: from calibration ``prefixes`` (token ids) with a weight
    preset or ``config`` and ``options`` for :func:`intref.quantize.ptq.make_recipe`, or from a ``recipe``."""
    from .p2g import load_p2g_weights

    p2g = load_p2g_weights(asset)
    if recipe is not None:
        if recipe.model != MODEL_ID:
            raise RecipeError(f"the recipe is for {recipe.model}, not {MODEL_ID}")
        if recipe.source_sha256 != p2g.sha256:
            raise RecipeError(f"the recipe was made for other P2G weights (sha256 {recipe.source_sha256[:16]}...)")
        fg = p2g_float_graph(p2g, wide=recipe.wide_activations)
        return ptq.build(fg, recipe, progress), recipe
    if not prefixes:
        raise ValueError("quantising the P2G model needs calibration prefixes or a recipe")
    if weights not in WEIGHT_PRESETS and config is None:
        raise ValueError(f"unknown weight preset {weights!r} (known: {', '.join(WEIGHT_PRESETS)})")
    wide = options.pop("wide_activations", True)
    fg = p2g_float_graph(p2g, wide=wide)
    if progress:
        progress(f"decoding {len(prefixes)} calibration inputs in float")
    steps = calibration_steps(fg, prefixes)
    info = dict(calibration_info or {})
    info["decode_steps"] = len(steps)
    recipe = ptq.make_recipe(
        fg,
        steps,
        model_id=MODEL_ID,
        source_sha256=p2g.sha256,
        weights_label="config" if config is not None else weights,
        bit_config=config or WEIGHT_PRESETS[weights],
        calibration_info=info,
        wide_activations=wide,
        progress=progress,
        **options,
    )
    return ptq.build(fg, recipe, progress), recipe


__all__ = ["WEIGHT_PRESETS", "calibration_prefixes", "learned_parameters", "quantize_p2g"]
