"""The model: a validated graph bound to its constants, loadable from and savable to an ``.intref`` file."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np

from ..errors import IntrefFormatError, show
from ..spec import PackedInt4
from . import container, core_ops, decoder_ops, image_ops, nn_ops, tensor_ops  # noqa: F401  (they register node kinds)
from .ir import GraphSpec, TensorSpec
from .registry import BoundNode, get_kind, output_matches
from .schema import parse_document

METADATA_KEY = "intref"  # the __metadata__ entry holding the graph document


def _bind_constant(spec: TensorSpec, stored: np.ndarray):
    if spec.dtype != "int4":
        return stored
    try:
        return PackedInt4(stored, spec.shape, spec.narrow)
    except ValueError as exc:
        lo = -7 if spec.narrow else -8
        raise IntrefFormatError(
            f"int4 data outside the declared range [{lo}, 7] or bad padding: {exc}", tensor=spec.name
        ) from None


def _bind_node(index: int, node, constants, tensors) -> BoundNode:
    try:
        kind = get_kind(node.op)
    except IntrefFormatError as exc:
        raise IntrefFormatError(exc.problem, node=node.name) from None
    try:
        bound = kind.bind(index, node, constants, tensors)
        inferred = kind.infer(bound, [tensors[t] for t in node.inputs])
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        if isinstance(exc, IntrefFormatError):
            raise
        raise IntrefFormatError(f"{node.op}: {exc}", node=node.name) from None
    for t, (dtype, shape) in zip(node.outputs, inferred, strict=True):
        spec = tensors[t]
        if spec.dtype != dtype or not output_matches(shape, spec.shape):
            got = ", ".join("?" if d is None else str(d) for d in shape)
            raise IntrefFormatError(
                f"output {show(t)} is declared {spec.describe()} but {node.op} gives {dtype}[{got}]", node=node.name
            )
        if (
            bound.requant is not None
            and isinstance(spec.zero_point, int)
            and spec.zero_point != bound.requant.zero_point
        ):
            raise IntrefFormatError(
                f"output {show(t)} declares zero point {spec.zero_point}, the requant uses {bound.requant.zero_point}",
                node=node.name,
            )
    return bound


class Model:
    """A validated integer graph. Build one with :func:`load`, :func:`loads` or :class:`ModelBuilder`."""

    def __init__(
        self, graph: GraphSpec, stored: dict[str, np.ndarray], *, source: str | None = None, buffer: Any = None
    ) -> None:
        """Bind every node of ``graph`` (from :func:`parse_document`) to ``stored``, the tensors as the container
        holds them, checking each node's params, attributes and types. Use :meth:`from_parts` or :func:`load`."""
        self.graph = graph
        self.stored = stored
        self.source = source
        self._buffer = buffer  # the memory map (or bytes) the stored arrays are views of
        self._sha256: str | None = None
        self.constants = {name: _bind_constant(graph.tensors[name], arr) for name, arr in stored.items()}
        self.nodes: list[BoundNode] = [
            _bind_node(i, node, self.constants, graph.tensors) for i, node in enumerate(graph.nodes)
        ]
        self.last_use: dict[str, int] = {}
        for bound in self.nodes:
            for t in bound.spec.inputs:
                if t not in stored and t not in graph.outputs:
                    self.last_use[t] = bound.index

    # --- construction ---

    @classmethod
    def from_parts(
        cls, doc: Any, stored: dict[str, np.ndarray], *, source: str | None = None, buffer: Any = None
    ) -> Model:
        """A model from a graph document (parsed JSON) and its stored tensors, with full validation."""
        entries = {
            n: container.StoredTensor(n, container.storage_name(a.dtype), tuple(a.shape), 0, 0)
            for n, a in stored.items()
        }
        graph = parse_document(doc, entries)
        return cls(graph, stored, source=source, buffer=buffer)

    # --- the file ---

    def to_bytes(self) -> bytes:
        """The file's bytes: deterministic for the same graph and tensors."""
        doc = json.dumps(
            self.graph.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        )
        return container.serialize({METADATA_KEY: doc}, self.stored)

    def save(self, path: str | os.PathLike) -> str:
        """Write the model to ``path``; returns its sha256."""
        data = self.to_bytes()
        container.write(path, data)
        return hashlib.sha256(data).hexdigest()

    @property
    def sha256(self) -> str:
        """sha256 of the file the model was loaded from (or of :meth:`to_bytes` for a model built in memory)."""
        if self._sha256 is None:
            data = self._buffer if self._buffer is not None else self.to_bytes()
            self._sha256 = hashlib.sha256(data).hexdigest()
        return self._sha256

    # --- description ---

    @property
    def name(self) -> str:
        return str(self.graph.model.get("name", "model"))

    @property
    def metadata(self) -> dict[str, Any]:
        return self.graph.model

    @property
    def provenance(self) -> dict[str, Any]:
        return self.graph.provenance

    @property
    def tensors(self) -> dict[str, TensorSpec]:
        return self.graph.tensors

    @property
    def inputs(self) -> list[TensorSpec]:
        return [self.graph.tensors[n] for n in self.graph.inputs]

    @property
    def outputs(self) -> list[TensorSpec]:
        return [self.graph.tensors[n] for n in self.graph.outputs]

    def node(self, name: str) -> BoundNode:
        for bound in self.nodes:
            if bound.name == name:
                return bound
        raise KeyError(f"no node named {name!r}")

    def __repr__(self) -> str:
        return f"<intref.Model {self.name!r}: {len(self.nodes)} nodes, {len(self.stored)} constants>"

    # --- running ---

    def run(self, inputs, *, backend=None, check=None, trace=None) -> dict[str, np.ndarray]:
        """Run the graph; returns ``{output name: array}``.

        ``inputs``: a dict keyed by input name, a list in input order, or one array for a single-input model.
        ``backend``: ``"numpy"``, ``"native"``, ``"numba"``, ``"auto"``, a backend object, or None (``INTREF_BACKEND``).
        ``check``: a second backend run beside the first on every node's inputs; the first disagreement raises
        :class:`intref.errors.BackendMismatchError` naming the node, the index and both values.
        ``trace``: a hook called with a :class:`NodeRecord` after each node (see :mod:`intref.graph.tracer`).
        """
        from .interpreter import run

        return run(self, inputs, backend=backend, check=check, trace=trace)


def loads(data: bytes | bytearray | memoryview, source: str | None = None) -> Model:
    """A model from the bytes of an ``.intref`` file."""
    data = bytes(data)
    return _from_container(container.parse(data), source)


def load(path: str | os.PathLike) -> Model:
    """Load an ``.intref`` file (memory-mapped; tensors are read-only views of the file where aligned)."""
    source = os.fspath(path)
    try:
        return _from_container(container.read(source), source)
    except IntrefFormatError as exc:
        raise exc.with_source(source) from None


def _from_container(c: container.Container, source: str | None) -> Model:
    if METADATA_KEY not in c.metadata:
        raise IntrefFormatError("not an intref model: the safetensors metadata has no 'intref' entry")
    doc = container.parse_json(c.metadata[METADATA_KEY], "the intref graph document")
    graph = parse_document(doc, c.entries)
    return Model(graph, c.arrays, source=source, buffer=c.buffer)
