"""Audio to phonemes with an integer model: file -> mono 16 kHz -> log-mel -> integer graph -> greedy CTC.

``Recognizer.load()`` takes the default model (hama-1.7, mixed 4/8, built on first use), a built-in name or an
``.intref`` file, and a backend. The float log-mel front end uses the constants of the model's source hama file
(byte-identical in hama 1.6.0 and 1.7.0). Clips longer than 30 s run in overlapping windows
(:mod:`intref.frontend.chunking`), so nothing is cut off; a clip of at most 200 samples has no frames and gives an
empty transcript. With ``words=True`` the phoneme-to-text model (:mod:`intref.asr.words`) turns the phonemes
into text.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IntrefInputError
from ..frontend.audio import RawFormat, prepare_waveform, read_audio
from ..frontend.chunking import merge_window_outputs, plan_windows
from ..frontend.logmel import SAMPLE_RATE, LogMelFrontEnd
from ..graph import Model, load
from ..graph.interpreter import backend_name, resolve_backend
from ..models.default import ModelChoice, ModelUnavailableError, resolve_model
from ..models.fetch import VERSIONS, Asset, fetched_asset, find_model_asset, installed_asset
from ..models.hama.integer import INPUT, IntegerAcousticModel
from .transcript import Transcript, group_words, tokens_from_frames

Progress = Callable[[str], None]
FRONTEND_KIND = "hama-logmel"


def source_asset(model_id: str | None) -> Asset | None:
    """The float hama asset a model was made from (by its model id), or None."""
    return find_model_asset(model_id) if model_id in VERSIONS else None


def frontend_asset(model_id: str | None) -> Asset:
    """An asset to take the log-mel constants from: the model's own, else any known one (their STFT kernels and
    mel filters are identical)."""
    asset = source_asset(model_id) or installed_asset()
    if asset is None:
        asset = next((a for a in (fetched_asset(m) for m in VERSIONS) if a is not None), None)
    if asset is None:
        raise ModelUnavailableError(
            "the log-mel front end needs a hama asr_waveform.hama: install hama==1.7.0 or run "
            "`intref models fetch hama-1.7`"
        )
    return asset


def load_frontend(asset: Asset) -> LogMelFrontEnd:
    from ..models.hama.container import load_hama
    from ..models.hama.model import front_end_from_hama

    return front_end_from_hama(load_hama(asset.path))


def check_acoustic_model(model: Model, label: str) -> None:
    """The model must take hama's log-mel and give per-frame token ids and a vocabulary."""
    frontend = model.metadata.get("frontend") or {}
    names_in = [t.name for t in model.inputs]
    names_out = [t.name for t in model.outputs]
    vocab = model.metadata.get("vocabulary")
    if frontend.get("kind") != FRONTEND_KIND or names_in != [INPUT] or "frames" not in names_out or not vocab:
        raise IntrefInputError(
            f"{label}: not an acoustic model intref can transcribe with (needs the {FRONTEND_KIND} front end, "
            f"input '{INPUT}', output 'frames' and a vocabulary)"
        )


def describe_backend(backend) -> dict[str, Any]:
    name = backend_name(backend)
    out: dict[str, Any] = {"name": name}
    if name == "native":
        from ..backends import native

        out["isa"] = native.get_isa()
    return out


