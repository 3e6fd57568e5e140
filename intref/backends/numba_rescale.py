"""The numba backend's rescale kernels: the op epilogue (hold exact sums in the accumulator, rescale, clamp,
record errors) and softmax.

``epilogue(ex, out)`` takes the exact int64 sums of an op (flat, C order) and does what
``Requant.apply(Accumulator.apply(ex))`` does in :mod:`intref.spec`: the accumulator policy (error / wrap /
saturate at 16..64 bits), the scheme's integer rescale, the zero point and the clamp. Per-channel parameters
run along the last axis: element i uses channel ``i % C``.

Errors are not raised here. The flat array is cut into blocks of ``BLOCK`` elements and each block records,
per error category, the first flat index at which it met that category and the value involved; blocks cover
increasing index ranges, so the Python side finds the first offending element of each category by scanning
them in order, whatever the thread count.

The loops are branch-free per element so that LLVM vectorises them (AVX-512 has 64-bit multiplies and
per-lane shifts). All of it is in one module on purpose: numba's on-disk cache checks only the source file of
the function it caches, so a helper in another file could go stale inside the cached kernel. For the same
reason the softmax kernel (:func:`softmax`) is here: it rescales its logits with these scheme functions, a
row at a time, with the row's exponentials and sum kept in cache. For int8/int16 logits it rescales each
possible difference ``x - max(x)`` once per call instead (:func:`softmax_table`), since the rescale depends
on that difference alone.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# Rescale schemes, in the order of intref.spec.rescale.SCHEMES.
TFLITE_DOUBLE, SINGLE, TOSA_DOUBLE, TOSA_SCALE16, DYADIC, ONNX = range(6)
SCHEME_CODES = {
    "tflite_double": TFLITE_DOUBLE,
    "single": SINGLE,
    "tosa_double": TOSA_DOUBLE,
    "tosa_scale16": TOSA_SCALE16,
    "dyadic": DYADIC,
    "onnx": ONNX,
}
# Accumulator policies, in the order of intref.spec.accumulator.POLICIES.
POLICY_ERROR, POLICY_WRAP, POLICY_SATURATE = range(3)
POLICY_CODES = {"error": POLICY_ERROR, "wrap": POLICY_WRAP, "saturate": POLICY_SATURATE}

# Error categories (columns of an error record), in the order the reference raises them. A rescale reports
# code 1 for its scheme's first check and code 2 for the second (TOSA double: value range, then result);
# code 3 marks a dyadic/onnx product that might need more than 64 bits (the spec then takes over).
# A1..B2 are the input rescales of ``add``, which come before its accumulator exists.
CAT_A1, CAT_A2, CAT_B1, CAT_B2, CAT_OVERFLOW, CAT_R1, CAT_R2, CAT_WIDE = range(8)
N_CATEGORIES = 8

# Layout of the int64 configuration vector. With RESCALE_ONLY set the kernel only rescales ``ex`` (no
# accumulator, zero point or clamp), writes the results to ``held`` and records codes from FIRST_CATEGORY.
CFG_POLICY, CFG_BITS, CFG_SCHEME, CFG_REQUANT, CFG_ZP, CFG_LO, CFG_HI = range(7)
CFG_STORE_HELD, CFG_RESCALE_ONLY, CFG_FIRST_CATEGORY = range(7, 10)
CFG_SIZE = 10

BLOCK = 4096  # elements per block of work and error record (buffers this small stay off mmap)

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MAX = 2**63 - 1
PRODUCT_LIMIT = 2**62 - 1  # dyadic/onnx: |value| * m must stay below 2^62 for the int64 path


@njit(cache=True)
def _note(errs, vals, rec, cat, index, value):
    """Remember the first error of category ``cat`` in block ``rec`` (later ones have higher indices)."""
    if errs[rec, cat] < 0:
        errs[rec, cat] = index
        vals[rec, cat] = value


@njit(cache=True)
def _hold(ex, h, policy, bits):
    """Hold the exact sums ``ex`` in a ``bits``-wide accumulator (into ``h``); True if one overflowed under
    policy 'error' (``h`` then holds the unchecked sums)."""
    n = ex.shape[0]
    if bits >= 64:
        for i in range(n):
            h[i] = ex[i]
        return False
    hi = (np.int64(1) << (bits - 1)) - 1
    lo = -hi - 1
    if policy == POLICY_WRAP:
        mask = (np.int64(1) << bits) - 1
        for i in range(n):
            h[i] = ((ex[i] - lo) & mask) + lo
        return False
    if policy == POLICY_SATURATE:
        for i in range(n):
            h[i] = min(max(ex[i], lo), hi)
        return False
    outside = False
    for i in range(n):
        e = ex[i]
        outside |= (e < lo) | (e > hi)
        h[i] = e
    return outside


@njit(cache=True)
def _note_first_overflow(ex, flat0, bits, errs, vals, rec):
    hi = (np.int64(1) << (bits - 1)) - 1
    lo = -hi - 1
    for i in range(ex.shape[0]):
        if ex[i] < lo or ex[i] > hi:
            _note(errs, vals, rec, CAT_OVERFLOW, flat0 + i, ex[i])
            return


@njit(cache=True)
def _rescale_tflite_double(v, m, s, r, code):
    # Left shift in int32 (overflow is the error), SaturatingRoundingDoublingHighMul (ties toward +inf, only
    # INT32_MIN * INT32_MIN saturates), then RoundingDivideByPOT (ties away from zero: the threshold is one
    # higher for negative values).
    for i in range(v.shape[0]):
        left = max(s[i], 0)
        right = max(-s[i], 0)
        shifted = v[i] << left
        high = (shifted * m[i] + (np.int64(1) << 30)) >> 31
        high = INT32_MAX if (shifted == INT32_MIN) & (m[i] == INT32_MIN) else high
        mask = (np.int64(1) << right) - 1
        threshold = (mask >> 1) + (1 if high < 0 else 0)
        r[i] = (high >> right) + (1 if (high & mask) > threshold else 0)
        code[i] = 1 if (shifted < INT32_MIN) | (shifted > INT32_MAX) else 0


@njit(cache=True)
def _rescale_half_up(v, m, s, shift_base, shift_sign, r, code):
    """(v * m + 2^(n-1)) >> n with n = shift_base + shift_sign * s, which must fit int32 (single: 31 - shift;
    tosa_scale16: shift)."""
    for i in range(v.shape[0]):
        n = shift_base + shift_sign * s[i]
        x = (v[i] * m[i] + (np.int64(1) << (n - 1))) >> n
        r[i] = x
        code[i] = 1 if (x < INT32_MIN) | (x > INT32_MAX) else 0


@njit(cache=True)
def _rescale_tosa_double(v, m, s, r, code):
    for i in range(v.shape[0]):
        half = np.int64(1) << (s[i] - 1)
        bad_value = (v[i] < -half) | (v[i] >= half)
        extra = ((np.int64(1) << 30) if v[i] >= 0 else -(np.int64(1) << 30)) if s[i] > 31 else 0
        x = (v[i] * m[i] + half + extra) >> s[i]
        r[i] = x
        code[i] = 1 if bad_value else (2 if (x < INT32_MIN) | (x > INT32_MAX) else 0)


@njit(cache=True)
def _rescale_half_even(v, m, s, limit, r, code):
    """round_half_even(v * m / 2^s); code 3 where |v| * m might reach 2^62 (the spec then takes over)."""
    for i in range(v.shape[0]):
        e = min(s[i], 62)
        p = v[i] * m[i]
        q = p >> e
        rem = p - (q << e)
        half = (np.int64(1) << e) >> 1
        up = (rem > half) | ((rem == half) & ((q & 1) == 1) & (e > 0))
        # s > 62: |p| < 2^62 <= 2^(s-1), below one half
        r[i] = 0 if s[i] > 62 else q + (1 if up else 0)
        code[i] = 3 if (v[i] > limit[i]) | (v[i] < -limit[i]) else 0


@njit(cache=True)
def _rescale(v, m, s, limit, scheme, r, code):
    """One rescale of ``intref.spec.rescale`` over a segment with contiguous per-element parameters.

    ``v`` fits the scheme's value width (the accumulator is never wider), so every product fits int64.
    """
    if scheme == TFLITE_DOUBLE:
        _rescale_tflite_double(v, m, s, r, code)
    elif scheme == SINGLE:
        _rescale_half_up(v, m, s, 31, -1, r, code)
    elif scheme == TOSA_SCALE16:
        _rescale_half_up(v, m, s, 0, 1, r, code)
    elif scheme == TOSA_DOUBLE:
        _rescale_tosa_double(v, m, s, r, code)
    else:
        _rescale_half_even(v, m, s, limit, r, code)


@njit(cache=True)
def _rescale_block(v, c0, rq, scheme, r, code):
    """_rescale with per-channel parameters ``rq`` = [multiplier, shift, limit] rows indexed from channel ``c0``
    and wrapping at their length; True if any element failed a check."""
    channels = rq.shape[1]
    n = v.shape[0]
    i, c = 0, c0
    while i < n:
        seg = min(n - i, channels - c)
        m, s, limit = rq[0, c : c + seg], rq[1, c : c + seg], rq[2, c : c + seg]
        _rescale(v[i : i + seg], m, s, limit, scheme, r[i : i + seg], code[i : i + seg])
        i += seg
        c = 0
    failed = False
    for i in range(n):
        failed |= code[i] != 0
    return failed


@njit(cache=True)
def _note_codes(code, values, flat0, first_cat, errs, vals, rec):
    """Record the first element of each nonzero ``code`` (category ``first_cat + code - 1``)."""
    for i in range(code.shape[0]):
        if code[i] != 0:
            _note(errs, vals, rec, first_cat + code[i] - 1, flat0 + i, values[i])


@njit(cache=True)
def _finish(ex, flat0, out, rec):
    """The epilogue of one block: exact sums ``ex`` of the flat outputs ``flat0 ...``."""
    cfg, rq, y, held, errs, vals = out
    n = ex.shape[0]
    c0 = flat0 % rq.shape[1]
    r = np.empty(n, np.int64)
    code = np.empty(n, np.int8)
    if cfg[CFG_RESCALE_ONLY] != 0:
        if _rescale_block(ex, c0, rq, cfg[CFG_SCHEME], r, code):
            _note_codes(code, ex, flat0, cfg[CFG_FIRST_CATEGORY], errs, vals, rec)
        for i in range(n):
            held[flat0 + i] = r[i]
        return
    h = np.empty(n, np.int64)
    if _hold(ex, h, cfg[CFG_POLICY], cfg[CFG_BITS]):
        _note_first_overflow(ex, flat0, cfg[CFG_BITS], errs, vals, rec)
        return  # the op raises the overflow: nothing else of this block matters
    if cfg[CFG_STORE_HELD] != 0:
        for i in range(n):
            held[flat0 + i] = h[i]
    if cfg[CFG_REQUANT] == 0:
        return
    if _rescale_block(h, c0, rq, cfg[CFG_SCHEME], r, code):
        _note_codes(code, h, flat0, CAT_R1, errs, vals, rec)
    zp, lo, hi = cfg[CFG_ZP], cfg[CFG_LO], cfg[CFG_HI]
    for i in range(n):
        y[flat0 + i] = min(max(r[i] + zp, lo), hi)


@njit(parallel=True, cache=True)
def epilogue(ex, out):
    """Run the epilogue over the flat exact sums ``ex``, block b (of BLOCK elements) recording in row b.

    ``out`` = (cfg, rq, y, held, errs, vals): configuration, [3, C] rescale parameters (multiplier, shift,
    product limit), flat int32 outputs, flat int64 held accumulators (or rescaled values), error records.
    """
    size = ex.shape[0]
    for b in prange((size + BLOCK - 1) // BLOCK):
        i0 = b * BLOCK
        _finish(ex[i0 : min(size, i0 + BLOCK)], i0, out, b)


# --- softmax --------------------------------------------------------------------------------------------------

INT64_MIN = -(2**63)


@njit(cache=True)
def _exp2_neg_q8(r, exp2):
    """exp2_neg_q8(max(-r, 0)): 2^(-u/256) in Q15 for the rescaled value r (<= 0)."""
    u = max(-r, 0)
    return exp2[u & 255] >> min(u >> 8, 31)


@njit(cache=True)
def softmax_table(rq, scheme, exp2, floor, table):
    """``table[j]`` = the e of ``x - max(x) = -j`` (clamped at ``floor``), or -1 if its rescale fails a check.

    For int8/int16 logits the difference takes only ``table.size`` values: one rescale per value serves
    every element.
    """
    size = table.shape[0]
    d = np.empty(size, np.int64)
    for j in range(size):
        d[j] = max(-j, floor)
    r = np.empty(size, np.int64)
    code = np.empty(size, np.int8)
    _rescale_block(d, 0, rq, scheme, r, code)
    for j in range(size):
        table[j] = -1 if code[j] != 0 else _exp2_neg_q8(r[j], exp2)


@njit(cache=True)
def _exps_by_table(xr, kr, top, table, e):
    """e of the attended elements from :func:`softmax_table` (0 where masked) and their sum; -1 if one failed."""
    total = np.int64(0)
    failed = False
    for i in range(xr.shape[0]):
        v = np.int64(table[top - np.int64(xr[i])]) if kr[i] else 0
        e[i] = v
        total += v
        failed |= v < 0
    return -1 if failed else total


@njit(cache=True)
def _exps_by_rescale(xr, kr, top, rq, scheme, exp2, floor, e, r, code):
    """As :func:`_exps_by_table`, rescaling every element (int32 logits)."""
    n = xr.shape[0]
    for i in range(n):
        e[i] = max(np.int64(xr[i]) - top, floor) if kr[i] else 0  # d; masked elements rescale 0
    if _rescale_block(e, 0, rq, scheme, r, code):
        return -1
    total = np.int64(0)
    for i in range(n):
        v = _exp2_neg_q8(r[i], exp2) if kr[i] else 0
        e[i] = v
        total += v
    return total


@njit(cache=True)
def _softmax_row(xr, kr, rq, scheme, exp2, floor, table, out_max, out_zp, e, r, code, yr):
    """One row of :func:`intref.ops.softmax` (``kr``: attend flags); False, with ``yr`` unwritten, if a rescale
    failed one of its scheme's checks or might need more than 64 bits (the floor rules both out)."""
    n = xr.shape[0]
    top = INT64_MIN
    for i in range(n):  # a max reduction (vectorises); logits are int32 at most, so INT64_MIN means none
        top = max(top, np.int64(xr[i]) if kr[i] else INT64_MIN)
    if top == INT64_MIN:  # nothing attended: every e is 0, the row is all out_zp
        for i in range(n):
            yr[i] = out_zp
        return True
    if table.shape[0] > 0:
        total = _exps_by_table(xr, kr, top, table, e)
    else:
        total = _exps_by_rescale(xr, kr, top, rq, scheme, exp2, floor, e, r, code)
    if total < 0:
        return False
    k = 0  # bit length of total (>= 2^15: the row's maximum contributes 2^15)
    while (total >> k) != 0:
        k += 1
    shift = k + 15
    scale = out_max * ((np.int64(1) << shift) // total)  # out_max * inv <= 2^32: e * scale stays below 2^47
    half = np.int64(1) << (shift - 1)
    for i in range(n):
        yr[i] = ((e[i] * scale + half) >> shift) + out_zp
    return True


@njit(cache=True)
def softmax_range(x, keep, keep_row, rq, scheme, exp2, floor, table, out_max, out_zp, y, failed, r0, r1):
    """Softmax of rows r0 .. r1 - 1 of ``x`` [R, N] into ``y`` [R, N] (the output type).

    Row r attends where ``keep[keep_row[r]]`` is True. ``rq`` holds the multiplier, shift and product limit
    (as for the epilogue), ``floor`` the clamp of ``x - max(x)``; ``table`` is :func:`softmax_table`'s, or
    empty to rescale every element. ``failed[r]`` is set for a row the kernel could not finish.
    """
    n = x.shape[1]
    e = np.empty(n, np.int64)
    r = np.empty(n, np.int64)
    code = np.empty(n, np.int8)
    for row in range(r0, r1):
        kr = keep[keep_row[row]]
        ok = _softmax_row(x[row], kr, rq, scheme, exp2, floor, table, out_max, out_zp, e, r, code, y[row])
        failed[row] = not ok


@njit(parallel=True, cache=True)
def softmax(x, keep, keep_row, rq, scheme, exp2, floor, table, out_max, out_zp, y, failed, tasks):
    """:func:`softmax_range` over all rows, cut into ``tasks`` consecutive ranges."""
    rows = x.shape[0]
    for task in prange(tasks):
        r0, r1 = (task * rows) // tasks, ((task + 1) * rows) // tasks
        softmax_range(x, keep, keep_row, rq, scheme, exp2, floor, table, out_max, out_zp, y, failed, r0, r1)
