"""int4 packing: nibble order, odd counts, ranges, row-by-row tensors, validation (against the oracle's packer)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from oracle import pack_int4 as oracle_pack
from oracle import unpack_int4 as oracle_unpack

from intref.spec import PackedInt4, int4_range, pack_int4, pack_nibbles, unpack_nibbles


def test_ranges():
    assert int4_range(narrow=True) == (-7, 7)
    assert int4_range(narrow=False) == (-8, 7)


def test_nibble_order_known_bytes():
    assert pack_nibbles(np.array([1, 2], dtype=np.int8)).tolist() == [0x21]  # element 0 in the low nibble
    assert pack_nibbles(np.array([-1], dtype=np.int8)).tolist() == [0x0F]  # odd count: zero high nibble
    assert pack_nibbles(np.array([-8, 7, 3], dtype=np.int8)).tolist() == [0x78, 0x03]
    assert pack_nibbles(np.array([7, -8], dtype=np.int64)).tolist() == [0x87]
    assert pack_nibbles(np.array([], dtype=np.int8)).tolist() == []
    assert unpack_nibbles(np.array([0x8F, 0x07], dtype=np.uint8), 3).tolist() == [-1, -8, 7]


def test_every_byte_unpacks_as_sign_extended_nibbles():
    data = np.arange(256, dtype=np.uint8)
    got = unpack_nibbles(data, 512)
    assert got.dtype == np.int8
    assert got.tolist() == oracle_unpack(list(range(256)), 512)


@given(narrow=st.booleans(), data=st.data())
def test_pack_nibbles_round_trip(narrow, data):
    lo, hi = int4_range(narrow)
    values = data.draw(st.lists(st.integers(lo, hi), max_size=41))
    dtype = data.draw(st.sampled_from([np.int8, np.int16, np.int32, np.int64]))
    packed = pack_nibbles(np.array(values, dtype=dtype), narrow=narrow)
    assert packed.dtype == np.uint8 and packed.shape == ((len(values) + 1) // 2,)
    assert packed.tolist() == oracle_pack(values)
    unpacked = unpack_nibbles(packed, len(values))
    assert unpacked.dtype == np.int8 and unpacked.tolist() == values


def test_pack_nibbles_rejects_out_of_range():
    with pytest.raises(ValueError, match="-9 at index 2"):
        pack_nibbles(np.array([0, 1, -9, 8]))
    with pytest.raises(ValueError, match="8 at index 1"):
        pack_nibbles(np.array([0, 8]))
    with pytest.raises(ValueError, match="-8 at index 3"):
        pack_nibbles(np.array([0, 1, 2, -8]), narrow=True)
    pack_nibbles(np.array([0, 1, 2, -8]), narrow=False)
    with pytest.raises(ValueError, match="1-D"):
        pack_nibbles(np.zeros((2, 2), dtype=np.int8))
    with pytest.raises(ValueError, match="integers"):
        pack_nibbles(np.array([1.0, 2.0]))


def test_unpack_nibbles_validation():
    with pytest.raises(ValueError, match="uint8"):
        unpack_nibbles(np.array([1, 2], dtype=np.int8), 4)
    with pytest.raises(ValueError, match="uint8"):
        unpack_nibbles(np.zeros((1, 2), dtype=np.uint8), 4)
    with pytest.raises(ValueError, match="bytes"):
        unpack_nibbles(np.zeros(2, dtype=np.uint8), 5)
    with pytest.raises(ValueError, match="bytes"):
        unpack_nibbles(np.zeros(2, dtype=np.uint8), 2)


shapes = st.one_of(
    st.tuples(st.integers(0, 9)),
    st.tuples(st.integers(0, 5), st.integers(0, 9)),
    st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 7)),
)


@given(shape=shapes, narrow=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_pack_int4_row_by_row(shape, narrow, seed):
    lo, hi = int4_range(narrow)
    values = np.random.default_rng(seed).integers(lo, hi + 1, size=shape).astype(np.int8)
    packed = pack_int4(values, narrow=narrow)
    rows = 1 if len(shape) == 1 else shape[0]
    row_len = int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else shape[0]
    assert packed.shape == shape and packed.narrow == narrow
    assert packed.rows == rows and packed.row_len == row_len
    assert packed.data.dtype == np.uint8 and packed.data.shape == (rows, (row_len + 1) // 2)
    flat_rows = values.reshape(rows, row_len).tolist()
    for r in range(rows):  # each row starts on a byte boundary
        assert packed.data[r].tolist() == oracle_pack(flat_rows[r])
    out = packed.unpack()
    assert out.dtype == np.int8 and out.shape == shape and np.array_equal(out, values)


def test_pack_int4_errors():
    with pytest.raises(ValueError, match="flat index 4"):
        pack_int4(np.array([[0, 1, 2], [3, 8, 0]]))
    with pytest.raises(ValueError, match="flat index 1"):
        pack_int4(np.array([0, -8]), narrow=True)
    with pytest.raises(ValueError, match="dimension"):
        pack_int4(np.int8(3))
    with pytest.raises(ValueError, match="integers"):
        pack_int4(np.zeros((2, 2)))


def test_packed_int4_validation():
    ok = np.zeros((2, 2), dtype=np.uint8)
    PackedInt4(ok, (2, 3))
    PackedInt4(ok, (2, 4))
    with pytest.raises(ValueError, match="uint8"):
        PackedInt4(ok.astype(np.int8), (2, 3))
    with pytest.raises(ValueError, match="shape"):
        PackedInt4(ok, (2, 5))
    with pytest.raises(ValueError, match="shape"):
        PackedInt4(ok, (3, 3))
    with pytest.raises(ValueError, match="shape"):
        PackedInt4(ok, ())
    with pytest.raises(ValueError, match="shape"):
        PackedInt4(ok, (2, -3))
    with pytest.raises(ValueError, match="padding"):
        PackedInt4(np.array([[0x00, 0x10], [0, 0]], dtype=np.uint8), (2, 3))
    PackedInt4(np.array([[0x00, 0x10], [0, 0]], dtype=np.uint8), (2, 4))  # even rows have no padding
    for byte in (0x08, 0x80):
        with pytest.raises(ValueError, match="-8"):
            PackedInt4(np.array([[byte, 0], [0, 0]], dtype=np.uint8), (2, 4), narrow=True)
        PackedInt4(np.array([[byte, 0], [0, 0]], dtype=np.uint8), (2, 4), narrow=False)
    assert PackedInt4(np.array([[0x9F]], dtype=np.uint8), (1, 2)).unpack().tolist() == [[-1, -7]]
    assert PackedInt4(np.array([[0x9F]], dtype=np.uint8), (2,)).unpack().tolist() == [-1, -7]


def test_zero_sized_tensors():
    for shape in ((0,), (0, 5), (3, 0)):
        packed = pack_int4(np.zeros(shape, dtype=np.int8))
        assert packed.unpack().shape == shape and packed.unpack().dtype == np.int8
