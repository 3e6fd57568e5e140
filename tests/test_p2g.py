"""The P2G decoder's text handling, greedy decoding rules and float32 reference, against the hama runtime.

The runtime tests need hama's native library (skipped with the reason otherwise); the shared-clip tests also need
`../shared/data/speech` (override: INTREF_DATA). Every id, alignment entry and the text are compared.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from intref.errors import IntrefInputError
from intref.models.hama import AssetNotFoundError, HamaFormatError
from intref.models.hama.p2g import FloatP2G, greedy, load_p2g_weights, predict
from intref.models.hama.p2g_text import (
    MAX_INPUT_LEN,
    P2GVocab,
    asr_words_to_phonemes,
    compose_hangul,
    load_p2g_vocab,
    normalize,
)

REPO = Path(__file__).resolve().parents[1]
SPEECH = Path(os.environ.get("INTREF_DATA", REPO.parent / "shared" / "data")) / "speech"
CASES = [
    "h ə l oʊ | w ɝ l d",
    "",
    "| | |",
    "| æ s k | | n ɑ t | h w ɑ t | j ʊ ɹ | k ʌ n t ɹ i | k æ n | d ̪ o | f ɔ ɹ | j u |",
    "x <eos> y <pad> ʱ | <sos> a",  # specials and a token the vocabulary lacks
    "ð ə | k w ɪ k | b ɹ aʊ n | f ɑ k s",
    "ʃ iː | s ɛ l z | s iː | ʃ ɛ l z",
    "a " * 240,  # truncated to 192 source tokens
]


@pytest.fixture(scope="module")
def vocab() -> P2GVocab:
    try:
        return load_p2g_vocab()
    except AssetNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def decoder() -> FloatP2G:
    try:
        return FloatP2G(load_p2g_weights())
    except AssetNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def runtime():
    engine = pytest.importorskip("hama._engine", reason="hama's runtime is not importable")
    if not engine.available():
        pytest.skip("hama's native library is not available on this platform")
    from hama import P2GModel

    return P2GModel()


# --- text handling ---


def test_prefix_and_source_rules(vocab):
    assert vocab.prefix(vocab.source_tokens("")) == [2, 4, 1, 5]  # nothing left: <unk>
    assert vocab.source_tokens("| | |") == ["<unk>"]
    assert vocab.source_tokens("| a | | b |") == ["a", "|", "b"]
    assert vocab.source_tokens([" a ", "", "|", "b"]) == ["a", "|", "b"]
    assert len(vocab.source_tokens("a " * 240)) == MAX_INPUT_LEN
    ids = vocab.prefix(["a", "|", "no-such-token"])
    assert ids[:2] == [2, 4] and ids[-1] == 5 and ids[3] == vocab.word_boundary == 167 and ids[4] == 1
    assert vocab.max_new(73) == 193 and vocab.max_new(300) == 116


def test_asr_words_become_the_runtime_string():
    words = [["h", "ə"], [" "], ["l", "oʊ"], []]
    assert asr_words_to_phonemes(words) == "h ə |   | l oʊ | ".split()


def test_rendering_drops_specials_and_composes_hangul(vocab):
    ids = [vocab.id_of(c) for c in "ab  c"] + [3, 2, vocab.id_of("'")]
    assert vocab.render(ids) == "ab c'"
    assert normalize(" \uff21b \t C ") == "ab c"  # NFKC (fullwidth A), lowercase, one space
    # ᄒ + ᅡ + ᆫ (trailing) -> 한; ᄀ + ᅳ then a non-trailing jamo -> 그 followed by it
    assert compose_hangul(["\u1112", "\u1161", "\u11ab"]) == "한"
    assert compose_hangul(["\u1100", "\u1173", "\u1100"]) == "그\u1100"
    assert compose_hangul(["x", "\u1161"]) == "x\u1161"


def test_vocabulary_and_weight_files_are_checked(tmp_path):
    bad = tmp_path / "vocab.json"
    bad.write_text('{"tokens": 3}')
    with pytest.raises(IntrefInputError, match="'tokens' list of strings"):
        load_p2g_vocab(bad)
    bad.write_text('{"tokens": ["a", "b"]}')
    with pytest.raises(IntrefInputError, match="starts with <pad>"):
        load_p2g_vocab(bad)
    bad.write_text("{not json")
    with pytest.raises(IntrefInputError, match="not a readable P2G vocabulary"):
        load_p2g_vocab(bad)
    junk = tmp_path / "p2g.hama"
    junk.write_bytes(b"HAMAPK" + bytes(20))
    with pytest.raises(HamaFormatError):
        load_p2g_weights(junk)


# --- greedy decoding rules, with a scripted session ---


class Scripted:
    """Emits ``script`` one token per call (then ``tail`` forever); attention peaks at ``peak`` per step."""

    def __init__(self, script, tail=9, peak=3):
        self.script, self.tail, self.peak, self.fed = list(script), tail, peak, []
        self.width = 0

    def _next(self):
        return self.script.pop(0) if self.script else self.tail

    def start(self, prefix):
        self.width = len(prefix)
        return self._next()

    def feed(self, token):
        self.fed.append(token)
        self.width += 1
        return self._next()

    def attention(self):
        a = np.zeros(self.width)
        a[self.peak] = 1.0
        return a


def test_greedy_stops_at_eos_and_pad_without_emitting_them():
    for stop in (3, 0):
        s = Scripted([10, 11, stop])
        ids, align = greedy(s, [2, 4, 8, 9, 5], 193)
        assert ids == [10, 11] and s.fed == [10, 11]
        assert align == [1, 1]  # key 3 of the prefix is source phoneme 1


def test_greedy_max_new_and_positions():
    s = Scripted([])
    ids, align = greedy(s, [2, 4, 8, 5], 5)
    assert len(ids) == 5 and len(s.fed) == 4 and align[-1] == -1  # the last token is never fed back
    s = Scripted([])
    ids, _ = greedy(s, [2, 4] + [8] * 192 + [5], 400)  # P = 195: positions 195..415 are fed, then MAXPOS
    assert len(ids) == 222 and len(s.fed) == 221


def test_greedy_alignment_is_minus_one_for_short_prefixes():
    ids, align = greedy(Scripted([7, 8, 3], peak=0), [2, 4, 5], 10)
    assert ids == [7, 8] and align == [-1, -1]


# --- the float reference against the runtime ---


def _same_as_runtime(runtime, decoder, vocab, phonemes):
    ours = decoder.predict(phonemes, vocab)
    prefix = vocab.prefix(vocab.source_tokens(phonemes))
    ids, align = runtime.session.greedy_align(prefix, vocab.max_new(len(prefix)), 3, 0)
    assert list(ours.ids) == [int(i) for i in ids], phonemes
    assert list(ours.alignment) == [int(a) for a in align], phonemes
    assert ours.text == runtime.predict(phonemes).text, phonemes
    return ours


def test_float_reference_equals_the_runtime(runtime, decoder, vocab):
    texts = [_same_as_runtime(runtime, decoder, vocab, case).text for case in CASES]
    assert texts[0] == "hello world" and texts[1] == "yeah"
    assert texts[3] == "ask not what your country can do for you"


def test_float_reference_follows_the_cache_free_forward(decoder, vocab):
    """Decoding with the cache equals re-running the whole masked sequence (PrefixLM mask) at every step."""
    from intref.models.hama.p2g import P2GWeights  # noqa: F401  (the weights the decoder holds)

    w = decoder.w
    prefix = vocab.prefix(vocab.source_tokens(CASES[0]))
    ids, _ = greedy(decoder, prefix, 6)
    seq = prefix + ids[:-1]
    logits = masked_forward(w, seq, len(prefix))
    assert [int(np.argmax(row)) for row in logits[len(prefix) - 1 :]] == ids


def masked_forward(w, seq, p):
    """Every position's logits in float64 with the explicit PrefixLM mask, no cache."""
    from intref.models.hama.layers import layer_norm

    x = (w.embedding[seq] + w.positions[: len(seq)]).astype(np.float64)
    t, d = x.shape
    i, j = np.arange(t)[:, None], np.arange(t)[None, :]
    allowed = (j < p) | ((i >= p) & (j <= i))
    dh = d // w.heads
    for layer in w.layers:
        a = layer_norm(x, layer.norm1_w, layer.norm1_b)
        qkv = a @ layer.w_qkv.T.astype(np.float64) + layer.b_qkv
        ctx = np.zeros_like(x)
        for h in range(w.heads):
            cols = slice(h * dh, (h + 1) * dh)
            s = qkv[:, :d][:, cols] @ qkv[:, d : 2 * d][:, cols].T / np.sqrt(dh)
            s = np.where(allowed, s, -np.inf)
            e = np.exp(s - s.max(axis=1, keepdims=True))
            ctx[:, cols] = (e / e.sum(axis=1, keepdims=True)) @ qkv[:, 2 * d :][:, cols]
        x = x + ctx @ layer.w_out.T + layer.b_out
        f = layer_norm(x, layer.norm2_w, layer.norm2_b)
        u = f @ layer.w_fc1.T + layer.b_fc1
        from math import erf

        g = u * 0.5 * (1 + np.vectorize(erf)(u / np.sqrt(2)))
        x = x + g @ layer.w_fc2.T + layer.b_fc2
    return layer_norm(x, w.norm_w, w.norm_b) @ w.embedding.T.astype(np.float64)


