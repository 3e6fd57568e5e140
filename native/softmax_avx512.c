/* AVX-512 softmax row. Three passes over the row: the maximum; the exponentials (kept in scratch) with their
 * sum; the outputs.
 *
 * Exponentials: 16 logits per vector as int32 lanes, u = (w * m + uc) >> n (sm_plan, softmax.c) in 64-bit lanes
 * for the even and the odd elements, then e of 32 elements at a time from the 256-entry table held in 8
 * registers as 16-bit words (four two-register word permutes chosen by index bits 6 and 7: several times faster
 * than a gather). Only elements with d >= plan.cut are rescaled; their u lies in [0, SM_U_MAX], so no clamp is
 * needed. Every other lane (masked, past the row end, or below a cut above the floor, where e = 0 exactly) takes
 * u = SM_U_MAX, whose table value shifts out to 0; a cut at the floor clamps x there instead (as the spec).
 *
 * A 64-bit lane result reaches the odd 32-bit lane with one shift: bits [n, n + 32) of the lane move to its high
 * half (right by n - 32, or left by 32 - n), and a blend takes the even lanes' low halves and the odd lanes' high
 * halves. Full vectors use plain loads and several accumulators (masked loads and one long max chain are slow).
 */
#include "nn.h"
#include "epi_avx512.h"

#if INTREF_X86
#include <immintrin.h>

typedef struct {
    __m512i xclamp, xcut, top, m, uc, mask, one, umax;
    __m128i left, n, nhi; /* nhi: the shift that brings bits [n, n + 32) to the high half */
    int shl, has_left, half_even;
    const uint16_t *tab16;
} sm_vec;

/* Lanes of the 16 elements from i that exist. */
INTREF_INLINE __mmask16 mask16(int64_t n, int64_t i) {
    return n - i >= 16 ? (__mmask16)0xFFFF : n <= i ? (__mmask16)0 : (__mmask16)((1u << (n - i)) - 1u);
}

/* 16 logits from element i as int32 lanes; lanes outside km are 0 (plain loads for whole vectors). */
INTREF_INLINE INTREF_TARGET_AVX512 __m512i load16(const void *x, int xb, int64_t i, __mmask16 km) {
    if (km == 0xFFFF) {
        if (xb == 1) return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)((const int8_t *)x + i)));
        if (xb == 2) return _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)((const int16_t *)x + i)));
        return _mm512_loadu_si512((const void *)((const int32_t *)x + i));
    }
    if (xb == 1) return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(km, (const int8_t *)x + i));
    if (xb == 2) return _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(km, (const int16_t *)x + i));
    return _mm512_maskz_loadu_epi32(km, (const int32_t *)x + i);
}

/* The attended lanes among km. */
INTREF_INLINE INTREF_TARGET_AVX512 __mmask16 keep16(const uint8_t *keep, int64_t i, __mmask16 km) {
    __m128i k;
    if (!keep) return km;
    k = km == 0xFFFF ? _mm_loadu_si128((const __m128i *)(keep + i)) : _mm_maskz_loadu_epi8(km, keep + i);
    return _mm_test_epi8_mask(k, k);
}

/* Bits [n, n + 32) of each 64-bit lane in its high half (the low half is not used). */
INTREF_INLINE INTREF_TARGET_AVX512 __m512i high_bits(__m512i v, int shl, __m128i nhi) {
    return shl ? _mm512_sll_epi64(v, nhi) : _mm512_srl_epi64(v, nhi);
}

/* u for the lanes in kk at or above the cut, SM_U_MAX for the others. fast (a constant in the compiled loops): no
 * left shift, n >= 32 and ties up, the common case; otherwise the flags in v decide. */
