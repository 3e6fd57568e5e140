"""Structural validation of the graph document: types, names, references and execution order.

Everything an op needs to know about its own parameters is checked later, by its node kind
(:mod:`intref.graph.registry`); here we check what holds for every graph. Each failure is an
``IntrefFormatError`` naming the node or tensor.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import IntrefFormatError, show
from .container import METADATA_KEY, StoredTensor
from .ir import DTYPES, FORMAT_VERSION, INT_RANGES, GraphSpec, NodeSpec, TensorSpec

NAME_RE = re.compile(r"^[A-Za-z0-9_.:/\-\[\]]{1,200}$")
SYMBOL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
MAX_DIM = 2**40  # a declared size beyond this is corruption, not a model

TOP_KEYS = {"format_version", "model", "provenance", "inputs", "outputs", "tensors", "nodes"}
TENSOR_KEYS = {"dtype", "shape", "scale", "zero_point", "axis", "narrow"}
NODE_KEYS = {"name", "op", "inputs", "outputs", "params", "attrs", "requant", "acc"}
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_name(name, what: str, **where) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name) or name == METADATA_KEY:
        raise IntrefFormatError(
            f"{what} name {show(name)} is not 1-200 characters of letters, digits and _ . : / - [ ]", **where
        )
    return name


def _keys(obj, allowed: set[str], required: set[str], what: str, **where) -> None:
    if not isinstance(obj, dict):
        raise IntrefFormatError(f"{what} must be a JSON object, got {type(obj).__name__}", **where)
    unknown = set(obj) - allowed
    if unknown:
        raise IntrefFormatError(f"{what} has unknown fields {sorted(show(k) for k in unknown)}", **where)
    missing = required - set(obj)
    if missing:
        raise IntrefFormatError(f"{what} lacks the fields {sorted(missing)}", **where)


def _shape(raw, name: str, constant: bool) -> tuple:
    if not isinstance(raw, list) or len(raw) > 32:
        raise IntrefFormatError(f"shape must be a list of at most 32 dimensions, got {show(raw)}", tensor=name)
    dims = []
    for d in raw:
        if is_int(d) and 0 <= d <= MAX_DIM:
            dims.append(d)
        elif isinstance(d, str) and SYMBOL_RE.match(d) and not constant:
            dims.append(d)
        else:
            allowed = "integers" if constant else 'integers or symbols such as "T"'
            raise IntrefFormatError(f"shape {show(raw)}: dimensions must be {allowed} in [0, 2^40]", tensor=name)
    return tuple(dims)


def _finite_positive(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _tensor(name: str, raw, stored: StoredTensor | None) -> TensorSpec:
    _keys(raw, TENSOR_KEYS, {"dtype", "shape"}, "tensor spec", tensor=name)
    dtype = raw["dtype"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise IntrefFormatError(f"unknown dtype {show(dtype)} (known: {', '.join(DTYPES)})", tensor=name)
    shape = _shape(raw["shape"], name, constant=stored is not None)
    axis = raw.get("axis")
    if axis is not None and not (is_int(axis) and 0 <= axis < len(shape)):
        raise IntrefFormatError(f"axis {show(axis)} is not a dimension of shape {list(shape)}", tensor=name)
    scale = raw.get("scale")
    if isinstance(scale, list):
        if axis is None or not all(_finite_positive(v) for v in scale):
            raise IntrefFormatError("a per-channel scale needs an axis and finite positive entries", tensor=name)
        if is_int(shape[axis]) and len(scale) != shape[axis]:
            raise IntrefFormatError(f"{len(scale)} scales for {shape[axis]} channels on axis {axis}", tensor=name)
        scale = tuple(float(v) for v in scale)
    elif scale is not None:
        if not _finite_positive(scale):
            raise IntrefFormatError(f"scale must be a finite positive number, got {show(scale)}", tensor=name)
        scale = float(scale)
    zp = raw.get("zero_point")
    lo, hi = INT_RANGES.get(dtype, (-(2**31), 2**31 - 1))
    if isinstance(zp, list):
        if axis is None or not all(is_int(v) and lo <= v <= hi for v in zp):
            raise IntrefFormatError(f"per-channel zero points need an axis and values in [{lo}, {hi}]", tensor=name)
        if is_int(shape[axis]) and len(zp) != shape[axis]:
            raise IntrefFormatError(f"{len(zp)} zero points for {shape[axis]} channels", tensor=name)
        zp = tuple(zp)
    elif zp is not None and not (is_int(zp) and lo <= zp <= hi):
        raise IntrefFormatError(f"zero_point {show(zp)} is not an integer in [{lo}, {hi}]", tensor=name)
    narrow = raw.get("narrow", False)
    if "narrow" in raw and (dtype != "int4" or not isinstance(narrow, bool)):
        raise IntrefFormatError("narrow is a boolean of int4 tensors only", tensor=name)
    spec = TensorSpec(name, dtype, shape, scale, zp, axis, narrow)
    if stored is not None:
        _check_stored(spec, stored)
    return spec


def stored_shape(spec: TensorSpec) -> tuple[int, ...]:
    """The shape a constant has in the container (int4: packed row by row, see intref.spec.int4)."""
    if spec.dtype != "int4":
        return tuple(spec.shape)
    if not spec.shape:
        raise IntrefFormatError("an int4 tensor needs at least one dimension", tensor=spec.name)
    rows, row_len = (1, spec.shape[0]) if len(spec.shape) == 1 else (spec.shape[0], math.prod(spec.shape[1:]))
    return (rows, (row_len + 1) // 2)


def _check_stored(spec: TensorSpec, stored: StoredTensor) -> None:
    want_dtype = DTYPES[spec.dtype][1]
    if stored.dtype != want_dtype:
        raise IntrefFormatError(
            f"declared {spec.dtype} must be stored as {want_dtype}, the container holds {stored.dtype}",
            tensor=spec.name,
        )
    want_shape = stored_shape(spec)
    if stored.shape != want_shape:
        what = f"packed int4 of logical shape {list(spec.shape)}" if spec.dtype == "int4" else "the declared shape"
        raise IntrefFormatError(
            f"stored shape {list(stored.shape)} does not match {what} (expected {list(want_shape)})",
            tensor=spec.name,
        )


def _name_list(raw, what: str, **where) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise IntrefFormatError(f"{what} must be a list of tensor names", **where)
    names = tuple(check_name(n, "tensor", **where) for n in raw)
    if len(set(names)) != len(names):
        raise IntrefFormatError(f"{what} repeats a tensor name", **where)
    return names


def _node(raw, index: int) -> NodeSpec:
    label = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else f"#{index}"
    _keys(raw, NODE_KEYS, {"name", "op", "inputs", "outputs"}, "node", node=label)
    name = check_name(raw["name"], "node", node=label)
    op = raw["op"]
    if not isinstance(op, str):
        raise IntrefFormatError(f"op must be a string, got {show(op)}", node=name)
    inputs = tuple(raw["inputs"]) if isinstance(raw["inputs"], list) else None
    if inputs is None or not all(isinstance(i, str) for i in inputs):
        raise IntrefFormatError("inputs must be a list of tensor names", node=name)
    for i in inputs:
        check_name(i, "input tensor", node=name)
    outputs = _name_list(raw["outputs"], "outputs", node=name)
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise IntrefFormatError("params must map roles to tensor names", node=name)
    for role, tensor in params.items():
        check_name(tensor, f"param {show(role)}", node=name)
    attrs = raw.get("attrs", {})
    if not isinstance(attrs, dict):
        raise IntrefFormatError("attrs must be a JSON object", node=name)
    for key in ("requant", "acc"):
        if raw.get(key) is not None and not isinstance(raw[key], dict):
            raise IntrefFormatError(f"{key} must be a JSON object", node=name)
    return NodeSpec(name, op, inputs, outputs, dict(params), dict(attrs), raw.get("requant"), raw.get("acc"))


def _metadata(model, provenance) -> None:
    if not isinstance(model, dict):
        raise IntrefFormatError("model metadata must be a JSON object")
    for key in ("name", "architecture"):
        if key in model and not isinstance(model[key], str):
            raise IntrefFormatError(f"model.{key} must be a string")
    vocab = model.get("vocabulary")
    if vocab is not None and not (isinstance(vocab, list) and all(isinstance(v, str) for v in vocab)):
        raise IntrefFormatError("model.vocabulary must be a list of strings")
    for key in ("frontend", "decoder"):
        if model.get(key) is not None and not isinstance(model[key], dict):
            raise IntrefFormatError(f"model.{key} must be a JSON object")
    if not isinstance(provenance, dict):
        raise IntrefFormatError("provenance must be a JSON object")
    sha = provenance.get("source_sha256")
    if sha is not None and not (isinstance(sha, str) and HEX64_RE.match(sha)):
        raise IntrefFormatError("provenance.source_sha256 must be 64 lowercase hex digits")
    for key in ("source", "intref_version"):
        if provenance.get(key) is not None and not isinstance(provenance[key], str):
            raise IntrefFormatError(f"provenance.{key} must be a string")
    if provenance.get("recipe") is not None and not isinstance(provenance["recipe"], dict):
        raise IntrefFormatError("provenance.recipe must be a JSON object")


def parse_document(doc: Any, stored: dict[str, StoredTensor]) -> GraphSpec:
    """Check the document's structure against the container's tensors; returns the graph spec."""
    if not isinstance(doc, dict):
        raise IntrefFormatError("the intref document is not a JSON object")
    version = doc.get("format_version")
    if not is_int(version):
        raise IntrefFormatError(f"format_version must be an integer, got {show(version)}")
    if version != FORMAT_VERSION:
        raise IntrefFormatError(f"unknown format version {version} (this intref reads version {FORMAT_VERSION})")
    _keys(doc, TOP_KEYS, TOP_KEYS, "the intref document")
    _metadata(doc["model"], doc["provenance"])

    raw_tensors = doc["tensors"]
    if not isinstance(raw_tensors, dict):
        raise IntrefFormatError("tensors must map names to tensor specs")
    tensors = {}
    for name, raw in raw_tensors.items():
        check_name(name, "tensor", tensor=name)
        tensors[name] = _tensor(name, raw, stored.get(name))
    for name in stored:
        if name not in tensors:
            raise IntrefFormatError("the container stores this tensor but the graph does not declare it", tensor=name)

    inputs = _name_list(doc["inputs"], "inputs")
    outputs = _name_list(doc["outputs"], "outputs")
    if not outputs:
        raise IntrefFormatError("the graph declares no outputs")
    for name in inputs:
        if name not in tensors:
            raise IntrefFormatError("graph input is not declared in tensors", tensor=name)
        if name in stored:
            raise IntrefFormatError("graph input is a stored constant", tensor=name)
    if not isinstance(doc["nodes"], list):
        raise IntrefFormatError("nodes must be a list")
    nodes = [_node(raw, i) for i, raw in enumerate(doc["nodes"])]
    _check_references(nodes, tensors, stored, inputs, outputs)
    return GraphSpec(list(inputs), list(outputs), tensors, nodes, doc["model"], doc["provenance"], version)


def _check_references(nodes, tensors, stored, inputs, outputs) -> None:
    """Every reference resolves, each activation is produced once, and before it is used (so no cycles)."""
    producer: dict[str, int] = {}
    node_names: set[str] = set()
    for i, node in enumerate(nodes):
        if node.name in node_names:
            raise IntrefFormatError("two nodes have this name", node=node.name)
        node_names.add(node.name)
        for t in node.outputs:
            if t not in tensors:
                raise IntrefFormatError(f"output {show(t)} is not declared in tensors", node=node.name)
            if t in stored or t in inputs:
                raise IntrefFormatError(f"output {show(t)} is a constant or a graph input", node=node.name)
            if t in producer:
                raise IntrefFormatError(
                    f"output {show(t)} is also produced by node {show(nodes[producer[t]].name)}", node=node.name
                )
            producer[t] = i
    for i, node in enumerate(nodes):
        for t in node.inputs:
            if t not in tensors:
                raise IntrefFormatError(f"input {show(t)} is not declared (dangling reference)", node=node.name)
            if t in stored or t in inputs:
                continue
            if t not in producer:
                raise IntrefFormatError(f"input {show(t)} is never produced (dangling reference)", node=node.name)
            if producer[t] >= i:
                later = nodes[producer[t]].name
                kind = "cyclic reference" if producer[t] == i else "used before it is produced (cycle or bad order)"
                raise IntrefFormatError(f"input {show(t)} is {kind}: node {show(later)} makes it", node=node.name)
        for role, t in node.params.items():
            if t not in tensors:
                raise IntrefFormatError(f"param {show(role)} names the undeclared tensor {show(t)}", node=node.name)
            if t not in stored:
                raise IntrefFormatError(
                    f"param {show(role)} names {show(t)}, which is not a stored constant", node=node.name
                )
    for t in outputs:
        if t not in producer and t not in inputs:
            raise IntrefFormatError("graph output is not produced by any node", tensor=t)
