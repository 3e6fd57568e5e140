"""The safetensors container: an 8-byte little-endian header length N, N bytes of JSON header, then the data.

The header maps each tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets count from the
start of the data) and ``__metadata__`` to a string-to-string map. This module reads and writes that layout itself,
checking every size against the file before it allocates or maps anything, so a hostile file can only produce an
``IntrefFormatError``. Reading is zero-copy: tensors are NumPy views of a read-only memory map whenever their
offset is aligned to their element size (files written here always are).
"""

from __future__ import annotations

import json
import math
import mmap
import os
from dataclasses import dataclass

import numpy as np

from ..errors import IntrefFormatError, show

# Storage dtypes (the safetensors names this format uses), always little-endian.
STORAGE_DTYPES: dict[str, np.dtype] = {
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "I16": np.dtype("<i2"),
    "U16": np.dtype("<u2"),
    "I32": np.dtype("<i4"),
    "U32": np.dtype("<u4"),
    "I64": np.dtype("<i8"),
    "U64": np.dtype("<u8"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
_NAME_OF = {dt.newbyteorder("<"): name for name, dt in STORAGE_DTYPES.items()}

MAX_HEADER_BYTES = 100_000_000  # the safetensors library's own limit
MAX_RANK = 32
METADATA_KEY = "__metadata__"


@dataclass(frozen=True)
class StoredTensor:
    """One tensor entry of the header, checked against the file."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass
class Container:
    """A parsed container: metadata, tensor entries, and NumPy views of their data."""

    metadata: dict[str, str]
    entries: dict[str, StoredTensor]
    arrays: dict[str, np.ndarray]
    data_start: int
    size: int
    buffer: object  # keeps the memory map (or bytes) alive as long as the arrays


def _fail(problem: str, tensor: str | None = None) -> IntrefFormatError:
    return IntrefFormatError(problem, tensor=tensor)


def _reject_constant(name: str):
    raise _fail(f"header holds the non-standard JSON constant {name}")


def _unique_object(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise _fail(f"header repeats the key {show(key)}")
        out[key] = value
    return out


def parse_json(text: bytes | str, what: str):
    """Strict JSON: UTF-8, no NaN/Infinity, no repeated keys; any failure is an IntrefFormatError."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant)
    except IntrefFormatError:
        raise
    except UnicodeDecodeError as exc:
        raise _fail(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise _fail(f"{what} is not valid JSON: {exc.msg} at character {exc.pos}") from None
    except (ValueError, RecursionError) as exc:  # integers too long to convert, nesting too deep
        raise _fail(f"{what} cannot be parsed: {show(str(exc), 80)}") from None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry(name: str, raw, data_len: int) -> StoredTensor:
    if not isinstance(raw, dict):
        raise _fail("header entry is not an object", name)
    extra = set(raw) - {"dtype", "shape", "data_offsets"}
    if extra:
        raise _fail(f"header entry has unknown fields {sorted(map(show, extra))}", name)
    dtype = raw.get("dtype")
    if not isinstance(dtype, str) or dtype not in STORAGE_DTYPES:
        raise _fail(f"unsupported storage dtype {show(dtype)} (supported: {', '.join(STORAGE_DTYPES)})", name)
    shape = raw.get("shape")
    if not isinstance(shape, list) or len(shape) > MAX_RANK or not all(_is_int(d) and d >= 0 for d in shape):
        raise _fail(f"shape must be a list of at most {MAX_RANK} integers >= 0, got {show(shape)}", name)
    offsets = raw.get("data_offsets")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(v) for v in offsets)):
        raise _fail(f"data_offsets must be a pair of integers, got {show(offsets)}", name)
    begin, end = offsets
    if not 0 <= begin <= end:
        raise _fail(f"data_offsets {show(offsets)} are not an increasing pair of offsets >= 0", name)
    if end > data_len:
        raise _fail(f"data_offsets end at byte {end} but the file holds only {data_len} bytes of data", name)
    needed = math.prod(shape) * STORAGE_DTYPES[dtype].itemsize  # Python ints: no overflow
    if needed != end - begin:
        raise _fail(f"shape {shape} of {dtype} needs {needed} bytes but data_offsets span {end - begin}", name)
    return StoredTensor(name, dtype, tuple(shape), begin, end)


def _check_layout(entries: list[StoredTensor], data_len: int) -> None:
    """Tensors must tile the data exactly (what the safetensors library requires too): no gap, no overlap."""
    position, previous = 0, None
    for e in sorted(entries, key=lambda e: (e.begin, e.end, e.name)):
        if e.begin != position:
            if e.begin < position:
                raise _fail(f"data overlaps tensor {show(previous)} (bytes {e.begin}..{e.end})", e.name)
            raise _fail(f"unused gap of {e.begin - position} bytes in the data before this tensor", e.name)
        position, previous = e.end, e.name
    if position != data_len:
        raise _fail(f"the data holds {data_len} bytes but the tensors cover only {position}")


def parse(buffer, size: int | None = None) -> Container:
    """Parse a container held in ``buffer`` (bytes or a memory map); tensors are views into it."""
    size = len(buffer) if size is None else size
    if size < 8:
        raise _fail(f"file too short for a header ({size} bytes; truncated?)")
    header_len = int.from_bytes(bytes(buffer[:8]), "little")
    if header_len > MAX_HEADER_BYTES:
        raise _fail(f"declared header size {header_len} exceeds the limit of {MAX_HEADER_BYTES} bytes")
    if header_len > size - 8:
        raise _fail(f"declared header size {header_len} is larger than the file ({size - 8} bytes after it)")
    header = parse_json(bytes(buffer[8 : 8 + header_len]), "header")
    if not isinstance(header, dict):
        raise _fail("header is not a JSON object")
    metadata = header.get(METADATA_KEY, {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _fail("__metadata__ must map strings to strings")
    data_start = 8 + header_len
    data_len = size - data_start
    entries = [_entry(name, raw, data_len) for name, raw in header.items() if name != METADATA_KEY]
    _check_layout(entries, data_len)
    arrays = {}
    for e in entries:
        dt = STORAGE_DTYPES[e.dtype]
        count = math.prod(e.shape)
        offset = data_start + e.begin
        arr = np.frombuffer(buffer, dtype=dt, count=count, offset=offset) if count else np.empty(0, dt)
        if offset % dt.itemsize:
            arr = arr.copy()  # unaligned (not written by intref): copy rather than hand kernels an unaligned view
        arrays[e.name] = arr.reshape(e.shape)
    return Container(metadata, {e.name: e for e in entries}, arrays, data_start, size, buffer)


def read(path: str | os.PathLike) -> Container:
    """Memory-map and parse a container file."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise _fail(f"file too short for a header ({size} bytes; truncated?)")
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    return parse(mapped, size)


def storage_name(dtype: np.dtype) -> str:
    dt = np.dtype(dtype).newbyteorder("<") if np.dtype(dtype).itemsize > 1 else np.dtype(dtype)
    try:
        return _NAME_OF[dt]
    except KeyError:
        raise ValueError(f"dtype {dtype} cannot be stored in an intref file") from None


def serialize(metadata: dict[str, str], arrays: dict[str, np.ndarray]) -> bytes:
    """Deterministic bytes for a container.

    Tensors are laid out by decreasing element size, then by name, so every tensor starts at a multiple of its
    element size once the data start is padded to 8 bytes (the header is padded with spaces, as safetensors does).
    """
    order = sorted(arrays, key=lambda n: (-np.dtype(arrays[n].dtype).itemsize, n))
    header: dict[str, object] = {METADATA_KEY: dict(sorted(metadata.items()))}
    chunks, position = [], 0
    for name in order:
        arr = arrays[name]
        dtype = storage_name(arr.dtype)
        data = np.ascontiguousarray(arr, dtype=STORAGE_DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [position, position + len(data)]}
        chunks.append(data)
        position += len(data)
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()
    text += b" " * (-(8 + len(text)) % 8)
    return len(text).to_bytes(8, "little") + text + b"".join(chunks)


def write(path: str | os.PathLike, data: bytes) -> None:
    """Write through a temporary file and rename, so a reader never sees half a model."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
