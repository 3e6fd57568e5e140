"""Bit-identical integer ASR on every backend: each built-in model runs real and synthetic audio on numpy (the
reference), native on every ISA it reports and numba, with 1 and 2 threads; every node's accumulator and outputs
must equal numpy's element for element (same dtype and shape). A failure names the first differing node, the
tensor, the index and both values.

Models are built from their committed recipes into a temporary cache. hama-1.7 needs the installed hama 1.7.0;
hama-1.6 needs its weights fetched once (`intref models fetch hama-1.6`, into $INTREF_CACHE or ~/.cache/intref):
without them its tests skip and say so. Real clips come from the shared speech data (``INTREF_DATA``, default
../shared/data) and skip without it; the synthetic versions need nothing but the models.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import BackendConfig, backend_configs, configured, load_backend

from intref.graph import Model, load
from intref.models.default import BUILTINS, ensure_model
from intref.models.fetch import RECORD, Asset, asset_dir, find_model_asset, missing_asset_message
from intref.models.hama.integer import INPUT

DATA = Path(os.environ.get("INTREF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SPEECH = DATA / "speech"
# Five short real clips (about 8 s in all): two sources, 16 and 22.05 kHz (the latter resampled).
REAL_CLIPS = (
    "pocketsphinx/cards_001.wav",
    "pocketsphinx/cards_003.wav",
    "pocketsphinx/cards_002.wav",
    "ljspeech/LJ001-0008.wav",
    "ljspeech/LJ001-0002.wav",
)
SAMPLE_RATE = 16000

# Looked up before any test points INTREF_CACHE elsewhere: the installed package, or the user's (or CI's) cache.
ASSETS: dict[str, Asset | None] = {m: find_model_asset(m) for m in BUILTINS}


def model_params() -> list:
    """Every built-in model, skipped (with the command that fetches it) when its float weights are not here."""
    return [
        pytest.param(m, marks=pytest.mark.skipif(ASSETS[m] is None, reason=missing_asset_message(m)), id=m)
        for m in BUILTINS
    ]


def stage_asset(asset: Asset, cache: Path) -> None:
    """Make a fetched asset visible in ``cache`` (an installed package's asset is found without it)."""
    if asset.path.parent.joinpath(RECORD).is_file():
        shutil.copytree(asset.path.parent, asset_dir(asset.model_id), dirs_exist_ok=True)


@pytest.fixture(scope="module")
def build_model(tmp_path_factory) -> Iterator[Callable[[str], Path]]:
    """``build_model(name)``: the built-in model's file, built (once) from its recipe into a private cache."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTREF_CACHE", str(cache))

        def build(model_id: str) -> Path:
            stage_asset(ASSETS[model_id], cache)
            return ensure_model(model_id)

        yield build


# --- running with every node recorded ---


@dataclass(frozen=True)
class NodeRun:
    index: int
    name: str
    op: str
    tensors: tuple[tuple[str, np.ndarray], ...]  # ("acc" | "output <tensor>", a copy taken when the node ran)


def traced_run(model: Model, x: np.ndarray, backend) -> list[NodeRun]:
    """Every node's accumulator (when it has one) and outputs, copied as they are produced."""
    runs: list[NodeRun] = []

    def hook(record) -> None:
        bound = record.node
        tensors = [("acc", record.acc.copy())] if record.acc is not None else []
        tensors += [
            (f"output {t}", np.array(a, copy=True)) for t, a in zip(bound.spec.outputs, record.outputs, strict=True)
        ]
        runs.append(NodeRun(bound.index, bound.name, bound.op, tuple(tensors)))

    model.run({INPUT: x}, backend=backend, trace=hook)
    return runs


def first_difference(reference: list[NodeRun], other: list[NodeRun], label: str) -> str | None:
    """None when every node's tensors are identical, else where and how the first one differs."""
    if [(r.index, r.name) for r in reference] != [(r.index, r.name) for r in other]:
        return f"{label}: ran other nodes than numpy"
    for ref, got in zip(reference, other, strict=True):
        where = f"{label}: node #{ref.index} {ref.name!r} ({ref.op})"
        if [role for role, _ in ref.tensors] != [role for role, _ in got.tensors]:
            return f"{where}: tensors {[r for r, _ in got.tensors]}, numpy gives {[r for r, _ in ref.tensors]}"
        for (role, a), (_, b) in zip(ref.tensors, got.tensors, strict=True):
            if a.dtype != b.dtype or a.shape != b.shape:
                return f"{where} {role}: {b.dtype}{list(b.shape)}, numpy gives {a.dtype}{list(a.shape)}"
            if not np.array_equal(a, b):
                diff = a != b
                idx = tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(diff)[0]), a.shape))
                return (
                    f"{where} {role}: first difference at index {idx}: numpy {a[idx]}, other {b[idx]} "
                    f"({int(diff.sum())} of {a.size} elements differ)"
                )
    return None


# --- audio ---


