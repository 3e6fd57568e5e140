/* AVX2 depthwise kernel: as dw_avx512.c with vpmaddwd on int16 pairs X2[r] = (x[r] - x_zp, x[r+d] - x_zp)
 * and weight pairs (w[2g], w[2g+1]), 8 channels per vector; exact int32 sums, no bias correction. */
#include <string.h>

#include "requant.h"

#if INTREF_X86
#include <immintrin.h>

#define ROWS 12

INTREF_INLINE INTREF_TARGET_AVX2 __m256i row8(const dw_args *a, int64_t row, int64_t cb, int lanes) {
    int64_t src = row - a->pad_left;
    int8_t buf[16];
    if (src < 0 || src >= a->t) return _mm256_setzero_si256();
    if (lanes == 8)
        return _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(a->x + src * a->c + cb))),
                                _mm256_set1_epi32(a->x_zp));
    memset(buf, 0, sizeof(buf));
    memcpy(buf, a->x + src * a->c + cb, (size_t)lanes);
    /* lanes past the block hold x_zp: they centre to 0 */
    {
        int l;
        for (l = lanes; l < 8; l++)
            buf[l] = (int8_t)a->x_zp;
    }
    return _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)buf)), _mm256_set1_epi32(a->x_zp));
}

void INTREF_TARGET_AVX2 dw_avx2(DW_ARGS) {
    const int64_t k = a->ksize, s = a->stride, d = a->dilation, groups = (k + 1) / 2;
    const int64_t first = r0 * s, nx = (r1 - 1) * s + 2 * (groups - 1) * d + 1 - first;
    __m256i *w2 = (__m256i *)mem_alloc((size_t)groups * 32);
    __m256i *x2 = (__m256i *)mem_alloc((size_t)nx * 32);
    int8_t *wrow = (int8_t *)mem_alloc((size_t)k);
    int32_t tile[ROWS * 8], corr[8];
    int64_t cb, g, r, i;
    if (!w2 || !x2 || !wrow) {
        mem_free(w2);
        mem_free(x2);
        mem_free(wrow);
        *oom = 1;
        return;
    }
    for (cb = c0; cb < c1; cb += 8) {
        const int lanes = c1 - cb < 8 ? (int)(c1 - cb) : 8;
        int64_t maxcorr = 0;
        int mode = EPI_HELD;
        if (p->held64) {
            dw_scalar(a, p, cb, cb + lanes, r0, r1, acc_out, y_out, e, oom);
            continue;
        }
        memset(w2, 0, (size_t)groups * 32);
        for (i = 0; i < 8; i++) {
            int64_t q;
            corr[i] = i < lanes ? a->bias[cb + i] : 0;
            if (i < lanes) {
                const int8_t *row = weight_row(a->w8, a->w4, k, cb + i, wrow);
                for (q = 0; q < k; q++)
                    ((int16_t *)w2)[(q / 2) * 16 + i * 2 + q % 2] = row[q];
            }
            if ((corr[i] < 0 ? -(int64_t)corr[i] : corr[i]) > maxcorr)
                maxcorr = corr[i] < 0 ? -(int64_t)corr[i] : corr[i];
        }
        if (k * 32640 + maxcorr > p->acc_hi) mode = EPI_CORR;
        {
            __m256i prev = _mm256_setzero_si256();
            for (r = 0; r < nx; r++) {
                int64_t row = first + r;
                __m256i v;
                if (d == 1 && r > 0)
                    v = _mm256_or_si256(_mm256_srli_epi32(prev, 16),
                                        _mm256_slli_epi32(row8(a, row + 1, cb, lanes), 16));
                else
                    v = _mm256_or_si256(_mm256_and_si256(row8(a, row, cb, lanes), _mm256_set1_epi32(0xFFFF)),
                                        _mm256_slli_epi32(row8(a, row + d, cb, lanes), 16));
                prev = v;
                _mm256_store_si256(&x2[r], v);
            }
        }
        for (r = r0; r < r1; r += ROWS) {
            const int nrows = r1 - r < ROWS ? (int)(r1 - r) : ROWS;
            const __m256i init = mode == EPI_HELD ? _mm256_loadu_si256((const __m256i *)corr) : _mm256_setzero_si256();
            const __m256i *base = x2 + (r * s - first);
            __m256i acc[ROWS];
#pragma GCC unroll 32
            for (i = 0; i < ROWS; i++)
                acc[i] = init;
            if (nrows == ROWS && s == 1) {
                for (g = 0; g < groups; g++) {
                    const __m256i wv = _mm256_load_si256(&w2[g]);
                    const __m256i *xg = base + 2 * g * d;
#pragma GCC unroll 32
                    for (i = 0; i < ROWS; i++)
                        acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_load_si256(xg + i), wv));
                }
            } else {
                for (g = 0; g < groups; g++) {
                    const __m256i wv = _mm256_load_si256(&w2[g]);
                    const __m256i *xg = base + 2 * g * d;
                    for (i = 0; i < nrows; i++)
                        acc[i] = _mm256_add_epi32(acc[i], _mm256_madd_epi16(_mm256_load_si256(xg + i * s), wv));
                }
            }
            for (i = 0; i < nrows; i++)
                _mm256_storeu_si256((__m256i *)(tile + i * 8), acc[i]);
            epi_tile_avx2(p, mode, tile, 8, nrows, r, cb, lanes, corr, acc_out, y_out, e);
        }
    }
    mem_free(w2);
    mem_free(x2);
    mem_free(wrow);
}

#endif
