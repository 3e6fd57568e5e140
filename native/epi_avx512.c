/* AVX-512 epilogue: accumulator policy, tflite_double / single rescale, zero point, clamp and narrowing
 * store for 16 channels at a time; other schemes rescale the held values with the scalar code. Any vector
 * with a failing check is redone element by element by the scalar code, which records the first offending
 * index, so the vector code only has to detect failures. */
#include <string.h>

#include "requant.h"
#include "epi_avx512.h"

#if INTREF_X86
#include <immintrin.h>

/* The policy on raw + corr (int32 lanes, exact sum possibly outside int32). *bad: lanes that overflow
 * under the error policy. */
INTREF_INLINE INTREF_TARGET_AVX512 __m512i hold16(const epi_plan *p, __m512i raw, __m512i corr, __mmask16 *bad) {
    const __m512i zero = _mm512_setzero_si512();
    __m512i s = _mm512_add_epi32(raw, corr);
    __mmask16 ovf =
        _mm512_cmplt_epi32_mask(_mm512_and_si512(_mm512_xor_si512(raw, s), _mm512_xor_si512(corr, s)), zero);
    __mmask16 above = ovf, below = ovf;
    if (ovf) {
        __mmask16 neg = _mm512_cmplt_epi32_mask(corr, zero);
        above = ovf & (__mmask16)~neg;
        below = ovf & neg;
    }
    if (p->bits < 32) {
        above |= (__mmask16)~ovf & _mm512_cmpgt_epi32_mask(s, _mm512_set1_epi32((int32_t)p->acc_hi));
        below |= (__mmask16)~ovf & _mm512_cmplt_epi32_mask(s, _mm512_set1_epi32((int32_t)p->acc_lo));
    }
    if (!(above | below)) return s;
    if (p->policy == INTREF_POLICY_ERROR) {
        *bad |= above | below;
        return s;
    }
    if (p->policy == INTREF_POLICY_WRAP) {
        if (p->bits == 32) return s;
        return _mm512_srai_epi32(_mm512_slli_epi32(s, (unsigned)(32 - p->bits)), (unsigned)(32 - p->bits));
    }
    s = _mm512_mask_mov_epi32(s, above, _mm512_set1_epi32((int32_t)p->acc_hi));
    return _mm512_mask_mov_epi32(s, below, _mm512_set1_epi32((int32_t)p->acc_lo));
}

/* Element-exact redo of one vector (a check failed in it somewhere): notes the first failures. */
static void redo16(const epi_plan *p, int mode, const int32_t *src, const int32_t *corr, int lanes, int64_t flat,
                   int64_t c, void *acc_out, void *y_out, intref_errs *e) {
    int l;
    for (l = 0; l < lanes; l++)
        epi_one(p, (int64_t)src[l] + (mode == EPI_CORR ? corr[l] : 0), flat + l, c + l, acc_out, y_out, e);
}

/* The common case on its own (see epi_avx512.h), constants hoisted per 16 channels. */
static INTREF_TARGET_AVX512 void tfl_held(const epi_plan *p, const int32_t *tile, int ld, int nrows, int64_t row0,
                                          int64_t c0, int nch, void *y) {
    const __m512i lo32 = _mm512_set1_epi32(p->lo32), hi32 = _mm512_set1_epi32(p->hi32);
    const __m512i zp32 = _mm512_set1_epi32(p->zp32);
    const int sat8 = p->sat8, ob = p->out_bytes;
    const int64_t ch = p->channels;
    int j, i;
    for (j = 0; j < nch; j += 16) {
        const int lanes = nch - j < 16 ? nch - j : 16;
        const __mmask16 km = (__mmask16)(lanes == 16 ? 0xFFFFu : ((1u << lanes) - 1u));
        const tfl16 v = tfl_params(p, c0 + j);
        for (i = 0; i < nrows; i++) {
            __m512i r = tfl_vec16(&v, _mm512_maskz_loadu_epi32(km, tile + (int64_t)i * ld + j));
            tfl_store16(sat8, ob, lo32, hi32, zp32, y, (row0 + i) * ch + c0 + j, km, r);
        }
    }
}

/* The same for single rounding with every shift <= 0 (plan.single_safe): (x * M + 2^(n-1)) >> n per 64-bit
 * lane, no range check needed. */
