"""Scoring an integer model on clips with transcripts: its PER, the PER of intref's float reference of the same
hama model, and how closely the integer decoding follows the float one (see docs/ACCURACY.md for the measures).

Both decodings of a clip share one log-mel per window, so they differ only by the network arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..evaluate import ErrorCounts, corpus_errors, frame_agreement, phoneme_tokens, token_agreement, token_errors
from ..models.hama.decode import collapse, greedy_frames, split_words
from .recognizer import Recognizer, windowed


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

    @property
    def same(self) -> bool | None:
        return None if self.float is None else self.integer == self.float


def score_clip(recognizer: Recognizer, fmodel, wav: np.ndarray, reference: Sequence[str], path: str) -> ClipScore:
    """Score one clip; ``fmodel`` None leaves out the float columns."""
    ref = tuple(reference)
    if fmodel is None:
        hyp_int = phoneme_sequence(recognizer.frames(wav), recognizer.tokens)
        return ClipScore(path, ref, hyp_int, token_errors(ref, hyp_int))
    ints, floats = integer_and_float_frames(recognizer, fmodel, wav)
    hyp_int = phoneme_sequence(ints, recognizer.tokens)
    hyp_float = phoneme_sequence(floats, recognizer.tokens)
    return ClipScore(
        path=path,
        reference=ref,
        integer=hyp_int,
        int_errors=token_errors(ref, hyp_int),
        float=hyp_float,
        float_errors=token_errors(ref, hyp_float),
        agreement=token_agreement(hyp_float, hyp_int),
        frame_agreement=frame_agreement(floats, ints),
    )


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


def summarize(scores: Sequence[ClipScore]) -> Summary:
    """Corpus PER (edits over reference tokens, summed over clips) and mean agreement."""
    ints = corpus_errors(s.int_errors for s in scores)
    with_float = bool(scores) and all(s.float is not None for s in scores)
    floats = corpus_errors(s.float_errors for s in scores) if with_float else None
    return Summary(
        clips=len(scores),
        per_int=ints.rate,
        int_errors=ints,
        per_float=floats.rate if floats is not None else None,
        float_errors=floats,
        agreement=float(np.mean([s.agreement for s in scores])) if with_float else None,
        frame_agreement=float(np.mean([s.frame_agreement for s in scores])) if with_float else None,
        same=sum(bool(s.same) for s in scores) if with_float else None,
    )


__all__ = [
    "ClipScore",
    "Summary",
    "integer_and_float_frames",
    "load_float_reference",
    "phoneme_sequence",
    "score_clip",
    "summarize",
]