def real_waveforms() -> list[tuple[str, np.ndarray]]:
    from intref.frontend.audio import load_waveform

    if not SPEECH.is_dir():
        pytest.skip(f"no shared speech clips at {SPEECH} (set INTREF_DATA)")
    missing = [c for c in REAL_CLIPS if not (SPEECH / c).is_file()]
    if missing:
        pytest.skip(f"the shared speech clips at {SPEECH} lack {', '.join(missing)}")
    return [(c, load_waveform(SPEECH / c)) for c in REAL_CLIPS]


def synthetic_waveforms() -> list[tuple[str, np.ndarray]]:
    """Five seeded clips of 1-2 s: speech-like audio, a chirp over noise, and loud clipped noise (saturation)."""
    from intref.quantize.synthetic import synthetic_clips

    rng = np.random.default_rng(2024)
    speech = synthetic_clips(3, seed=17, seconds=(1.0, 2.0))
    t = np.arange(int(1.5 * SAMPLE_RATE)) / SAMPLE_RATE
    chirp = 0.3 * np.sin(2 * np.pi * (100 + 2500 * t) * t) + 0.01 * rng.standard_normal(t.size)
    loud = np.clip(2.0 * rng.standard_normal(SAMPLE_RATE), -1.0, 1.0)
    clips = [*speech, chirp.astype(np.float32), loud.astype(np.float32)]
    names = ["speech0", "speech1", "speech2", "chirp", "loud-noise"]
    return list(zip(names, clips, strict=True))


@dataclass
class Reference:
    model: Model
    inputs: list[tuple[str, np.ndarray]]  # (clip, graph input)
    runs: list[list[NodeRun]]  # numpy's records, per clip


@pytest.fixture(scope="module")
def references(build_model) -> Callable[[str, str], Reference]:
    """``references(model, "real" | "synthetic")``: the graph inputs and numpy's records, computed once."""
    from intref.asr.recognizer import load_frontend

    done: dict[tuple[str, str], Reference] = {}

    def get(model_id: str, source: str) -> Reference:
        if (model_id, source) not in done:
            waves = real_waveforms() if source == "real" else synthetic_waveforms()
            model = load(build_model(model_id))
            frontend = load_frontend(ASSETS[model_id])
            inputs = [(name, np.ascontiguousarray(frontend(wav).T)) for name, wav in waves]
            runs = [traced_run(model, x, "numpy") for _, x in inputs]
            done[model_id, source] = Reference(model, inputs, runs)
        return done[model_id, source]

    return get


def configs() -> list[BackendConfig]:
    return [c for c in backend_configs() if c.name != "numpy"]


def check_bit_exact(ref: Reference, cfg: BackendConfig) -> None:
    backend = load_backend(cfg.name)
    problems = []
    with configured(cfg):
        if cfg.isa is not None:
            from intref.backends import native

            assert native.get_isa() == cfg.isa
        for (clip, x), expected in zip(ref.inputs, ref.runs, strict=True):
            assert x.shape[0] > 0, clip
            problem = first_difference(expected, traced_run(ref.model, x, backend), f"{clip} on {cfg}")
            if problem:
                problems.append(problem)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("cfg", configs(), ids=str)
@pytest.mark.parametrize("model_id", model_params())
def test_real_speech_every_node_bit_exact(references, model_id, cfg):
    check_bit_exact(references(model_id, "real"), cfg)


@pytest.mark.parametrize("cfg", configs(), ids=str)
@pytest.mark.parametrize("model_id", model_params())
def test_synthetic_audio_every_node_bit_exact(references, model_id, cfg):
    check_bit_exact(references(model_id, "synthetic"), cfg)


@pytest.mark.parametrize("model_id", model_params())
def test_reference_records_every_node(references, model_id):
    """The comparison sees all of the graph: a record per node, the accumulators of the ops that have one."""
    ref = references(model_id, "synthetic")
    for runs in ref.runs:
        assert [r.name for r in runs] == [n.name for n in ref.model.nodes]
        assert sum(1 for r in runs if r.tensors and r.tensors[0][0] == "acc") > len(runs) // 4
        assert runs[-1].name == "frames"


def test_first_difference_names_node_tensor_and_index():
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    b = a.copy()
    b[2, 1] = 99
    ref = [NodeRun(0, "n0", "linear", (("acc", a), ("output y", a.astype(np.int8))))]
    got = [NodeRun(0, "n0", "linear", (("acc", b), ("output y", a.astype(np.int8))))]
    assert first_difference(ref, ref, "x") is None
    msg = first_difference(ref, got, "clip on native-avx2")
    assert msg == (
        "clip on native-avx2: node #0 'n0' (linear) acc: first difference at index (2, 1): numpy 9, other 99 "
        "(1 of 12 elements differ)"
    )
    other_dtype = [NodeRun(0, "n0", "linear", (("acc", a.astype(np.int64)), ("output y", a.astype(np.int8))))]
    assert "int64[3, 4], numpy gives int32[3, 4]" in first_difference(ref, other_dtype, "x")