static INTREF_TARGET_AVX512 void single_held(const epi_plan *p, const int32_t *tile, int ld, int nrows, int64_t row0,
                                             int64_t c0, int nch, void *y) {
    const __m512i lo32 = _mm512_set1_epi32(p->lo32), hi32 = _mm512_set1_epi32(p->hi32);
    const __m512i zp32 = _mm512_set1_epi32(p->zp32);
    const int sat8 = p->sat8, ob = p->out_bytes;
    const int64_t ch = p->channels;
    int j, i;
    for (j = 0; j < nch; j += 16) {
        const int lanes = nch - j < 16 ? nch - j : 16;
        const __mmask16 km = (__mmask16)(lanes == 16 ? 0xFFFFu : ((1u << lanes) - 1u));
        const int64_t c = c0 + j;
        const __m512i m = _mm512_loadu_si512((const void *)(p->m32 + c)), mo = _mm512_srli_epi64(m, 32);
        const __m512i ne = _mm512_loadu_si512((const void *)(p->n64 + c));
        const __m512i no = _mm512_loadu_si512((const void *)(p->n64 + c + 8));
        const __m512i re = _mm512_loadu_si512((const void *)(p->rnd64 + c));
        const __m512i ro = _mm512_loadu_si512((const void *)(p->rnd64 + c + 8));
        for (i = 0; i < nrows; i++) {
            const __m512i x = _mm512_maskz_loadu_epi32(km, tile + (int64_t)i * ld + j);
            const __m512i pe = _mm512_mul_epi32(x, m), po = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), mo);
            const __m512i se = _mm512_srav_epi64(_mm512_add_epi64(pe, re), ne);
            const __m512i so = _mm512_srav_epi64(_mm512_add_epi64(po, ro), no);
            const __m512i r = _mm512_mask_blend_epi32(0xAAAA, se, _mm512_slli_epi64(so, 32));
            tfl_store16(sat8, ob, lo32, hi32, zp32, y, (row0 + i) * ch + c, km, r);
        }
    }
}

