"""The scoring harness: phoneme error rates, agreement, text normalisation, manifests, reports, G2P references,
and one end-to-end check of the float reference on a few shared clips.

Metric tests use small hand-computed alignments. Tests that need hama's runtime skip without it; the end-to-end
tests skip without the shared data (`INTREF_DATA`, default `../shared/data` beside the repository).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from intref.evaluate import (
    WORD_BOUNDARY,
    ErrorCounts,
    ManifestError,
    Table,
    agreement,
    corpus_errors,
    frame_agreement,
    normalize_text,
    parse_manifest,
    phoneme_tokens,
    read_manifest,
    render,
    spell_numbers,
    spoken_words,
    token_agreement,
    token_errors,
)
from intref.evaluate.text import cardinal, ordinal, year

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("INTREF_DATA", REPO.parent / "shared" / "data"))
SPEECH = DATA / "speech"
WB = WORD_BOUNDARY


def counts(ref: str, hyp: str) -> ErrorCounts:
    return token_errors(ref.split(), hyp.split())


# --- metrics -----------------------------------------------------------------------------------------------------


def test_identical_sequences_have_no_errors():
    c = counts("h ɛ l oʊ <wb> w ɝ l d", "h ɛ l oʊ <wb> w ɝ l d")
    assert (c.substitutions, c.deletions, c.insertions, c.hits) == (0, 0, 0, 9)
    assert c.rate == 0.0


def test_substitution_deletion_insertion():
    c = counts("a b c", "a x c")
    assert (c.substitutions, c.deletions, c.insertions, c.rate) == (1, 0, 0, pytest.approx(1 / 3))
    c = counts("a b c d", "a b d")
    assert (c.substitutions, c.deletions, c.insertions, c.rate) == (0, 1, 0, 0.25)
    c = counts("a b", "a b c")
    assert (c.substitutions, c.deletions, c.insertions, c.rate) == (0, 0, 1, 0.5)
    # One of each (the only alignment with 3 edits): b -> x, d deleted, g inserted at the end.
    c = counts("a b c d e f", "a x c e f g")
    assert (c.substitutions, c.deletions, c.insertions, c.hits) == (1, 1, 1, 4)
    assert c.ref_len == 6 and c.hyp_len == 6 and c.edits == 3 and c.rate == 0.5


def test_word_boundaries_are_tokens():
    # A missed boundary is one deletion; an extra one is one insertion.
    c = counts(f"h aɪ {WB} j u", "h aɪ j u")
    assert (c.deletions, c.edits, c.rate) == (1, 1, 0.2)
    c = counts("t ɛ n", f"t ɛ {WB} n")
    assert (c.insertions, c.edits, c.ref_len) == (1, 1, 3)


def test_multi_character_and_combining_tokens_are_single_tokens():
    c = counts("oʊ", "o ʊ")  # one token against two: a substitution and an insertion
    assert c.edits == 2 and c.ref_len == 1
    c = counts("d ̪ o", "d o")  # the combining dental mark is a token of its own
    assert (c.deletions, c.edits) == (1, 1)


def test_empty_hypothesis_and_empty_reference():
    c = token_errors(["a", "b", "c"], [])
    assert (c.deletions, c.edits, c.rate) == (3, 3, 1.0)
    c = token_errors([], ["a", "b"])
    assert (c.insertions, c.ref_len, c.rate) == (2, 0, None)  # no rate without a reference
    c = token_errors([], [])
    assert c.edits == 0 and c.rate is None


def test_tokens_with_whitespace_are_rejected():
    with pytest.raises(ValueError, match="whitespace"):
        token_errors(["a", " "], ["a"])
    with pytest.raises(ValueError, match="whitespace"):
        token_errors(["a"], ["a b"])


def test_corpus_rate_is_pooled_not_averaged():
    clips = [counts("a b", "a"), counts("a b c d e f g h", "a b c d e f g h"), token_errors([], ["x"])]
    total = corpus_errors(clips)
    # (1 + 0 + 1) edits over 2 + 8 + 0 reference tokens; the mean of the per-clip rates would be 25%.
    assert (total.edits, total.ref_len, total.rate) == (2, 10, 0.2)
    assert corpus_errors([]).rate is None


def test_edit_counts_equal_levenshtein_distance():
    def levenshtein(a, b):
        row = list(range(len(b) + 1))
        for i, x in enumerate(a, 1):
            prev, row[0] = row[0], i
            for j, y in enumerate(b, 1):
                prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
        return row[-1]

    rng = np.random.default_rng(7)
    alphabet = ["a", "oʊ", "t͡ʃ", WB, "̪"]
    for _ in range(200):
        ref = [str(t) for t in rng.choice(alphabet, rng.integers(0, 9))]
        hyp = [str(t) for t in rng.choice(alphabet, rng.integers(0, 9))]
        c = token_errors(ref, hyp)
        assert c.edits == levenshtein(ref, hyp) and c.ref_len == len(ref) and c.hyp_len == len(hyp)


def test_phoneme_tokens_joins_words_with_single_boundaries():
    words = [["h", "ə"], [], [" "], ["l", " ", "oʊ"]]
    assert phoneme_tokens(words) == ("h", "ə", WB, "l", "oʊ")
    assert phoneme_tokens([]) == ()


def test_token_agreement():
    assert token_agreement(["a", "b", "c", "d"], ["a", "b", "c", "d"]) == 1.0
    assert token_agreement(["a", "b", "c", "d"], ["a", "x", "c", "d"]) == 0.75
    assert token_agreement(["a"], ["x", "y", "z"]) == 0.0  # floored at zero
    assert token_agreement([], []) == 1.0 and token_agreement([], ["a"]) == 0.0


def test_frame_agreement_from_ids_or_scores():
    assert frame_agreement(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4])) == 0.75
    scores = np.zeros((4, 5), np.float32)
    scores[np.arange(4), [1, 2, 3, 4]] = 1
    assert frame_agreement(scores, np.array([1, 2, 3, 0])) == 0.75
    assert frame_agreement(np.zeros(0, int), np.zeros(0, int)) == 1.0
    with pytest.raises(ValueError, match="frame counts differ"):
        frame_agreement(np.zeros(3, int), np.zeros(4, int))
    a = agreement(["a", "b"], ["a", "b"], np.array([1, 1]), np.array([1, 2]))
    assert (a.tokens, a.frames) == (1.0, 0.5)
    assert agreement(["a"], ["b"]).frames is None


# --- text normalisation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (42, "forty two"), (100, "one hundred"),
        (105, "one hundred five"), (999, "nine hundred ninety nine"), (1000, "one thousand"),
        (1200, "one thousand two hundred"), (2005, "two thousand five"), (1_000_001, "one million one"),
        (3_000_000_000, "three billion"),
    ],
)  # fmt: skip
def test_cardinal(n, words):
    assert cardinal(n) == words


def test_ordinal_and_year():
    assert [ordinal(n) for n in (1, 2, 3, 5, 12, 20, 21, 100)] == [
        "first", "second", "third", "fifth", "twelfth", "twentieth", "twenty first", "one hundredth",
    ]  # fmt: skip
    assert year(1963) == "nineteen sixty three"
    assert year(1900) == "nineteen hundred" and year(1905) == "nineteen oh five"
    with pytest.raises(ValueError):
        cardinal(-1)


def test_spell_numbers_in_text():
    assert spell_numbers("In 1963, he said") == "In nineteen sixty three, he said"
    assert spell_numbers("2024 and 2005 and 1000") == "twenty twenty four and two thousand five and one thousand"
    assert spell_numbers("1,200 men") == "one thousand two hundred men"  # commas group digits: not a year
    assert spell_numbers("3.25 and 007") == "three point two five and zero zero seven"
    assert spell_numbers("the 21st (4th) time") == "the twenty first (fourth) time"
    assert spell_numbers("A4 paper") == "A four paper"
    assert spell_numbers("no digits here") == "no digits here"


def test_spoken_words_and_normalized_text():
    assert spoken_words('"forty-two line Bible" etc.,') == ['"forty', "two", "line", 'Bible"', "et", "cetera,"]
    assert spoken_words("black letter, i.e. the letter") == ["black", "letter,", "i", "e", "the", "letter"]
    assert spoken_words("Mr. Smith paid 5") == ["mister", "Smith", "paid", "five"]
    assert normalize_text("Don't stop, Mr. Gutenberg (1455)!") == "dont stop mister gutenberg fourteen fifty five"
    assert normalize_text("the ne-plus-ultra; lower-case") == "the ne plus ultra lower case"


# --- manifests ---------------------------------------------------------------------------------------------------

HEADER = "path\treference\tsource\tlicense\n"


def test_manifest_parses_quoted_fields_and_blank_lines():
    text = HEADER + "a.wav\tHello there.\tsrc\tlic\n\n" + 'b/c.raw\t"the ""lower-case"" one,"\ts\tl\n'
    entries = parse_manifest(text)
    assert [e.path for e in entries] == ["a.wav", "b/c.raw"]
    assert entries[1].reference == 'the "lower-case" one,'
    assert entries[0].raw_format is None and entries[1].raw_format.sample_rate == 16000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty manifest"),
        ("file\ttext\n", r":1: header must be"),
        (HEADER + "a.wav\tonly two\n", r":2: expected 4 tab-separated fields, got 2"),
        (HEADER + "a.wav\tx\ts\tl\nb.wav\tx\ts\tl\textra\n", r":3: expected 4 .* got 5"),
        (HEADER + "\tx\ts\tl\n", ":2: empty path"),
        (HEADER + "a.wav\t \ts\tl\n", ":2: empty reference"),
        (HEADER + "a.wav\tx\ts\tl\na.wav\ty\ts\tl\n", ":3: a.wav already listed on line 2"),
        (HEADER + "/abs.wav\tx\ts\tl\n", "must be relative"),
        (HEADER + "../up.wav\tx\ts\tl\n", "must be relative"),
        (HEADER + 'a.wav\t"unterminated\ts\tl\n', "malformed row"),
    ],
)
def test_malformed_manifests_are_rejected_with_the_line(text, message):
    with pytest.raises(ManifestError, match=message):
        parse_manifest(text, "m.tsv")


def test_read_manifest_resolves_paths(tmp_path):
    (tmp_path / "m.tsv").write_text(HEADER + "sub/a.flac\tHi\ts\tl\n", encoding="utf-8")
    m = read_manifest(tmp_path / "m.tsv")
    assert len(m) == 1 and m.audio_path(m.entries[0]) == tmp_path / "sub" / "a.flac"
    with pytest.raises(ManifestError, match="cannot read"):
        read_manifest(tmp_path / "missing.tsv")


def test_shared_manifest_parses():
    path = SPEECH / "manifest.tsv"
    if not path.is_file():
        pytest.skip(f"shared data not found: {path} (set INTREF_DATA)")
    m = read_manifest(path)
    assert len(m) == 52
    assert all(e.reference and '""' not in e.reference for e in m)


# --- reports -----------------------------------------------------------------------------------------------------


def test_report_formats():
    t = Table(["clip", "ref", "PER"], title="demo", percent={"PER"})
    t.add("a.wav", 40, 0.175)
    t.add("b.wav", 0, None)
    text = render([t])
    lines = text.splitlines()
    assert lines[0] == "demo" and "PER %" in lines[1] and "17.5" in lines[3] and lines[4].endswith("-")
    assert len({len(line) for line in lines[1:4]}) == 1  # aligned columns
    md = render([t], "markdown").splitlines()
    assert md[2:] == ["| clip | ref | PER % |", "|---|---:|---:|", "| a.wav | 40 | 17.5 |", "| b.wav | 0 | - |"]
    t.add("c.wav", 1, float("nan"))
    data = json.loads(render([t], "json", {"clips": 3}))
    assert data["meta"] == {"clips": 3}
    assert data["tables"]["demo"][0] == {"clip": "a.wav", "ref": 40, "PER": 0.175}
    assert data["tables"]["demo"][2]["PER"] is None
    rows = list(csv.reader(io.StringIO(render([t], "csv").split("\n", 1)[1])))
    assert rows[0] == ["clip", "ref", "PER"] and rows[1] == ["a.wav", "40", "0.175"] and rows[2][2] == ""
    with pytest.raises(ValueError, match="unknown format"):
        render([t], "xml")
    with pytest.raises(ValueError, match="3 columns"):
        t.add("too", "few")


# --- references through hama's G2P ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def g2p_cache(tmp_path_factory):
    engine = pytest.importorskip("hama._engine", reason="hama's runtime is not importable")
    if not engine.available():
        pytest.skip("hama's native library is not available on this platform")
    return tmp_path_factory.mktemp("g2p-cache")


def test_reference_tokens_follow_the_recipe(g2p_cache):
    from intref.evaluate.references import G2PReferences

    refs = G2PReferences(cache=g2p_cache)
    got = refs.tokens("Ask not what your country can do for you,")
    want = "æ s k <wb> n ɑ t <wb> h w ɑ t <wb> j ʊ ɹ <wb> k ʌ n t ɹ i <wb> k æ n <wb> d ̪ o <wb> f ɔ ɹ <wb> j u"
    assert got == tuple(want.split())
    assert refs.tokens("don't") == refs.tokens("dont")  # punctuation is stripped before the model
    assert refs.tokens("-- ask ,") == refs.tokens("ask")  # punctuation-only words add no boundary
    # Digits are spelled out first: no tone marks from the model's non-English readings.
    year = refs.tokens("in 1963")
    assert year == refs.tokens("in nineteen sixty three") and year.count(WB) == 3
    assert not any(t in "¹²³⁴⁵" for t in year)
    refs.save()
    assert refs.cache_file.parent == g2p_cache and refs.cache_file.is_file()


def test_reference_cache_is_reused(g2p_cache):
    from intref.evaluate.references import G2PReferences

    first = G2PReferences(cache=g2p_cache)
    tokens = first.many(["five five", "ten of clubs"])
    again = G2PReferences(cache=g2p_cache)
    assert again.many(["five five", "ten of clubs"]) == tokens
    assert again._model is None  # answered from the cache file, the model was never loaded


# --- end to end: intref's float reference on a few shared clips ---------------------------------------------------

E2E_CLIPS = ("jfk.flac", "mlek_another_door.wav", "ljspeech/LJ001-0002.wav")  # 44.1, 16, 22.05 kHz


def load_bench():
    spec = importlib.util.spec_from_file_location("float_baseline", REPO / "bench" / "float_baseline.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def test_float_per_on_shared_clips_is_sane(g2p_cache):
    from intref.evaluate.references import G2PReferences
    from intref.frontend import load_waveform
    from intref.models.hama import AssetNotFoundError, load_acoustic_model

    manifest_path = SPEECH / "manifest.tsv"
    if not manifest_path.is_file():
        pytest.skip(f"shared data not found: {manifest_path} (set INTREF_DATA)")
    try:
        model = load_acoustic_model()
    except AssetNotFoundError as exc:
        pytest.skip(f"hama is not installed: {exc}")
    manifest = read_manifest(manifest_path)
    refs = G2PReferences(cache=g2p_cache)
    per_clip = []
    for entry in (e for e in manifest if e.path in E2E_CLIPS):
        wav = load_waveform(manifest.audio_path(entry), entry.raw_format, method="soxr")
        hyp = phoneme_tokens(model.transcribe(wav).words)
        per_clip.append(token_errors(refs.tokens(entry.reference), hyp))
    assert len(per_clip) == len(E2E_CLIPS)
    # Measured with the 1.7.0 model: 6.1%, 1.9%, 8.0%; 1.6.0: 22.4%, 1.9%, 8.0%.
    assert all(c.rate < 0.3 for c in per_clip), [c.rate for c in per_clip]
    assert corpus_errors(per_clip).rate < 0.2


def test_bench_script_runs_on_one_clip(g2p_cache, tmp_path, monkeypatch):
    manifest_path = SPEECH / "manifest.tsv"
    if not manifest_path.is_file():
        pytest.skip(f"shared data not found: {manifest_path} (set INTREF_DATA)")
    monkeypatch.setenv("XDG_CACHE_HOME", str(g2p_cache))
    bench = load_bench()
    out = tmp_path / "out.json"
    args = ["--manifest", str(manifest_path), "--clips", "cards_004", "--other-python", str(tmp_path / "none"),
            "--json", "-o", str(out)]  # fmt: skip
    assert bench.main(args) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    rows = data["tables"]["PER per clip"]
    assert [r["clip"] for r in rows] == ["pocketsphinx/cards_004.wav"] and rows[0]["ref"] == 7
    summary = {r["pipeline"]: r for r in next(v for k, v in data["tables"].items() if k.startswith("Corpus"))}
    assert summary["float-lin"]["frame agree"] == 1.0  # the float reference decodes as the runtime does
    assert all(r["PER all 1"] < 0.3 for r in summary.values())