INTREF_INLINE INTREF_TARGET_AVX512 __m512i u16(const sm_vec *v, __m512i x, __mmask16 kk, const int fast) {
    const __m512i xc = _mm512_max_epi32(x, v->xclamp);
    const __mmask16 live = _mm512_mask_cmpge_epi32_mask(kk, xc, v->xcut);
    __m512i w = _mm512_maskz_sub_epi32(live, v->top, xc), u;
    __m512i pe, po;
    if (!fast && v->has_left) w = _mm512_sll_epi32(w, v->left);
    pe = _mm512_add_epi64(_mm512_mul_epu32(w, v->m), v->uc);
    po = _mm512_add_epi64(_mm512_mul_epu32(_mm512_srli_epi64(w, 32), v->m), v->uc);
    if (fast) {
        u = _mm512_mask_blend_epi32(0xAAAA, _mm512_srl_epi64(pe, v->n), _mm512_srl_epi64(po, v->nhi));
    } else if (!v->half_even) {
        u = _mm512_mask_blend_epi32(0xAAAA, _mm512_srl_epi64(pe, v->n), high_bits(po, v->shl, v->nhi));
    } else {
        /* a tie leaves the low n bits of A + uc zero and q the upper candidate: an odd q steps down */
        __m512i qe = _mm512_srl_epi64(pe, v->n), qo = _mm512_srl_epi64(po, v->n);
        qe = _mm512_mask_sub_epi64(qe, _mm512_testn_epi64_mask(pe, v->mask) & _mm512_test_epi64_mask(qe, v->one), qe,
                                   v->one);
        qo = _mm512_mask_sub_epi64(qo, _mm512_testn_epi64_mask(po, v->mask) & _mm512_test_epi64_mask(qo, v->one), qo,
                                   v->one);
        u = _mm512_mask_blend_epi32(0xAAAA, qe, _mm512_slli_epi64(qo, 32));
    }
    return _mm512_mask_blend_epi32(live, v->umax, u);
}

/* e = EXP2_Q15[u & 255] >> (u >> 8) for u in [0, SM_U_MAX], 32 at a time: ua and ub packed to words (the
 * packing interleaves them per 128-bit lane, and the unpacking with zero undoes it). */
INTREF_INLINE INTREF_TARGET_AVX512 void exp32(const __m512i tab[8], __m512i ua, __m512i ub, __m512i *ea, __m512i *eb) {
    const __m512i w = _mm512_packus_epi32(ua, ub), zero = _mm512_setzero_si512();
    const __mmask32 b6 = _mm512_test_epi16_mask(w, _mm512_set1_epi16(64));
    const __mmask32 b7 = _mm512_test_epi16_mask(w, _mm512_set1_epi16(128));
    const __m512i t01 = _mm512_mask_blend_epi16(b6, _mm512_permutex2var_epi16(tab[0], w, tab[1]),
                                                _mm512_permutex2var_epi16(tab[2], w, tab[3]));
    const __m512i t23 = _mm512_mask_blend_epi16(b6, _mm512_permutex2var_epi16(tab[4], w, tab[5]),
                                                _mm512_permutex2var_epi16(tab[6], w, tab[7]));
    const __m512i e = _mm512_srlv_epi16(_mm512_mask_blend_epi16(b7, t01, t23), _mm512_srli_epi16(w, 8));
    *ea = _mm512_unpacklo_epi16(e, zero);
    *eb = _mm512_unpackhi_epi16(e, zero);
}

/* Sum of 16 uint32 lanes, in 64 bits. */
INTREF_INLINE INTREF_TARGET_AVX512 int64_t sum16(__m512i s) {
    return _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_cvtepu32_epi64(_mm512_castsi512_si256(s)),
                                                    _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(s, 1))));
}

/* The maximum over attended logits (*any: whether there is one). */
INTREF_INLINE INTREF_TARGET_AVX512 int32_t row_max(const void *x, int64_t n, const uint8_t *keep, int *any,
                                                   const int xb) {
    const __m512i lowest = _mm512_set1_epi32(INT32_MIN);
    __m512i m0 = lowest, m1 = lowest;
    __mmask16 seen = 0;
    int64_t i = 0;
    if (!keep) {
        for (; i + 32 <= n; i += 32) {
            m0 = _mm512_max_epi32(m0, load16(x, xb, i, 0xFFFF));
            m1 = _mm512_max_epi32(m1, load16(x, xb, i + 16, 0xFFFF));
        }
        seen = n > 0;
    }
    for (; i < n; i += 16) {
        const __mmask16 km = mask16(n, i), kk = keep16(keep, i, km);
        m0 = _mm512_mask_max_epi32(m0, kk, m0, load16(x, xb, i, km));
        seen |= kk;
    }
    *any = seen != 0;
    return _mm512_reduce_max_epi32(_mm512_max_epi32(m0, m1));
}

