"""Shared test setup: hypothesis profiles and the backend configurations the cross-backend tests run on.

Profiles: ``dev`` and ``ci`` (more examples), chosen with ``HYPOTHESIS_PROFILE``; the default is ``ci`` when the
``CI`` environment variable is set (as CI runs the README's plain ``pytest``), else ``dev``. No test asserts wall
time, so the per-example deadline is off. BLAS runs one thread: on a 2-core machine its threads only fight the
backends under test.

A test that asks for the ``backend`` fixture runs once per backend configuration: ``numpy`` (the reference),
``native`` for every ISA it reports and 1 and 2 threads, ``numba`` with 1 and 2 threads. A backend that does
not load here is skipped with the registry's message. The fixture restores the previous ISA and thread count.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads its BLAS
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings

import intref.backends as backends
from intref.backends import BackendUnavailable

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=40, **_COMMON)
settings.register_profile("ci", max_examples=300, print_blob=True, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

BACKEND_NAMES = ("numpy", "native", "numba")
THREAD_COUNTS = (1, 2)
_CONTROL_MODULES = {"native": "intref.backends.native", "numba": "intref.backends.numba_backend"}


@dataclass(frozen=True)
class BackendConfig:
    """One way to run a backend: its name, the forced ISA (native only) and the thread count (None: as is)."""

    name: str
    isa: str | None = None
    threads: int | None = None

    def __str__(self) -> str:
        parts = [self.name] + ([self.isa] if self.isa else []) + ([f"t{self.threads}"] if self.threads else [])
        return "-".join(parts)


def _control(name: str):
    module = _CONTROL_MODULES.get(name)
    return importlib.import_module(module) if module else None


def native_isas() -> list[str]:
    """The ISAs the native backend can be forced to, or [] when it does not load or cannot say."""
    try:
        backends.get("native")
        return list(_control("native").available_isas())
    except (BackendUnavailable, ImportError, AttributeError):
        return []


@functools.cache
def backend_variants() -> tuple[BackendConfig, ...]:
    """(backend, ISA) pairs, thread count unset; an unavailable backend appears once (to be skipped)."""
    out = []
    for name in BACKEND_NAMES:
        if name == "native":
            out += [BackendConfig(name, isa) for isa in native_isas()] or [BackendConfig(name)]
        else:
            out.append(BackendConfig(name))
    return tuple(out)


@functools.cache
def backend_configs() -> tuple[BackendConfig, ...]:
    out = []
    for variant in backend_variants():
        if variant.name == "numpy":
            out.append(variant)
        else:
            out += [BackendConfig(variant.name, variant.isa, t) for t in THREAD_COUNTS]
    return tuple(out)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_cfg" in metafunc.fixturenames:
        metafunc.parametrize("backend_cfg", backend_configs(), ids=str)
    if "backend_variant" in metafunc.fixturenames:
        metafunc.parametrize("backend_variant", backend_variants(), ids=str)


def load_backend(name: str):
    try:
        return backends.get(name)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))


@contextlib.contextmanager
def configured(cfg: BackendConfig) -> Iterator[None]:
    """Force ``cfg``'s ISA and thread count for the duration, then restore what was set before."""
    control = _control(cfg.name)
    if control is None or (cfg.isa is None and cfg.threads is None):
        yield
        return
    saved = []
    try:
        if cfg.isa is not None:
            saved.append((control.set_isa, control.get_isa()))
            control.set_isa(cfg.isa)
        if cfg.threads is not None:
            saved.append((control.set_threads, control.get_threads()))
            control.set_threads(cfg.threads)
        yield
    finally:
        for setter, value in reversed(saved):
            setter(value)


@pytest.fixture
def backend(backend_cfg: BackendConfig):
    """The backend of ``backend_cfg``, with its ISA and thread count forced for the test."""
    b = load_backend(backend_cfg.name)
    with configured(backend_cfg):
        yield b


@pytest.fixture
def configure():
    """``configure(cfg)`` is a context manager forcing a configuration (restored on exit)."""
    return configured