INTREF_TARGET_AVX512 void epi_tile_avx512(const epi_plan *p, int mode, const int32_t *tile, int ld, int nrows,
                                          int64_t row0, int64_t c0, int nch, const int32_t *corr, void *acc_out,
                                          void *y_out, intref_errs *e) {
    /* loop invariants in registers; per-channel parameters are loaded once per 16 channels */
    const int scheme = p->scheme, ob = p->out_bytes, any_left = p->any_left, any_sat = p->any_sat;
    const int any_right = p->any_right, hold = mode == EPI_CORR;
    const int64_t ch = p->channels;
    const __m512i lo32 = _mm512_set1_epi32(p->lo32), hi32 = _mm512_set1_epi32(p->hi32);
    const __m512i zp32 = _mm512_set1_epi32(p->zp32), nudge = _mm512_set1_epi64(INT64_C(1) << 30);
    const __m512i min32 = _mm512_set1_epi32(I32_MIN), max32 = _mm512_set1_epi32(I32_MAX);
    const __m512i minus1 = _mm512_set1_epi32(-1), off31 = _mm512_set1_epi64(INT64_C(1) << 31);
    const __m512i zero = _mm512_setzero_si512();
    int j, i, l;
    if (mode == EPI_HELD && p->fast && !acc_out) {
        tfl_held(p, tile, ld, nrows, row0, c0, nch, y_out);
        return;
    }
    if (mode == EPI_HELD && p->single_safe && p->vec && !acc_out) {
        single_held(p, tile, ld, nrows, row0, c0, nch, y_out);
        return;
    }
    for (j = 0; j < nch; j += 16) {
        const int lanes = nch - j < 16 ? nch - j : 16;
        const __mmask16 km = (__mmask16)(lanes == 16 ? 0xFFFFu : ((1u << lanes) - 1u));
        const int64_t c = c0 + j; /* a multiple of 16: the parameter arrays are laid out per 16 channels */
        const __m512i cv = hold ? _mm512_maskz_loadu_epi32(km, corr + j) : zero;
        __m512i m = zero, mo = zero, left = zero, right = zero, rmask = zero, rthr = zero;
        __m512i ne = zero, no = zero, re = zero, ro = zero;
        __mmask16 sat_m = 0;
        if (p->vec) {
            m = _mm512_loadu_si512((const void *)(p->m32 + c));
            mo = _mm512_srli_epi64(m, 32);
            if (scheme == INTREF_SCHEME_TFLITE_DOUBLE) {
                left = _mm512_loadu_si512((const void *)(p->left + c));
                right = _mm512_loadu_si512((const void *)(p->right + c));
                rmask = _mm512_loadu_si512((const void *)(p->rmask + c));
                rthr = _mm512_loadu_si512((const void *)(p->rthr + c));
                sat_m = _mm512_cmpeq_epi32_mask(m, min32);
            } else {
                ne = _mm512_loadu_si512((const void *)(p->n64 + c));
                no = _mm512_loadu_si512((const void *)(p->n64 + c + 8));
                re = _mm512_loadu_si512((const void *)(p->rnd64 + c));
                ro = _mm512_loadu_si512((const void *)(p->rnd64 + c + 8));
            }
        }
        for (i = 0; i < nrows; i++) {
            const int64_t flat = (row0 + i) * ch + c;
            const int32_t *src = tile + (int64_t)i * ld + j;
            __m512i x = _mm512_maskz_loadu_epi32(km, src), r;
            __mmask16 bad = 0;
            if (hold) x = hold16(p, x, cv, &bad);
            if (bad & km) {
                redo16(p, mode, src, corr + j, lanes, flat, c, acc_out, y_out, e);
                continue;
            }
            if (acc_out) _mm512_mask_storeu_epi32((int32_t *)acc_out + flat, km, x);
            if (scheme < 0) continue;
            if (!p->vec) {
                int32_t h32[16];
                int64_t h64[16];
                _mm512_storeu_si512((void *)h32, x);
                for (l = 0; l < lanes; l++)
                    h64[l] = h32[l];
                epi_row_held_generic(p, h64, lanes, flat, c, y_out, e, INTREF_SLOT_RESCALE);
                continue;
            }
            if (scheme == INTREF_SCHEME_TFLITE_DOUBLE) {
                /* MultiplyByQuantizedMultiplier: bits 31..62 of x*M + 2^30 (even and odd lanes as 64-bit
                 * products) are SaturatingRoundingDoublingHighMul; then RoundingDivideByPOT */
                __m512i pe, po, high;
                if (any_left) {
                    __m512i sh = _mm512_sllv_epi32(x, left);
                    bad |= _mm512_cmpneq_epi32_mask(_mm512_srav_epi32(sh, left), x);
                    x = sh;
                }
                pe = _mm512_add_epi64(_mm512_mul_epi32(x, m), nudge);
                po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), mo), nudge);
                high = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
                if (any_sat) high = _mm512_mask_mov_epi32(high, _mm512_mask_cmpeq_epi32_mask(sat_m, x, min32), max32);
                if (any_right) {
                    __m512i rem = _mm512_and_si512(high, rmask);
                    __m512i thr = _mm512_sub_epi32(rthr, _mm512_srai_epi32(high, 31));
                    __m512i q = _mm512_srav_epi32(high, right);
                    high = _mm512_mask_sub_epi32(q, _mm512_cmpgt_epi32_mask(rem, thr), q, minus1);
                }
                r = high;
            } else {
                /* single rounding (x*M + 2^(n-1)) >> n in 64-bit lanes, result must fit int32 */
                __m512i pe = _mm512_mul_epi32(x, m), po = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), mo);
                __m512i se = _mm512_srav_epi64(_mm512_add_epi64(pe, re), ne);
                __m512i so = _mm512_srav_epi64(_mm512_add_epi64(po, ro), no);
                if (_mm512_cmpneq_epi64_mask(_mm512_srli_epi64(_mm512_add_epi64(se, off31), 32), zero) |
                    _mm512_cmpneq_epi64_mask(_mm512_srli_epi64(_mm512_add_epi64(so, off31), 32), zero))
                    bad = 0xFFFF;
                r = _mm512_mask_blend_epi32(0xAAAA, se, _mm512_slli_epi64(so, 32));
            }
            if (bad & km) {
                redo16(p, mode, src, corr + j, lanes, flat, c, acc_out, y_out, e);
                continue;
            }
            store16(y_out, ob, flat, km, _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(r, lo32), hi32), zp32));
        }
    }
}

#endif