/* The exponentials of a row into scratch (whole vectors: scratch has room for them); returns their sum. */
INTREF_INLINE INTREF_TARGET_AVX512 int64_t exp_pass(const sm_vec *v, const void *x, const uint8_t *keep, int64_t n,
                                                    int32_t *scratch, const int xb, const int has_keep,
                                                    const int fast) {
    __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512(), tab[8], ea, eb;
    int64_t i, total = 0;
    int blocks = 0, l;
    for (l = 0; l < 8; l++)
        tab[l] = _mm512_loadu_si512((const void *)(v->tab16 + 32 * l));
    for (i = 0; i + 32 <= n; i += 32) {
        exp32(tab, u16(v, load16(x, xb, i, 0xFFFF), has_keep ? keep16(keep, i, 0xFFFF) : 0xFFFF, fast),
              u16(v, load16(x, xb, i + 16, 0xFFFF), has_keep ? keep16(keep, i + 16, 0xFFFF) : 0xFFFF, fast), &ea, &eb);
        _mm512_storeu_si512((void *)(scratch + i), ea);
        _mm512_storeu_si512((void *)(scratch + i + 16), eb);
        s0 = _mm512_add_epi32(s0, ea);
        s1 = _mm512_add_epi32(s1, eb);
        if (++blocks == 2048) { /* 2048 * 2^15 per lane stays below 2^31 */
            total += sum16(s0) + sum16(s1);
            s0 = s1 = _mm512_setzero_si512();
            blocks = 0;
        }
    }
    if (i < n) {
        const __mmask16 ka = mask16(n, i), kb = mask16(n, i + 16);
        exp32(tab, u16(v, load16(x, xb, i, ka), keep16(keep, i, ka), fast),
              u16(v, load16(x, xb, i + 16, kb), keep16(keep, i + 16, kb), fast), &ea, &eb);
        _mm512_storeu_si512((void *)(scratch + i), ea);
        _mm512_storeu_si512((void *)(scratch + i + 16), eb);
        s0 = _mm512_add_epi32(s0, ea);
        s1 = _mm512_add_epi32(s1, eb);
    }
    return total + sum16(s0) + sum16(s1);
}

/* p + out_zp = ((e * scale + half) >> shift) + out_zp, shift >= 31, stored as `bytes`; the odd elements load from
 * one element further on, their result reaching the odd lanes with one shift (shl: shift 31, left by 1). */
INTREF_INLINE INTREF_TARGET_AVX512 void out_pass(const int32_t *scratch, int64_t n, sm_out o, int32_t out_zp, void *y,
                                                 const int bytes, const int shl) {
    const __m512i sc = _mm512_set1_epi64((int64_t)o.scale), half = _mm512_set1_epi64(o.half);
    const __m512i zp = _mm512_set1_epi32(out_zp);
    const __m128i sh = _mm_cvtsi32_si128(o.shift), shhi = _mm_cvtsi32_si128(shl ? 1 : o.shift - 32);
    int64_t i;
    for (i = 0; i < n; i += 16) {
        const __m512i ee = _mm512_loadu_si512((const void *)(scratch + i));
        const __m512i eo = _mm512_loadu_si512((const void *)(scratch + i + 1));
        const __m512i qe = _mm512_srl_epi64(_mm512_add_epi64(_mm512_mul_epu32(ee, sc), half), sh);
        const __m512i qo = high_bits(_mm512_add_epi64(_mm512_mul_epu32(eo, sc), half), shl, shhi);
        const __m512i pv = _mm512_add_epi32(_mm512_mask_blend_epi32(0xAAAA, qe, qo), zp);
        if (i + 16 <= n)
            store16(y, bytes, i, 0xFFFF, pv);
        else
            store16(y, bytes, i, mask16(n, i), pv);
    }
}

