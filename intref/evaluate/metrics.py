"""Token error rates and agreement between decodings.

Phoneme error rate (PER): Levenshtein alignment of the hypothesis phoneme tokens against the reference tokens, with
word boundaries `<wb>` counted as tokens, so a missed or extra boundary costs one edit. The alignment is jiwer's, run
on the tokens joined by single spaces (so a token must not contain whitespace). Per clip the rate is
edits / reference tokens; over a corpus it is the sum of edits over the sum of reference tokens (longer clips weigh
more). A clip with an empty reference has no rate (None); its insertions still count in the corpus sum.

Word and character error rates (WER, CER) are the same counts over the words, or the characters (spaces
included, as jiwer counts them), of normalised texts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import jiwer
import numpy as np

WORD_BOUNDARY = "<wb>"


@dataclass(frozen=True)
class ErrorCounts:
    """Edit counts of one alignment, or of a corpus (counts add up)."""

    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    hits: int = 0

    @property
    def ref_len(self) -> int:
        return self.hits + self.substitutions + self.deletions

    @property
    def hyp_len(self) -> int:
        return self.hits + self.substitutions + self.insertions

    @property
    def edits(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float | None:
        """edits / reference tokens; None when the reference is empty."""
        return self.edits / self.ref_len if self.ref_len else None

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        return ErrorCounts(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.hits + other.hits,
        )


def phoneme_tokens(words: Iterable[Sequence[str]]) -> tuple[str, ...]:
    """Words of phonemes -> one token sequence with WORD_BOUNDARY between words; empty words and whitespace
    tokens (the vocabulary's ' ') are dropped, so no boundary is doubled or leading or trailing."""
    out: list[str] = []
    for word in words:
        phones = [p for p in word if p.strip()]
        if not phones:
            continue
        if out:
            out.append(WORD_BOUNDARY)
        out.extend(phones)
    return tuple(out)


def _check(tokens: Sequence[str], what: str) -> list[str]:
    toks = [str(t) for t in tokens]
    for t in toks:
        if not t or t != t.strip() or len(t.split()) != 1:
            raise ValueError(f"{what} token {t!r} is empty or contains whitespace")
    return toks


def token_errors(reference: Sequence[str], hypothesis: Sequence[str]) -> ErrorCounts:
    """Minimum-edit alignment counts of `hypothesis` against `reference` (token sequences)."""
    ref, hyp = _check(reference, "reference"), _check(hypothesis, "hypothesis")
    if not ref or not hyp:  # jiwer versions differ on empty input; the answer is plain here
        return ErrorCounts(deletions=len(ref), insertions=len(hyp))
    out = jiwer.process_words(" ".join(ref), " ".join(hyp))
    counts = ErrorCounts(out.substitutions, out.deletions, out.insertions, out.hits)
    assert counts.ref_len == len(ref) and counts.hyp_len == len(hyp), (counts, len(ref), len(hyp))
    return counts


def word_errors(reference: str, hypothesis: str) -> ErrorCounts:
    """Word edits of two texts already normalised (e.g. by :func:`intref.evaluate.text.normalize_text`)."""
    return token_errors(reference.split(), hypothesis.split())


def char_errors(reference: str, hypothesis: str) -> ErrorCounts:
    """Character edits (spaces count, as in jiwer's CER) of two normalised texts."""
    ref, hyp = " ".join(reference.split()), " ".join(hypothesis.split())
    if not ref or not hyp:
        return ErrorCounts(deletions=len(ref), insertions=len(hyp))
    out = jiwer.process_characters(ref, hyp)
    return ErrorCounts(out.substitutions, out.deletions, out.insertions, out.hits)


def corpus_errors(per_clip: Iterable[ErrorCounts]) -> ErrorCounts:
    """Counts summed over clips; its `rate` is the corpus-level error rate."""
    total = ErrorCounts()
    for c in per_clip:
        total = total + c
    return total


def token_agreement(baseline: Sequence[str], other: Sequence[str]) -> float:
    """1 - token edit rate of `other` against `baseline` (e.g. the float decoding of the same clip), floored at 0;
    1.0 when both are empty."""
    counts = token_errors(baseline, other)
    if counts.ref_len == 0:
        return 1.0 if counts.hyp_len == 0 else 0.0
    return max(0.0, 1.0 - counts.edits / counts.ref_len)


def frame_agreement(baseline: np.ndarray, other: np.ndarray) -> float:
    """Share of frames where two decodings choose the same token. Takes per-frame ids [T] or scores [T, V]
    (argmax taken); the frame counts must match. 1.0 for zero frames."""
    a, b = (np.asarray(x) for x in (baseline, other))
    a, b = (x.argmax(axis=-1) if x.ndim == 2 else x for x in (a, b))
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"expected frame ids [T] or scores [T, V], got shapes {baseline.shape} and {other.shape}")
    if a.shape != b.shape:
        raise ValueError(f"frame counts differ: {a.shape[0]} vs {b.shape[0]}")
    return float((a == b).mean()) if a.size else 1.0


@dataclass(frozen=True)
class Agreement:
    tokens: float  # token_agreement
    frames: float | None  # frame_agreement, when frame outputs were given


def agreement(
    baseline: Sequence[str],
    other: Sequence[str],
    baseline_frames: np.ndarray | None = None,
    other_frames: np.ndarray | None = None,
) -> Agreement:
    """Token agreement of two decodings of one clip, and frame agreement when both frame outputs are given."""
    frames = None
    if baseline_frames is not None and other_frames is not None:
        frames = frame_agreement(baseline_frames, other_frames)
    return Agreement(token_agreement(baseline, other), frames)


__all__ = [
    "WORD_BOUNDARY",
    "Agreement",
    "ErrorCounts",
    "char_errors",
    "word_errors",
    "agreement",
    "corpus_errors",
    "frame_agreement",
    "phoneme_tokens",
    "token_agreement",
    "token_errors",
]
