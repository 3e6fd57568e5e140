/* AVX2 epilogue: the AVX-512 one on 8 lanes (see epi_avx512.c). AVX2 has no 64-bit arithmetic shift, so
 * single rounding shifts logically and restores the sign bits. */
#include <string.h>

#include "requant.h"

#if INTREF_X86
#include <immintrin.h>

typedef struct {
    __m256i m, mo, left, right, rmask, rthr, ne, no, re, ro;
} vparams8;

INTREF_INLINE INTREF_TARGET_AVX2 __m256i ld8(const int32_t *p) {
    return _mm256_loadu_si256((const __m256i *)p);
}

INTREF_INLINE INTREF_TARGET_AVX2 void load_params8(const epi_plan *p, int64_t c, vparams8 *v) {
    v->left = v->right = v->rmask = v->rthr = v->ne = v->no = v->re = v->ro = _mm256_setzero_si256();
    v->m = ld8(p->m32 + c);
    v->mo = _mm256_srli_epi64(v->m, 32);
    if (p->scheme == INTREF_SCHEME_TFLITE_DOUBLE) {
        v->left = ld8(p->left + c);
        v->right = ld8(p->right + c);
        v->rmask = ld8(p->rmask + c);
        v->rthr = ld8(p->rthr + c);
    } else {
        /* 16-channel blocks hold 8 even channels then 8 odd ones */
        int64_t at = c / 16 * 16 + (c % 16) / 2;
        v->ne = _mm256_loadu_si256((const __m256i *)(p->n64 + at));
        v->no = _mm256_loadu_si256((const __m256i *)(p->n64 + at + 8));
        v->re = _mm256_loadu_si256((const __m256i *)(p->rnd64 + at));
        v->ro = _mm256_loadu_si256((const __m256i *)(p->rnd64 + at + 8));
    }
}

INTREF_INLINE INTREF_TARGET_AVX2 __m256i tflite_double8(const epi_plan *p, const vparams8 *v, __m256i x, int *bad) {
    const __m256i nudge = _mm256_set1_epi64x(INT64_C(1) << 30);
    __m256i pe, po, high;
    if (p->any_left) {
        __m256i sh = _mm256_sllv_epi32(x, v->left);
        if (_mm256_movemask_epi8(_mm256_cmpeq_epi32(_mm256_srav_epi32(sh, v->left), x)) != -1) *bad = 1;
        x = sh;
    }
    pe = _mm256_add_epi64(_mm256_mul_epi32(x, v->m), nudge);
    po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), v->mo), nudge);
    high = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
    if (p->any_sat) {
        const __m256i min32 = _mm256_set1_epi32(I32_MIN);
        __m256i sat = _mm256_and_si256(_mm256_cmpeq_epi32(x, min32), _mm256_cmpeq_epi32(v->m, min32));
        high = _mm256_blendv_epi8(high, _mm256_set1_epi32(I32_MAX), sat);
    }
    if (p->any_right) {
        __m256i rem = _mm256_and_si256(high, v->rmask);
        __m256i thr = _mm256_sub_epi32(v->rthr, _mm256_srai_epi32(high, 31));
        __m256i q = _mm256_srav_epi32(high, v->right);
        high = _mm256_sub_epi32(q, _mm256_cmpgt_epi32(rem, thr));
    }
    return high;
}

INTREF_INLINE INTREF_TARGET_AVX2 __m256i sra64(__m256i a, __m256i n) {
    __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), a);
    return _mm256_or_si256(_mm256_srlv_epi64(a, n),
                           _mm256_sllv_epi64(sign, _mm256_sub_epi64(_mm256_set1_epi64x(64), n)));
}

INTREF_INLINE INTREF_TARGET_AVX2 __m256i single8(const vparams8 *v, __m256i x, int *bad) {
    const __m256i off = _mm256_set1_epi64x(INT64_C(1) << 31);
    __m256i pe = _mm256_mul_epi32(x, v->m), po = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), v->mo);
    __m256i re = sra64(_mm256_add_epi64(pe, v->re), v->ne), ro = sra64(_mm256_add_epi64(po, v->ro), v->no);
    __m256i out = _mm256_or_si256(_mm256_srli_epi64(_mm256_add_epi64(re, off), 32),
                                  _mm256_srli_epi64(_mm256_add_epi64(ro, off), 32));
    if (!_mm256_testz_si256(out, out)) *bad = 1;
    return _mm256_blend_epi32(re, _mm256_slli_epi64(ro, 32), 0xAA);
}

