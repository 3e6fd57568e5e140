"""``intref inspect MODEL``: the nodes of a model file with shapes, weight bits, rescale scheme, sizes."""

from __future__ import annotations

import math
from typing import Any

from ..graph import Model, load
from ..graph.core_ops import weight_bits
from ..spec import PackedInt4
from ._common import add_command, print_json

DESCRIPTION = """\
Print a table of the model's nodes: input and output types, weight bits, rescale scheme, parameter count
(weights and biases) and the bytes of the node's stored tensors; then the totals and the compression ratio
against the same parameters in float32."""


def register(sub) -> None:
    p = add_command(sub, "inspect", "describe a model file", DESCRIPTION)
    p.add_argument("model", help="an .intref model file")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(func=run)


def _elements(value) -> int:
    return math.prod(value.shape)


def describe(model: Model) -> dict[str, Any]:
    rows = []
    for bound in model.nodes:
        spec = bound.spec
        params = sum(_elements(bound.consts[r]) for r in ("w", "bias") if r in bound.consts)
        stored = sum(model.stored[t].nbytes for t in set(spec.params.values()))
        rows.append(
            {
                "index": bound.index,
                "name": spec.name,
                "op": spec.op,
                "inputs": [model.tensors[t].describe() for t in spec.inputs],
                "outputs": [model.tensors[t].describe() for t in spec.outputs],
                "weight_bits": weight_bits(bound),
                "int4_narrow": bool(isinstance(bound.consts.get("w"), PackedInt4) and bound.consts["w"].narrow),
                "scheme": bound.requant.scheme if bound.requant else None,
                "per_channel": bool(bound.requant is not None and bound.requant.channels not in (None, 1)),
                "acc": f"{bound.acc.policy}/{bound.acc.bits}" if bound.acc else None,
                "params": params,
                "bytes": stored,
            }
        )
    params = sum(r["params"] for r in rows)
    total = sum(a.nbytes for a in model.stored.values())
    return {
        "model": {
            "name": model.name,
            "architecture": model.metadata.get("architecture"),
            "format_version": model.graph.format_version,
            "sha256": model.sha256,
            "inputs": [f"{t.name}: {t.describe()}" for t in model.inputs],
            "outputs": [f"{t.name}: {t.describe()}" for t in model.outputs],
            "provenance": model.provenance,
        },
        "nodes": rows,
        "total": {
            "nodes": len(rows),
            "params": params,
            "bytes": total,
            "float32_bytes": 4 * params,
            "compression": (4 * params / total) if total else None,
        },
    }


def _table(rows: list[dict[str, Any]]) -> list[str]:
    header = ["#", "node", "op", "in -> out", "w", "scheme", "acc", "params", "bytes"]
    body = []
    for r in rows:
        bits = "" if r["weight_bits"] is None else f"{r['weight_bits']}{'n' if r['int4_narrow'] else ''}"
        scheme = (r["scheme"] or "") + ("/ch" if r["per_channel"] else "")
        body.append(
            [
                str(r["index"]),
                r["name"],
                r["op"],
                f"{', '.join(r['inputs'])} -> {', '.join(r['outputs'])}",
                bits,
                scheme,
                r["acc"] or "",
                f"{r['params']:,}",
                f"{r['bytes']:,}",
            ]
        )
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    right = {0, 7, 8}
    return [
        "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *body]
    ]


def run(args) -> int:
    info = describe(load(args.model))
    if args.json:
        print_json(info)
        return 0
    m, t = info["model"], info["total"]
    print(f"model    {m['name']} ({m['architecture']}), format {m['format_version']}, sha256 {m['sha256'][:16]}...")
    print(f"inputs   {', '.join(m['inputs'])}")
    print(f"outputs  {', '.join(m['outputs'])}")
    print()
    print("\n".join(_table(info["nodes"])))
    print()
    ratio = f"{t['compression']:.2f}x smaller" if t["compression"] else "n/a"
    print(
        f"total    {t['nodes']} nodes, {t['params']:,} parameters, {t['bytes']:,} bytes stored; "
        f"float32 {t['float32_bytes']:,} bytes ({ratio})"
    )
    print("         (w: weight bits, 4n = narrow int4; /ch: per-channel rescale; acc: overflow policy/bits)")
    return 0
