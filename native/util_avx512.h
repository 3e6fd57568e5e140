/* AVX-512 helpers shared by the dense and depthwise kernels: a 16 x 16 dword transpose (16 channels' runs
 * of 4 bytes become vpdpbusd operands) and int4 row unpacking. */
#ifndef INTREF_UTIL_AVX512_H
#define INTREF_UTIL_AVX512_H

#include "internal.h"

#if INTREF_X86
#include <immintrin.h>

/* 16 rows of 16 dwords -> 16 columns (dword i of every row), in registers. */
INTREF_INLINE INTREF_TARGET_AVX512 void transpose16(__m512i r[16]) {
    __m512i a[16], b[16];
    int i, c;
    for (i = 0; i < 8; i++) {
        a[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (i = 0; i < 4; i++) {
        b[4 * i + 0] = _mm512_unpacklo_epi64(a[4 * i], a[4 * i + 2]);
        b[4 * i + 1] = _mm512_unpackhi_epi64(a[4 * i], a[4 * i + 2]);
        b[4 * i + 2] = _mm512_unpacklo_epi64(a[4 * i + 1], a[4 * i + 3]);
        b[4 * i + 3] = _mm512_unpackhi_epi64(a[4 * i + 1], a[4 * i + 3]);
    }
    /* b[4i + c] holds, in 128-bit lane L, column 4L + c of rows 4i..4i+3: transpose the lanes */
    for (c = 0; c < 4; c++) {
        __m512i s0 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0x44), s1 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0xEE);
        __m512i s2 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0x44),
                s3 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0xEE);
        r[c] = _mm512_shuffle_i32x4(s0, s2, 0x88);
        r[4 + c] = _mm512_shuffle_i32x4(s0, s2, 0xDD);
        r[8 + c] = _mm512_shuffle_i32x4(s1, s3, 0x88);
        r[12 + c] = _mm512_shuffle_i32x4(s1, s3, 0xDD);
    }
}

/* Unpacks n int4 values (low nibble first) into n int8. */
static inline INTREF_TARGET_AVX512 void unpack_row(const uint8_t *src, int64_t n, int8_t *dst) {
    const __m512i lo4 = _mm512_set1_epi16(0x000F), hi4 = _mm512_set1_epi16(0x0F00), eight = _mm512_set1_epi8(8);
    int64_t i;
    for (i = 0; i < n; i += 64) {
        /* the last piece reads and writes through masks: (n - i + 1) / 2 bytes in, n - i values out */
        const int64_t rest = n - i;
        const __mmask32 kin = rest >= 63 ? ~(__mmask32)0 : (((__mmask32)1 << ((rest + 1) / 2)) - 1);
        const __mmask64 kout = rest >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << rest) - 1);
        __m512i v = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(kin, src + i / 2));
        __m512i both = _mm512_or_si512(_mm512_and_si512(v, lo4), _mm512_and_si512(_mm512_slli_epi16(v, 4), hi4));
        _mm512_mask_storeu_epi8(dst + i, kout, _mm512_sub_epi8(_mm512_xor_si512(both, eight), eight));
    }
}

#endif
#endif
