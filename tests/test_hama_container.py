"""HAMAPK container reader: synthetic files (layout, views, every malformed case) and the installed assets."""

from __future__ import annotations

import hashlib
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from intref.models.hama.assets import AssetNotFoundError, find_asset, sibling_asset
from intref.models.hama.container import HamaFormatError, load_hama, parse_hama

CODES = {np.dtype("<f4"): 0, np.dtype("<f2"): 1, np.dtype("<i8"): 2, np.dtype("<i4"): 3, np.dtype("u1"): 4}


def entry(name: bytes, code: int, shape: tuple[int, ...], offset: int, nbytes: int) -> bytes:
    return (
        struct.pack("<H", len(name)) + name + struct.pack("<BB", code, len(shape))
        + struct.pack(f"<{len(shape)}I", *shape) + struct.pack("<QQ", offset, nbytes)
    )  # fmt: skip


def build(tensors: dict[str, np.ndarray], version: int = 1, kind: int = 2) -> bytes:
    """A valid container: data blob after the table, aligned to 16, offsets relative to the blob."""
    table, blob = b"", b""
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr).tobytes()
        table += entry(name.encode(), CODES[arr.dtype], arr.shape, len(blob), len(raw))
        blob += raw + b"\0" * (-len(raw) % 8)
    head = b"HAMAPK" + struct.pack("<BBI", version, kind, len(tensors)) + table
    return head + b"\0" * (-len(head) % 16) + blob


def header(count: int, version: int = 1) -> bytes:
    return b"HAMAPK" + struct.pack("<BBI", version, 2, count)


def sample_tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "mel_fb": rng.standard_normal((3, 5)).astype("<f4"),
        "w.f16": rng.standard_normal((2, 1, 7)).astype("<f2"),
        "ids": np.arange(4, dtype="<i8"),
        "i32": np.array([-1, 2, 3], dtype="<i4"),
        "bytes": np.arange(5, dtype="u1"),
        "scalar": np.array(2.5, dtype="<f4"),
        "empty": np.zeros((0, 3), dtype="<f4"),
        "ünïcode": np.ones(2, dtype="<f4"),
    }


def test_round_trip_all_dtypes_and_views():
    tensors = sample_tensors()
    data = build(tensors)
    f = parse_hama(data)
    assert (f.version, f.kind) == (1, 2)
    assert f.sha256 == hashlib.sha256(data).hexdigest()
    assert [e.name for e in f.entries] == list(tensors)
    assert f.data_start % 16 == 0
    for name, arr in tensors.items():
        got = f[name]
        assert got.dtype == arr.dtype and got.shape == arr.shape
        np.testing.assert_array_equal(got, arr)
        assert not got.flags.writeable and not got.flags.owndata  # a view of the buffer, not a copy
    assert f.float32("w.f16", (2, 1, 7)).dtype == np.float32


def test_offsets_count_from_the_data_blob():
    # The table ends at byte 12 + 2 + 1 + 2 + 4 + 16 = 37, so the blob starts at 48; an absolute offset of 0 would
    # read the header instead.
    a = np.array([1.0, 2.0], dtype="<f4")
    f = parse_hama(build({"a": a}))
    assert f.data_start == 48 and f.entries[0].offset == 0
    np.testing.assert_array_equal(f["a"], a)


def test_load_from_path_maps_the_file(tmp_path):
    data = build(sample_tensors())
    path = tmp_path / "m.hama"
    path.write_bytes(data)
    f = load_hama(path)
    assert f.source == str(path) and f.size == len(data)
    assert f.sha256 == hashlib.sha256(data).hexdigest()
    np.testing.assert_array_equal(f["ids"], np.arange(4))
    assert not f["ids"].flags.owndata


def test_lookup_errors_name_the_tensor():
    f = parse_hama(build(sample_tensors()), source="x.hama")
    with pytest.raises(HamaFormatError, match=r"x\.hama: tensor 'nope' is missing"):
        f["nope"]
    with pytest.raises(HamaFormatError, match=r"'mel_fb' has shape \(3, 5\), expected \(5, 3\)"):
        f.float32("mel_fb", (5, 3))
    with pytest.raises(HamaFormatError, match="'ids' has dtype int64"):
        f.float32("ids")


GOOD = build({"t": np.zeros(4, dtype="<f4")})
TABLE_END = 12 + 2 + 1 + 2 + 4 + 16
LONG = entry(b"x" * 40, 0, (1,), 0, 4)  # long enough to pass the count check for two entries


def _corrupt(pos: int, new: bytes, data: bytes = GOOD) -> bytes:
    return data[:pos] + new + data[pos + len(new) :]


