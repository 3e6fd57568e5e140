"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def common_options() -> argparse.ArgumentParser:
    """Options every command accepts, before or after its name."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show the full traceback on errors"
    )
    return parent


def add_command(sub, name: str, help_text: str, description: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help_text,
        description=description,
        parents=[common_options()],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, allow_nan=False)
    sys.stdout.write("\n")


def read_inputs(specs: list[str]) -> dict[str, np.ndarray] | np.ndarray:
    """``PATH.npy`` (a single-input model) or ``name=PATH.npy`` pairs."""
    from ..errors import IntrefInputError
    from ..vectors.formats import read_npy

    if len(specs) == 1 and "=" not in specs[0]:
        return np.array(read_npy(Path(specs[0])))
    out = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise IntrefInputError(f"input {spec!r}: give PATH.npy for a single input, or name=PATH.npy pairs")
        if name in out:
            raise IntrefInputError(f"input {name!r} is given twice")
        out[name] = np.array(read_npy(Path(path)))
    return out
