/* AVX2 softmax row: the AVX-512 row (softmax_avx512.c) on 8 lanes, with a gather for the table (AVX2 has no
 * word permutes) and without masks: the last partial vector goes through zero-padded copies. */
#include <string.h>

#include "nn.h"

#if INTREF_X86
#include <immintrin.h>

typedef struct {
    __m256i xclamp, xcut, top, m, uc, mask, one, umax;
    __m128i left, n, nhi;
    int shl, has_left, half_even;
} sm_vec8;

/* 8 logits from element i as int32 lanes; 0 past the row end. */
INTREF_INLINE INTREF_TARGET_AVX2 __m256i load8(const void *x, int xb, int64_t i, int64_t rest) {
    if (rest >= 8) {
        if (xb == 1) return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const int8_t *)x + i)));
        if (xb == 2) return _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)((const int16_t *)x + i)));
        return _mm256_loadu_si256((const __m256i *)((const int32_t *)x + i));
    }
    {
        int32_t buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t l;
        for (l = 0; l < rest; l++)
            buf[l] = xb == 1   ? ((const int8_t *)x)[i + l]
                     : xb == 2 ? ((const int16_t *)x)[i + l]
                               : ((const int32_t *)x)[i + l];
        return _mm256_loadu_si256((const __m256i *)buf);
    }
}

/* The attended lanes (all ones) of the 8 elements from i; none past the row end. */
INTREF_INLINE INTREF_TARGET_AVX2 __m256i keep8(const uint8_t *keep, int64_t i, int64_t rest) {
    const __m256i zero = _mm256_setzero_si256();
    __m256i k;
    if (!keep && rest >= 8) return _mm256_set1_epi32(-1);
    if (rest >= 8) {
        k = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(keep + i)));
    } else {
        int32_t buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t l;
        for (l = 0; l < rest; l++)
            buf[l] = keep ? keep[i + l] : 1;
        k = _mm256_loadu_si256((const __m256i *)buf);
    }
    return _mm256_xor_si256(_mm256_cmpeq_epi32(k, zero), _mm256_set1_epi32(-1));
}

/* Bits [n, n + 32) of each 64-bit lane in its high half (see softmax_avx512.c). */
INTREF_INLINE INTREF_TARGET_AVX2 __m256i high_bits8(__m256i v, int shl, __m128i nhi) {
    return shl ? _mm256_sll_epi64(v, nhi) : _mm256_srl_epi64(v, nhi);
}

/* floor(a / 2^n), ties of the rounding constant to even when half_even (see softmax_avx512.c). */
INTREF_INLINE INTREF_TARGET_AVX2 __m256i quot8(const sm_vec8 *v, __m256i a) {
    const __m256i q = _mm256_srl_epi64(a, v->n);
    const __m256i tie = _mm256_cmpeq_epi64(_mm256_and_si256(a, v->mask), _mm256_setzero_si256());
    return _mm256_sub_epi64(q, _mm256_and_si256(tie, _mm256_and_si256(q, v->one)));
}

/* u where kv is set and x is at or above the cut, SM_U_MAX elsewhere. */
INTREF_INLINE INTREF_TARGET_AVX2 __m256i u8(const sm_vec8 *v, __m256i x, __m256i kv) {
    const __m256i xc = _mm256_max_epi32(x, v->xclamp);
    const __m256i live = _mm256_andnot_si256(_mm256_cmpgt_epi32(v->xcut, xc), kv);
    __m256i w = _mm256_and_si256(_mm256_sub_epi32(v->top, xc), live), pe, po, u;
    if (v->has_left) w = _mm256_sll_epi32(w, v->left);
    pe = _mm256_add_epi64(_mm256_mul_epu32(w, v->m), v->uc);
    po = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(w, 32), v->m), v->uc);
    if (!v->half_even)
        u = _mm256_blend_epi32(_mm256_srl_epi64(pe, v->n), high_bits8(po, v->shl, v->nhi), 0xAA);
    else
        u = _mm256_blend_epi32(quot8(v, pe), _mm256_slli_epi64(quot8(v, po), 32), 0xAA);
    return _mm256_blendv_epi8(v->umax, u, live);
}

INTREF_INLINE INTREF_TARGET_AVX2 int64_t sum8(__m256i s) {
    __m256i w = _mm256_add_epi64(_mm256_cvtepu32_epi64(_mm256_castsi256_si128(s)),
                                 _mm256_cvtepu32_epi64(_mm256_extracti128_si256(s, 1)));
    __m128i h = _mm_add_epi64(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    return _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1);
}

