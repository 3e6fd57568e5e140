"""Node kinds of autoregressive decoders: ``embed`` (token and position tables), and the data movement of a
key/value cache, ``concat_rows`` (the cache followed by the new rows) and ``tail_rows`` (the last rows).

A decoder step is one run of a graph whose inputs are the new tokens, their positions and the cache of every
layer, and whose outputs include the grown cache: the caller keeps the cache between runs, the graph stays a
plain function of its inputs (so golden vectors and backend checks work per step).
"""

from __future__ import annotations

import numpy as np

from ..ops.embed import embed
from .nn_ops import MAX_INDEX, MOVABLE
from .registry import Attr, NodeKind, dims_agree, need_dtype, need_rank, register


@register
class Embed(NodeKind):
    """``ops.embed``: rows ``table[ids]`` rescaled per row (``multiplier``/``shift`` of the requant, one per table
    row) plus ``positions_table[positions]``. The table is typically a tied output projection's weights.

    Every backend runs the reference :func:`intref.ops.embed`: a step gathers a few rows, there is nothing for a
    compiled kernel to win."""

    op = "embed"
    inputs = ("ids", "positions")
    params = ("table", "positions_table")
    requant = "required"

    def prepare(self, bound, param_specs):
        table = self.int_param(bound, "table", ("int8", "int4"), ndim=2)
        pos = self.int_param(bound, "positions_table", ("int16",), ndim=2)
        if pos.shape[1] != table.shape[1]:
            raise ValueError(f"positions_table rows have {pos.shape[1]} entries, table rows {table.shape[1]}")
        if bound.requant.zero_point != 0:
            raise ValueError(f"the output zero point must be 0, got {bound.requant.zero_point}")
        n = bound.requant.channels
        if n not in (None, table.shape[0]):
            raise ValueError(f"requant has {n} per-row parameters for {table.shape[0]} table rows")
        bound.extra["table"], bound.extra["positions_table"] = table, pos

    def infer(self, bound, inputs):
        ids, positions = inputs
        for role, spec in (("ids", ids), ("positions", positions)):
            need_dtype(role, spec, ("int32",), self.op)
            need_rank(role, spec, 1, self.op)
        if not dims_agree(ids.shape[0], positions.shape[0]):
            raise ValueError(f"ids has {ids.shape[0]} entries, positions {positions.shape[0]}")
        width = bound.extra["table"].shape[1]
        dtype = np.dtype(bound.requant.out_dtype).name
        return [(dtype, (ids.shape[0], width))]

    def call(self, backend, bound, args):
        x = bound.extra
        op = getattr(backend, "embed", embed)  # the reference op where a backend has no faster one
        return [op(args[0], args[1], x["table"], x["positions_table"], bound.requant, name=bound.name)], None


@register
class ConcatRows(NodeKind):
    """``y = concatenate([a, b], axis 0)`` of two 2-D tensors of one dtype and width (data movement)."""

    op = "concat_rows"
    inputs = ("a", "b")

    def infer(self, bound, inputs):
        a, b = inputs
        need_dtype("a", a, MOVABLE, self.op)
        for role, spec in (("a", a), ("b", b)):
            need_rank(role, spec, 2, self.op)
        if b.dtype != a.dtype:
            raise ValueError(f"input b ({b.name!r}) is {b.dtype}, a is {a.dtype}")
        if not dims_agree(a.shape[1], b.shape[1]):
            raise ValueError(f"input a has {a.shape[1]} columns, b has {b.shape[1]}")
        rows = a.shape[0] + b.shape[0] if isinstance(a.shape[0], int) and isinstance(b.shape[0], int) else None
        return [(a.dtype, (rows, a.shape[1]))]

    def call(self, backend, bound, args):
        a, b = args
        if a.shape[1] != b.shape[1]:
            raise ValueError(f"input a has {a.shape[1]} columns, b has {b.shape[1]}")
        return [np.concatenate([a, b], axis=0)], None


@register
class TailRows(NodeKind):
    """``y = x[-count:]``: the last ``count`` rows of a 2-D tensor (data movement); x needs at least that many."""

    op = "tail_rows"
    attrs = {"count": Attr(default=1, lo=1, hi=MAX_INDEX)}

    def infer(self, bound, inputs):
        (x,) = inputs
        need_dtype("x", x, MOVABLE, self.op)
        need_rank("x", x, 2, self.op)
        count = bound.attrs["count"]
        if isinstance(x.shape[0], int) and x.shape[0] < count:
            raise ValueError(f"count = {count} is more than the {x.shape[0]} rows of x")
        return [(x.dtype, (count, x.shape[1]))]

    def call(self, backend, bound, args):
        x = args[0]
        count = bound.attrs["count"]
        if x.shape[0] < count:
            raise ValueError(f"count = {count} is more than the {x.shape[0]} rows of x")
        return [np.ascontiguousarray(x[-count:])], None


__all__ = ["ConcatRows", "Embed", "TailRows"]
