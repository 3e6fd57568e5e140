"""Builds the golden vectors shipped in this directory from seeded synthetic weights.

    python vectors/build.py            # rewrite vectors/model and vectors/ops
    python vectors/build.py --out DIR  # build elsewhere (the tests compare such a build with the shipped one)

The material (a small graph covering every op, rescale scheme and weight width, and op-level cases aimed at
ties, saturation, INT32 extremes and shift limits) is defined in intref.vectors.synthetic; expectations come
from the reference (numpy) backend. Rebuilding must give identical files unless the integer spec changed.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from intref.vectors.export import export
from intref.vectors.opcase import write_case
from intref.vectors.synthetic import demo_input, demo_model, op_cases

HERE = Path(__file__).resolve().parent


def build(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model_dir = out / "model"
    export(
        demo_model(),
        {"x": demo_input()},
        model_dir,
        formats=("npy", "memh", "c"),
        backend="numpy",
        force=model_dir.exists(),
    )
    ops_dir = out / "ops"
    if ops_dir.exists():
        shutil.rmtree(ops_dir)
    for case in op_cases():
        write_case(
            ops_dir, case.op, case.name, case.purpose, case.inputs, case.params, case.attrs, case.requant, case.acc
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output directory (default: this directory)")
    args = parser.parse_args()
    build(args.out)
    print(f"golden vectors written to {args.out}")


if __name__ == "__main__":
    main()
