/* AVX-512 VNNI dense kernels: vpdpbusd multiplies u8 activations (x + 128) by s8 weights; the exact
 * correction -(x_zp + 128) * rowsum(w) is folded into the bias by the driver (dense_kernels.wx128). */
#include <string.h>

#include "internal.h"
#include "prep.h"
#include "epi_avx512.h"
#include "util_avx512.h"

#if INTREF_X86
#include <immintrin.h>

#define MR 5
#define NV 4
#include "micro_avx512.h"
#undef MR
#undef NV
#define MR 8
#define NV 3
#include "micro_avx512.h"
#undef MR
#undef NV
#define MR 12
#define NV 2
#include "micro_avx512.h"
#undef MR
#undef NV
#define MR 24
#define NV 1
#include "micro_avx512.h"
#undef MR
#undef NV

static INTREF_TARGET_AVX512 void prep_avx512(const int8_t *x, int64_t t, int64_t c, int64_t c4, int64_t row_begin,
                                             int64_t row_end, int64_t pad_left, int32_t x_zp, void *out) {
    prep_u8_body(x, t, c, c4, row_begin, row_end, pad_left, x_zp, out);
}

/* Linear and pointwise weights (one tap): 16 channels by 64 input elements become 16 vpdpbusd operands
 * through a 16 x 16 dword transpose; the sums come from vpdpbusd with ones. Other shapes: pack.c. */
static INTREF_TARGET_AVX512 void pack_avx512(const int8_t *w8, const uint8_t *w4, int64_t c_in, int64_t ksize,
                                             int64_t o0, int64_t no, int pw, int64_t c4, void *panel, int64_t *rowsum,
                                             int8_t *scratch) {
    static const int8_t zeros[64];
    int8_t *pan = (int8_t *)panel;
    int64_t full = c_in / 64, g, r;
    if (ksize != 1) {
        pack_s8_g4(w8, w4, c_in, ksize, o0, no, pw, c4, panel, rowsum, scratch);
        return;
    }
    for (g = 0; g < pw / 16; g++) {
        const int8_t *rows[16];
        int32_t sums[16];
        __m512i acc = _mm512_setzero_si512();
        const __m512i ones = _mm512_set1_epi8(1);
        int64_t b;
        for (r = 0; r < 16; r++) {
            int64_t o = g * 16 + r;
            if (o >= no) {
                rows[r] = NULL;
            } else if (w8) {
                rows[r] = w8 + (o0 + o) * c_in;
            } else {
                unpack_row(w4 + (o0 + o) * ((c_in + 1) / 2), c_in, scratch + r * c_in);
                rows[r] = scratch + r * c_in;
            }
        }
        for (b = 0; b < full; b++) {
            __m512i v[16];
            for (r = 0; r < 16; r++)
                v[r] = _mm512_loadu_si512((const void *)(rows[r] ? rows[r] + b * 64 : zeros));
            transpose16(v);
            for (r = 0; r < 16; r++) {
                _mm512_store_si512((void *)(pan + ((b * 16 + r) * pw + g * 16) * 4), v[r]);
                acc = _mm512_dpbusd_epi32(acc, ones, v[r]);
            }
        }
        if (full * 64 < c4) {
            /* the last partial block: masked loads read zeros past the row, the padding the panel needs */
            const int64_t rest = c_in - full * 64, groups = (c4 - full * 64) / 4;
            const __mmask64 km = rest >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << rest) - 1);
            __m512i v[16];
            for (r = 0; r < 16; r++)
                v[r] = rows[r] ? _mm512_maskz_loadu_epi8(km, rows[r] + full * 64) : _mm512_setzero_si512();
            transpose16(v);
            for (r = 0; r < groups; r++) {
                _mm512_store_si512((void *)(pan + ((full * 16 + r) * pw + g * 16) * 4), v[r]);
                acc = _mm512_dpbusd_epi32(acc, ones, v[r]);
            }
        }
        _mm512_storeu_si512((void *)sums, acc);
        for (r = 0; r < 16; r++)
            rowsum[g * 16 + r] = sums[r];
    }
}

/* The 5 x 64 micro-kernel with the previous tile's epilogue spread over its first steps, one vector per
 * step: 20 accumulators leave registers for the epilogue, and the out-of-order core runs its multiplies,
 * shifts and stores beside the dot products instead of after them. */
static INTREF_TARGET_AVX512 void pipe_5x4(const void *const *rows, const int64_t *tapoff, int64_t ntaps, int64_t nk,
                                          const void *w, int64_t wtap, const int32_t *init, int32_t *tile,
                                          const pending_tile *pending) {
    enum { PMR = 5, PNV = 4 };
    __m512i acc[PMR][PNV];
    int i, v, q = 0;
    const int nq = pending ? PMR * PNV : 0;
    int64_t t, k;
#pragma GCC unroll 8
    for (v = 0; v < PNV; v++) {
        __m512i z = init ? _mm512_loadu_si512((const void *)(init + 16 * v)) : _mm512_setzero_si512();
#pragma GCC unroll 8
        for (i = 0; i < PMR; i++)
            acc[i][v] = z;
    }
    for (t = 0; t < ntaps; t++) {
        const uint8_t *xr[PMR];
        const int8_t *wt = (const int8_t *)w + t * wtap;
#pragma GCC unroll 8
        for (i = 0; i < PMR; i++)
            xr[i] = (const uint8_t *)rows[i] + tapoff[t];
        for (k = 0; k < nk; k += 4) {
            __m512i wv[PNV];
            if (q < nq) pending_vector(pending, q++, PMR);
#pragma GCC unroll 8
            for (v = 0; v < PNV; v++)
                wv[v] = _mm512_load_si512((const void *)(wt + k * PNV * 16 + 64 * v));
#pragma GCC unroll 8
            for (i = 0; i < PMR; i++) {
                int32_t xv;
                __m512i b;
                memcpy(&xv, xr[i] + k, 4);
                b = _mm512_set1_epi32(xv);
#pragma GCC unroll 8
                for (v = 0; v < PNV; v++)
                    acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], b, wv[v]);
            }
        }
    }
    while (q < nq)
        pending_vector(pending, q++, PMR);
#pragma GCC unroll 8
    for (i = 0; i < PMR; i++)
#pragma GCC unroll 8
        for (v = 0; v < PNV; v++)
            _mm512_storeu_si512((void *)(tile + (i * PNV + v) * 16), acc[i][v]);
}

const dense_kernels dense_avx512 = {
    4,
    1,
    1,
    4,
    {5, 8, 12, 24},
    {64, 48, 32, 16},
    prep_avx512,
    pack_avx512,
    {micro_avx512_5x4, micro_avx512_8x3, micro_avx512_12x2, micro_avx512_24x1},
    pipe_5x4,
    epi_tile_avx512,
};

#endif
