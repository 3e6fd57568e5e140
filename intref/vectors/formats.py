"""File formats of golden vectors: ``.npy``, ``.memh`` (for ``$readmemh``) and C headers; and reading them back.

Every writer is deterministic (the same array gives the same bytes on every machine and NumPy version), so a
file's sha256 identifies its content. The ``.npy`` writer is ours for that reason: NPY format 1.0,
little-endian, C order, the header padded with spaces to a multiple of 64 bytes (what NumPy writes).
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import VectorsError, show

# Logical element types: NumPy dtype used in memory, bits of one element in memh/C, C type.
ELEMENT = {
    "int4": (np.dtype(np.int8), 4, "int8_t"),
    "int8": (np.dtype(np.int8), 8, "int8_t"),
    "uint8": (np.dtype(np.uint8), 8, "uint8_t"),
    "int16": (np.dtype("<i2"), 16, "int16_t"),
    "int32": (np.dtype("<i4"), 32, "int32_t"),
    "int64": (np.dtype("<i8"), 64, "int64_t"),
    # The float32 input of a quantize node: memh holds its IEEE-754 bits, C headers exact hex float literals.
    "float32": (np.dtype("<f4"), 32, "float"),
}
MAX_NPY_HEADER = 65535
FORMATS = ("npy", "memh", "c")


# --- npy ---


def npy_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr)
    dt = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype
    shape = repr(tuple(int(d) for d in arr.shape))
    header = f"{{'descr': '{dt.str}', 'fortran_order': False, 'shape': {shape}, }}"
    pad = -(10 + len(header) + 1) % 64
    header_bytes = (header + " " * pad + "\n").encode("latin1")
    data = np.asarray(arr, dtype=dt, order="C").tobytes()
    return b"\x93NUMPY\x01\x00" + len(header_bytes).to_bytes(2, "little") + header_bytes + data


def read_npy(path) -> np.ndarray:
    """Read an ``.npy`` file without pickles; a malformed file is a VectorsError naming it."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise VectorsError(f"{path}: not a readable .npy file ({exc})") from None
    return np.asarray(arr)


# --- memh ---


def memh_text(arr: np.ndarray, dtype: str, label: str) -> str:
    """One element per line, two's complement hex at the element's width; a ``//`` comment line first."""
    _, bits, _ = ELEMENT[dtype]
    digits = bits // 4
    if dtype == "float32":
        values = np.asarray(arr, dtype="<f4").view("<u4").astype(np.int64).ravel()
    else:
        values = np.asarray(arr).astype(np.int64).ravel()
    mask = (1 << bits) - 1
    shape = ", ".join(str(d) for d in np.shape(arr))
    lines = [f"// {label}: {dtype} [{shape}], {values.size} elements, C order, two's complement, {bits} bits"]
    lines.extend(f"{int(v) & mask:0{digits}x}" for v in values)
    return "\n".join(lines) + "\n"


_MEMH_TOKEN = re.compile(r"[^\s]+")


def read_memh(text: str, dtype: str, shape: tuple[int, ...], path: str = "memh") -> np.ndarray:
    """Parse ``$readmemh``-style text (comments, ``@address`` lines) into an array of ``dtype`` and ``shape``."""
    np_dtype, bits, _ = ELEMENT[dtype]
    count = int(np.prod(shape, dtype=np.int64))
    values: dict[int, int] = {}
    position = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("//", 1)[0]
        for token in _MEMH_TOKEN.findall(line):
            try:
                if token.startswith("@"):
                    position = int(token[1:], 16)
                    continue
                word = int(token.replace("_", ""), 16)
            except ValueError:
                raise VectorsError(f"{path}:{lineno}: {show(token)} is not a hex word (x/z cannot compare)") from None
            if position >= count:
                raise VectorsError(f"{path}:{lineno}: more than the {count} elements of shape {list(shape)}")
            if word >> bits:
                raise VectorsError(f"{path}:{lineno}: {token} does not fit in {bits} bits")
            values[position] = word if dtype == "float32" else word - (1 << bits) if word >> (bits - 1) else word
            position += 1
    if len(values) != count:
        raise VectorsError(f"{path}: holds {len(values)} elements, shape {list(shape)} needs {count}")
    out = np.array([values[i] for i in range(count)], dtype=np.int64)
    if dtype == "float32":
        return out.astype("<u4").view("<f4").reshape(shape)
    return out.astype(np_dtype).reshape(shape)


