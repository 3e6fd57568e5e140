"""Keyword spotting integer-only, as TensorFlow Lite Micro's micro_speech example does it: int16 audio to int8
features (:mod:`intref.frontend.micro_features`), then an imported int8 classifier on each second of features.

A clip is one stream of features (the noise estimate carries over the whole clip). The classifier sees windows of
49 frames (one second) every ``stride`` frames; a clip shorter than a second gives one window padded with zero
features, as the example's ``evaluate.py`` pads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import IntrefInputError
from ..frontend.micro_features import STRIDE, MicroFeatureParams, load_micro_params, micro_features
from ..graph import Model, load
from ..models.tflite import import_tflite
from ..models.tflite.boundary import dequantize

# The micro_speech classifier's categories (micro_model_settings.h); the model file does not carry them.
MICRO_SPEECH_LABELS = ("silence", "unknown", "yes", "no")
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class KeywordWindow:
    start: float  # seconds
    end: float
    label: str
    scores: tuple[int, ...]  # the classifier's int8 outputs
    probabilities: tuple[float, ...]  # dequantised


class KeywordSpotter:
    def __init__(self, classifier: Model, params: MicroFeatureParams, labels=MICRO_SPEECH_LABELS, backend=None):
        if len(classifier.inputs) != 1 or len(classifier.outputs) != 1:
            raise IntrefInputError("a keyword classifier has one input and one output")
        shape = classifier.inputs[0].shape
        size = int(np.prod(shape))
        if size % params.num_channels:
            raise IntrefInputError(f"the classifier input {list(shape)} is not a whole number of feature frames")
        self.window_frames = size // params.num_channels
        classes = int(np.prod(classifier.outputs[0].shape))
        if len(labels) != classes:
            raise IntrefInputError(f"{len(labels)} labels for a classifier with {classes} outputs")
        self.classifier, self.params, self.labels, self.backend = classifier, params, tuple(labels), backend

    @classmethod
    def from_files(cls, model: str | os.PathLike, preprocessor: str | os.PathLike, **kwargs) -> KeywordSpotter:
        """``model``: a .tflite classifier (imported) or an .intref file; ``preprocessor``: the
        audio_preprocessor_int8.tflite whose constants the front end uses."""
        path = Path(model)
        classifier = import_tflite(path) if path.suffix == ".tflite" else load(path)
        return cls(classifier, load_micro_params(preprocessor), **kwargs)

    def features(self, audio: np.ndarray) -> np.ndarray:
        return micro_features(audio, self.params)

    def classify_features(self, features: np.ndarray, stride: int = 25) -> list[KeywordWindow]:
        """Classify windows of ``window_frames`` feature frames every ``stride`` frames."""
        n = self.window_frames
        if features.shape[0] < n:
            padded = np.zeros((n, features.shape[1]), dtype=np.int8)
            padded[: features.shape[0]] = features
            features = padded
        spec = self.classifier.outputs[0]
        out = []
        for start in range(0, features.shape[0] - n + 1, stride):
            x = features[start : start + n].reshape(self.classifier.inputs[0].shape)
            y = self.classifier.run({self.classifier.inputs[0].name: x}, backend=self.backend)[spec.name].ravel()
            probs = dequantize(y, spec.scale, spec.zero_point) if spec.scale is not None else y.astype(np.float32)
            t0 = start * STRIDE / SAMPLE_RATE
            t1 = t0 + ((n - 1) * STRIDE + 480) / SAMPLE_RATE
            label = self.labels[int(np.argmax(y))]  # ties: the first, as the example's np.argmax
            out.append(KeywordWindow(t0, t1, label, tuple(int(v) for v in y), tuple(float(v) for v in probs)))
        return out

    def classify(self, audio: np.ndarray, stride: int = 25) -> list[KeywordWindow]:
        return self.classify_features(self.features(audio), stride)


def read_keyword_audio(path: str | os.PathLike) -> np.ndarray:
    """A 16 kHz mono clip as int16 (the keyword front end takes it as it is: no resampling, no mixdown)."""
    import soundfile as sf

    try:
        audio, rate = sf.read(str(path), dtype="int16", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise IntrefInputError(f"{path}: cannot read audio: {exc}") from None
    if rate != SAMPLE_RATE:
        raise IntrefInputError(f"{path}: the keyword front end takes 16 kHz audio, this is {rate} Hz")
    if audio.shape[1] != 1:
        raise IntrefInputError(f"{path}: the keyword front end takes mono audio, this has {audio.shape[1]} channels")
    return np.ascontiguousarray(audio[:, 0])
