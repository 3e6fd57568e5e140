"""Golden vectors of a greedy decode: one vectors directory per decode step of a step model (the P2G decoder).

``export_decode(model, prefix, out)`` decodes ``prefix`` greedily with the integer step model and exports every
step's run as its own vectors directory ``step000`` (the prefix), ``step001``, ... (one generated token each);
``decode.json`` beside them lists the prefix, the generated tokens, the text and the steps, and ``model.intref``
is written once for all of them. Each step directory is an ordinary vectors directory whose inputs are the step's
``ids``, ``positions`` and key/value caches, so ``verify`` compares a device's dump of any step, and ``check``
re-runs each step on every backend (the model is found in ``decode.json`` one level up).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import VectorsError
from ..graph import Model
from ..graph.interpreter import backend_name, resolve_backend
from .common import MANIFEST, json_bytes
from .export import MODEL_FILE, export

DECODE = "decode.json"
FORMAT = "intref-decode-vectors"


def step_dir(i: int) -> str:
    return f"step{i:03d}"


def export_decode(
    model: Model,
    prefix: Sequence[int],
    out_dir: str | Path,
    *,
    max_new: int = 193,
    formats: Sequence[str] = ("npy",),
    backend=None,
    force: bool = False,
    show_progress: bool | None = None,
) -> dict[str, Any]:
    """Decode ``prefix`` with ``model`` and write every step's golden vectors under ``out_dir``."""
    from ..models.hama.p2g import greedy
    from ..models.hama.p2g_integer import IntegerP2G
    from ..models.hama.p2g_text import P2GVocab

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise VectorsError(f"{out} is not empty (use --force to replace earlier vectors there)")
        if not (out / DECODE).exists():
            raise VectorsError(f"{out} holds files that are not decode vectors; refusing to replace them")
    be = resolve_backend(backend)
    session = IntegerP2G(model, be)
    session.steps = []
    ids, alignment = greedy(session, list(prefix), max_new)
    vocab = P2GVocab(tuple(model.metadata["vocabulary"]))
    for i, inputs in enumerate(session.steps):
        export(
            model,
            inputs,
            out / step_dir(i),
            formats=formats,
            backend=be,
            copy_model=False,
            force=force,
            show_progress=show_progress,
        )
    (out / MODEL_FILE).write_bytes(model.to_bytes() if model.source is None else Path(model.source).read_bytes())
    doc = {
        "format": FORMAT,
        "model": {"file": MODEL_FILE, "sha256": model.sha256, "name": model.name},
        "prefix": [int(t) for t in prefix],
        "max_new": int(max_new),
        "generated": [int(t) for t in ids],
        "alignment": [int(a) for a in alignment],
        "text": vocab.render(ids),
        "steps": [step_dir(i) for i in range(len(session.steps))],
        "backend": backend_name(be),
    }
    (out / DECODE).write_bytes(json_bytes(doc))
    return doc


def decode_model_file(step: Path) -> Path | None:
    """The model of a decode step directory: ``decode.json`` one level up names it."""
    parent = step.parent
    if not (step / MANIFEST).is_file() or not (parent / DECODE).is_file():
        return None
    from .common import read_json
    from .manifest import inside

    doc = read_json(parent / DECODE, "decode description")
    name = doc.get("model", {}).get("file") if isinstance(doc, dict) else None
    return inside(parent, name) if isinstance(name, str) else None


__all__ = ["DECODE", "decode_model_file", "export_decode", "step_dir"]
