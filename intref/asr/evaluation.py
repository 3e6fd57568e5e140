"""Scoring an integer model on clips with transcripts: its PER, the PER of intref's float reference of the same
hama model, and how closely the integer decoding follows the float one (see docs/ACCURACY.md for the measures);
with a phoneme-to-text model also the word and character error rates of the integer pipeline (integer acoustic
model, integer P2G) and of the float one (float acoustic model, float P2G) against the normalised transcript.

Both decodings of a clip share one log-mel per window, so they differ only by the network arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..evaluate import ErrorCounts, corpus_errors, frame_agreement, phoneme_tokens, token_agreement, token_errors
from ..evaluate.metrics import char_errors, word_errors
from ..evaluate.text import normalize_text
from ..models.hama.decode import collapse, greedy_frames, split_words
from .recognizer import Recognizer, windowed

# Recognised words (each a list of phoneme symbols) -> text.
TextOf = Callable[[Sequence[Sequence[str]]], str]


def phoneme_sequence(frame_ids: np.ndarray, vocabulary: Sequence[str]) -> tuple[str, ...]:
    """Greedy CTC tokens as scored: phonemes with ``<wb>`` between words (empty words and whitespace dropped)."""
    return phoneme_tokens(split_words(collapse(frame_ids), vocabulary))


def load_float_reference(recognizer: Recognizer):
    """intref's float32 model of the hama version the integer model was made from (None when that hama asset is
    not here)."""
    from ..models.hama.integer import load_float

    if recognizer.asset is None:
        return None
    return load_float(recognizer.model_id, recognizer.asset.path)


def integer_and_float_frames(recognizer: Recognizer, fmodel, wav: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame token ids of the integer model and of the float model ``fmodel``, on the same log-mel."""

    def both(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = recognizer.logmel(w)
        ints = recognizer.frames_of_logmel(x)
        if x.shape[0] == 0:
            return ints, np.zeros(0, dtype=np.int64)
        return ints, greedy_frames(fmodel.network.logits(np.ascontiguousarray(x.T)), fmodel.blank_offset)

    return windowed(np.asarray(wav, dtype=np.float32), both)


@dataclass(frozen=True)
class TextScore:
    """Word and character errors of one clip's text against its normalised transcript."""

    reference: str  # normalised
    integer: str  # normalised
    int_words: ErrorCounts
    int_chars: ErrorCounts
    float: str | None = None
    float_words: ErrorCounts | None = None
    float_chars: ErrorCounts | None = None


def score_text(reference: str, int_text: str, float_text: str | None) -> TextScore:
    ref, hyp = normalize_text(reference), normalize_text(int_text)
    if float_text is None:
        return TextScore(ref, hyp, word_errors(ref, hyp), char_errors(ref, hyp))
    flt = normalize_text(float_text)
    return TextScore(
        ref, hyp, word_errors(ref, hyp), char_errors(ref, hyp), flt, word_errors(ref, flt), char_errors(ref, flt)
    )


@dataclass(frozen=True)
class ClipScore:
    path: str
    reference: tuple[str, ...]
    integer: tuple[str, ...]
    int_errors: ErrorCounts
    # The float reference's decoding and the agreement with it; None when the float model is not here.
    float: tuple[str, ...] | None = None
    float_errors: ErrorCounts | None = None
    agreement: float | None = None  # token agreement of the integer decoding with the float one
    frame_agreement: float | None = None  # share of frames with the same token
    text: TextScore | None = None  # with a phoneme-to-text model and a transcript

    @property
    def same(self) -> bool | None:
        return None if self.float is None else self.integer == self.float


def score_clip(
    recognizer: Recognizer,
    fmodel,
    wav: np.ndarray,
    reference: Sequence[str],
    path: str,
    *,
    transcript: str | None = None,
    float_text: TextOf | None = None,
) -> ClipScore:
    """Score one clip; ``fmodel`` None leaves out the float columns. With ``transcript`` and the recognizer's text
    model, also the integer pipeline's text (and the float pipeline's, through ``float_text``)."""
    ref = tuple(reference)
    with_text = transcript is not None and recognizer.text_model is not None
    if fmodel is None:
        ints = recognizer.frames(wav)
        hyp_int = phoneme_sequence(ints, recognizer.tokens)
        text = score_text(transcript, _text(recognizer, ints), None) if with_text else None
        return ClipScore(path, ref, hyp_int, token_errors(ref, hyp_int), text=text)
    ints, floats = integer_and_float_frames(recognizer, fmodel, wav)
    hyp_int = phoneme_sequence(ints, recognizer.tokens)
    hyp_float = phoneme_sequence(floats, recognizer.tokens)
    text = None
    if with_text:
        flt = float_text(_words(floats, recognizer.tokens)) if float_text is not None else None
        text = score_text(transcript, _text(recognizer, ints), flt)
    return ClipScore(
        path=path,
        reference=ref,
        integer=hyp_int,
        int_errors=token_errors(ref, hyp_int),
        float=hyp_float,
        float_errors=token_errors(ref, hyp_float),
        agreement=token_agreement(hyp_float, hyp_int),
        frame_agreement=frame_agreement(floats, ints),
        text=text,
    )


def _words(frame_ids: np.ndarray, vocabulary: Sequence[str]) -> list[list[str]]:
    return [list(w) for w in split_words(collapse(frame_ids), vocabulary)]


def _text(recognizer: Recognizer, frame_ids: np.ndarray) -> str:
    """The integer text model's text of the words of per-frame ids."""
    return recognizer.text_model.text(_words(frame_ids, recognizer.tokens))


@dataclass(frozen=True)
class Summary:
    clips: int
    per_int: float | None
    int_errors: ErrorCounts
    # None when some clip has no float decoding.
    per_float: float | None
    float_errors: ErrorCounts | None
    agreement: float | None  # mean over clips
    frame_agreement: float | None
    same: int | None  # clips decoded exactly as the float model does
    # Word / character errors of the texts (None without a text model; the float ones without the float models).
    int_words: ErrorCounts | None = None
    int_chars: ErrorCounts | None = None
    float_words: ErrorCounts | None = None
    float_chars: ErrorCounts | None = None


def summarize(scores: Sequence[ClipScore]) -> Summary:
    """Corpus PER (edits over reference tokens, summed over clips) and mean agreement."""
    ints = corpus_errors(s.int_errors for s in scores)
    with_float = bool(scores) and all(s.float is not None for s in scores)
    floats = corpus_errors(s.float_errors for s in scores) if with_float else None
    texts = [s.text for s in scores]
    with_text = bool(texts) and all(t is not None for t in texts)
    float_texts = with_text and all(t.float is not None for t in texts)

    def total(field: str, wanted: bool) -> ErrorCounts | None:
        return corpus_errors(getattr(t, field) for t in texts) if wanted else None

    return Summary(
        clips=len(scores),
        per_int=ints.rate,
        int_errors=ints,
        per_float=floats.rate if floats is not None else None,
        float_errors=floats,
        agreement=float(np.mean([s.agreement for s in scores])) if with_float else None,
        frame_agreement=float(np.mean([s.frame_agreement for s in scores])) if with_float else None,
        same=sum(bool(s.same) for s in scores) if with_float else None,
        int_words=total("int_words", with_text),
        int_chars=total("int_chars", with_text),
        float_words=total("float_words", float_texts),
        float_chars=total("float_chars", float_texts),
    )


__all__ = [
    "ClipScore",
    "Summary",
    "TextOf",
    "TextScore",
    "integer_and_float_frames",
    "load_float_reference",
    "phoneme_sequence",
    "score_clip",
    "score_text",
    "summarize",
]
