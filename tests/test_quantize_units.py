"""The pieces of the quantiser: weight quantisation and GPTQ, lookup tables, ranges, bit configurations, recipes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from intref.quantize import calibrate, lut, weights
from intref.quantize.config import BitConfig, ConfigError, parse_config
from intref.quantize.recipe import Recipe, RecipeError, decode_delta, encode_delta

RNG = np.random.default_rng(3)


# --- weights ---


@pytest.mark.parametrize("bits", [8, 4])
def test_weight_codes_are_symmetric_per_channel(bits):
    w = RNG.normal(0, 1, (16, 12)) * RNG.uniform(0.01, 3, (16, 1))
    qw = weights.quantize_weights(w, bits, (100,) * 16)
    lo, hi = weights.QRANGE[bits]
    assert qw.codes.dtype == np.int8 and qw.codes.min() >= lo and qw.codes.max() <= hi
    assert np.allclose(np.abs(qw.codes).max(axis=1), weights.QMAX[bits])  # full range: the max hits q_max
    assert np.max(np.abs(qw.dequantized() - w) / qw.scales[:, None]) <= 0.5 + 1e-9
    stored = qw.stored()
    assert (stored.unpack() == qw.codes).all() if bits == 4 else stored is qw.codes


def test_zero_channel_gets_unit_scale():
    w = np.zeros((2, 3))
    w[1] = [1, -2, 3]
    qw = weights.quantize_weights(w, 8, (100, 100))
    assert qw.scales[0] == 1.0 and not qw.codes[0].any()


def test_clipping_search_lowers_the_error_it_minimises():
    w = RNG.standard_t(3, (32, 64))  # heavy tails: clipping pays
    h = np.cov(RNG.normal(size=(500, 64)) * RNG.uniform(0.1, 3, 64), rowvar=False)
    for method, err in (("mse", lambda d: np.sum(d * d)), ("output", lambda d: np.sum((d @ h) * d))):
        clip = weights.search_clip(w, 4, method, h)
        assert min(clip) < 100
        best = weights.quantize_weights(w, 4, clip).dequantized() - w
        full = weights.quantize_weights(w, 4, (100,) * 32).dequantized() - w
        assert err(best) < err(full)


def test_gptq_beats_rounding_to_nearest_on_its_data_and_round_trips_as_a_delta():
    x = RNG.normal(size=(400, 24)) @ RNG.normal(size=(24, 24))  # correlated inputs
    h = x.T @ x / len(x)
    w = RNG.normal(size=(10, 24))
    clip = weights.search_clip(w, 4, "output", h)
    nearest = weights.quantize_weights(w, 4, clip)
    codes = weights.gptq_codes(w, 4, clip, h)
    assert codes.min() >= -8 and codes.max() <= 7

    def out_err(c):
        d = c * nearest.scales[:, None] - w
        return np.sum((x @ d.T) ** 2)

    assert out_err(codes) < out_err(nearest.codes)
    delta = (codes.astype(np.int16) - nearest.codes).astype(np.int8)
    back = decode_delta(encode_delta(delta), w.shape)
    assert np.array_equal(weights.quantize_weights(w, 4, clip, back).codes, codes)
    with pytest.raises(ValueError, match="leaves the int4 range"):
        weights.quantize_weights(w, 4, clip, np.full(w.shape, 20, dtype=np.int8))


def test_depthwise_second_moments_are_per_channel():
    w = RNG.normal(size=(5, 1, 3))
    h = np.stack([np.eye(3) * (c + 1) for c in range(5)])
    assert len(weights.search_clip(w, 4, "output", h)) == 5
    assert weights.gptq_codes(w, 4, (100,) * 5, h).shape == w.shape


# --- lookup tables ---


@pytest.mark.parametrize("fn", ["gelu", "silu", "sigmoid", "gelu_gate"])
def test_tables_match_the_float_function_within_half_a_step(fn):
    s_in, zp_in = 0.037, -5
    x = s_in * (np.arange(-128, 128) - zp_in)
    exact = {
        "sigmoid": 1 / (1 + np.exp(-x)),
        "silu": x / (1 + np.exp(-x)),
        "gelu": 0.5 * x * (1 + np.array([math.erf(v / 1.4140625) for v in x])),
        "gelu_gate": 0.5 * (1 + np.array([math.erf(v / 1.4140625) for v in x])),
    }[fn]
    lo, hi = lut.image(fn, s_in, zp_in)
    s_out = (max(hi, 0) - min(lo, 0)) / 255
    zp_out = int(round(-128 - min(lo, 0) / s_out))
    table = lut.build_table(fn, s_in, zp_in, s_out, zp_out)
    got = (table.values.astype(np.float64) - zp_out) * s_out
    inside = (exact - s_out * (-128 - zp_out) > -1e-12) & (exact - s_out * (127 - zp_out) < 1e-12)
    assert np.all(np.abs(got - exact)[inside] <= s_out / 2 + 1e-12)
    assert table.min_tie_distance > 1e-9
    again = lut.build_table(fn, s_in, zp_in, s_out, zp_out)
    assert np.array_equal(again.values, table.values)


def test_near_ties_are_refused_or_nudged():
    # GELU(x) = x to within 1e-9 for x > 6: with x = q / 16 and s_out = 1/8, odd q give x / s_out ~ k + 1/2.
    with pytest.raises(lut.NearTieError):
        lut.build_table("gelu", 1 / 16, -128, 1 / 8, -128)
    table, scale = lut.build_table_avoiding_ties("gelu", 1 / 16, -128, 1 / 8, -128)
    assert scale != 1 / 8 and abs(scale * 8 - 1) < 1e-5 and table.min_tie_distance > 1e-9
    with pytest.raises(lut.NearTieError):  # sigmoid(0) / (1/255) = 127.5: a tie
        lut.build_table("sigmoid", 0.1, 0, 1 / 255, -128)
    assert lut.build_table("sigmoid", 0.1, 0, 1 / 254, -127).values[128] == 0  # 0.5 -> code 0, clear of ties


# --- ranges ---


def _stats(values: np.ndarray) -> calibrate.TensorStats:
    s = calibrate.TensorStats()
    s.observe_range(values)
    s.observe_hist(values)
    return s


def test_ranges_contain_zero_and_clip_outliers():
    x = np.concatenate([RNG.normal(2, 0.5, 100000), [40.0]]).astype(np.float32)
    s = _stats(x)
    lo, hi = calibrate.choose_range(s, "a8", "minmax")
    assert lo == calibrate.significant(min(x.min(), 0)) and hi == pytest.approx(40.0)
    lo, hi = calibrate.choose_range(s, "a8", "percentile", 99.9)
    assert lo <= 0.0 and 3 < hi < 5
    lo, hi = calibrate.choose_range(s, "a8", "mse")
    assert lo <= 0.0 and hi < 40
    assert calibrate.choose_range(_stats(np.abs(x) + 1), "a8", "minmax")[0] == 0.0  # 0 is always representable
    lo, hi = calibrate.choose_range(s, "s16", "percentile")
    assert -lo == hi == pytest.approx(40.0 * calibrate.INT16_HEADROOM, rel=1e-5)
    assert calibrate.significant(1.23456789) == 1.23457


# --- configurations and recipes ---


def test_bit_config_first_matching_rule_wins_and_typos_fail():
    cfg = parse_config({"default": 8, "rules": [["b*.ffn*", 4], ["b0.*", 8]]})
    layers = ["b0.ffn1.fc1", "b0.attn.q", "logits"]
    assert cfg.resolve(layers) == {"b0.attn.q": 8, "b0.ffn1.fc1": 4, "logits": 8}
    with pytest.raises(ConfigError, match="matches no weight layer"):
        BitConfig(8, (("b*.fnn*", 4),)).resolve(layers)
    with pytest.raises(ConfigError):
        parse_config({"default": 6})
    assert parse_config({"rules": {"b*": 4}}).rules == (("b*", 4),)


def _recipe(**kw) -> Recipe:
    base = dict(
        model="toy", source_sha256="0" * 64, weights="int8", bits={"a": 8}, clip={"a": [100, 90]},
        weight_method="gptq", ranges={"x": [-1.0, 2.5]}, range_method="percentile", percentile=99.99,
        calibration={"kind": "synthetic", "seed": 0}, equalize={"x": [0, 3]},
        code_deltas={"a": encode_delta(np.ones(4, np.int8))},
    )  # fmt: skip
    base.update(kw)
    return Recipe(**base)


def test_recipe_json_round_trip(tmp_path):
    r = _recipe()
    path = tmp_path / "r.json"
    r.save(path)
    again = Recipe.load(path)
    assert again.to_json() == r.to_json()
    assert again.dumps() == path.read_text()
    assert np.array_equal(again.delta("a", (2, 2)), np.ones((2, 2), np.int8))


@pytest.mark.parametrize(
    "kw",
    [{"bits": {"a": 6}}, {"ranges": {"x": [0.5, 1.0]}}, {"scheme": "nope"}, {"clip": {"b": [100]}}],
)
def test_bad_recipes_are_refused(kw):
    with pytest.raises(RecipeError):
        _recipe(**kw)


def test_recipe_files_are_checked(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "something else"}')
    with pytest.raises(RecipeError, match="not an intref quantisation recipe"):
        Recipe.load(path)
    with pytest.raises(RecipeError, match="holds 4 values"):
        _recipe().delta("a", (3, 3))
