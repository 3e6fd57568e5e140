"""``intref import-tflite MODEL.tflite -o MODEL.intref``: a full-integer TFLite model as an intref model file."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

from ._common import add_command, print_json

DESCRIPTION = """\
Import a full-integer TFLite model (int8 activations, int8 or int4 weights, per-tensor or per-channel scales) into
an intref model file, with the arithmetic of the TensorFlow Lite Micro reference kernels (docs/TFLITE.md). The
imported model runs on every backend and works with `intref vectors export/verify/check` like any other.

A float input through QUANTIZE and a float output through DEQUANTIZE are the graph's boundary: the model file
starts and ends at the integer tensors and records their scales. A model with operators intref does not import
is refused with one error listing each of them and where it is used.

examples:
  intref import-tflite micro_speech_quantized.tflite -o micro_speech.intref
  intref vectors export micro_speech.intref features.npy --out golden/"""


DUMP = """\
Run a TFLite model once with the TensorFlow Lite Micro interpreter (needs the tflite-micro package) and write
every operator's output as <name>.npy, named as `intref import-tflite` names the nodes, so that
`intref vectors verify` compares intref's golden vectors with TFLite Micro node by node.

example:
  intref import-tflite model.tflite -o model.intref
  intref vectors export model.intref input.npy --out golden/
  intref tflm-dump model.tflite input.npy --out tflm/
  intref vectors verify golden/ --dump tflm/"""


def register(sub) -> None:
    p = add_command(sub, "import-tflite", "import a full-integer TFLite model", DESCRIPTION)
    p.add_argument("model", help="the .tflite file")
    p.add_argument("-o", "--output", required=True, help="the .intref file to write")
    p.add_argument(
        "--reference",
        choices=("tflm", "litert"),
        default="tflm",
        help="whose reference kernels to follow where they differ (default tflm; docs/TFLITE.md)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)

    d = add_command(sub, "tflm-dump", "dump every tensor of a TFLite Micro run (for vectors verify)", DUMP)
    d.add_argument("model", help="the .tflite file")
    d.add_argument("inputs", nargs="+", metavar="INPUT", help="one .npy per model input, in the model's order")
    d.add_argument("--out", required=True, help="the directory to write")
    d.set_defaults(func=run_dump)


def run_dump(args) -> int:
    from ..models.tflite.tflm import dump
    from ..vectors.formats import read_npy

    written = dump(args.model, [np.array(read_npy(Path(p))) for p in args.inputs], args.out)
    print(f"wrote {len(written)} tensors to {args.out}")
    return 0


def run(args) -> int:
    from ..models.tflite import import_tflite

    model = import_tflite(args.model, reference=args.reference)
    sha256 = model.save(args.output)
    path = args.output
    ops = Counter(n.op for n in model.nodes)
    summary = {
        "output": str(path),
        "sha256": sha256,
        "nodes": len(model.nodes),
        "ops": dict(sorted(ops.items())),
        "inputs": [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape)} for t in model.inputs],
        "outputs": [{"name": t.name, "dtype": t.dtype, "shape": list(t.shape)} for t in model.outputs],
    }
    if args.json:
        print_json(summary)
        return 0
    print(f"wrote {path} ({summary['nodes']} nodes: {', '.join(f'{k} x{v}' for k, v in summary['ops'].items())})")
    for role in ("inputs", "outputs"):
        for t in summary[role]:
            print(f"  {role[:-1]} {t['name']}: {t['dtype']}{t['shape']}", file=sys.stdout)
    return 0
