"""Phonemes to words with the integer P2G model, and the time of each word.

Silence (no phoneme heard) gives no text: the decoder is not run (it would read its empty input as "yeah").
Long transcriptions are decoded in runs of whole words of at most SEGMENT_TOKENS source tokens (:func:`segments`):
the decoder itself keeps only its first 192 input tokens and writes at most 193 characters.

``TextModel.load()`` takes the built-in ``hama-p2g`` model (built on first use from the installed hama package's
``p2g.hama`` and a committed recipe, like the acoustic models) or an ``.intref`` file; its vocabulary comes
from the model file. ``TextModel.words(phoneme_words)`` feeds the recognised words to the decoder as the hama
package does (phonemes, ``|`` between words) and decodes greedily, one integer graph run per generated
character.

Times: a word takes the times of a recognised (phoneme) word. When the text has as many words as were recognised,
the usual case, the n-th word of the text is the n-th recognised word. Otherwise the decoder's alignment (for each
generated character, the source phoneme the last layer attends to most, p2g.md section 6) picks the recognised
word its characters point at most often, kept in order; a word none of whose characters aligns takes the
previous word's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import IntrefInputError
from ..graph import Model, load
from ..graph.interpreter import resolve_backend
from ..models.hama.p2g import P2GResult, predict
from ..models.hama.p2g_integer import ARCHITECTURE, IntegerP2G
from ..models.hama.p2g_text import P2GVocab, asr_words_to_phonemes
from .transcript import Token


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds: the recognised word's first phoneme's start
    end: float

    def to_json(self) -> dict[str, Any]:
        return {"word": self.text, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class TextResult:
    """The text of one transcription, its words with times, and the decoder's raw output."""

    text: str
    words: tuple[Word, ...]
    ids: tuple[int, ...]  # generated P2G token ids (specials included, as decoded)
    model: dict[str, Any]


# Source tokens per decode: the decoder keeps 192 and writes at most 193 characters, about 1.25 per source token
# on English (1.23 at most over the shared clips' inputs), so runs of at most 150 keep both limits clear.
SEGMENT_TOKENS = 150


def heard_nothing(words: Sequence[Sequence[str]]) -> bool:
    """No phoneme in the recognised words: silence or too short a clip, which gives no text."""
    return not asr_words_to_phonemes(words)


def check_text_model(model: Model, label: str) -> None:
    if model.metadata.get("architecture") != ARCHITECTURE or not model.metadata.get("vocabulary"):
        raise IntrefInputError(f"{label}: not a phoneme-to-text model (needs architecture {ARCHITECTURE})")


def _source_words(phoneme_words: Sequence[Sequence[Token]], length: int) -> list[int | None]:
    """The recognised word of each position of the decoder's source (None for the ``|`` between words)."""
    out: list[int | None] = []
    for i, word in enumerate(phoneme_words):
        if i:
            out.append(None)
        out.extend(i for t in word if t.symbol.strip())
    return out[:length]


def word_indices(aligned: Sequence[Sequence[int]], count: int) -> list[int]:
    """The recognised word of each text word from the recognised words its characters align to (see the module
    docstring): one to one when the counts agree; else the most frequent (the first on a tie), never going back."""
    if len(aligned) == count:
        return list(range(count))
    out, last = [], 0
    for words in aligned:
        if words:
            best = max(sorted(set(words)), key=words.count)
            last = max(last, best)
        out.append(last)
    return out


