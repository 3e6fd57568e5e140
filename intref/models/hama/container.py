"""Reader of the HAMAPK weight container used by the `hama` package (`*.hama` files).

Layout (little endian)::

    b"HAMAPK"  u8 version  u8 kind  u32 tensor_count
    per tensor: u16 name_len, name (UTF-8), u8 dtype, u8 ndim, ndim x u32 dims, u64 offset, u64 nbytes
    zero padding up to a multiple of 16, then the data blob

Offsets count from the start of the data blob, not from the start of the file. Every malformed input raises
:class:`HamaFormatError`; sizes are checked before anything is allocated, and tensors are zero-copy read-only views.
"""

from __future__ import annotations

import hashlib
import math
import mmap
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

MAGIC = b"HAMAPK"
SUPPORTED_VERSIONS = (1,)
DATA_ALIGNMENT = 16
HEADER = struct.Struct("<6sBBI")
OFFSET_SIZE = struct.Struct("<QQ")
MAX_NDIM = 8
MAX_DIM = 1 << 31
# The smallest table entry: name length, an empty name, dtype, ndim, offset, size.
MIN_ENTRY_BYTES = 2 + 1 + 1 + 16

DTYPES: Mapping[int, np.dtype] = MappingProxyType(
    {
        0: np.dtype("<f4"),
        1: np.dtype("<f2"),
        2: np.dtype("<i8"),
        3: np.dtype("<i4"),
        4: np.dtype("u1"),
    }
)


