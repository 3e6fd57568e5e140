"""A transcription: the greedy CTC tokens of a clip with their times, grouped into words at ``<wb>``.

Times come from the frame grid: the acoustic models emit one frame per 320 samples at 16 kHz (log-mel hop 160,
then the stride-2 stem), i.e. 50 frames per second, 20 ms each; output frame k is centred on sample 320 k. A token
whose run of frames is [a, b] (repeats merged, blanks dropped, as greedy CTC decodes) spans
[a x 20 ms, (b + 1) x 20 ms), the end clipped to the clip's duration.

The tokens are phonemes (the models' vocabulary); the text, when a phoneme-to-text model ran, is held as the
``text_result`` (:class:`intref.asr.words.TextResult`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..frontend.chunking import FRAME_SAMPLES
from ..frontend.logmel import SAMPLE_RATE
from ..models.hama.vocab import BLANK_ID, WORD_BOUNDARY_ID

FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE  # 0.02


@dataclass(frozen=True)
class Token:
    """One emitted token: its id and symbol, and the first and last frame of its run."""

    id: int
    symbol: str
    first_frame: int
    last_frame: int
    end_limit: float | None = None  # the clip's duration, when known

    @property
    def start(self) -> float:
        return round(self.first_frame * FRAME_SECONDS, 6)

    @property
    def end(self) -> float:
        end = (self.last_frame + 1) * FRAME_SECONDS
        return round(end if self.end_limit is None else min(end, self.end_limit), 6)

    @property
    def is_word_boundary(self) -> bool:
        return self.id == WORD_BOUNDARY_ID

    @property
    def is_phoneme(self) -> bool:
        """Not a word boundary, and not the vocabulary's whitespace token (which carries no sound)."""
        return not self.is_word_boundary and bool(self.symbol.strip())

    def to_json(self) -> dict[str, Any]:
        return {"phoneme": self.symbol, "id": self.id, "start": self.start, "end": self.end}


def tokens_from_frames(
    frame_ids: Sequence[int] | np.ndarray,
    vocabulary: Sequence[str],
    *,
    duration: float | None = None,
    blank_id: int = BLANK_ID,
) -> tuple[Token, ...]:
    """Greedy CTC decoding with times: merge runs of the same id, drop blanks (the same tokens as
    :func:`intref.models.hama.decode.collapse`)."""
    ids = np.asarray(frame_ids).astype(np.int64, copy=False).ravel()
    if ids.size == 0:
        return ()
    # Runs of equal ids: a run starts where the id changes.
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], ids.size] - 1
    out = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        i = int(ids[a])
        if i == blank_id:
            continue
        symbol = vocabulary[i] if 0 <= i < len(vocabulary) else "<unk>"
        out.append(Token(i, symbol, a, b, duration))
    return tuple(out)


def group_words(tokens: Sequence[Token]) -> tuple[tuple[Token, ...], ...]:
    """Phoneme tokens grouped into words at ``<wb>``; empty words are dropped."""
    words: list[list[Token]] = [[]]
    for t in tokens:
        if t.is_word_boundary:
            words.append([])
        elif t.is_phoneme:
            words[-1].append(t)
    return tuple(tuple(w) for w in words if w)


@dataclass(frozen=True)
class Transcript:
    """The result for one clip (or waveform)."""

    source: str
    duration: float  # seconds of audio, as read
    frames: int  # output frames of the acoustic model (50 per second)
    tokens: tuple[Token, ...]  # every emitted token, <wb> included
    model: dict[str, Any] = field(default_factory=dict)  # name, id, sha256
    backend: dict[str, Any] = field(default_factory=dict)  # name (and isa for native)
    text_result: Any = None  # TextResult: words from the phoneme-to-text model, when it ran

    @property
    def words(self) -> tuple[tuple[Token, ...], ...]:
        return group_words(self.tokens)

    @property
    def phonemes(self) -> tuple[Token, ...]:
        return tuple(t for w in self.words for t in w)

    @property
    def phoneme_text(self) -> str:
        """Phonemes separated by spaces, words by ' | ' (empty when nothing was recognised)."""
        return " | ".join(" ".join(t.symbol for t in w) for w in self.words)

    @property
    def text(self) -> str | None:
        """The words as text (None when no phoneme-to-text model ran)."""
        return None if self.text_result is None else self.text_result.text

    def phoneme_words(self) -> list[list[str]]:
        return [[t.symbol for t in w] for w in self.words]

    def to_json(self) -> dict[str, Any]:
        """``text`` and ``words`` (with times) when the text model ran; the phonemes always."""
        out: dict[str, Any] = {
            "path": self.source,
            "duration": round(self.duration, 6),
            "frames": self.frames,
            "frame_seconds": FRAME_SECONDS,
        }
        if self.text_result is not None:
            out["text"] = self.text_result.text
            out["words"] = [w.to_json() for w in self.text_result.words]
        out["phoneme_text"] = self.phoneme_text
        out["phonemes"] = [t.to_json() for t in self.phonemes]
        out["phoneme_words"] = [
            {"phonemes": [t.symbol for t in w], "start": w[0].start, "end": w[-1].end} for w in self.words
        ]
        out["model"] = self.model
        if self.text_result is not None:
            out["text_model"] = self.text_result.model
        out["backend"] = self.backend
        return out


__all__ = ["FRAME_SECONDS", "Token", "Transcript", "group_words", "tokens_from_frames"]
