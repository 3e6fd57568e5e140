/* AVX-512 LayerNorm rows (see layernorm.c), a block at a time: first every row's sum in int32 lanes and
 * d = C * x - sum(x) in int32 lanes (kept in dbuf) with sum(d^2) in 64-bit lanes, then the rows' scalar
 * division, root and reciprocal (independent: the core overlaps them), then n and n * gamma + beta for even and odd
 * elements in 64-bit lanes, checked against the accumulator range and narrowed to the int32 tile the epilogue
 * takes. */
#include "nn.h"

#if INTREF_X86
#include <immintrin.h>

INTREF_INLINE INTREF_TARGET_AVX512 __m512i lx16(const void *x, int xb, int64_t i, __mmask16 km) {
    if (km == 0xFFFF) { /* plain loads where possible: masked ones are slower */
        if (xb == 1) return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)((const int8_t *)x + i)));
        return _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)((const int16_t *)x + i)));
    }
    if (xb == 1) return _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(km, (const int8_t *)x + i));
    return _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(km, (const int16_t *)x + i));
}

INTREF_INLINE __mmask16 tail16(int64_t c, int64_t i) {
    return c - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (c - i)) - 1u);
}

/* d of one row into dbuf (zero past C, to the next multiple of 16); returns sum(d^2). */
INTREF_INLINE INTREF_TARGET_AVX512 int64_t row_stats(const void *x, int64_t c, int32_t *dbuf, const int xb) {
    __m512i acc = _mm512_setzero_si512(), sqe = _mm512_setzero_si512(), sqo = _mm512_setzero_si512();
    __m512i cv, sv;
    int64_t i;
    for (i = 0; i + 16 <= c; i += 16)
        acc = _mm512_add_epi32(acc, lx16(x, xb, i, 0xFFFF));
    if (i < c) acc = _mm512_add_epi32(acc, lx16(x, xb, i, tail16(c, i)));
    cv = _mm512_set1_epi32((int32_t)c);
    sv = _mm512_set1_epi32(_mm512_reduce_add_epi32(acc)); /* |sum(x)| <= C * 2^15 < 2^31 */
    for (i = 0; i < c; i += 16) {
        const __mmask16 km = tail16(c, i);
        /* |d| <= C * (max - min) < 2^31: exact in int32 lanes */
        const __m512i d = _mm512_maskz_sub_epi32(km, _mm512_mullo_epi32(lx16(x, xb, i, km), cv), sv);
        const __m512i dodd = _mm512_srli_epi64(d, 32);
        _mm512_storeu_si512((void *)(dbuf + i), d);
        sqe = _mm512_add_epi64(sqe, _mm512_mul_epi32(d, d));
        sqo = _mm512_add_epi64(sqo, _mm512_mul_epi32(dodd, dodd));
    }
    return _mm512_reduce_add_epi64(_mm512_add_epi64(sqe, sqo));
}

/* n = (d * inv + 2^(sh-1)) >> sh and n * gamma + beta of one row into tile; 1 when all lie in [acc_lo, acc_hi]. */
INTREF_INLINE INTREF_TARGET_AVX512 int row_norm(const ln_job *j, const int32_t *dbuf, int64_t inv, int32_t *tile) {
    const int sh = 32 - j->frac;
    const __m512i invv = _mm512_set1_epi64(inv), half = _mm512_set1_epi64(INT64_C(1) << (sh - 1));
    const __m512i lo = _mm512_set1_epi64(j->acc_lo), hi = _mm512_set1_epi64(j->acc_hi);
    const __m128i shv = _mm_cvtsi32_si128(sh);
    __mmask8 bad = 0;
    int64_t i;
    for (i = 0; i < j->c; i += 16) {
        /* lanes past C hold d = 0, gamma = beta = 0: their result 0 is in range and never stored */
        const __m512i d = _mm512_loadu_si512((const void *)(dbuf + i));
        const __m512i g = _mm512_loadu_si512((const void *)(j->g32 + i));
        const __m512i b = _mm512_loadu_si512((const void *)(j->b32 + i));
        const __m512i ne = _mm512_sra_epi64(_mm512_add_epi64(_mm512_mul_epi32(d, invv), half), shv);
        const __m512i no =
            _mm512_sra_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(d, 32), invv), half), shv);
        const __m512i ee = _mm512_add_epi64(_mm512_mul_epi32(ne, g), _mm512_srai_epi64(_mm512_slli_epi64(b, 32), 32));
        const __m512i eo = _mm512_add_epi64(_mm512_mul_epi32(no, _mm512_srli_epi64(g, 32)), _mm512_srai_epi64(b, 32));
        bad |= _mm512_cmpgt_epi64_mask(ee, hi) | _mm512_cmplt_epi64_mask(ee, lo);
        bad |= _mm512_cmpgt_epi64_mask(eo, hi) | _mm512_cmplt_epi64_mask(eo, lo);
        _mm512_storeu_si512((void *)(tile + i), _mm512_mask_blend_epi32(0xAAAA, ee, _mm512_slli_epi64(eo, 32)));
    }
    return bad == 0;
}

INTREF_INLINE INTREF_TARGET_AVX512 void block_body(const ln_job *j, int64_t r0, int nr, int32_t *tile, int32_t *dbuf,
                                                   uint8_t *ok, const int xb) {
    const int64_t c = j->c, cpad = j->cpad;
    int64_t sq[LN_BLOCK], inv[LN_BLOCK];
    int i;
    for (i = 0; i < nr; i++)
        sq[i] = row_stats((const char *)j->x + (r0 + i) * c * xb, c, dbuf + i * cpad, xb);
    for (i = 0; i < nr; i++) {
        const int64_t root = isqrt64(sq[i] / c + j->eps);
        ok[i] = root > 2; /* inv = 2^32 or 2^31 does not fit the signed 32-bit multiplier */
        inv[i] = ok[i] ? (INT64_C(1) << 32) / root : 0;
    }
    for (i = 0; i < nr; i++)
        if (ok[i]) ok[i] = (uint8_t)row_norm(j, dbuf + i * cpad, inv[i], tile + i * cpad);
}

static INTREF_TARGET_AVX512 void block_i8(const ln_job *j, int64_t r0, int nr, int32_t *tile, int32_t *dbuf,
                                          uint8_t *ok) {
    block_body(j, r0, nr, tile, dbuf, ok, 1);
}
static INTREF_TARGET_AVX512 void block_i16(const ln_job *j, int64_t r0, int nr, int32_t *tile, int32_t *dbuf,
                                           uint8_t *ok) {
    block_body(j, r0, nr, tile, dbuf, ok, 2);
}

void ln_block_avx512(const ln_job *j, int64_t r0, int nr, int32_t *tile, int32_t *dbuf, uint8_t *ok) {
    if (j->xb == 1)
        block_i8(j, r0, nr, tile, dbuf, ok);
    else
        block_i16(j, r0, nr, tile, dbuf, ok);
}

#endif