INTREF_INLINE INTREF_TARGET_AVX2 void store_y8(const epi_plan *p, void *y, int64_t flat, int lanes, __m256i r) {
    __m256i v =
        _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(r, _mm256_set1_epi32(p->lo32)), _mm256_set1_epi32(p->hi32)),
                         _mm256_set1_epi32(p->zp32));
    if (p->out_bytes == 4) {
        if (lanes == 8) {
            _mm256_storeu_si256((__m256i *)((int32_t *)y + flat), v);
        } else {
            int32_t tmp[8];
            _mm256_storeu_si256((__m256i *)tmp, v);
            memcpy((int32_t *)y + flat, tmp, (size_t)lanes * 4);
        }
        return;
    }
    {
        __m256i w = _mm256_packs_epi32(v, v); /* values are inside [lo, hi], so nothing saturates */
        __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
        if (p->out_bytes == 2) {
            __m128i h = _mm_unpacklo_epi64(lo, hi);
            if (lanes == 8)
                _mm_storeu_si128((__m128i *)((int16_t *)y + flat), h);
            else {
                int16_t tmp[8];
                _mm_storeu_si128((__m128i *)tmp, h);
                memcpy((int16_t *)y + flat, tmp, (size_t)lanes * 2);
            }
        } else {
            __m128i b = _mm_packs_epi16(_mm_unpacklo_epi64(lo, hi), _mm_setzero_si128());
            if (lanes == 8)
                _mm_storel_epi64((__m128i *)((int8_t *)y + flat), b);
            else {
                int8_t tmp[16];
                _mm_storeu_si128((__m128i *)tmp, b);
                memcpy((int8_t *)y + flat, tmp, (size_t)lanes);
            }
        }
    }
}

INTREF_INLINE INTREF_TARGET_AVX2 __m256i hold8(const epi_plan *p, __m256i raw, __m256i corr, int *bad) {
    const __m256i zero = _mm256_setzero_si256();
    __m256i s = _mm256_add_epi32(raw, corr);
    __m256i ovf = _mm256_srai_epi32(_mm256_and_si256(_mm256_xor_si256(raw, s), _mm256_xor_si256(corr, s)), 31);
    __m256i neg = _mm256_cmpgt_epi32(zero, corr);
    __m256i above = _mm256_andnot_si256(neg, ovf), below = _mm256_and_si256(neg, ovf);
    if (p->bits < 32) {
        above = _mm256_or_si256(above,
                                _mm256_andnot_si256(ovf, _mm256_cmpgt_epi32(s, _mm256_set1_epi32((int32_t)p->acc_hi))));
        below = _mm256_or_si256(below,
                                _mm256_andnot_si256(ovf, _mm256_cmpgt_epi32(_mm256_set1_epi32((int32_t)p->acc_lo), s)));
    }
    {
        __m256i any = _mm256_or_si256(above, below);
        if (_mm256_testz_si256(any, any)) return s;
        if (p->policy == INTREF_POLICY_ERROR) {
            *bad = 1;
            return s;
        }
    }
    if (p->policy == INTREF_POLICY_WRAP) {
        if (p->bits == 32) return s;
        return _mm256_srai_epi32(_mm256_slli_epi32(s, 32 - p->bits), 32 - p->bits);
    }
    s = _mm256_blendv_epi8(s, _mm256_set1_epi32((int32_t)p->acc_hi), above);
    return _mm256_blendv_epi8(s, _mm256_set1_epi32((int32_t)p->acc_lo), below);
}

INTREF_TARGET_AVX2 void epi_tile_avx2(const epi_plan *p, int mode, const int32_t *tile, int ld, int nrows, int64_t row0,
                                      int64_t c0, int nch, const int32_t *corr, void *acc_out, void *y_out,
                                      intref_errs *e) {
    int j, i, l;
    vparams8 v;
    memset(&v, 0, sizeof(v));
    for (j = 0; j < nch; j += 8) {
        int lanes = nch - j < 8 ? nch - j : 8;
        int64_t c = c0 + j;
        int32_t buf[8], cbuf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        __m256i cv;
        if (mode == EPI_CORR)
            for (l = 0; l < lanes; l++)
                cbuf[l] = corr[j + l];
        cv = ld8(cbuf);
        if (p->vec) load_params8(p, c, &v);
        for (i = 0; i < nrows; i++) {
            int64_t flat = (row0 + i) * p->channels + c;
            const int32_t *src = tile + (int64_t)i * ld + j;
            __m256i raw, held, r;
            int bad = 0;
            if (lanes == 8) {
                raw = ld8(src);
            } else {
                for (l = 0; l < 8; l++)
                    buf[l] = l < lanes ? src[l] : 0;
                raw = ld8(buf);
            }
            held = mode == EPI_CORR ? hold8(p, raw, cv, &bad) : raw;
            if (!bad) {
                if (acc_out) {
                    _mm256_storeu_si256((__m256i *)buf, held);
                    memcpy((int32_t *)acc_out + flat, buf, (size_t)lanes * 4);
                }
                if (p->scheme < 0) continue;
                if (!p->vec) {
                    int64_t h64[8];
                    _mm256_storeu_si256((__m256i *)buf, held);
                    for (l = 0; l < lanes; l++)
                        h64[l] = buf[l];
                    epi_row_held_generic(p, h64, lanes, flat, c, y_out, e, INTREF_SLOT_RESCALE);
                    continue;
                }
                r = p->scheme == INTREF_SCHEME_TFLITE_DOUBLE ? tflite_double8(p, &v, held, &bad)
                                                             : single8(&v, held, &bad);
                if (!bad) {
                    store_y8(p, y_out, flat, lanes, r);
                    continue;
                }
            }
            for (l = 0; l < lanes; l++)
                epi_one(p, (int64_t)src[l] + (mode == EPI_CORR ? corr[j + l] : 0), flat + l, c + l, acc_out, y_out, e);
        }
    }
}

#endif
