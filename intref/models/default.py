"""The built-in integer models: built on first use from a hama asset and a committed recipe, then cached.

``intref/recipes/<name>.json`` holds every data-dependent decision of a quantisation run (bit configuration,
calibrated activation ranges, clip ratios, GPTQ codes), made once by ``intref quantize ... --save-recipe`` on
the shared speech clips; ``<name>.sha256`` beside it is the sha256 of the model file that recipe builds. Given the
float weights of the installed (or fetched) hama package, :func:`ensure_model` rebuilds that file byte for byte
into ``<cache>/models/`` (a second or two), checks the sha256 and refuses to use anything else.

The cache is written through a temporary file and an atomic rename, so concurrent first uses each build the same
bytes and readers never see half a file; a cached file that no longer has its sha256 is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import IntrefError, IntrefInputError
from .fetch import (
    P2G_ASSET,
    P2G_ID,
    VERSIONS,
    Asset,
    cache_root,
    find_model_asset,
    installed_asset,
    missing_asset_message,
    sha256_file,
)

Progress = Callable[[str], None]
RECIPES_PACKAGE = "intref.recipes"
MODEL_SUFFIX = ".intref"


@dataclass(frozen=True)
class Builtin:
    model_id: str  # which hama acoustic model: hama-1.7 or hama-1.6
    recipe: str  # recipe file stem in intref/recipes/
    weights: str  # human-readable bit configuration


# hama-1.7 first: the default. Both use mixed 4/8 weights, the configuration that meets the accuracy targets
# (docs/ACCURACY.md 4.1: +0.35 PER at 5.93x for 1.7.0, +0.29 at 5.11x for 1.6.0).
BUILTINS: dict[str, Builtin] = {
    "hama-1.7": Builtin("hama-1.7", "hama-1.7-mixed", "mixed 4/8"),
    "hama-1.6": Builtin("hama-1.6", "hama-1.6-mixed", "mixed 4/8"),
}
DEFAULT_MODEL = "hama-1.7"
# The phoneme-to-text model that turns the acoustic models' phonemes into words (docs/ACCURACY.md 5).
TEXT_BUILTINS: dict[str, Builtin] = {P2G_ID: Builtin(P2G_ID, "hama-p2g-mixed", "mixed 4/8")}
TEXT_MODEL = P2G_ID


class ModelBuildError(IntrefError, RuntimeError):
    """A built-in model could not be built, or did not come out as the recorded file."""


class ModelUnavailableError(IntrefError, LookupError):
    """A model the user named is not available here; the message says how to get it."""


def builtin(name: str) -> Builtin:
    found = BUILTINS.get(name) or TEXT_BUILTINS.get(name)
    if found is None:
        known = ", ".join([*BUILTINS, *TEXT_BUILTINS])
        raise IntrefInputError(f"unknown built-in model {name!r} (known: {known})")
    return found


def recipe_file(b: Builtin, suffix: str = ".json"):
    """The committed recipe (``.json``) or its model's sha256 (``.sha256``), as package data."""
    return resources.files(RECIPES_PACKAGE).joinpath(b.recipe + suffix)


def load_recipe(b: Builtin):
    from ..quantize.recipe import Recipe, RecipeError

    try:
        text = recipe_file(b).read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelBuildError(f"the built-in recipe {b.recipe}.json is missing from this install: {exc}") from None
    try:
        return Recipe.from_json(json.loads(text))
    except (ValueError, RecipeError) as exc:
        raise ModelBuildError(f"the built-in recipe {b.recipe}.json is damaged: {exc}") from None


def expected_sha256(b: Builtin) -> str:
    """The recorded sha256 of the model ``b``'s recipe builds (first word of ``<recipe>.sha256``)."""
    try:
        words = recipe_file(b, ".sha256").read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelBuildError(f"{b.recipe}.sha256 is missing from this install: {exc}") from None
    sha = words[0].lower() if words else ""
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ModelBuildError(f"{b.recipe}.sha256 does not hold a sha256")
    return sha


def cached_path(b: Builtin, sha: str | None = None) -> Path:
    """Where the built model lives: named by recipe and sha256, so a new recipe never reuses an old file."""
    sha = sha or expected_sha256(b)
    return cache_root() / "models" / f"{b.recipe}-{sha[:16]}{MODEL_SUFFIX}"


def source_label(model_id: str) -> str:
    """What the model file records as its source: the model and the asset's file name, not where it was
    installed (its sha256 is recorded beside it), so the bytes do not depend on the machine."""
    if model_id == P2G_ID:
        return f"{model_id} phoneme-to-text model ({P2G_ASSET})"
    return f"{model_id} acoustic model (asr_waveform.hama)"


