/* AVX-512 VNNI depthwise kernel.
 *
 * vpdpbusd sums 4 byte products per 32-bit lane, so each lane is given 4 taps of one channel: the
 * interleaved rows X4[r] = (x[r], x[r+d], x[r+2d], x[r+3d]) + 128 for 16 channels (one zmm per row), and the
 * weights W4[g] = taps 4g..4g+3 of each channel (zero past the kernel). Output t accumulates
 * X4[t*s + 4g*d] . W4[g] over the groups g. With dilation 1, X4[r] is X4[r-1] shifted down one byte with the
 * row r+3 entering on top. 24 outputs are accumulated at once (independent vpdpbusd chains); the
 * correction -(x_zp + 128) * sum(w) is folded into the bias as in the dense kernel.
 */
#include <string.h>

#include "requant.h"
#include "util_avx512.h"

#if INTREF_X86
#include <immintrin.h>

#define ROWS 24

/* 16 channels of padded input row `row` as u8 (x + 128) zero-extended to dwords. */
INTREF_INLINE INTREF_TARGET_AVX512 __m512i row16(const dw_args *a, int64_t row, int64_t cb, __mmask16 km, __m512i pad) {
    int64_t src = row - a->pad_left;
    if (src < 0 || src >= a->t) return pad;
    return _mm512_xor_si512(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(km, a->x + src * a->c + cb)),
                            _mm512_set1_epi32(0x80));
}

/* 24 consecutive output rows (stride 1) of one 16-channel block: all offsets are constants, so the 24
 * accumulators stay in registers. */
static INTREF_TARGET_AVX512 __attribute__((noinline)) void rows24(const __m512i *base, int64_t groups, int64_t step,
                                                                  const __m512i *w4, __m512i init, int32_t *tile) {
    __m512i acc[ROWS];
    int64_t g;
    int i;
#pragma GCC unroll 32
    for (i = 0; i < ROWS; i++)
        acc[i] = init;
    for (g = 0; g < groups; g++) {
        const __m512i wv = _mm512_load_si512((const void *)&w4[g]);
        const __m512i *xg = base + g * step;
#pragma GCC unroll 32
        for (i = 0; i < ROWS; i++)
            acc[i] = _mm512_dpbusd_epi32(acc[i], _mm512_load_si512((const void *)(xg + i)), wv);
    }
#pragma GCC unroll 32
    for (i = 0; i < ROWS; i++)
        _mm512_storeu_si512((void *)(tile + i * 16), acc[i]);
}

/* X4 row `row` from scratch: padded input rows row, row+d, row+2d, row+3d as the 4 bytes of each lane. */
INTREF_INLINE INTREF_TARGET_AVX512 __m512i x4_row(const dw_args *a, int64_t row, int64_t d, int64_t cb, __mmask16 km,
                                                  __m512i pad) {
    __m512i v = _mm512_or_si512(row16(a, row, cb, km, pad), _mm512_slli_epi32(row16(a, row + d, cb, km, pad), 8));
    v = _mm512_or_si512(v, _mm512_slli_epi32(row16(a, row + 2 * d, cb, km, pad), 16));
    return _mm512_or_si512(v, _mm512_slli_epi32(row16(a, row + 3 * d, cb, km, pad), 24));
}

