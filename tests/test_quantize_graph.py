"""Integer graphs built by the hama builders from random float weights (no hama needed): they run, follow the
float network, are deterministic, and rebuild byte for byte from their recipe."""

from __future__ import annotations

import numpy as np
import pytest

from intref.graph import loads
from intref.models.hama.conformer import ConformerBlock, ConformerCTC, FeedForward
from intref.models.hama.integer import MIXED, conformer_graph, sepconv_graph
from intref.models.hama.sepconv import AttentionLayer, SepConvBlock, SepConvCTC
from intref.quantize import build, make_recipe, uniform
from intref.quantize.analysis import layer_errors
from intref.quantize.lower import provenance_recipe
from intref.quantize.ptq import equalized
from intref.quantize.recipe import Recipe

D, FF, MELS, VOCAB = 16, 32, 12, 191


def _w(rng, *shape, fan_in=None):
    fan = fan_in or shape[-1]
    return (rng.normal(0, 1, shape) / np.sqrt(fan)).astype(np.float32)


def _ln(rng):
    return (1 + 0.2 * rng.normal(size=D)).astype(np.float32), (0.1 * rng.normal(size=D)).astype(np.float32)


def toy_conformer(seed: int = 0, blocks: int = 2) -> ConformerCTC:
    rng = np.random.default_rng(seed)

    def ffn():
        g, b = _ln(rng)
        return FeedForward(
            g, b, _w(rng, D, FF, fan_in=D), _w(rng, FF) * 0.1, _w(rng, FF, D, fan_in=FF), _w(rng, D) * 0.1
        )

    out = []
    for _ in range(blocks):
        (ag, ab), (cg, cb), (ng, nb) = _ln(rng), _ln(rng), _ln(rng)
        out.append(
            ConformerBlock(
                ffn(),
                ag,
                ab,
                _w(rng, D, 3 * D, fan_in=D),
                _w(rng, 3 * D) * 0.1,
                _w(rng, D, D),
                _w(rng, D) * 0.1,
                cg,
                cb,
                _w(rng, 2 * D, D),
                _w(rng, 2 * D) * 0.1,
                _w(rng, D, 1, 7, fan_in=7),
                _w(rng, D) * 0.1,
                _w(rng, D, D),
                _w(rng, D) * 0.1,
                ffn(),
                ng,
                nb,
            )
        )
    return ConformerCTC(
        _w(rng, D, MELS, 3, fan_in=3 * MELS), _w(rng, D) * 0.1, tuple(out), _w(rng, VOCAB, D), _w(rng, VOCAB)
    )


def toy_sepconv(seed: int = 1) -> SepConvCTC:
    rng = np.random.default_rng(seed)
    blocks = tuple(
        SepConvBlock(
            d,
            _w(rng, D, 1, 9, fan_in=9),
            _w(rng, D) * 0.1,
            _w(rng, D, D),
            _w(rng, D) * 0.1,
            _w(rng, 4, D),
            _w(rng, 4),
            _w(rng, D, 4),
            _w(rng, D),
        )
        for d in (1, 2)
    )
    (g1, b1), (g2, b2) = _ln(rng), _ln(rng)
    layer = AttentionLayer(
        g1,
        b1,
        _w(rng, D, 3 * D, fan_in=D),
        _w(rng, 3 * D) * 0.1,
        _w(rng, D, D),
        _w(rng, D) * 0.1,
        g2,
        b2,
        _w(rng, D, FF, fan_in=D),
        _w(rng, FF) * 0.1,
        _w(rng, FF, D, fan_in=FF),
        _w(rng, D) * 0.1,
    )
    return SepConvCTC(
        _w(rng, D, MELS, 3, fan_in=3 * MELS), _w(rng, D) * 0.1, blocks, (layer,), _w(rng, VOCAB, D), _w(rng, VOCAB)
    )


def features(n: int, seed: int, t: int = 40) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        base = rng.normal(-6, 2, (1, MELS))
        out.append((base + rng.normal(0, 1.5, (t, MELS))).astype(np.float32))
    return out


def quantized(fg, weights: str = "int8", **kw):
    cfg = uniform(8) if weights == "int8" else uniform(4) if weights == "int4" else MIXED["hama-1.7"]
    recipe = make_recipe(
        fg,
        features(4, 10),
        model_id="toy",
        source_sha256="0" * 64,
        weights_label=weights,
        bit_config=cfg,
        calibration_info={"kind": "random"},
        **kw,
    )
    return build(fg, recipe), recipe


@pytest.fixture(scope="module")
def conformer():
    fg = conformer_graph(toy_conformer(), blank_offset=-0.095)
    model, recipe = quantized(fg)
    return fg, model, recipe


def _agreement(fg, model, inputs) -> tuple[float, float]:
    """(frame agreement, SQNR dB of the int16 logits) of the integer model against the float graph."""
    same = total = 0
    signal = noise = 0.0
    scale = model.tensors["logits"].scale
    for x in inputs:
        ref = fg.run(x)
        got = model.run({"logmel": x}, backend="numpy")
        same += int(np.sum(ref["frames"] == got["frames"]))
        total += ref["frames"].size
        err = got["logits"].astype(np.float64) * scale - ref["logits"]
        signal += float(np.sum(ref["logits"].astype(np.float64) ** 2))
        noise += float(np.sum(err**2))
    return same / total, 10 * np.log10(signal / noise)


