/* AVX2 LayerNorm rows: the AVX-512 ones (layernorm_avx512.c) on 8 lanes. The last partial vector of x goes
 * through a zero-padded copy; the 64-bit arithmetic shift flips the bits of negative values around a logical
 * one. */
#include "nn.h"

#if INTREF_X86
#include <immintrin.h>

INTREF_INLINE INTREF_TARGET_AVX2 __m256i lx8(const void *x, int xb, int64_t i, int64_t rest) {
    if (rest >= 8) {
        if (xb == 1) return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const int8_t *)x + i)));
        return _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)((const int16_t *)x + i)));
    }
    {
        int32_t buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t l;
        for (l = 0; l < rest; l++)
            buf[l] = xb == 1 ? ((const int8_t *)x)[i + l] : ((const int16_t *)x)[i + l];
        return _mm256_loadu_si256((const __m256i *)buf);
    }
}

INTREF_INLINE INTREF_TARGET_AVX2 __m256i sra64(__m256i v, __m128i n) {
    const __m256i s = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
    return _mm256_xor_si256(_mm256_srl_epi64(_mm256_xor_si256(v, s), n), s);
}

INTREF_INLINE INTREF_TARGET_AVX2 int64_t hsum64(__m256i w) {
    const __m128i h = _mm_add_epi64(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    return _mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1);
}

/* d of one row into dbuf (zero past C, to the next multiple of 8); returns sum(d^2). */
INTREF_INLINE INTREF_TARGET_AVX2 int64_t row_stats(const void *x, int64_t c, int32_t *dbuf, const int xb) {
    __m256i acc = _mm256_setzero_si256(), sq2 = _mm256_setzero_si256(), cv, sv;
    int64_t i;
    int32_t total = 0, lanes[8];
    int l;
    for (i = 0; i < c; i += 8)
        acc = _mm256_add_epi32(acc, lx8(x, xb, i, c - i));
    _mm256_storeu_si256((__m256i *)lanes, acc);
    for (l = 0; l < 8; l++)
        total += lanes[l]; /* |sum(x)| <= C * 2^15 < 2^31 */
    cv = _mm256_set1_epi32((int32_t)c);
    sv = _mm256_set1_epi32(total);
    for (i = 0; i < c; i += 8) {
        __m256i d = _mm256_sub_epi32(_mm256_mullo_epi32(lx8(x, xb, i, c - i), cv), sv), dodd;
        if (c - i < 8) /* lanes past C: d = 0 */
            d = _mm256_and_si256(
                d, _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)(c - i)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
        dodd = _mm256_srli_epi64(d, 32);
        _mm256_storeu_si256((__m256i *)(dbuf + i), d);
        sq2 = _mm256_add_epi64(sq2, _mm256_add_epi64(_mm256_mul_epi32(d, d), _mm256_mul_epi32(dodd, dodd)));
    }
    return hsum64(sq2);
}

/* n and n * gamma + beta of one row into tile; 1 when all lie in [acc_lo, acc_hi]. */
INTREF_INLINE INTREF_TARGET_AVX2 int row_norm(const ln_job *j, const int32_t *dbuf, int64_t inv, int32_t *tile) {
    const int sh = 32 - j->frac;
    const __m256i invv = _mm256_set1_epi64x(inv), half = _mm256_set1_epi64x(INT64_C(1) << (sh - 1));
    const __m256i lo = _mm256_set1_epi64x(j->acc_lo), hi = _mm256_set1_epi64x(j->acc_hi);
    const __m128i shv = _mm_cvtsi32_si128(sh), s32 = _mm_cvtsi32_si128(32);
    __m256i badv = _mm256_setzero_si256();
    int64_t i;
    for (i = 0; i < j->c; i += 8) {
        const __m256i d = _mm256_loadu_si256((const __m256i *)(dbuf + i));
        const __m256i g = _mm256_loadu_si256((const __m256i *)(j->g32 + i));
        const __m256i b = _mm256_loadu_si256((const __m256i *)(j->b32 + i));
        const __m256i ne = sra64(_mm256_add_epi64(_mm256_mul_epi32(d, invv), half), shv);
        const __m256i no = sra64(_mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(d, 32), invv), half), shv);
        /* beta's elements sign-extended to 64 bits: even ones shifted up first */
        const __m256i ee = _mm256_add_epi64(_mm256_mul_epi32(ne, g), sra64(_mm256_slli_epi64(b, 32), s32));
        const __m256i eo = _mm256_add_epi64(_mm256_mul_epi32(no, _mm256_srli_epi64(g, 32)), sra64(b, s32));
        badv = _mm256_or_si256(badv, _mm256_or_si256(_mm256_cmpgt_epi64(ee, hi), _mm256_cmpgt_epi64(lo, ee)));
        badv = _mm256_or_si256(badv, _mm256_or_si256(_mm256_cmpgt_epi64(eo, hi), _mm256_cmpgt_epi64(lo, eo)));
        _mm256_storeu_si256((__m256i *)(tile + i), _mm256_blend_epi32(ee, _mm256_slli_epi64(eo, 32), 0xAA));
    }
    return _mm256_testz_si256(badv, badv);
}

INTREF_INLINE INTREF_TARGET_AVX2 void block_body(const ln_job *j, int64_t r0, int nr, int32_t *tile, int32_t *dbuf,
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

static INTREF_TARGET_AVX2 void block_i8(const ln_job *j, int64_t r0, int nr, int32_t *tile, int32_t *dbuf,
                                        uint8_t *ok) {
    block_body(j, r0, nr, tile, dbuf, ok, 1);
}
static INTREF_TARGET_AVX2 void block_i16(const ln_job *j, int64_t r0, int nr, int32_t *tile, int32_t *dbuf,
                                         uint8_t *ok) {
    block_body(j, r0, nr, tile, dbuf, ok, 2);
}

void ln_block_avx2(const ln_job *j, int64_t r0, int nr, int32_t *tile, int32_t *dbuf, uint8_t *ok) {
    if (j->xb == 1)
        block_i8(j, r0, nr, tile, dbuf, ok);
    else
        block_i16(j, r0, nr, tile, dbuf, ok);
}

#endif