void INTREF_TARGET_AVX512 dw_avx512(DW_ARGS) {
    const int64_t k = a->ksize, s = a->stride, d = a->dilation, groups = (k + 3) / 4;
    const int64_t first = r0 * s, nx = (r1 - 1) * s + 4 * (groups - 1) * d + 1 - first;
    __m512i *w4 = (__m512i *)mem_alloc((size_t)groups * 64);
    __m512i *x4 = (__m512i *)mem_alloc((size_t)nx * 64);
    int8_t *wrow = (int8_t *)mem_alloc((size_t)(16 * k));
    int32_t tile[ROWS * 16], corr[16];
    int64_t cb, r, i;
    if (!w4 || !x4 || !wrow) {
        mem_free(w4);
        mem_free(x4);
        mem_free(wrow);
        *oom = 1;
        return;
    }
    for (cb = c0; cb < c1; cb += 16) {
        const int lanes = c1 - cb < 16 ? (int)(c1 - cb) : 16;
        const __mmask16 km = (__mmask16)(lanes == 16 ? 0xFFFFu : ((1u << lanes) - 1u));
        const __m512i pad = _mm512_set1_epi32((int32_t)(((uint32_t)a->x_zp & 0xFFu) ^ 0x80u));
        int64_t maxcorr = 0, bound;
        int mode = EPI_HELD, exact = p->held64;
        /* weights: 16 channel rows of k taps, 64 taps at a time through the dword transpose, so that
         * w4[g] holds taps 4g..4g+3 of each channel (zero past the kernel and past the block); the sums
         * for the bias correction come from vpdpbusd with ones */
        {
            const int8_t *wr[16];
            __m512i sums = _mm512_setzero_si512();
            int32_t s32[16];
            int64_t b;
            for (i = 0; i < 16; i++) {
                if (i >= lanes)
                    wr[i] = NULL;
                else if (a->w8)
                    wr[i] = a->w8 + (cb + i) * k;
                else {
                    unpack_row(a->w4 + (cb + i) * ((k + 1) / 2), k, wrow + i * k);
                    wr[i] = wrow + i * k;
                }
            }
            for (b = 0; b * 64 < k; b++) {
                const int64_t rest = k - b * 64;
                const __mmask64 kb = rest >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << rest) - 1);
                __m512i v[16];
                for (i = 0; i < 16; i++)
                    v[i] = wr[i] ? _mm512_maskz_loadu_epi8(kb, wr[i] + b * 64) : _mm512_setzero_si512();
                transpose16(v);
                for (i = 0; i < 16 && b * 16 + i < groups; i++) {
                    _mm512_store_si512((void *)&w4[b * 16 + i], v[i]);
                    sums = _mm512_dpbusd_epi32(sums, _mm512_set1_epi8(1), v[i]);
                }
            }
            _mm512_storeu_si512((void *)s32, sums);
            for (i = 0; i < 16; i++) {
                int64_t c = i < lanes ? a->bias[cb + i] - ((int64_t)a->x_zp + 128) * s32[i] : 0;
                if (c < I32_MIN || c > I32_MAX) exact = 1;
                corr[i] = (int32_t)c;
                if ((c < 0 ? -c : c) > maxcorr) maxcorr = c < 0 ? -c : c;
            }
        }
        if (exact) {
            dw_scalar(a, p, cb, cb + lanes, r0, r1, acc_out, y_out, e, oom);
            continue;
        }
        bound = k * 32640 + maxcorr;
        if (bound > p->acc_hi) mode = EPI_CORR;
        /* X4 rows first .. first + nx - 1. With dilation 1 each row comes from the previous one, kept in a
         * register; two halves run side by side so that the two dependency chains overlap. */
        if (d == 1) {
            const int64_t half = (nx + 1) / 2;
            __m512i p0 = x4_row(a, first, 1, cb, km, pad), p1 = x4_row(a, first + half, 1, cb, km, pad);
            _mm512_store_si512((void *)&x4[0], p0);
            if (half < nx) _mm512_store_si512((void *)&x4[half], p1);
            for (r = 1; r < half; r++) {
                p0 = _mm512_or_si512(_mm512_srli_epi32(p0, 8),
                                     _mm512_slli_epi32(row16(a, first + r + 3, cb, km, pad), 24));
                _mm512_store_si512((void *)&x4[r], p0);
                if (half + r < nx) {
                    p1 = _mm512_or_si512(_mm512_srli_epi32(p1, 8),
                                         _mm512_slli_epi32(row16(a, first + half + r + 3, cb, km, pad), 24));
                    _mm512_store_si512((void *)&x4[half + r], p1);
                }
            }
        } else {
            for (r = 0; r < nx; r++)
                _mm512_store_si512((void *)&x4[r], x4_row(a, first + r, d, cb, km, pad));
        }
        for (r = r0; r < r1; r += ROWS) {
            const int nrows = r1 - r < ROWS ? (int)(r1 - r) : ROWS;
            const __m512i init = mode == EPI_HELD ? _mm512_loadu_si512((const void *)corr) : _mm512_setzero_si512();
            const __m512i *base = x4 + (r * s - first);
            if (nrows == ROWS && s == 1) {
                rows24(base, groups, 4 * d, w4, init, tile);
            } else {
                __m512i acc[ROWS];
                int64_t g;
                for (i = 0; i < nrows; i++)
                    acc[i] = init;
                for (g = 0; g < groups; g++) {
                    const __m512i wv = _mm512_load_si512((const void *)&w4[g]);
                    const __m512i *xg = base + 4 * g * d;
                    for (i = 0; i < nrows; i++)
                        acc[i] = _mm512_dpbusd_epi32(acc[i], _mm512_load_si512((const void *)(xg + i * s)), wv);
                }
                for (i = 0; i < nrows; i++)
                    _mm512_storeu_si512((void *)(tile + i * 16), acc[i]);
            }
            epi_tile_avx512(p, mode, tile, 16, nrows, r, cb, lanes, corr, acc_out, y_out, e);
        }
    }
    mem_free(w4);
    mem_free(x4);
    mem_free(wrow);
}

#endif
