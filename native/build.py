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
    cflags = ["-O3", "-std=c99", "-fopenmp", "-fno-strict-aliasing"]
    ldflags = ["-fopenmp"]
    if os.environ.get("INTREF_SANITIZE") == "1":
        san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer", "-g"]
        cflags = [f for f in cflags if f != "-O3"] + ["-O1"] + san
        ldflags += san
    return cflags, ldflags


ffibuilder = cffi.FFI()
ffibuilder.cdef(_cdef())
_cflags, _ldflags = _compile_args()
ffibuilder.set_source(
    "intref._native",
    '#include "intref_native.h"',
    sources=SOURCES,
    include_dirs=[str(HERE)],
    extra_compile_args=_cflags,
    extra_link_args=_ldflags,
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="directory for the built module")
    args = parser.parse_args()
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.chdir(HERE.parent)  # sources are relative to the repository root
    print(ffibuilder.compile(tmpdir=str(out), verbose=True))
