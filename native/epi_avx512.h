/* The AVX-512 fast epilogue for one vector of 16 held values, shared by the tile epilogue and the
 * micro-kernel that overlaps it with the next tile's products. tflite_double without left shift or INT32_MIN
 * multiplier: both roundings as one 64-bit shift (see plan.c), then the zero point, the clamp (or the
 * saturating narrowing when plan.sat8 says it is the clamp) and the store. */
#ifndef INTREF_EPI_AVX512_H
#define INTREF_EPI_AVX512_H

#include "internal.h"

#if INTREF_X86
#include <immintrin.h>

/* Narrowing store of 16 int32 lanes already inside the output type's range. The register forms of vpmov*
 * plus a masked store: the memory forms are slow on some cores. */
INTREF_INLINE INTREF_TARGET_AVX512 void store16(void *y, int bytes, int64_t flat, __mmask16 km, __m512i v) {
    /* masked stores are slow on some cores: plain stores for whole vectors */
    if (bytes == 1) {
        __m128i b = _mm512_cvtepi32_epi8(v);
        __asm__("" : "+v"(b)); /* keeps the register form: the compiler would fuse it into the store */
        if (km == 0xFFFF)
            _mm_storeu_si128((__m128i *)((int8_t *)y + flat), b);
        else
            _mm_mask_storeu_epi8((int8_t *)y + flat, km, b);
    } else if (bytes == 2) {
        __m256i h = _mm512_cvtepi32_epi16(v);
        __asm__("" : "+v"(h));
        if (km == 0xFFFF)
            _mm256_storeu_si256((__m256i *)((int16_t *)y + flat), h);
        else
            _mm256_mask_storeu_epi16((int16_t *)y + flat, km, h);
    } else if (km == 0xFFFF) {
        _mm512_storeu_si512((void *)((int32_t *)y + flat), v);
    } else {
        _mm512_mask_storeu_epi32((int32_t *)y + flat, km, v);
    }
}

/* The per-channel constants of 16 channels (c a multiple of 16). */
typedef struct {
    __m512i m, mo, ke, ko, fe, fo, ne, no;
} tfl16;

INTREF_INLINE INTREF_TARGET_AVX512 tfl16 tfl_params(const epi_plan *p, int64_t c) {
    tfl16 v;
    v.m = _mm512_loadu_si512((const void *)(p->m32 + c));
    v.mo = _mm512_srli_epi64(v.m, 32);
    v.ke = _mm512_loadu_si512((const void *)(p->rnd64 + c));
    v.ko = _mm512_loadu_si512((const void *)(p->rnd64 + c + 8));
    v.fe = _mm512_loadu_si512((const void *)(p->fix64 + c));
    v.fo = _mm512_loadu_si512((const void *)(p->fix64 + c + 8));
    v.ne = _mm512_loadu_si512((const void *)(p->n64 + c));
    v.no = _mm512_loadu_si512((const void *)(p->n64 + c + 8));
    return v;
}

/* 16 held values -> rescaled int32 lanes (zero point and clamp not yet applied). */
INTREF_INLINE INTREF_TARGET_AVX512 __m512i tfl_vec16(const tfl16 *v, __m512i x) {
    const __m512i neg30 = _mm512_set1_epi64(-(INT64_C(1) << 30));
    const __m512i pe = _mm512_mul_epi32(x, v->m), po = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), v->mo);
    __m512i se = _mm512_add_epi64(pe, v->ke), so = _mm512_add_epi64(po, v->ko);
    se = _mm512_mask_sub_epi64(se, _mm512_cmplt_epi64_mask(pe, neg30), se, v->fe);
    so = _mm512_mask_sub_epi64(so, _mm512_cmplt_epi64_mask(po, neg30), so, v->fo);
    return _mm512_mask_blend_epi32(0xAAAA, _mm512_srav_epi64(se, v->ne),
                                   _mm512_slli_epi64(_mm512_srav_epi64(so, v->no), 32));
}

/* Zero point, clamp and store of rescaled lanes; sat8: the saturating narrowing is the clamp. */
INTREF_INLINE INTREF_TARGET_AVX512 void tfl_store16(int sat8, int bytes, __m512i lo32, __m512i hi32, __m512i zp32,
                                                    void *y, int64_t flat, __mmask16 km, __m512i r) {
    if (sat8) {
        __m128i b = _mm512_cvtsepi32_epi8(_mm512_add_epi32(r, zp32));
        __asm__("" : "+v"(b));
        if (km == 0xFFFF)
            _mm_storeu_si128((__m128i *)((int8_t *)y + flat), b);
        else
            _mm_mask_storeu_epi8((int8_t *)y + flat, km, b);
    } else {
        store16(y, bytes, flat, km, _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(r, lo32), hi32), zp32));
    }
}

/* One vector of a pending tile's epilogue: vector q, column-major (column q / mr, row q % mr). The tile
 * rows are full width, so the load needs no mask; only a partial last column masks its store. */
INTREF_INLINE INTREF_TARGET_AVX512 void pending_vector(const pending_tile *t, int q, int mr) {
    const int v = q / mr, i = q % mr, j = 16 * v;
    if (i < t->nrows && j < t->nch) {
        const epi_plan *p = t->p;
        const tfl16 prm = tfl_params(p, t->c0 + j);
        const __m512i r = tfl_vec16(&prm, _mm512_loadu_si512((const void *)(t->tile + i * t->ld + j)));
        const int64_t flat = (t->row0 + i) * p->channels + t->c0 + j;
        const int lanes = t->nch - j;
        if (p->sat8 && lanes >= 16) {
            __m128i b = _mm512_cvtsepi32_epi8(_mm512_add_epi32(r, _mm512_set1_epi32(p->zp32)));
            __asm__("" : "+v"(b));
            _mm_storeu_si128((__m128i *)((int8_t *)t->y + flat), b);
        } else {
            const __mmask16 km = (__mmask16)(lanes >= 16 ? 0xFFFFu : ((1u << lanes) - 1u));
            tfl_store16(p->sat8, p->out_bytes, _mm512_set1_epi32(p->lo32), _mm512_set1_epi32(p->hi32),
                        _mm512_set1_epi32(p->zp32), t->y, flat, km, r);
        }
    }
}

#endif
#endif