class HamaFormatError(ValueError):
    """A `.hama` file that cannot be read; the message names the file, the tensor and the problem."""


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor table, as stored."""

    index: int
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    offset: int  # relative to the data blob
    nbytes: int


@dataclass(frozen=True)
class HamaFile:
    """A parsed container: header fields, table, read-only tensor views and the file's sha256."""

    source: str
    version: int
    kind: int
    data_start: int
    size: int
    sha256: str
    entries: tuple[TensorEntry, ...]
    tensors: Mapping[str, np.ndarray] = field(repr=False)

    def __contains__(self, name: str) -> bool:
        return name in self.tensors

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.tensors[name]
        except KeyError:
            raise HamaFormatError(f"{self.source}: tensor '{name}' is missing") from None

    def float32(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """Tensor `name` as a new float32 array, optionally checking its shape."""
        arr = self[name]
        if shape is not None and arr.shape != tuple(shape):
            raise HamaFormatError(f"{self.source}: tensor '{name}' has shape {arr.shape}, expected {tuple(shape)}")
        if arr.dtype.kind != "f":
            raise HamaFormatError(f"{self.source}: tensor '{name}' has dtype {arr.dtype}, expected a float type")
        return arr.astype(np.float32)


class _Cursor:
    """Bounds-checked sequential reader over the table; every short read is a format error."""

    def __init__(self, buf: memoryview, pos: int, source: str):
        self.buf = buf
        self.pos = pos
        self.source = source

    def take(self, n: int, what: str) -> memoryview:
        end = self.pos + n
        if end > len(self.buf):
            raise HamaFormatError(
                f"{self.source}: truncated: {what} needs bytes [{self.pos}, {end}) but the file has {len(self.buf)}"
            )
        out = self.buf[self.pos : end]
        self.pos = end
        return out

    def unpack(self, fmt: str, what: str) -> tuple:
        s = struct.Struct(fmt)
        return s.unpack(self.take(s.size, what))


def parse_hama(data: bytes | bytearray | memoryview | mmap.mmap, source: str = "<bytes>") -> HamaFile:
    """Parse a whole container held in memory (bytes, or an mmap for zero-copy views of a file)."""
    buf = memoryview(data).cast("B")
    size = len(buf)
    sha = hashlib.sha256(buf).hexdigest()
    cur = _Cursor(buf, 0, source)
    magic, version, kind, count = HEADER.unpack(cur.take(HEADER.size, "header"))
    if magic != MAGIC:
        raise HamaFormatError(f"{source}: bad magic {bytes(magic)!r}, expected {MAGIC!r}")
    if version not in SUPPORTED_VERSIONS:
        raise HamaFormatError(f"{source}: unsupported container version {version} (known: {SUPPORTED_VERSIONS})")
    if count * MIN_ENTRY_BYTES > size - HEADER.size:
        raise HamaFormatError(f"{source}: tensor count {count} cannot fit in a file of {size} bytes")

    entries = [_read_entry(cur, i, source) for i in range(count)]
    data_start = -(-cur.pos // DATA_ALIGNMENT) * DATA_ALIGNMENT
    if data_start > size:
        raise HamaFormatError(f"{source}: truncated: data blob starts at {data_start} but the file has {size} bytes")

    tensors: dict[str, np.ndarray] = {}
    for e in entries:
        if e.name in tensors:
            raise HamaFormatError(f"{source}: tensor #{e.index} '{e.name}': duplicate name")
        start = data_start + e.offset
        if start + e.nbytes > size:
            raise HamaFormatError(
                f"{source}: tensor #{e.index} '{e.name}': data [{start}, {start + e.nbytes}) lies beyond "
                f"the end of the file ({size} bytes)"
            )
        count_el = e.nbytes // e.dtype.itemsize
        arr = np.frombuffer(buf, dtype=e.dtype, count=count_el, offset=start).reshape(e.shape)
        arr.flags.writeable = False
        tensors[e.name] = arr
    return HamaFile(
        source=source,
        version=version,
        kind=kind,
        data_start=data_start,
        size=size,
        sha256=sha,
        entries=tuple(entries),
        tensors=MappingProxyType(tensors),
    )


def _read_entry(cur: _Cursor, index: int, source: str) -> TensorEntry:
    (name_len,) = cur.unpack("<H", f"name length of tensor #{index}")
    raw = bytes(cur.take(name_len, f"name of tensor #{index}"))
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HamaFormatError(f"{source}: tensor #{index}: name {raw!r} is not valid UTF-8 ({exc.reason})") from None
    if not name:
        raise HamaFormatError(f"{source}: tensor #{index}: empty name")
    label = f"{source}: tensor #{index} '{name}'"
    code, ndim = cur.unpack("<BB", f"dtype/ndim of tensor #{index} '{name}'")
    if code not in DTYPES:
        raise HamaFormatError(f"{label}: unknown dtype code {code} (known: {sorted(DTYPES)})")
    if ndim > MAX_NDIM:
        raise HamaFormatError(f"{label}: absurd number of dimensions {ndim} (at most {MAX_NDIM})")
    shape = cur.unpack(f"<{ndim}I", f"dims of tensor #{index} '{name}'")
    if any(d >= MAX_DIM for d in shape):
        raise HamaFormatError(f"{label}: absurd dimension in shape {shape}")
    offset, nbytes = OFFSET_SIZE.unpack(cur.take(OFFSET_SIZE.size, f"offset/size of tensor #{index} '{name}'"))
    dtype = DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    if nbytes != expected:
        raise HamaFormatError(f"{label}: byte count {nbytes} does not match shape {shape} of {dtype} ({expected})")
    return TensorEntry(index, name, dtype, tuple(int(d) for d in shape), int(offset), int(nbytes))


def load_hama(path: str | os.PathLike) -> HamaFile:
    """Parse a `.hama` file through a read-only memory map (tensors are views of the mapped file)."""
    p = Path(path)
    with open(p, "rb") as f:  # a missing or unreadable file is an OSError, not a format error
        if os.fstat(f.fileno()).st_size == 0:
            raise HamaFormatError(f"{p}: truncated: the file is empty")
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    # The views keep the map alive; it is unmapped when the last of them goes.
    return parse_hama(mm, source=str(p))


__all__ = ["DTYPES", "MAGIC", "HamaFile", "HamaFormatError", "TensorEntry", "load_hama", "parse_hama"]