MALFORMED = {
    "empty": (b"", "truncated: header"),
    "short header": (b"HAMAPK\x01", "truncated: header"),
    "bad magic": (_corrupt(0, b"HAMAPX"), "bad magic"),
    "unsupported version": (_corrupt(6, b"\x07"), "unsupported container version 7"),
    "absurd count": (_corrupt(8, struct.pack("<I", 0xFFFFFFFF)), "tensor count 4294967295 cannot fit"),
    "count beyond table": (_corrupt(8, struct.pack("<I", 2)), "tensor #1"),
    "truncated name length": (header(2) + LONG + b"\x05", "truncated: name length of tensor #1"),
    "truncated name": (header(2) + LONG + b"\x05\x00ab", "truncated: name of tensor #1"),
    "name beyond file": (header(1) + struct.pack("<H", 60000) + b"\0" * 20, "truncated: name of tensor #0"),
    "invalid utf-8 name": (header(1) + entry(b"\xff\xfe", 0, (1,), 0, 4) + b"\0" * 16, "not valid UTF-8"),
    "empty name": (header(1) + entry(b"", 0, (1,), 0, 4) + b"\0" * 16, "empty name"),
    "unknown dtype": (_corrupt(15, b"\x09"), "tensor #0 't': unknown dtype code 9"),
    "absurd ndim": (header(1) + entry(b"t", 0, (1,) * 9, 0, 4) + b"\0" * 64, "absurd number of dimensions 9"),
    "absurd dim": (header(1) + entry(b"t", 0, (0xFFFFFFFF,), 0, 4) + b"\0" * 16, "'t': absurd dimension"),
    "truncated dims": (header(1) + b"\x01\x00t\x00\x04" + b"\0" * 15, "truncated: dims of tensor #0 't'"),
    "truncated offset": (GOOD[: TABLE_END - 3], "truncated: offset/size of tensor #0 't'"),
    "size not matching shape": (_corrupt(TABLE_END - 8, struct.pack("<Q", 12)), "byte count 12 does not match"),
    "data beyond file": (_corrupt(TABLE_END - 16, struct.pack("<Q", 8)), r"'t': data \[56, 72\) lies beyond the end"),
    "huge offset": (_corrupt(TABLE_END - 16, struct.pack("<Q", 2**63)), "'t': data .* lies beyond the end"),
    "truncated data": (GOOD[:-1], r"'t': data \[48, 64\) lies beyond the end of the file \(63 bytes\)"),
    "blob starts beyond file": (GOOD[:TABLE_END], "truncated: data blob starts at 48"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_inputs_raise_one_clear_error(case):
    data, message = MALFORMED[case]
    with pytest.raises(HamaFormatError, match=message):
        parse_hama(data, source="bad.hama")


def test_duplicate_names():
    one = entry(b"t", 0, (1,), 0, 4)
    head = header(2) + one + one
    data = head + b"\0" * (-len(head) % 16) + b"\0" * 4
    with pytest.raises(HamaFormatError, match="tensor #1 't': duplicate name"):
        parse_hama(data)


def test_huge_shape_is_rejected_before_allocating():
    # 8 x (2^31 - 1) float32s: far more than memory; the size check against the file comes first.
    shape = (2**31 - 1,) * 8
    nbytes = 4 * (2**31 - 1) ** 8
    assert nbytes >= 2**64  # cannot even be stored in the u64 field, so any stored value mismatches
    data = header(1) + entry(b"big", 0, shape, 0, 2**64 - 1) + b"\0" * 16
    with pytest.raises(HamaFormatError, match="'big': byte count"):
        parse_hama(data)
    shape = (2**20, 2**20)  # 4 TiB, consistent byte count
    data = header(1) + entry(b"big", 0, shape, 0, 4 * 2**40) + b"\0" * 16
    with pytest.raises(HamaFormatError, match="'big': data .* lies beyond the end"):
        parse_hama(data)


def test_empty_file_and_missing_file(tmp_path):
    (tmp_path / "empty.hama").write_bytes(b"")
    with pytest.raises(HamaFormatError, match="empty"):
        load_hama(tmp_path / "empty.hama")
    with pytest.raises(FileNotFoundError):
        load_hama(tmp_path / "missing.hama")


# --- the real assets of the installed hama distribution ---------------------------------------------------------


@pytest.fixture(scope="module")
def asr_path():
    try:
        return find_asset()
    except AssetNotFoundError as exc:
        pytest.skip(f"hama is not installed: {exc}")


def test_installed_asr_asset(asr_path):
    f = load_hama(asr_path)
    assert (f.version, f.kind) == (1, 2)
    assert f.sha256 == hashlib.sha256(asr_path.read_bytes()).hexdigest()
    assert f.entries[-1].offset + f.entries[-1].nbytes + f.data_start <= f.size
    mel = f["mel_fb"]
    assert mel.shape == (201, 80) and mel.dtype == np.float32
    # Known values of the filter bank; a wrong data offset would not give them.
    assert (mel >= 0).all()
    np.testing.assert_allclose(mel[:, :25].sum(axis=0), 0.0276768, rtol=1e-4)
    assert all(np.isfinite(a).all() for a in f.tensors.values())


def test_installed_p2g_asset_reads_at_blob_offsets(asr_path):
    p2g = asr_path.with_name("p2g.hama")
    if not p2g.is_file():
        pytest.skip("no p2g.hama in this hama version")
    f = load_hama(p2g)
    assert f.kind == 3
    emb = f["embedding.weight"]
    assert emb.ndim == 2 and np.isfinite(emb[:4]).all()


def test_vocabulary_sits_beside_the_asset(asr_path):
    assert sibling_asset(asr_path).name == "g2p_vocab.json"
    with pytest.raises(AssetNotFoundError):
        sibling_asset(asr_path, "no_such_file.json")


def test_locating_the_asset_does_not_import_hama(asr_path):
    code = (
        "import sys; from intref.models.hama.assets import find_asset; p = find_asset(); "
        "assert 'hama' not in sys.modules, 'hama was imported'; print(p)"
    )
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=repo)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(asr_path)