def test_a_session_protocol_gives_the_same_result_as_the_decoder(decoder, vocab):
    a = predict(decoder, vocab, CASES[5])
    b = decoder.predict(CASES[5], vocab)
    assert a == b and a.tokens == tuple(vocab.tokens[i] for i in a.ids if i > 6)


# --- the shared clips: the runtime's own ASR output, and G2P of the transcripts ---


def clip_inputs(runtime_asr, limit=None):
    from intref.evaluate.manifest import read_manifest
    from intref.frontend import load_waveform

    manifest = read_manifest(SPEECH / "manifest.tsv")
    out = []
    for e in list(manifest)[:limit]:
        wav = load_waveform(manifest.audio_path(e), e.raw_format)
        out.append((e, runtime_asr.transcribe_waveform(wav, 16000).word_phoneme_text))
    return out


@pytest.mark.skipif(not (SPEECH / "manifest.tsv").is_file(), reason=f"no shared speech data at {SPEECH}")
def test_shared_clips_give_the_runtime_text(runtime, decoder, vocab, tmp_path_factory):
    from hama.asr import ASRModel

    from intref.evaluate.references import G2PReferences

    clips = clip_inputs(ASRModel())
    assert len(clips) == 52
    for _, phonemes in clips:  # the documented route: the ASR result's word_phoneme_text
        _same_as_runtime(runtime, decoder, vocab, phonemes)
    with G2PReferences(cache=tmp_path_factory.mktemp("g2p")) as refs:
        for e, _ in clips:  # the round trip: G2P of the transcript, words joined by |
            words = [tokens for _, tokens in refs.words(e.reference)]
            _same_as_runtime(runtime, decoder, vocab, asr_words_to_phonemes([w for w in words if w]))