def test_conformer_integer_graph_tracks_the_float_network(conformer):
    fg, model, recipe = conformer
    ops = {n.op for n in model.nodes}
    assert {"quantize", "conv1d", "layernorm", "linear", "lut", "mul", "add", "matmul", "softmax", "slice"} <= ops
    assert {"transpose", "concat", "argmax", "requantize"} <= ops
    agree, sqnr = _agreement(fg, model, features(3, 99))
    assert sqnr > 20 and agree > 0.9, (sqnr, agree)
    out = model.run({"logmel": features(1, 5, t=31)[0]}, backend="numpy")
    assert out["frames"].shape == (16,) and out["logits"].dtype == np.int16


def test_layer_errors_name_every_integer_tensor(conformer):
    fg, model, recipe = conformer
    errors = layer_errors(model, equalized(fg, recipe.equalize), features(1, 98))
    names = {e.name for e in errors}
    assert {"stem", "b0.ffn1.fc1", "b1.attn.h3.softmax", "logits"} <= names
    assert all(e.sqnr_db > 10 for e in errors if e.name.startswith("b0.")), [(e.name, e.sqnr_db) for e in errors]


def test_building_twice_gives_the_same_bytes_and_the_recipe_rebuilds_them(conformer, tmp_path):
    fg, model, recipe = conformer
    again, recipe2 = quantized(conformer_graph(toy_conformer(), blank_offset=-0.095))
    assert again.to_bytes() == model.to_bytes()
    path = tmp_path / "recipe.json"
    recipe.save(path)
    rebuilt = build(conformer_graph(toy_conformer(), blank_offset=-0.095), Recipe.load(path))
    assert rebuilt.to_bytes() == model.to_bytes()
    recorded = loads(model.to_bytes()).provenance["recipe"]
    assert recorded == provenance_recipe(recipe) and recorded["ranges"] == recipe.to_json()["ranges"]


@pytest.mark.parametrize("weights", ["int4", "mixed"])
def test_low_bit_weights_are_packed_and_still_track(weights):
    fg = conformer_graph(toy_conformer(), blank_offset=-0.095)
    model, recipe = quantized(fg, weights)
    four = [n for n in model.nodes if n.extra.get("w") is not None and hasattr(n.extra["w"], "unpack")]
    assert four and all(recipe.bits[n.name] == 4 for n in four)
    assert recipe.code_deltas  # GPTQ moved some codes
    agree, sqnr = _agreement(fg, model, features(2, 97))
    assert sqnr > 10, sqnr


def test_narrow_activations_int8_residual_stream_and_weight_error_clipping():
    fg = conformer_graph(toy_conformer(), blank_offset=-0.095, residual_bits=8, wide=False)
    model, recipe = quantized(fg, residual_bits=8, wide_activations=False, weight_method="mse")
    assert all(model.tensors[n].dtype == "int8" for n in ("b0.ffn1.add", "b0.ffn1.fc1", "stem.act"))
    assert not recipe.code_deltas
    agree, sqnr = _agreement(fg, model, features(2, 96))
    assert sqnr > 15, sqnr


def test_wide_activations_are_products_of_int16_inputs_and_gates():
    fg = conformer_graph(toy_conformer(), blank_offset=-0.095)
    model, recipe = quantized(fg)
    assert recipe.wide_activations
    assert model.tensors["b0.ffn1.fc1"].dtype == "int16" and model.node("b0.ffn1.act").op == "mul"
    assert model.node("b0.ffn1.act.gate").op == "lut" and model.node("stem.act.gate_in").op == "requantize"
    agree, sqnr = _agreement(fg, model, features(2, 92))
    assert sqnr > 15, sqnr


def test_sepconv_integer_graph_tracks_the_float_network():
    fg = sepconv_graph(toy_sepconv(), blank_offset=-0.1)
    model, _ = quantized(fg)
    assert {"mean_over_time", "mul"} <= {n.op for n in model.nodes}
    agree, sqnr = _agreement(fg, model, features(2, 95))
    assert sqnr > 15, sqnr


def test_15_bit_probabilities_split_exactly_into_two_int8_halves(conformer):
    from intref.graph import Tracer

    fg, model, recipe = conformer
    assert recipe.probability_bits == 15
    tracer = Tracer()
    model.run({"logmel": features(1, 94)[0]}, backend="numpy", trace=tracer)
    assert tracer["b0.attn.h1.softmax"].outputs[0].dtype == np.int16
    p = tracer["b0.attn.h1.softmax"].outputs[0].astype(np.int64)
    split = tracer["b0.attn.h1.softmax.split"]
    assert split.node.op == "split16"
    assert split.node.spec.outputs == ("b0.attn.h1.softmax.hi", "b0.attn.h1.softmax.lo")
    hi, lo = (out.astype(np.int64) for out in split.outputs)
    assert p.min() >= -16384 and p.max() <= 16256
    assert np.array_equal(128 * (hi + 128) + lo, p + 16384)
    assert lo.min() >= -64 and lo.max() <= 64


def test_8_bit_probabilities_and_channel_equalisation():
    fg = conformer_graph(toy_conformer(), blank_offset=-0.095)
    model, recipe = quantized(fg, probability_bits=8, equalize_alpha=1.0)
    assert model.tensors["b0.attn.h0.softmax"].dtype == "int8"
    assert recipe.equalize and all(k >= 0 for ks in recipe.equalize.values() for k in ks)
    agree, sqnr = _agreement(fg, model, features(2, 93))
    assert sqnr > 15, sqnr
    assert build(conformer_graph(toy_conformer(), blank_offset=-0.095), recipe).to_bytes() == model.to_bytes()