static INTREF_TARGET_AVX512 void out_any(const int32_t *scratch, int64_t n, sm_out o, int32_t out_zp, void *y,
                                         int bytes) {
    const int shl = o.shift == 31;
    if (bytes == 1)
        shl ? out_pass(scratch, n, o, out_zp, y, 1, 1) : out_pass(scratch, n, o, out_zp, y, 1, 0);
    else if (bytes == 2)
        shl ? out_pass(scratch, n, o, out_zp, y, 2, 1) : out_pass(scratch, n, o, out_zp, y, 2, 0);
    else
        shl ? out_pass(scratch, n, o, out_zp, y, 4, 1) : out_pass(scratch, n, o, out_zp, y, 4, 0);
}

INTREF_INLINE INTREF_TARGET_AVX512 void row_body(const sm_job *j, int64_t row, int32_t *scratch, const int xb) {
    const sm_plan *p = j->p;
    const int64_t n = j->n, base = row * n;
    const void *x = (const char *)j->x + base * xb;
    const uint8_t *keep = j->keep ? j->keep + j->keep_index[row] * n : NULL;
    void *y = j->y ? (char *)j->y + base * j->out_bytes : NULL;
    int64_t i, total, cut;
    int32_t top;
    int any;
    sm_vec v;
    top = row_max(x, n, keep, &any, xb);
    if (!any) { /* nothing attends: the row is out_zp */
        for (i = 0; i < n && y; i += 16)
            store16(y, j->out_bytes, i, mask16(n, i), _mm512_set1_epi32(j->out_zp));
        return;
    }
    cut = (int64_t)top + p->cut; /* x >= cut <=> d >= plan.cut; below INT32_MIN every x passes */
    v.xcut = _mm512_set1_epi32((int32_t)(cut < INT32_MIN ? INT32_MIN : cut));
    v.xclamp = p->cut == p->floor ? v.xcut : _mm512_set1_epi32(INT32_MIN);
    v.top = _mm512_set1_epi32(top);
    v.m = _mm512_set1_epi64(p->vm);
    v.uc = _mm512_set1_epi64(p->uc);
    v.mask = _mm512_set1_epi64((INT64_C(1) << p->n) - 1);
    v.one = _mm512_set1_epi64(1);
    v.umax = _mm512_set1_epi32(SM_U_MAX);
    v.left = _mm_cvtsi32_si128(p->left);
    v.n = _mm_cvtsi32_si128(p->n);
    v.shl = p->n < 32;
    v.nhi = _mm_cvtsi32_si128(p->n < 32 ? 32 - p->n : p->n - 32);
    v.tab16 = p->tab16;
    v.has_left = p->left > 0;
    v.half_even = p->half_even;
    if (p->left == 0 && p->n >= 32 && !p->half_even)
        total = keep ? exp_pass(&v, x, keep, n, scratch, xb, 1, 1) : exp_pass(&v, x, keep, n, scratch, xb, 0, 1);
    else
        total = keep ? exp_pass(&v, x, keep, n, scratch, xb, 1, 0) : exp_pass(&v, x, keep, n, scratch, xb, 0, 0);
    if (y) /* no y: the exponentials were asked for (intref_softmax_exps) */
        out_any(scratch, n, sm_out_for(total, j->out_max), j->out_zp, y, j->out_bytes);
}

static INTREF_TARGET_AVX512 void row_i8(const sm_job *j, int64_t row, int32_t *scratch) {
    row_body(j, row, scratch, 1);
}
static INTREF_TARGET_AVX512 void row_i16(const sm_job *j, int64_t row, int32_t *scratch) {
    row_body(j, row, scratch, 2);
}
static INTREF_TARGET_AVX512 void row_i32(const sm_job *j, int64_t row, int32_t *scratch) {
    row_body(j, row, scratch, 4);
}

void sm_row_avx512(const sm_job *j, int64_t row, int32_t *scratch, intref_errs *e) {
    (void)e; /* the clamp makes every rescale legal: nothing to note */
    if (j->xb == 1)
        row_i8(j, row, scratch);
    else if (j->xb == 2)
        row_i16(j, row, scratch);
    else
        row_i32(j, row, scratch);
}

#endif
