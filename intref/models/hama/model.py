"""A hama acoustic model in float32: container + front end + network + tokens + decoding rule.

The architecture is recognised from the tensor names: the Conformer of hama 1.7.0 or the separable-conv model
of hama 1.6.0. Weights come from the installed `hama` distribution or from an explicit `.hama` path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...frontend.chunking import chunked
from ...frontend.logmel import LogMelFrontEnd
from .assets import VOCAB_ASSET, AssetNotFoundError, find_asset
from .conformer import ConformerCTC, is_conformer
from .container import HamaFile, HamaFormatError, load_hama
from .decode import BLANK_OFFSET_V160, BLANK_OFFSET_V170, CTCResult, decode_greedy
from .layers import log_softmax
from .sepconv import SepConvCTC, is_sepconv
from .vocab import load_tokens


def front_end_from_hama(f: HamaFile) -> LogMelFrontEnd:
    return LogMelFrontEnd(
        stft_real=f.float32("stft_real_kernel", (201, 1, 400))[:, 0, :],
        stft_imag=f.float32("stft_imag_kernel", (201, 1, 400))[:, 0, :],
        mel_fb=f.float32("mel_fb", (201, 80)),
    )


@dataclass(frozen=True)
class HamaAcousticModel:
    """`logits(wav)`: mono float32 16 kHz waveform -> [T, 191]; clips over 30 s go through overlapping windows."""

    file: HamaFile
    arch: str  # "conformer" (hama 1.7.0) or "sepconv" (hama 1.6.0)
    frontend: LogMelFrontEnd
    network: ConformerCTC | SepConvCTC
    blank_offset: float
    tokens: tuple[str, ...] = field(repr=False)

    @property
    def sha256(self) -> str:
        return self.file.sha256

    def logmel(self, wav: np.ndarray, *, exact_order: bool = True) -> np.ndarray:
        return self.frontend(wav, exact_order=exact_order)

    def logits_window(self, wav: np.ndarray, *, exact_order: bool = True) -> np.ndarray:
        """One pass, as the runtime does it: audio past 30 s is ignored."""
        return self.network.logits(self.logmel(wav, exact_order=exact_order))

    def logits(self, wav: np.ndarray, *, exact_order: bool = True) -> np.ndarray:
        return chunked(np.asarray(wav, dtype=np.float32), lambda w: self.logits_window(w, exact_order=exact_order))

    def log_probs(self, wav: np.ndarray, *, exact_order: bool = True) -> np.ndarray:
        return log_softmax(self.logits(wav, exact_order=exact_order))

    def decode(self, scores: np.ndarray) -> CTCResult:
        return decode_greedy(scores, self.tokens, self.blank_offset)

    def transcribe(self, wav: np.ndarray) -> CTCResult:
        """Greedy phoneme transcription; a clip of <= 200 samples has no frames and gives an empty result."""
        return self.decode(self.logits(wav))


def load_acoustic_model(path: str | os.PathLike | None = None) -> HamaAcousticModel:
    """Load `asr_waveform.hama` from the installed hama distribution, or the given file.

    The vocabulary is read from `g2p_vocab.json` beside the file, else from the installed distribution.
    """
    model_path = Path(path) if path is not None else find_asset()
    f = load_hama(model_path)
    if is_conformer(f):
        arch, network, offset = "conformer", ConformerCTC.from_hama(f), BLANK_OFFSET_V170
    elif is_sepconv(f):
        arch, network, offset = "sepconv", SepConvCTC.from_hama(f), BLANK_OFFSET_V160
    else:
        raise HamaFormatError(f"{f.source}: not a known hama acoustic model (no Conformer or separable-conv tensors)")
    vocab = model_path.with_name(VOCAB_ASSET)
    try:
        tokens = load_tokens(vocab if vocab.is_file() else None)
    except AssetNotFoundError as exc:
        raise AssetNotFoundError(f"no vocabulary beside {model_path} and none installed: {exc}") from None
    return HamaAcousticModel(f, arch, front_end_from_hama(f), network, offset, tokens)


__all__ = ["HamaAcousticModel", "front_end_from_hama", "load_acoustic_model"]