# --- C headers ---


def c_identifier(text: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return ident if ident and not ident[0].isdigit() else f"n_{ident}"


def _c_int(value: int, ctype: str) -> str:
    if ctype == "int64_t":
        return "(-9223372036854775807LL - 1)" if value == -(2**63) else f"{value}LL"
    if ctype == "int32_t" and value == -(2**31):
        return "(-2147483647 - 1)"
    return str(value)


def c_array(ident: str, arr: np.ndarray, dtype: str, comment: str) -> str:
    """A ``static const`` array (integers of a logical dtype, or ``float64`` as ``double``) and its length."""
    ctype = "double" if dtype == "float64" else ELEMENT[dtype][2]
    flat = np.asarray(arr).ravel()
    if dtype == "float64":
        literals = [repr(float(v)) for v in flat]
    elif dtype == "float32":
        literals = [f"{float(v).hex()}f" for v in flat.astype(np.float32)]  # exact in C99
    else:
        literals = [_c_int(int(v), ctype) for v in flat.astype(np.int64)]
    shape = ", ".join(str(d) for d in np.shape(arr))
    out = [f"/* {comment}: {dtype} [{shape}], C order */", f"#define {ident.upper()}_LEN {len(literals)}"]
    if not literals:
        out.append(f"static const {ctype} {ident}[1] = {{0}}; /* empty */")
        return "\n".join(out)
    body = ["    " + ", ".join(literals[i : i + 16]) + "," for i in range(0, len(literals), 16)]
    out.append(f"static const {ctype} {ident}[{len(literals)}] = {{")
    out.extend(body)
    out.append("};")
    return "\n".join(out)


def c_value(value) -> tuple[str, str]:
    """C type and literal of a scalar struct field (int, float or string)."""
    if isinstance(value, bool):
        return "int32_t", str(int(value))
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return "int32_t", _c_int(value, "int32_t")
        return "int64_t", _c_int(value, "int64_t")
    if isinstance(value, float):
        return "double", repr(value) if np.isfinite(value) else "0.0"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return "const char *", f'"{text}"'


def c_header(
    guard: str, title: str, arrays: list[tuple[str, np.ndarray, str, str]], fields: list[tuple[str, object]]
) -> str:
    """A self-contained header: the arrays, then a params struct type and one instance of it.

    ``arrays``: (identifier, array, logical dtype, comment). ``fields``: (name, scalar) or (name, "&ident")
    for a pointer to one of the arrays.
    """
    prefix = guard.lower()
    lines = [
        f"/* {title} */",
        f"#ifndef {guard.upper()}_H",
        f"#define {guard.upper()}_H",
        "",
        "#include <stdint.h>",
        "",
    ]
    ctypes = {ident: "double" if dtype == "float64" else ELEMENT[dtype][2] for ident, _, dtype, _ in arrays}
    for ident, arr, dtype, comment in arrays:
        lines.extend([c_array(ident, arr, dtype, comment), ""])
    decl, init = [], []
    for name, value in fields:
        if isinstance(value, str) and value.startswith("&"):
            ident = value[1:]
            decl.append(f"    const {ctypes[ident]} *{name};")
            init.append(f"    .{name} = {ident},")
        else:
            ctype, literal = c_value(value)
            decl.append(f"    {ctype} {name};")
            init.append(f"    .{name} = {literal},")
    lines.append("typedef struct {")
    lines.extend(decl)
    lines.append(f"}} {prefix}_params_t;")
    lines.append("")
    lines.append(f"static const {prefix}_params_t {prefix}_params = {{")
    lines.extend(init)
    lines.append("};")
    lines.extend(["", f"#endif /* {guard.upper()}_H */", ""])
    return "\n".join(lines)