def build_bytes(b: Builtin, asset: Asset, recipe=None) -> bytes:
    """The model file ``b``'s recipe makes from ``asset`` (no caching, no sha256 check)."""
    from ..quantize import ptq
    from .hama.integer import float_graph, load_float

    recipe = recipe or load_recipe(b)
    if recipe.model != b.model_id or recipe.source_sha256 != asset.sha256:
        raise ModelBuildError(
            f"the recipe {b.recipe} is for {recipe.model} weights with sha256 {recipe.source_sha256}, "
            f"not {asset.path} ({asset.sha256})"
        )
    if b.model_id == P2G_ID:
        from .hama.p2g import load_p2g_weights
        from .hama.p2g_integer import p2g_float_graph

        fg = p2g_float_graph(load_p2g_weights(asset.path), wide=recipe.wide_activations)
    else:
        fmodel = load_float(b.model_id, asset.path)
        _, fg = float_graph(fmodel, residual_bits=recipe.residual_bits, wide=recipe.wide_activations)
    fg.info["source"] = source_label(b.model_id)
    return ptq.build(fg, recipe).to_bytes()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache is readable like any other file
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_model(name: str = DEFAULT_MODEL, progress: Progress | None = None) -> Path:
    """The cached file of built-in model ``name``, built first if needed; its sha256 is always the recorded one."""
    b = builtin(name)
    expected = expected_sha256(b)
    path = cached_path(b, expected)
    if path.is_file():
        if sha256_file(path) == expected:
            return path
        if progress:
            progress(f"the cached {path.name} is damaged (wrong sha256); building it again")
    asset = find_model_asset(b.model_id)
    if asset is None:
        raise ModelUnavailableError(missing_asset_message(b.model_id))
    if progress:
        progress(
            f"building the {b.model_id} integer model ({b.weights}) from the recipe {b.recipe} and "
            f"{asset.path} (first use only)"
        )
    start = time.monotonic()
    data = build_bytes(b, asset)
    got = hashlib.sha256(data).hexdigest()
    if got != expected:
        raise ModelBuildError(
            f"the {b.model_id} model built from the recipe {b.recipe} has sha256 {got}, not the recorded {expected}; "
            "it was not used. This intref does not reproduce its committed model: reinstall intref (and hama "
            f"{VERSIONS.get(b.model_id, '1.7.0')}), or quantise a model yourself (`intref quantize`) and pass it "
            "with --model"
        )
    _write_atomic(path, data)
    if progress:
        progress(f"built {path} in {time.monotonic() - start:.1f} s (sha256 {got} as recorded)")
    return path


# --- resolving --model ---


@dataclass(frozen=True)
class ModelChoice:
    """A model file to run, and what it is."""

    label: str  # as the user named it: "hama-1.7" or the path given
    path: Path
    builtin: Builtin | None


def default_name(progress: Progress | None = None) -> str:
    """hama-1.7 when its asset is here; else hama-1.6 when its asset is (said on stderr); else hama-1.7 (whose
    build then explains what is missing)."""
    if cached_path(BUILTINS[DEFAULT_MODEL]).is_file() or find_model_asset(DEFAULT_MODEL) is not None:
        return DEFAULT_MODEL
    for name, b in BUILTINS.items():
        if name != DEFAULT_MODEL and (cached_path(b).is_file() or find_model_asset(b.model_id) is not None):
            if progress:
                progress(f"hama 1.7.0 is not available here; using the {name} model")
            return name
    return DEFAULT_MODEL


def resolve_model(spec: str | None = None, progress: Progress | None = None) -> ModelChoice:
    """``None`` (the default model), a built-in name (``hama-1.7``, ``hama-1.6``) or the path of a model file."""
    name = default_name(progress) if spec is None else spec
    if name in BUILTINS:
        return ModelChoice(name, ensure_model(name, progress), BUILTINS[name])
    path = Path(name).expanduser()
    if not path.is_file():
        raise ModelUnavailableError(
            f"{name}: no such model file (built-in models: {', '.join(BUILTINS)}; or give an {MODEL_SUFFIX} file)"
        )
    return ModelChoice(name, path, None)


# --- what is available (`intref models list`) ---


def status() -> dict:
    """Built-in models (recipe, recorded sha256, asset, cached file), other cached model files, and assets."""
    models = []
    for name, b in [*BUILTINS.items(), *TEXT_BUILTINS.items()]:
        entry = {"name": name, "model": b.model_id, "weights": b.weights, "recipe": f"{b.recipe}.json"}
        try:
            sha = expected_sha256(b)
            entry["sha256"] = sha
            path = cached_path(b, sha)
            entry["cached"] = str(path) if path.is_file() else None
        except ModelBuildError as exc:
            entry["sha256"], entry["cached"], entry["problem"] = None, None, str(exc)
        asset = find_model_asset(b.model_id)
        entry["asset"] = None if asset is None else {"path": str(asset.path), "origin": asset.origin}
        entry["default"] = name == DEFAULT_MODEL
        models.append(entry)
    known = {m["cached"] for m in models if m.get("cached")}
    folder = cache_root() / "models"
    others = sorted(str(p) for p in folder.glob(f"*{MODEL_SUFFIX}") if str(p) not in known) if folder.is_dir() else []
    installed = installed_asset()
    return {
        "cache": str(cache_root()),
        "builtin": models,
        "other_cached_models": others,
        "installed_hama": None if installed is None else {"model": installed.model_id, "path": str(installed.path)},
    }


def record_sha256(name: str) -> str:
    """Maintainers, after committing a new recipe: build it and write ``<recipe>.sha256`` beside it (a source
    checkout only). ``python -m intref.models.default hama-1.7 hama-1.6``."""
    b = builtin(name)
    asset = find_model_asset(b.model_id)
    if asset is None:
        raise ModelUnavailableError(missing_asset_message(b.model_id))
    sha = hashlib.sha256(build_bytes(b, asset)).hexdigest()
    target = Path(str(recipe_file(b, ".sha256")))
    target.write_text(f"{sha}  {b.recipe}{MODEL_SUFFIX}\n", encoding="ascii")
    return sha


__all__ = [
    "BUILTINS",
    "DEFAULT_MODEL",
    "TEXT_BUILTINS",
    "TEXT_MODEL",
    "Builtin",
    "ModelBuildError",
    "ModelChoice",
    "ModelUnavailableError",
    "build_bytes",
    "builtin",
    "cached_path",
    "default_name",
    "ensure_model",
    "expected_sha256",
    "record_sha256",
    "load_recipe",
    "resolve_model",
    "source_label",
    "status",
]


if __name__ == "__main__":
    import sys

    for arg in sys.argv[1:] or [*BUILTINS, *TEXT_BUILTINS]:
        print(f"{arg}: {record_sha256(arg)}")
