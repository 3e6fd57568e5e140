"""Greedy CTC decoding of hama acoustic-model output, as the hama package decodes it.

The package divides the log-probs by a temperature, adds a blank bias of -0.1 and takes the per-frame argmax.
Log-softmax and the positive temperature shift or scale each row uniformly, so the same choice is
`argmax(logits + blank_offset * e_blank)` with blank_offset = blank_bias * temperature, on raw logits or log-probs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .vocab import BLANK_ID, UNK, WORD_BOUNDARY_ID

BLANK_BIAS = -0.1
# Decoding temperature of the wheel that ships each model.
TEMPERATURE_V170 = 0.95
TEMPERATURE_V160 = 1.0
BLANK_OFFSET_V170 = BLANK_BIAS * TEMPERATURE_V170
BLANK_OFFSET_V160 = BLANK_BIAS * TEMPERATURE_V160


@dataclass(frozen=True)
class CTCResult:
    frame_ids: tuple[int, ...]  # per-frame argmax
    token_ids: tuple[int, ...]  # collapsed, blanks dropped, word boundaries kept
    words: tuple[tuple[str, ...], ...]  # phonemes per word

    @property
    def phonemes(self) -> tuple[str, ...]:
        return tuple(p for w in self.words for p in w)

    @property
    def text(self) -> str:
        """Words separated by ' | ', phonemes by spaces (hama's word_phoneme_text)."""
        return " | ".join(" ".join(w) for w in self.words)


def greedy_frames(scores: np.ndarray, blank_offset: float, blank_id: int = BLANK_ID) -> np.ndarray:
    """Per-frame argmax of logits or log-probs [T, V] after adding `blank_offset` to the blank column."""
    s = np.array(scores, dtype=np.float32, copy=True)
    if s.ndim != 2:
        raise ValueError(f"scores must be [T, V], got shape {s.shape}")
    s[:, blank_id] += np.float32(blank_offset)
    return s.argmax(axis=1) if s.shape[0] else np.zeros(0, dtype=np.int64)


def collapse(frame_ids: Sequence[int], blank_id: int = BLANK_ID) -> list[int]:
    """Merge runs of the same id, then drop blanks (a blank between two equal ids keeps both)."""
    out: list[int] = []
    prev = None
    for i in map(int, frame_ids):
        if i != prev and i != blank_id:
            out.append(i)
        prev = i
    return out


def split_words(token_ids: Sequence[int], tokens: Sequence[str], wb_id: int = WORD_BOUNDARY_ID) -> list[list[str]]:
    """Phoneme strings grouped by word boundaries; empty words are dropped."""
    words: list[list[str]] = [[]]
    for i in token_ids:
        if i == wb_id:
            words.append([])
        else:
            words[-1].append(tokens[i] if 0 <= i < len(tokens) else UNK)
    return [w for w in words if w]


def decode_greedy(scores: np.ndarray, tokens: Sequence[str], blank_offset: float) -> CTCResult:
    frames = greedy_frames(scores, blank_offset)
    ids = collapse(frames)
    return CTCResult(
        frame_ids=tuple(int(i) for i in frames),
        token_ids=tuple(ids),
        words=tuple(tuple(w) for w in split_words(ids, tokens)),
    )


__all__ = [
    "BLANK_OFFSET_V160",
    "BLANK_OFFSET_V170",
    "CTCResult",
    "collapse",
    "decode_greedy",
    "greedy_frames",
    "split_words",
]
