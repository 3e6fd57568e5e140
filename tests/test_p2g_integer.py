"""The integer P2G decoder: its float step graph against the float reference, bit-identical decoding (tokens,
logits and every node of every step) on every backend, ISA and thread count, the built-in model, and decode
golden vectors.

A small random decoder of the same shape (two layers, width 16) runs without hama; the built-in model needs the
installed hama package's p2g.hama (skipped with the reason otherwise). No shared data is needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import configured

from intref.graph import loads
from intref.models.hama.p2g import FloatP2G, P2GLayer, P2GWeights, greedy, predict
from intref.models.hama.p2g_integer import (
    LOGITS,
    FloatGraphP2G,
    IntegerP2G,
    calibration_steps,
    p2g_float_graph,
)
from intref.models.hama.p2g_text import SPECIAL_NAMES, P2GVocab
from intref.quantize import ptq
from intref.quantize.config import BitConfig

VOCAB = P2GVocab((*SPECIAL_NAMES, *(f"t{i}" for i in range(33))))
PHRASES = ["h ə l oʊ | w ɝ l d", "æ s k | n ɑ t | h w ɑ t | j ʊ ɹ | k ʌ n t ɹ i", "ʃ iː | s ɛ l z"]


def tiny_weights(seed: int = 0, width: int = 16, heads: int = 2, ffn: int = 32, layers: int = 2) -> P2GWeights:
    rng = np.random.default_rng(seed)

    def mat(*shape, scale=0.4):
        return (rng.standard_normal(shape) * scale / np.sqrt(shape[-1]) * 4).astype(np.float32)

    def vec(n, centre=0.0, scale=0.1):
        return (centre + rng.standard_normal(n) * scale).astype(np.float32)

    blocks = [
        P2GLayer(
            vec(width, 1.0),
            vec(width),
            mat(3 * width, width),
            vec(3 * width),
            mat(width, width),
            vec(width),
            vec(width, 1.0),
            vec(width),
            mat(ffn, width),
            vec(ffn),
            mat(width, ffn),
            vec(width),
        )  # fmt: skip
        for _ in range(layers)
    ]
    return P2GWeights(
        embedding=mat(len(VOCAB.tokens), width, scale=1.0),
        positions=mat(416, width, scale=0.3),
        layers=blocks,
        norm_w=vec(width, 1.0),
        norm_b=vec(width),
        heads=heads,
        sha256="0" * 64,
        source="tiny",
    )


def tiny_prefixes(count: int = 6, seed: int = 1) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [[2, 4, *rng.integers(7, len(VOCAB.tokens), size=int(rng.integers(1, 9))).tolist(), 5] for _ in range(count)]


@pytest.fixture(scope="module")
def tiny():
    w = tiny_weights()
    fg = p2g_float_graph(w, VOCAB.tokens)
    steps = calibration_steps(fg, tiny_prefixes(), max_new=10)
    recipe = ptq.make_recipe(
        fg, steps, model_id="hama-p2g", source_sha256=w.sha256, weights_label="mixed",
        bit_config=BitConfig(8, (("L*.fc*", 4),)), calibration_info={"kind": "test"},
    )  # fmt: skip
    return w, fg, ptq.build(fg, recipe)


def decode(session, prefix, max_new=10):
    """Generated ids, alignment and the logits after each step."""
    logits = []

    class Recording:
        def start(self, p):
            t = session.start(p)
            logits.append(np.array(session.logits if hasattr(session, "logits") else session.last_logits))
            return t

        def feed(self, token):
            t = session.feed(token)
            logits.append(np.array(session.logits if hasattr(session, "logits") else session.last_logits))
            return t

        def attention(self):
            return session.attention()

    ids, align = greedy(Recording(), prefix, max_new)
    return ids, align, logits


def test_the_float_step_graph_is_the_float_decoder(tiny):
    w, fg, _ = tiny
    for prefix in tiny_prefixes(4, seed=5):
        ids_a, al_a, lg_a = decode(FloatGraphP2G(fg), prefix)
        ids_b, al_b, lg_b = decode(FloatP2G(w), prefix)
        assert ids_a == ids_b and al_a == al_b
        for a, b in zip(lg_a, lg_b, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_integer_logits_follow_the_float_ones(tiny):
    w, fg, model = tiny
    prefix = tiny_prefixes(1, seed=9)[0]
    s = IntegerP2G(model, "numpy")
    s.start(prefix)
    q = model.tensors[LOGITS]
    ints = s.logits.astype(np.float64) * q.scale
    f = FloatP2G(w)
    f.start(prefix)
    assert np.corrcoef(ints, f.last_logits)[0, 1] > 0.99
    assert np.max(np.abs(ints - f.last_logits)) < 0.1 * np.max(np.abs(f.last_logits))


def test_integer_decoding_is_bit_identical_on_every_backend(tiny, backend_cfg):
    from conftest import load_backend

    _, _, model = tiny
    be = load_backend(backend_cfg.name)
    with configured(backend_cfg):
        for prefix in tiny_prefixes(3, seed=11):
            want = decode(IntegerP2G(model, "numpy"), prefix)
            got = decode(IntegerP2G(model, be), prefix)
            assert got[0] == want[0] and got[1] == want[1]
            for a, b in zip(got[2], want[2], strict=True):
                assert a.dtype == b.dtype and np.array_equal(a, b)
            # every node of every step: accumulators and outputs against the reference
            s = IntegerP2G(model, be)
            s.steps = []
            greedy(s, prefix, 10)
            for inputs in s.steps:
                model.run(inputs, backend=be, check="numpy")


def test_a_p2g_model_round_trips_through_its_file(tiny):
    _, _, model = tiny
    again = loads(model.to_bytes())
    assert again.sha256 == model.sha256
    prefix = tiny_prefixes(1, seed=3)[0]
    assert decode(IntegerP2G(again, "numpy"), prefix)[0] == decode(IntegerP2G(model, "numpy"), prefix)[0]


# --- the built-in model ---


@pytest.fixture(scope="module")
def builtin(tmp_path_factory):
    import os

    from intref.models.default import TEXT_MODEL, ModelUnavailableError, ensure_model
    from intref.models.fetch import find_model_asset

    if find_model_asset(TEXT_MODEL) is None:
        pytest.skip("the installed hama package's p2g.hama is not here")
    old = os.environ.get("INTREF_CACHE")
    os.environ["INTREF_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        from intref.graph import load

        return load(ensure_model(TEXT_MODEL))
    except ModelUnavailableError as exc:
        pytest.skip(str(exc))
    finally:
        if old is None:
            os.environ.pop("INTREF_CACHE", None)
        else:
            os.environ["INTREF_CACHE"] = old


def test_the_builtin_model_gives_text(builtin):
    vocab = P2GVocab(tuple(builtin.metadata["vocabulary"]))
    result = predict(IntegerP2G(builtin, "native"), vocab, PHRASES[1])
    assert result.text == "ask not what your country"


@pytest.mark.parametrize("phrase", PHRASES)
def test_the_builtin_model_is_bit_identical_on_every_backend(builtin, phrase, backend_cfg):
    from conftest import load_backend

    if backend_cfg.name == "numpy":
        pytest.skip("the reference itself")
    vocab = P2GVocab(tuple(builtin.metadata["vocabulary"]))
    prefix = vocab.prefix(vocab.source_tokens(phrase))
    want = decode(IntegerP2G(builtin, "numpy"), prefix, 40)
    be = load_backend(backend_cfg.name)
    with configured(backend_cfg):
        got = decode(IntegerP2G(builtin, be), prefix, 40)
    assert got[0] == want[0] and got[1] == want[1]
    assert all(np.array_equal(a, b) for a, b in zip(got[2], want[2], strict=True))


def test_every_node_of_a_builtin_decode_matches_the_reference(builtin):
    vocab = P2GVocab(tuple(builtin.metadata["vocabulary"]))
    s = IntegerP2G(builtin, "native")
    s.steps = []
    greedy(s, vocab.prefix(vocab.source_tokens(PHRASES[2])), 12)
    for inputs in s.steps:
        builtin.run(inputs, backend="native", check="numpy")
        builtin.run(inputs, backend="numba", check="numpy")


# --- decode golden vectors ---

GOLDEN = Path(__file__).resolve().parents[1] / "vectors" / "hama" / "hama-p2g-hi"


def test_decode_vectors_export_and_check(tiny, tmp_path):
    from intref.vectors.check import check, summary
    from intref.vectors.decode import DECODE, export_decode

    _, _, model = tiny
    prefix = tiny_prefixes(1, seed=4)[0]
    doc = export_decode(model, prefix, tmp_path / "v", max_new=4)
    ids, _ = greedy(IntegerP2G(model, "numpy"), prefix, 4)
    assert doc["generated"] == ids and len(doc["steps"]) == len(ids) + (len(ids) < 4)
    assert json.loads((tmp_path / "v" / DECODE).read_text())["generated"] == ids
    results = check(tmp_path / "v", show_progress=False)
    assert summary(results)["ok"] and len({r.path for r in results}) == len(doc["steps"])
    with pytest.raises(Exception, match="not empty"):
        export_decode(model, prefix, tmp_path / "v")


def test_shipped_decode_vectors_match(builtin, tmp_path):
    """vectors/hama/hama-p2g-hi: the digests of every step's vectors of the built-in model (vectors/hama/build.py)."""
    from test_asr_golden import assert_same_digests

    from intref.vectors.common import MANIFEST
    from intref.vectors.decode import DECODE, export_decode

    shipped = json.loads((GOLDEN / DECODE).read_text())
    fresh = export_decode(builtin, shipped["prefix"], tmp_path / "v", max_new=shipped["max_new"], backend="numpy")
    for key in ("prefix", "generated", "alignment", "text", "steps"):
        assert fresh[key] == shipped[key], key
    for step in shipped["steps"]:
        want = json.loads((GOLDEN / step / MANIFEST).read_text())
        got = json.loads((tmp_path / "v" / step / MANIFEST).read_text())
        assert_same_digests(want, got)