class TextModel:
    """An integer P2G model file on a backend."""

    def __init__(self, model: Model, backend=None, label: str = "model") -> None:
        check_text_model(model, label)
        self.model = model
        self.backend = resolve_backend(backend)
        self.label = label
        self.vocab = P2GVocab(tuple(model.metadata["vocabulary"]))

    @classmethod
    def load(cls, spec: str | None = None, *, backend=None, progress=None) -> TextModel:
        """``spec``: None or ``hama-p2g`` (the built-in model) or the path of an ``.intref`` file."""
        from ..models.default import TEXT_MODEL, ModelUnavailableError, ensure_model

        if spec in (None, TEXT_MODEL):
            return cls(load(ensure_model(TEXT_MODEL, progress)), backend, TEXT_MODEL)
        try:
            return cls(load(spec), backend, spec)
        except FileNotFoundError:
            raise ModelUnavailableError(f"{spec}: no such text model file (built-in: {TEXT_MODEL})") from None

    def describe(self) -> dict[str, Any]:
        return {"name": self.label, "id": self.model.name, "sha256": self.model.sha256}

    def decode(self, words: Sequence[Sequence[str]]) -> P2GResult:
        """The decoder's result (ids, alignment, text) for words given as phoneme symbols, in one decode (see
        :func:`segments` for long inputs); nothing when no phoneme was heard (the decoder itself reads an empty
        input as "yeah")."""
        return decode_words(lambda source: predict(IntegerP2G(self.model, self.backend), self.vocab, source), words)

    def decode_all(self, words: Sequence[Sequence[str]]) -> list[P2GResult]:
        """One decode per segment of the words."""
        return [self.decode(seg) for seg in segments(words)]

    def text(self, words: Sequence[Sequence[str]]) -> str:
        """The text of recognised words given as phoneme symbols (no times)."""
        return join_texts(r.text for r in self.decode_all(words))

    def words(self, phoneme_words: Sequence[Sequence[Token]]) -> TextResult:
        """Text and timed words of recognised words (each a sequence of phoneme tokens), segment by segment."""
        heard = [[t for t in w if t.symbol.strip()] for w in phoneme_words]
        heard = [w for w in heard if w]
        words: list[Word] = []
        texts: list[str] = []
        ids: list[int] = []
        start = 0
        for seg in segments([[t.symbol for t in w] for w in heard]):
            part = heard[start : start + len(seg)]
            start += len(seg)
            result = self.decode(seg)
            words += self._timed(result, part)
            texts.append(result.text)
            ids += result.ids
        return TextResult(join_texts(texts), tuple(words), tuple(ids), self.describe())

    def _timed(self, result: P2GResult, heard: list[list[Token]]) -> list[Word]:
        """The words of one decode, timed by the recognised words they come from (module docstring)."""
        symbols = [[t.symbol for t in w] for w in heard]
        at = _source_words(heard, len(self.vocab.source_tokens(asr_words_to_phonemes(symbols))))
        texts: list[str] = []
        aligned: list[list[int]] = []
        chars: list[int] = []
        hits: list[int] = []
        for token, position in [*zip(result.ids, result.alignment, strict=True), (None, -1)]:
            if token is None or not self.vocab.tokens[token].strip():  # a space, or the end: the word is complete
                text = self.vocab.render(chars)
                if text:
                    texts.append(text)
                    aligned.append(list(hits))
                chars.clear()
                hits.clear()
                continue
            chars.append(token)
            if 0 <= position < len(at) and at[position] is not None:
                hits.append(at[position])
        indices = word_indices(aligned, len(heard))
        return [Word(text, heard[i][0].start, heard[i][-1].end) for text, i in zip(texts, indices, strict=False)]


def segments(words: Sequence[Sequence[str]], budget: int = SEGMENT_TOKENS) -> list[list[Sequence[str]]]:
    """Recognised words in runs of whole words of at most ``budget`` source tokens (phonemes and the ``|`` between
    words), so that no decode truncates its input (192 tokens) or its output (193 characters); a longer single
    word is a run of its own. Empty words are dropped; no words give no runs."""
    out: list[list[Sequence[str]]] = []
    size = 0
    for w in words:
        n = len(asr_words_to_phonemes([w]))
        if not n:
            continue
        if out and size + 1 + n <= budget:
            out[-1].append(w)
            size += 1 + n
        else:
            out.append([w])
            size = n
    return out


def decode_words(decode, words: Sequence[Sequence[str]]) -> P2GResult:
    """``decode(source tokens)`` of the recognised words, or an empty result when no phoneme was heard."""
    if heard_nothing(words):
        return P2GResult((), (), "", ())
    return decode(asr_words_to_phonemes(words))


def join_texts(texts) -> str:
    return " ".join(t for t in texts if t)


__all__ = [
    "SEGMENT_TOKENS",
    "TextModel",
    "TextResult",
    "Word",
    "check_text_model",
    "decode_words",
    "heard_nothing",
    "join_texts",
    "segments",
    "word_indices",
]