@dataclass
class Recognizer:
    """An integer acoustic model, its front end and the backend it runs on."""

    model: Model
    frontend: LogMelFrontEnd
    backend: Any  # a backend object
    label: str = "model"
    asset: Asset | None = None  # the float model the integer one was made from, when here
    text_model: Any = None  # a TextModel: words from the phonemes (None: phonemes only)

    def __post_init__(self) -> None:
        check_acoustic_model(self.model, self.label)
        self.backend = resolve_backend(self.backend)
        self.tokens: tuple[str, ...] = tuple(self.model.metadata["vocabulary"])
        self.runner = IntegerAcousticModel(self.model, self.frontend, self.tokens, backend=self.backend)

    @classmethod
    def load(
        cls,
        spec: str | None = None,
        *,
        backend: Any = None,
        progress: Progress | None = None,
        words: bool = False,
        text_model: str | None = None,
    ) -> Recognizer:
        """``spec``: None (the default model), ``hama-1.7``, ``hama-1.6`` or the path of an ``.intref`` file.
        ``backend``: ``numpy``, ``native``, ``numba``, ``auto`` or None (``INTREF_BACKEND``, default auto).
        ``words``: also load the phoneme-to-text model (``text_model``: None for the built-in one, or a file)."""
        choice: ModelChoice = resolve_model(spec, progress)
        model = load(choice.path)
        check_acoustic_model(model, choice.label)
        model_id = model.name
        asset = source_asset(model_id)
        frontend = load_frontend(asset or frontend_asset(model_id))
        text = None
        if words:
            from .words import TextModel

            text = TextModel.load(text_model, backend=backend, progress=progress)
        return cls(model, frontend, backend, choice.label, asset, text)

    @property
    def model_id(self) -> str:
        return self.model.name

    def describe(self) -> dict[str, Any]:
        return {"name": self.label, "id": self.model_id, "sha256": self.model.sha256}

    def backend_info(self) -> dict[str, Any]:
        return describe_backend(self.backend)

    # --- running ---

    def logmel(self, wav: np.ndarray) -> np.ndarray:
        """The graph input of one window: float32 [t, 80]."""
        return self.runner.logmel(wav)

    def frames_of_logmel(self, x: np.ndarray) -> np.ndarray:
        if x.shape[0] == 0:
            return np.zeros(0, dtype=np.int32)
        return self.model.run({INPUT: x}, backend=self.backend)["frames"]

    def frames(self, wav: np.ndarray) -> np.ndarray:
        """Per-frame token ids [T] of a 16 kHz waveform (overlapping windows beyond 30 s)."""
        return self.runner.frames(wav)

    def transcribe(self, wav: np.ndarray, *, source: str = "<waveform>", duration: float | None = None) -> Transcript:
        """Transcribe mono float32 16 kHz audio in [-1, 1]."""
        wav = np.asarray(wav, dtype=np.float32)
        duration = wav.shape[0] / SAMPLE_RATE if duration is None else duration
        frames = self.frames(wav)
        tokens = tokens_from_frames(frames, self.tokens, duration=duration)
        text = None
        if self.text_model is not None:
            text = self.text_model.words(group_words(tokens))
        return Transcript(
            source=source,
            duration=duration,
            frames=int(frames.shape[0]),
            tokens=tokens,
            model=self.describe(),
            backend=self.backend_info(),
            text_result=text,
        )

    def transcribe_file(self, path: str | os.PathLike, raw: RawFormat | None = None) -> Transcript:
        """Read a sound file (or headerless PCM with ``raw``), mix to mono, resample to 16 kHz, transcribe."""
        audio = read_audio(path, raw)
        wav = prepare_waveform(audio.samples, audio.sample_rate)
        return self.transcribe(wav, source=str(Path(path)), duration=audio.duration)


def windowed(wav: np.ndarray, fn: Callable[[np.ndarray], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """Like :func:`intref.frontend.chunking.chunked` for a function giving several frame outputs per window
    (e.g. the integer and the float decoding of one log-mel)."""
    windows = plan_windows(wav.shape[0])
    outs = [fn(wav[s:e]) for s, e in windows]
    if len(windows) == 1:
        return outs[0]
    return tuple(merge_window_outputs(windows, list(parts), wav.shape[0]) for parts in zip(*outs, strict=True))


__all__ = [
    "Recognizer",
    "check_acoustic_model",
    "describe_backend",
    "frontend_asset",
    "load_frontend",
    "source_asset",
    "windowed",
]
