"""Runs a bound graph on a backend, node by node, with optional tracing and a second backend as a check."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import BackendMismatchError, IntrefError, IntrefInputError, NodeError, show
from .ir import TensorSpec
from .registry import BoundNode
from .tracer import NodeRecord

if TYPE_CHECKING:
    from .model import Model

Hook = Callable[[NodeRecord], Sequence[np.ndarray] | None]


def resolve_backend(backend):
    """A backend object from a name (``numpy``, ``native``, ``numba``, ``auto``), None (the default) or itself."""
    if backend is None or isinstance(backend, str):
        from .. import backends  # imported here: the graph loads without any backend

        return backends.get(backend)
    return backend


def backend_name(backend) -> str:
    return str(getattr(backend, "name", type(backend).__name__))


def normalize_inputs(model: Model, inputs) -> dict[str, np.ndarray]:
    """A dict keyed by input name, a list in the model's input order, or one array for a single-input model."""
    names = [t.name for t in model.inputs]
    if isinstance(inputs, Mapping):
        unknown = set(inputs) - set(names)
        if unknown:
            raise IntrefInputError(f"unknown inputs {sorted(map(str, unknown))}; the model takes {names}")
        missing = [n for n in names if n not in inputs]
        if missing:
            raise IntrefInputError(f"missing inputs {missing}; the model takes {names}")
        values = dict(inputs)
    elif isinstance(inputs, np.ndarray):
        if len(names) != 1:
            raise IntrefInputError(f"the model takes {len(names)} inputs {names}; pass a dict or a list")
        values = {names[0]: inputs}
    elif isinstance(inputs, (list, tuple)):
        if len(inputs) != len(names):
            raise IntrefInputError(f"the model takes {len(names)} inputs {names}, got {len(inputs)}")
        values = dict(zip(names, inputs, strict=True))
    else:
        raise IntrefInputError(f"inputs must be a dict, a list or an array, got {type(inputs).__name__}")
    for name, value in values.items():
        if not isinstance(value, np.ndarray):
            raise IntrefInputError(f"input {name!r} must be a numpy array, got {type(value).__name__}")
    return values


def check_shape(spec: TensorSpec, arr: np.ndarray, symbols: dict[str, int]) -> str | None:
    """None if ``arr`` fits ``spec`` (binding its symbols), else the problem."""
    if arr.dtype != spec.np_dtype:
        return f"has dtype {arr.dtype}, the model declares {spec.describe()}"
    if arr.ndim != len(spec.shape):
        return f"has shape {list(arr.shape)}, the model declares {spec.describe()}"
    for d, n in zip(spec.shape, arr.shape, strict=True):
        if isinstance(d, int):
            if d != n:
                return f"has shape {list(arr.shape)}, the model declares {spec.describe()}"
        elif symbols.setdefault(d, n) != n:
            return f"has shape {list(arr.shape)}, but {d} = {symbols[d]} elsewhere (declared {spec.describe()})"
    return None


def _call(backend, bound: BoundNode, args: list[np.ndarray], lean: bool = False):
    """The node's outputs and accumulator; ``lean``: nobody reads the accumulator, so kinds that can skip it do
    (the backend then neither allocates nor stores it, and may take a faster epilogue)."""
    try:
        if lean and getattr(bound.kind, "acc_optional", False):
            return bound.kind.call(backend, bound, args, want_acc=False)
        return bound.kind.call(backend, bound, args)
    except IntrefError:
        raise
    except (ValueError, TypeError) as exc:
        # Load-time checks rule these out except for what depends on run-time shapes (e.g. mean over a long T).
        raise NodeError(bound.name, bound.op, str(exc)) from exc


def _first_difference(a: np.ndarray, b: np.ndarray):
    diff = a != b
    flat = int(np.flatnonzero(diff.ravel())[0])
    idx = tuple(int(v) for v in np.unravel_index(flat, a.shape))
    return idx, a[idx].item(), b[idx].item(), int(diff.sum())


def _compare(bound: BoundNode, names: tuple[str, str], first, second) -> None:
    (outs1, acc1), (outs2, acc2) = first, second
    pairs = [("accumulator", acc1, acc2)] if acc1 is not None or acc2 is not None else []
    pairs += [(f"output {show(t)}", a, b) for t, a, b in zip(bound.spec.outputs, outs1, outs2, strict=True)]
    for label, a, b in pairs:
        if a is None or b is None or a.dtype != b.dtype or a.shape != b.shape:
            describe = [None if v is None else f"{v.dtype}{list(v.shape)}" for v in (a, b)]
            raise BackendMismatchError(bound.name, bound.op, label, names, None, tuple(describe), 0)
        if not np.array_equal(a, b):
            idx, va, vb, count = _first_difference(a, b)
            raise BackendMismatchError(bound.name, bound.op, label, names, idx, (va, vb), count)


