"""Where LiteRT's reference kernels differ from TensorFlow Lite Micro's (evidence for docs/TFLITE.md).

Runs the random single-operator models of tests/tflite_cases.py through TFLite Micro, intref and LiteRT's
reference resolver (``ai-edge-litert``, ``OpResolverType.BUILTIN_REF``) and counts, per operator, the models and
elements on which each pair differs. LiteRT and tflite-micro are not installed together here, so it runs in steps:

    python scripts/litert_vs_tflm.py generate DIR [--per-op 200]   # intref's environment (tflite-micro installed)
    python scripts/litert_vs_tflm.py litert DIR                    # an environment with ai-edge-litert
    python scripts/litert_vs_tflm.py compare DIR [--markdown]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def generate(out: Path, per_op: int) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from tflite_cases import CASES
    from tflm_util import run_tflm

    from intref.models.tflite import import_tflite
    from intref.models.tflite.boundary import run

    out.mkdir(parents=True, exist_ok=True)
    index = []
    for op, make in sorted(CASES.items()):
        rng = np.random.default_rng(sum(map(ord, op)) + 99)
        for i in range(per_op):
            case = make(rng)
            name = f"{op}_{i:04d}"
            (out / f"{name}.tflite").write_bytes(case.model)
            tflm = run_tflm(case.model, case.inputs)[0]
            mine = run(import_tflite(case.model), case.inputs, backend="numpy")[0]
            lite_mode = run(import_tflite(case.model, reference="litert"), case.inputs, backend="numpy")[0]
            arrays = {f"in{k}": x for k, x in enumerate(case.inputs)} | {
                "tflm": tflm,
                "intref": mine,
                "intref_litert": lite_mode,
            }
            np.savez(out / f"{name}.npz", **arrays)
            index.append({"name": name, "op": op, "inputs": len(case.inputs), "info": repr(case.info)})
    (out / "index.json").write_text(json.dumps(index, indent=1))


def litert(out: Path) -> None:
    from ai_edge_litert import interpreter as lit

    for entry in json.loads((out / "index.json").read_text()):
        data = dict(np.load(out / f"{entry['name']}.npz"))
        ip = lit.Interpreter(
            model_path=str(out / f"{entry['name']}.tflite"),
            experimental_op_resolver_type=lit.OpResolverType.BUILTIN_REF,
        )
        ip.allocate_tensors()
        for k, detail in enumerate(ip.get_input_details()):
            ip.set_tensor(detail["index"], data[f"in{k}"])
        ip.invoke()
        np.save(out / f"{entry['name']}.litert.npy", ip.get_tensor(ip.get_output_details()[0]["index"]))


def compare(out: Path, markdown: bool) -> None:
    rows: dict[str, list[int]] = {}
    examples: dict[str, str] = {}
    for entry in json.loads((out / "index.json").read_text()):
        data = dict(np.load(out / f"{entry['name']}.npz"))
        lite = np.load(out / f"{entry['name']}.litert.npy")
        t, m = data["tflm"], data["intref"]
        row = rows.setdefault(entry["op"], [0, 0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += int(t.size)
        d_ti = int((t != m).sum())
        d_tl = int((t != lite).sum()) if lite.shape == t.shape else t.size
        row[2] += d_ti
        row[3] += int(d_tl > 0)
        row[4] += d_tl
        row[5] += int((data["intref_litert"] != lite).sum()) if lite.shape == t.shape else t.size
        if d_tl and entry["op"] not in examples:
            i = int(np.flatnonzero((t != lite).ravel())[0]) if lite.shape == t.shape else 0
            examples[entry["op"]] = (
                f"{entry['name']}: element {i}: TFLite Micro {t.ravel()[i]}, LiteRT {lite.ravel()[i]} ({entry['info']})"
            )
    head = [
        "operator",
        "models",
        "elements",
        "intref vs TFLM: differing elements",
        "LiteRT vs TFLM: models",
        "LiteRT vs TFLM: elements",
        "intref --reference litert vs LiteRT: differing elements",
    ]
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
    for op, r in sorted(rows.items()):
        cells = [op, *map(str, r)]
        print("| " + " | ".join(cells) + " |" if markdown else "\t".join(cells))
    for op, text in sorted(examples.items()):
        print(f"\n{op}: {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("generate", "litert", "compare"))
    parser.add_argument("dir", type=Path)
    parser.add_argument("--per-op", type=int, default=200)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if args.step == "generate":
        generate(args.dir, args.per_op)
    elif args.step == "litert":
        litert(args.dir)
    else:
        compare(args.dir, args.markdown)


if __name__ == "__main__":
    main()
