"""cffi build of the C core as ``intref._native`` (API mode, out of line).

Used by ``pip install`` (setup.py names ``native/build.py:ffibuilder``). Run directly to build elsewhere:
``python native/build.py --out DIR``. ``INTREF_SANITIZE=1`` builds with AddressSanitizer and UBSan.
"""

from __future__ import annotations

import argparse
import os
import pathlib

import cffi

HERE = pathlib.Path(__file__).resolve().parent
SOURCES = sorted(str(p.relative_to(HERE.parent)) for p in HERE.glob("*.c"))
HEADER = HERE / "intref_native.h"


def _cdef() -> str:
    # The header minus preprocessor lines is valid cffi cdef text.
    return "\n".join(line for line in HEADER.read_text().splitlines() if not line.lstrip().startswith("#"))


def _compile_args() -> tuple[list[str], list[str]]:
    # Generic x86-64 baseline (no -march): the SIMD paths carry their own per-function targets and are
    # chosen at run time, so one build runs on any CPU of the architecture.
    # No fused multiply-adds and no fast-math: quantize's float64 arithmetic must round as NumPy's does.
    cflags = ["-O3", "-std=c99", "-fopenmp", "-fno-strict-aliasing", "-ffp-contract=off", "-Wall"]
    cflags += ["-Wno-unused-function"]
    ldflags = ["-fopenmp"]
    if os.environ.get("INTREF_SANITIZE") == "1":
        # -fno-wrapv: Python's own flags define signed overflow, which would hide it from UBSan
        san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer", "-g"]
        san += ["-fno-wrapv"]
        cflags = [f for f in cflags if f != "-O3"] + ["-O1", "-DINTREF_SANITIZED=1"] + san
        ldflags += san
    return cflags, ldflags


def make_builder(absolute_sources: bool = False) -> cffi.FFI:
    """The cffi builder; sources are relative to the repository root (as setuptools wants) or absolute."""
    builder = cffi.FFI()
    builder.cdef(_cdef())
    cflags, ldflags = _compile_args()
    sources = [str(HERE.parent / s) for s in SOURCES] if absolute_sources else SOURCES
    builder.set_source(
        "intref._native",
        '#include "intref_native.h"',
        sources=sources,
        include_dirs=[str(HERE)],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
    )
    return builder


ffibuilder = make_builder()

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="directory for the built module")
    args = parser.parse_args()
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    # cffi compiles inside `out`, so the sources are named by absolute path here
    print(make_builder(absolute_sources=True).compile(tmpdir=str(out), verbose=True))