def test_quantize_rebuilds_the_builtin_model_from_its_recipe(builtin, tmp_path, capsys):
    from intref.cli import main
    from intref.models.default import TEXT_BUILTINS, TEXT_MODEL, expected_sha256, recipe_file

    recipe = str(recipe_file(TEXT_BUILTINS[TEXT_MODEL]))
    out = tmp_path / "p2g.intref"
    assert main(["quantize", "hama-p2g", "--recipe", recipe, "-o", str(out)]) == 0
    assert expected_sha256(TEXT_BUILTINS[TEXT_MODEL]) in capsys.readouterr().out
    assert main(["quantize", "hama-p2g", "--equalize", "1", "--calib", "x", "-o", str(out)]) != 0
    assert "apply to the acoustic models" in capsys.readouterr().err
    assert main(["quantize", "hama-p2g", "--calib", "synthetic", "-o", str(out)]) != 0
    assert "calibrates on real speech" in capsys.readouterr().err


def test_a_long_transcription_is_decoded_in_runs(tiny):
    from intref.asr.transcript import Token
    from intref.asr.words import TextModel

    _, _, model = tiny
    text = TextModel(model, "numpy", "tiny")
    rng = np.random.default_rng(2)
    words = []
    for i in range(60):
        ids = rng.integers(7, len(VOCAB.tokens), size=3)
        words.append(tuple(Token(int(t), VOCAB.tokens[int(t)], 10 * i + j, 10 * i + j) for j, t in enumerate(ids)))
    result = text.words(words)
    runs = text.decode_all([[t.symbol for t in w] for w in words])
    assert len(runs) == 2 and result.text == " ".join(r.text for r in runs if r.text)
    assert list(result.ids) == [i for r in runs for i in r.ids]
    assert all(w.start <= w.end for w in result.words)