def test_word_times_follow_the_recognised_words():
    from intref.asr.words import word_indices

    assert word_indices([[5], [], [0]], 3) == [0, 1, 2]  # as many words as recognised: one to one
    assert word_indices([[0, 0], [0, 1, 1], [], [3, 2, 3]], 5) == [0, 1, 1, 3]  # most aligned, empty keeps the last
    assert word_indices([[2], [1, 1]], 4) == [2, 2]  # never back in time
    assert word_indices([[1, 2]], 3) == [1]  # a tie goes to the first


def test_long_transcriptions_are_split_into_runs_of_whole_words():
    from intref.asr.words import SEGMENT_TOKENS, segments

    words = [["a", "b", "c"]] * 60  # 60 * 4 - 1 = 239 source tokens
    runs = segments(words)
    assert [len(r) for r in runs] == [37, 23]  # 37 words: 37 * 4 - 1 = 147 tokens <= 150
    assert all(len(asr_words_to_phonemes(r)) <= SEGMENT_TOKENS for r in runs)
    assert segments([[" "], [], ["a"]]) == [[["a"]]] and segments([]) == [] and segments([[" "]]) == []
    long = [["x"] * 200]
    assert segments([["a"], *long, ["b"]]) == [[["a"]], long, [["b"]]]  # a too long word is a run of its own