def _checked_call(primary, secondary, names, bound, args):
    """Run a node on both backends (the same inputs), raising at the first disagreement."""
    try:
        first = _call(primary, bound, args)
    except IntrefError as exc:
        try:
            _call(secondary, bound, args)
        except IntrefError as other:
            if type(other) is type(exc) and str(other) == str(exc):
                raise exc from None
            detail = f"{names[0]} raised {exc}; {names[1]} raised {other}"
        else:
            detail = f"{names[0]} raised {exc}; {names[1]} returned normally"
        raise BackendMismatchError(bound.name, bound.op, "error", names, None, ("error", "error"), 0, detail) from exc
    try:
        second = _call(secondary, bound, args)
    except IntrefError as exc:
        detail = f"{names[0]} returned normally; {names[1]} raised {exc}"
        raise BackendMismatchError(bound.name, bound.op, "error", names, None, ("ok", "error"), 0, detail) from exc
    _compare(bound, names, first, second)
    return first


@dataclass(frozen=True)
class _Step:
    """One node as the run loop needs it, worked out once per model: where each input comes from, the declared
    spec of each output, and the intermediates nobody reads after this node."""

    bound: BoundNode
    inputs: tuple[tuple[str, np.ndarray | None], ...]  # (tensor, its constant or None for an activation)
    outputs: tuple[tuple[str, TensorSpec], ...]
    frees: tuple[str, ...]


def _steps(model: Model) -> tuple[_Step, ...]:
    steps = model.__dict__.get("_run_steps")
    if steps is None:
        steps = tuple(
            _Step(
                bound,
                tuple((t, model.constants.get(t)) for t in bound.spec.inputs),
                tuple((t, model.tensors[t]) for t in bound.spec.outputs),
                tuple(dict.fromkeys(t for t in bound.spec.inputs if model.last_use.get(t) == bound.index)),
            )
            for bound in model.nodes
        )
        model.__dict__["_run_steps"] = steps
    return steps


def run(model: Model, inputs, *, backend=None, check=None, trace: Hook | None = None) -> dict[str, np.ndarray]:
    """Run ``model`` (see :meth:`intref.graph.model.Model.run`)."""
    primary = resolve_backend(backend)
    secondary = resolve_backend(check) if check is not None else None
    names = (backend_name(primary), backend_name(secondary)) if secondary is not None else None
    env = normalize_inputs(model, inputs)
    symbols: dict[str, int] = {}
    for spec in model.inputs:
        problem = check_shape(spec, env[spec.name], symbols)
        if problem:
            raise IntrefInputError(f"input {spec.name!r} {problem}")
    lean = trace is None
    for step in _steps(model):
        bound = step.bound
        args = [env[t] if const is None else const for t, const in step.inputs]
        if secondary is None:
            outs, acc = _call(primary, bound, args, lean)
        else:
            outs, acc = _checked_call(primary, secondary, names, bound, args)
        if len(outs) != len(step.outputs):
            raise NodeError(bound.name, bound.op, f"gave {len(outs)} outputs, the model declares {len(step.outputs)}")
        for (t, spec), arr in zip(step.outputs, outs, strict=True):
            problem = check_shape(spec, arr, symbols)
            if problem:
                raise NodeError(bound.name, bound.op, f"output {t!r} {problem}")
        if trace is not None:
            extra = bound.kind.runtime_params(bound, args)
            replaced = trace(NodeRecord(bound, tuple(args), acc, tuple(outs), extra))
            if replaced is not None:
                outs = _replacement(bound, outs, replaced)
        for (t, _), arr in zip(step.outputs, outs, strict=True):
            env[t] = arr
        if lean:
            for t in step.frees:
                env.pop(t, None)  # free intermediates early: long clips have large activations
    return {t: env[t] for t in model.graph.outputs}


def _replacement(bound: BoundNode, outs, replaced) -> list[np.ndarray]:
    replaced = list(replaced)
    if len(replaced) != len(outs) or any(
        not isinstance(r, np.ndarray) or r.dtype != o.dtype or r.shape != o.shape
        for r, o in zip(replaced, outs, strict=False)
    ):
        raise IntrefInputError(
            f"a trace hook for node {bound.name!r} returned outputs of the wrong number, type or shape"
        )
    return replaced