/* 8 output values (inside the output type) to y[at ...], `rest` of them when fewer than 8 remain. */
INTREF_INLINE INTREF_TARGET_AVX2 void store8(void *y, int bytes, int64_t at, int64_t rest, __m256i v) {
    unsigned char buf[32];
    const int64_t lanes = rest < 8 ? rest : 8;
    if (bytes == 4) {
        _mm256_storeu_si256((__m256i *)buf, v);
    } else {
        const __m256i w = _mm256_packs_epi32(v, v); /* in range: nothing saturates */
        const __m128i h = _mm_unpacklo_epi64(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
        _mm_storeu_si128((__m128i *)buf, bytes == 2 ? h : _mm_packs_epi16(h, h));
    }
    if (lanes == 8 && bytes == 4)
        _mm256_storeu_si256((__m256i *)((int32_t *)y + at), v);
    else
        memcpy((unsigned char *)y + at * bytes, buf, (size_t)(lanes * bytes));
}

INTREF_INLINE INTREF_TARGET_AVX2 void row_body(const sm_job *j, int64_t row, int32_t *scratch, int xb) {
    const sm_plan *p = j->p;
    const int64_t n = j->n, base = row * n;
    const void *x = (const char *)j->x + base * xb;
    const uint8_t *keep = j->keep ? j->keep + j->keep_index[row] * n : NULL;
    const __m256i min32 = _mm256_set1_epi32(INT32_MIN);
    __m256i mx = min32, anyv = _mm256_setzero_si256(), sum = _mm256_setzero_si256();
    int64_t i, total = 0, cut;
    int32_t top, lanes[8];
    int blocks = 0, l;
    sm_vec8 v;
    sm_out o;
    for (i = 0; i < n; i += 8) {
        const __m256i kv = keep8(keep, i, n - i);
        mx = _mm256_max_epi32(mx, _mm256_blendv_epi8(min32, load8(x, xb, i, n - i), kv));
        anyv = _mm256_or_si256(anyv, kv);
    }
    if (_mm256_testz_si256(anyv, anyv)) { /* nothing attends: the row is out_zp */
        for (i = 0; i < n && j->y; i += 8)
            store8(j->y, j->out_bytes, base + i, n - i, _mm256_set1_epi32(j->out_zp));
        return;
    }
    _mm256_storeu_si256((__m256i *)lanes, mx);
    top = lanes[0];
    for (l = 1; l < 8; l++)
        top = lanes[l] > top ? lanes[l] : top;
    cut = (int64_t)top + p->cut; /* x >= cut <=> d >= plan.cut; below INT32_MIN every x passes */
    v.xcut = _mm256_set1_epi32((int32_t)(cut < INT32_MIN ? INT32_MIN : cut));
    v.xclamp = p->cut == p->floor ? v.xcut : _mm256_set1_epi32(INT32_MIN); /* see softmax_avx512.c */
    v.top = _mm256_set1_epi32(top);
    v.m = _mm256_set1_epi64x(p->vm);
    v.uc = _mm256_set1_epi64x(p->uc);
    v.mask = _mm256_set1_epi64x((INT64_C(1) << p->n) - 1);
    v.one = _mm256_set1_epi64x(1);
    v.umax = _mm256_set1_epi32(SM_U_MAX);
    v.left = _mm_cvtsi32_si128(p->left);
    v.n = _mm_cvtsi32_si128(p->n);
    v.shl = p->n < 32;
    v.nhi = _mm_cvtsi32_si128(p->n < 32 ? 32 - p->n : p->n - 32);
    v.has_left = p->left > 0;
    v.half_even = p->half_even;
    for (i = 0; i < n; i += 8) {
        const __m256i kv = keep8(keep, i, n - i);
        const __m256i u = u8(&v, load8(x, xb, i, n - i), kv);
        const __m256i t = _mm256_i32gather_epi32(intref_exp2_table, _mm256_and_si256(u, _mm256_set1_epi32(255)), 4);
        const __m256i e = _mm256_srlv_epi32(t, _mm256_srli_epi32(u, 8));
        _mm256_storeu_si256((__m256i *)(scratch + i), e);
        sum = _mm256_add_epi32(sum, e);
        if (++blocks == 4096) { /* 4096 * 2^15 per lane stays below 2^31 */
            total += sum8(sum);
            sum = _mm256_setzero_si256();
            blocks = 0;
        }
    }
    total += sum8(sum);
    if (!j->y) return; /* the exponentials were asked for (intref_softmax_exps) */
    o = sm_out_for(total, j->out_max);
    {
        const __m256i sc = _mm256_set1_epi64x((int64_t)o.scale), half = _mm256_set1_epi64x(o.half);
        const __m256i zp = _mm256_set1_epi32(j->out_zp);
        const __m128i sh = _mm_cvtsi32_si128(o.shift), shhi = _mm_cvtsi32_si128(o.shift == 31 ? 1 : o.shift - 32);
        const int shl = o.shift == 31;
        for (i = 0; i < n; i += 8) {
            const __m256i ee = _mm256_loadu_si256((const __m256i *)(scratch + i));
            const __m256i eo = _mm256_loadu_si256((const __m256i *)(scratch + i + 1));
            const __m256i qe = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epu32(ee, sc), half), sh);
            const __m256i qo = high_bits8(_mm256_add_epi64(_mm256_mul_epu32(eo, sc), half), shl, shhi);
            store8(j->y, j->out_bytes, base + i, n - i, _mm256_add_epi32(_mm256_blend_epi32(qe, qo, 0xAA), zp));
        }
    }
}

static INTREF_TARGET_AVX2 void row_i8(const sm_job *j, int64_t row, int32_t *scratch) {
    row_body(j, row, scratch, 1);
}
static INTREF_TARGET_AVX2 void row_i16(const sm_job *j, int64_t row, int32_t *scratch) {
    row_body(j, row, scratch, 2);
}
static INTREF_TARGET_AVX2 void row_i32(const sm_job *j, int64_t row, int32_t *scratch) {
    row_body(j, row, scratch, 4);
}

void sm_row_avx2(const sm_job *j, int64_t row, int32_t *scratch, intref_errs *e) {
    (void)e; /* the clamp makes every rescale legal: nothing to note */
    if (j->xb == 1)
        row_i8(j, row, scratch);
    else if (j->xb == 2)
        row_i16(j, row, scratch);
    else
        row_i32(j, row, scratch);
}

#endif
