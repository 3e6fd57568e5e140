"""The quantisation recipe: every decision that needs data, so that a model is rebuilt without it.

A recipe holds the per-layer weight bits and clip ratios, the calibrated activation ranges and how they were
chosen, the graph's shape choices (residual-stream width, int16 pre-activations) and the arithmetic choices
(rescale scheme, LayerNorm fraction bits). Given the same
float weights, :func:`intref.quantize.lower.lower` turns a recipe into the same model bytes on every machine.

The JSON form (``save``/``load``) has sorted keys and 6-significant-digit ranges; ``format`` and ``version``
identify it. A model file carries its recipe in ``provenance.recipe``.
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IntrefError
from ..spec import SCHEMES

FORMAT = "intref-quant-recipe"
VERSION = 1
RESIDUAL_BITS = (8, 16)


class RecipeError(IntrefError, ValueError):
    """A recipe that cannot be used; the message names the problem."""


@dataclass
class Recipe:
    model: str  # which network, e.g. "hama-1.7"
    source_sha256: str  # the float weights it applies to
    weights: str  # "int8", "int4", "mixed" or "config"
    bits: dict[str, int]  # weight layer -> 4 or 8
    clip: dict[str, list[int]]  # weight layer -> clip ratio per output channel, percent
    weight_method: str  # minmax, mse or output
    ranges: dict[str, list[float]]  # tensor -> [lo, hi] (real values)
    range_method: str  # minmax, percentile or mse
    percentile: float | None
    calibration: dict[str, Any]  # kind (real/synthetic), inputs, frames, clips or seed
    scheme: str = "single"
    residual_bits: int = 16
    wide_activations: bool = True  # int16 pre-activations and activations computed as x * gate(x)
    equalize: dict[str, list[int]] = field(default_factory=dict)  # tensor -> log2 of its channel factors
    code_deltas: dict[str, str] = field(default_factory=dict)  # weight layer -> encode_delta(GPTQ - nearest)
    layernorm_frac_bits: int = 10
    probability_bits: int = 15  # attention probabilities: 8 (int8) or 15 (int16, split in two int8 halves for P V)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise RecipeError(f"unknown rescale scheme {self.scheme!r}")
        if self.probability_bits not in (8, 15):
            raise RecipeError(f"probability_bits must be 8 or 15, got {self.probability_bits}")
        if self.residual_bits not in RESIDUAL_BITS:
            raise RecipeError(f"residual_bits must be one of {RESIDUAL_BITS}, got {self.residual_bits}")
        bad = {k: v for k, v in self.bits.items() if v not in (4, 8)}
        if bad:
            raise RecipeError(f"weight bits must be 4 or 8: {bad}")
        if set(self.clip) != set(self.bits):
            raise RecipeError("the recipe's clip ratios and weight bits name different layers")
        for name, r in self.ranges.items():
            if not (isinstance(r, list) and len(r) == 2 and r[0] <= 0 <= r[1] and r[0] < r[1]):
                raise RecipeError(f"range of {name!r} must be [lo, hi] with lo <= 0 <= hi, lo < hi; got {r!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "model": self.model,
            "source_sha256": self.source_sha256,
            "weights": self.weights,
            "bits": dict(sorted(self.bits.items())),
            "clip": {k: list(v) for k, v in sorted(self.clip.items())},
            "weight_method": self.weight_method,
            "ranges": {k: [float(a) for a in v] for k, v in sorted(self.ranges.items())},
            "range_method": self.range_method,
            "percentile": self.percentile,
            "calibration": self.calibration,
            "scheme": self.scheme,
            "residual_bits": self.residual_bits,
            "wide_activations": self.wide_activations,
            "equalize": {k: list(v) for k, v in sorted(self.equalize.items())},
            "code_deltas": dict(sorted(self.code_deltas.items())),
            "layernorm_frac_bits": self.layernorm_frac_bits,
            "probability_bits": self.probability_bits,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: Any) -> Recipe:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise RecipeError(f"not an intref quantisation recipe (format must be {FORMAT!r})")
        if data.get("version") != VERSION:
            raise RecipeError(f"unknown recipe version {data.get('version')!r} (this intref reads {VERSION})")
        try:
            return cls(
                model=str(data["model"]),
                source_sha256=str(data["source_sha256"]),
                weights=str(data["weights"]),
                bits={str(k): int(v) for k, v in data["bits"].items()},
                clip={str(k): [int(c) for c in v] for k, v in data["clip"].items()},
                weight_method=str(data["weight_method"]),
                ranges={str(k): [float(a) for a in v] for k, v in data["ranges"].items()},
                range_method=str(data["range_method"]),
                percentile=None if data.get("percentile") is None else float(data["percentile"]),
                calibration=dict(data["calibration"]),
                scheme=str(data["scheme"]),
                residual_bits=int(data["residual_bits"]),
                wide_activations=bool(data["wide_activations"]),
                equalize={str(k): [int(c) for c in v] for k, v in data.get("equalize", {}).items()},
                code_deltas={str(k): str(v) for k, v in data.get("code_deltas", {}).items()},
                layernorm_frac_bits=int(data["layernorm_frac_bits"]),
                probability_bits=int(data["probability_bits"]),
                extra=dict(data.get("extra", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, RecipeError):
                raise
            raise RecipeError(f"malformed recipe: {type(exc).__name__}: {exc}") from None

    def delta(self, layer: str, shape: tuple[int, ...]) -> np.ndarray | None:
        """The stored code delta of ``layer`` (int8 of ``shape``), or None."""
        if layer not in self.code_deltas:
            return None
        return decode_delta(self.code_deltas[layer], shape, layer)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, indent=1, ensure_ascii=True, allow_nan=False) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(self.dumps(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Recipe:
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RecipeError(f"{p}: cannot read the recipe: {exc}") from None
        try:
            return cls.from_json(data)
        except RecipeError as exc:
            raise RecipeError(f"{p}: {exc}") from None


def encode_delta(delta: np.ndarray) -> str:
    """int8 code differences as text: base64 of the zlib-compressed bytes (C order)."""
    return base64.b64encode(zlib.compress(np.ascontiguousarray(delta, dtype=np.int8).tobytes(), 9)).decode("ascii")


def decode_delta(text: str, shape: tuple[int, ...], layer: str = "") -> np.ndarray:
    try:
        raw = zlib.decompress(base64.b64decode(text.encode("ascii"), validate=True))
    except (ValueError, zlib.error) as exc:
        raise RecipeError(f"code delta of {layer!r} is not valid base64/zlib data: {exc}") from None
    count = int(np.prod(shape))
    if len(raw) != count:
        raise RecipeError(f"code delta of {layer!r} holds {len(raw)} values, the weights have {count}")
    return np.frombuffer(raw, dtype=np.int8).reshape(shape).copy()


__all__ = ["FORMAT", "VERSION", "Recipe", "RecipeError", "decode_delta", "encode_delta"]
