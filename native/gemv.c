/* Linear layers with a few rows (a decoder step: one token, or a short prefix): one pass over the int8
 * weight rows as they are stored, with no packing. Packing pays only when the packed panel is reused over
 * many rows; for one row it triples the memory traffic of a product that is bound by reading the weights
 * (a 21,367 x 224 tied output projection is 4.8 MB per step). int4 weights are unpacked block by block
 * (GEMV_BLOCK rows into a scratch the block's products then read from L1).
 *
 * For each output channel o the kernels give the exact x . w[o] of every row and the weight sum s[o]; the
 * driver forms (x - x_zp) . w[o] + bias[o] = x . w[o] - x_zp * s[o] + bias[o] in int64 and passes it to the
 * scalar epilogue (accumulator policy, rescale, stores), so the result is the reference's element for element.
 * Partial sums stay in int32: each lane adds at most 4 products of 255 * 128 per 64 inputs, and K is at most
 * INTREF_KSAFE. Threads take disjoint ranges of output channels; every output is computed the same way
 * whatever the thread count. */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <stdint.h>

#include "requant.h"
#include "util_avx512.h"

#if INTREF_X86
#include <immintrin.h>
#endif

#define GEMV_BLOCK 64 /* output channels per epilogue batch */

typedef void (*gemv_dots)(const int8_t *x, const uint8_t *xu, int64_t m, int64_t k, const int8_t *w, int64_t n0,
                          int64_t n1, int64_t *dots, int64_t *wsum);

/* dots[(o - n0) * m + r] = x[r] . w[o]; wsum[o - n0] = sum of w[o]. */
static void dots_scalar(const int8_t *x, const uint8_t *xu, int64_t m, int64_t k, const int8_t *w, int64_t n0,
                        int64_t n1, int64_t *dots, int64_t *wsum) {
    int64_t o, r, i;
    (void)xu;
    for (o = n0; o < n1; o++) {
        const int8_t *wr = w + o * k;
        int64_t s = 0;
        for (i = 0; i < k; i++)
            s += wr[i];
        wsum[o - n0] = s;
        for (r = 0; r < m; r++) {
            const int8_t *xr = x + r * k;
            int64_t d = 0;
            for (i = 0; i < k; i++)
                d += (int64_t)xr[i] * wr[i];
            dots[(o - n0) * m + r] = d;
        }
    }
}

#if INTREF_X86
/* AVX2: both operands sign-extended to int16 and multiplied by vpmaddwd (pairs of products summed in int32,
 * exact: vpmaddubsw would saturate). */
static INTREF_TARGET_AVX2 int32_t hsum8(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

static INTREF_TARGET_AVX2 void dots_avx2(const int8_t *x, const uint8_t *xu, int64_t m, int64_t k, const int8_t *w,
                                         int64_t n0, int64_t n1, int64_t *dots, int64_t *wsum) {
    const __m256i ones = _mm256_set1_epi16(1);
    int64_t o, r, i;
    (void)xu;
    for (o = n0; o < n1; o++) {
        const int8_t *wr = w + o * k;
        __m256i acc[GEMV_MAX_ROWS], accw = _mm256_setzero_si256();
        int64_t tail_w = 0;
        for (r = 0; r < m; r++)
            acc[r] = _mm256_setzero_si256();
        for (i = 0; i + 16 <= k; i += 16) {
            __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wr + i)));
            accw = _mm256_add_epi32(accw, _mm256_madd_epi16(wv, ones));
            for (r = 0; r < m; r++) {
                __m256i xv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x + r * k + i)));
                acc[r] = _mm256_add_epi32(acc[r], _mm256_madd_epi16(xv, wv));
            }
        }
        for (int64_t j = i; j < k; j++)
            tail_w += wr[j];
        wsum[o - n0] = (int64_t)hsum8(accw) + tail_w;
        for (r = 0; r < m; r++) {
            int64_t d = hsum8(acc[r]);
            for (int64_t j = i; j < k; j++)
                d += (int64_t)x[r * k + j] * wr[j];
            dots[(o - n0) * m + r] = d;
        }
    }
}

/* 16 vectors of int32 lanes -> one vector whose lane j is the sum of the lanes of v[j] (the pairwise sums of a
 * transpose: 31 adds and shuffles instead of 16 horizontal reductions in a dependency chain). Every partial sum
 * is a sum of some of the products, so it stays inside int32 when the total does. */
INTREF_INLINE INTREF_TARGET_AVX512 __m512i sum16x16(const __m512i v[16]) {
    __m512i s[8], t[4];
    int p;
    for (p = 0; p < 8; p++) /* per 128-bit lane: (A0+A2, B0+B2, A1+A3, B1+B3) */
        s[p] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * p], v[2 * p + 1]),
                                _mm512_unpackhi_epi32(v[2 * p], v[2 * p + 1]));
    for (p = 0; p < 4; p++) /* per 128-bit lane: channels 4p .. 4p+3, each summed over that lane */
        t[p] = _mm512_add_epi32(_mm512_unpacklo_epi64(s[2 * p], s[2 * p + 1]),
                                _mm512_unpackhi_epi64(s[2 * p], s[2 * p + 1]));
    {
        /* lane L of the result: the four 128-bit lanes of t[L] added */
        const __m512i v0 = _mm512_add_epi32(_mm512_shuffle_i32x4(t[0], t[1], 0x44), _mm512_shuffle_i32x4(t[0], t[1], 0xEE));
        const __m512i w0 = _mm512_add_epi32(_mm512_shuffle_i32x4(t[2], t[3], 0x44), _mm512_shuffle_i32x4(t[2], t[3], 0xEE));
        return _mm512_add_epi32(_mm512_shuffle_i32x4(v0, w0, 0x88), _mm512_shuffle_i32x4(v0, w0, 0xDD));
    }
}

/* sum over k of a[i] * w16[j][i] for 16 weight rows j (a: u8 row, or ones), as 16 int32 lanes. */
INTREF_INLINE INTREF_TARGET_AVX512 __m512i dots16(const uint8_t *a, int ones, int64_t k, const int8_t *w16) {
    __m512i acc[16];
    const __m512i one = _mm512_set1_epi8(1);
    int64_t i;
    int j;
    for (j = 0; j < 16; j++)
        acc[j] = _mm512_setzero_si512();
    for (i = 0; i + 64 <= k; i += 64) {
        const __m512i av = ones ? one : _mm512_loadu_si512((const void *)(a + i));
        for (j = 0; j < 16; j++)
            acc[j] = _mm512_dpbusd_epi32(acc[j], av, _mm512_loadu_si512((const void *)(w16 + j * k + i)));
    }
    if (i < k) {
        const __mmask64 mask = (~(__mmask64)0) >> (64 - (k - i));
        const __m512i av = ones ? one : _mm512_maskz_loadu_epi8(mask, a + i);
        for (j = 0; j < 16; j++)
            acc[j] = _mm512_dpbusd_epi32(acc[j], av, _mm512_maskz_loadu_epi8(mask, w16 + j * k + i));
    }
    return sum16x16(acc);
}

/* AVX-512 VNNI: vpdpbusd of the rows as u8 (x + 128, prepared once by the driver) with the weights;
 * x . w = (x + 128) . w - 128 * sum(w), the sum from vpdpbusd with ones. 16 output channels at a time, their
 * sums gathered by sum16x16; the channels past a multiple of 16 one by one. Masked loads read no byte past a
 * row. */
static INTREF_TARGET_AVX512 void dots_avx512(const int8_t *x, const uint8_t *xu, int64_t m, int64_t k,
                                             const int8_t *w, int64_t n0, int64_t n1, int64_t *dots,
                                             int64_t *wsum) {
    const __m512i ones = _mm512_set1_epi8(1);
    int64_t o, r, i;
    int j;
    (void)x;
    for (o = n0; o + 16 <= n1; o += 16) {
        const int8_t *w16 = w + o * k;
        int32_t sums[16], d[16];
        _mm512_storeu_si512((void *)sums, dots16(NULL, 1, k, w16));
        for (j = 0; j < 16; j++)
            wsum[o - n0 + j] = sums[j];
        for (r = 0; r < m; r++) {
            _mm512_storeu_si512((void *)d, dots16(xu + r * k, 0, k, w16));
            for (j = 0; j < 16; j++)
                dots[(o - n0 + j) * m + r] = (int64_t)d[j] - 128 * (int64_t)sums[j];
        }
    }
    for (; o < n1; o++) {
        const int8_t *wr = w + o * k;
        __m512i acc[GEMV_MAX_ROWS], accw = _mm512_setzero_si512();
        int64_t s;
        for (r = 0; r < m; r++)
            acc[r] = _mm512_setzero_si512();
        for (i = 0; i + 64 <= k; i += 64) {
            __m512i wv = _mm512_loadu_si512((const void *)(wr + i));
            accw = _mm512_dpbusd_epi32(accw, ones, wv);
            for (r = 0; r < m; r++)
                acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_loadu_si512((const void *)(xu + r * k + i)), wv);
        }
        if (i < k) {
            __mmask64 mask = (~(__mmask64)0) >> (64 - (k - i));
            __m512i wv = _mm512_maskz_loadu_epi8(mask, wr + i);
            accw = _mm512_dpbusd_epi32(accw, ones, wv);
            for (r = 0; r < m; r++)
                acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_maskz_loadu_epi8(mask, xu + r * k + i), wv);
        }
        s = _mm512_reduce_add_epi32(accw);
        wsum[o - n0] = s;
        for (r = 0; r < m; r++)
            dots[(o - n0) * m + r] = (int64_t)_mm512_reduce_add_epi32(acc[r]) - 128 * s;
    }
}
#endif

/* n int4 values (low nibble first, sign-extended) into n int8: a plain loop per ISA target (the compiler
 * vectorises the AVX2 one), the AVX-512 one through the shared unpacker. */
typedef void (*gemv_unpack)(const uint8_t *src, int64_t n, int8_t *dst);

#define DEFINE_UNPACK(SUFFIX, TARGET)                                                                                  \
    static TARGET void unpack_##SUFFIX(const uint8_t *src, int64_t n, int8_t *dst) {                                   \
        int64_t i;                                                                                                     \
        for (i = 0; i < n / 2; i++) {                                                                                  \
            dst[2 * i] = (int8_t)(((src[i] & 0x0F) ^ 8) - 8);                                                          \
            dst[2 * i + 1] = (int8_t)(((src[i] >> 4) ^ 8) - 8);                                                        \
        }                                                                                                              \
        if (n & 1) dst[n - 1] = (int8_t)(((src[n / 2] & 0x0F) ^ 8) - 8);                                               \
    }

#define NO_TARGET
DEFINE_UNPACK(scalar, NO_TARGET)
#if INTREF_X86
DEFINE_UNPACK(avx2, INTREF_TARGET_AVX2)
static INTREF_TARGET_AVX512 void unpack_avx512(const uint8_t *src, int64_t n, int8_t *dst) {
    unpack_row(src, n, dst);
}
#endif

static gemv_unpack unpack_for(int32_t isa) {
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) return unpack_avx512;
    if (isa == INTREF_ISA_AVX2) return unpack_avx2;
#endif
    (void)isa;
    return unpack_scalar;
}

static gemv_dots dots_for(int32_t isa) {
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) return dots_avx512;
    if (isa == INTREF_ISA_AVX2) return dots_avx2;
#endif
    (void)isa;
    return dots_scalar;
}

typedef struct {
    gemv_dots dots;
    gemv_unpack unpack;
    gemv_epi epi;
    const int8_t *x, *w;
    const uint8_t *xu, *w4;
    int64_t m, k, n;
    const int32_t *bias;
    int32_t x_zp;
    const epi_plan *p;
    void *acc_out, *y_out;
    intref_errs errs;
    int oom;
} gemv_job;

/* One block of output channels: the dots as an int32 tile [m][GEMV_BLOCK] (|x . w| <= K * 128 * 128) and the
 * per-channel correction bias - x_zp * sum(w) through the ISA's tile epilogue when it fits int32 (always, for
 * the weights of a real layer) and the accumulator is at most 32 bits wide, else element by element. */
static void gemv_block(gemv_job *j, int64_t b0, int64_t b1, int64_t *dots, int64_t *wsum, int8_t *wbuf,
                       intref_errs *errs) {
    int32_t tile[GEMV_MAX_ROWS * GEMV_BLOCK], corr[GEMV_BLOCK];
    int64_t o, r, nch = b1 - b0;
    int fits = 1;
    if (j->w4) {
        const int64_t row_bytes = (j->k + 1) / 2;
        for (o = 0; o < nch; o++)
            j->unpack(j->w4 + (b0 + o) * row_bytes, j->k, wbuf + o * j->k);
        j->dots(j->x, j->xu, j->m, j->k, wbuf, 0, nch, dots, wsum);
    } else {
        j->dots(j->x, j->xu, j->m, j->k, j->w, b0, b1, dots, wsum);
    }
    for (o = 0; o < nch; o++) {
        int64_t c = (int64_t)j->bias[b0 + o] - (int64_t)j->x_zp * wsum[o];
        fits &= c >= INT32_MIN && c <= INT32_MAX;
        corr[o] = (int32_t)c;
        for (r = 0; r < j->m; r++)
            tile[r * GEMV_BLOCK + o] = (int32_t)dots[o * j->m + r];
    }
    if (fits && !j->p->held64) { /* a 64-bit accumulator is held and stored by the scalar epilogue */
        j->epi(j->p, EPI_CORR, tile, GEMV_BLOCK, (int)j->m, 0, b0, (int)nch, corr, j->acc_out, j->y_out, errs);
        return;
    }
    for (r = 0; r < j->m; r++)
        for (o = 0; o < nch; o++) {
            int64_t exact = dots[o * j->m + r] - (int64_t)j->x_zp * wsum[o] + j->bias[b0 + o];
            epi_one(j->p, exact, r * j->n + b0 + o, b0 + o, j->acc_out, j->y_out, errs);
        }
}

static void gemv_range(gemv_job *j, int64_t n0, int64_t n1) {
    int64_t dots[GEMV_BLOCK * GEMV_MAX_ROWS], wsum[GEMV_BLOCK], b0;
    int8_t *wbuf = NULL;
    intref_errs errs;
    errs_init(&errs);
    if (j->w4) {
        wbuf = (int8_t *)mem_alloc((size_t)(GEMV_BLOCK * j->k) + 64);
        if (!wbuf) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            j->oom = 1;
            return;
        }
    }
    for (b0 = n0; b0 < n1; b0 += GEMV_BLOCK)
        gemv_block(j, b0, b0 + GEMV_BLOCK < n1 ? b0 + GEMV_BLOCK : n1, dots, wsum, wbuf, &errs);
    mem_free(wbuf);
#ifdef _OPENMP
#pragma omp critical(intref_gemv_errs)
#endif
    errs_merge(&j->errs, &errs);
}

int gemv_run(int32_t isa, int nthreads, const int8_t *x, int64_t m, int64_t k, const int8_t *w, const uint8_t *w4,
             int64_t n, const int32_t *bias, int32_t x_zp, const epi_plan *p, gemv_epi epi, void *acc_out,
             void *y_out, intref_errs *errs) {
    gemv_job j;
    uint8_t *xu = NULL;
    memset(&j, 0, sizeof(j));
    j.dots = dots_for(isa);
    j.unpack = unpack_for(isa);
    j.epi = epi;
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) {
        int64_t i;
        xu = (uint8_t *)mem_alloc((size_t)(m * k) + 64);
        if (!xu) return INTREF_ENOMEM;
        for (i = 0; i < m * k; i++)
            xu[i] = (uint8_t)(x[i] + 128);
    }
#endif
    j.x = x;
    j.xu = xu;
    j.w = w;
    j.w4 = w4;
    j.m = m;
    j.k = k;
    j.n = n;
    j.bias = bias;
    j.x_zp = x_zp;
    j.p = p;
    j.acc_out = acc_out;
    j.y_out = y_out;
    errs_init(&j.errs);
    if (nthreads <= 1) {
        gemv_range(&j, 0, n);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads)
        {
            int tid = omp_get_thread_num(), nt = omp_get_num_threads();
            int64_t blocks = (n + GEMV_BLOCK - 1) / GEMV_BLOCK, per = (blocks + nt - 1) / nt;
            int64_t n0 = per * tid * GEMV_BLOCK, n1 = n0 + per * GEMV_BLOCK;
            if (n1 > n) n1 = n;
            if (n0 < n1) gemv_range(&j, n0, n1);
        }
#else
        gemv_range(&j, 0, n);
#endif
    }
    mem_free(xu);
    if (j.oom) return INTREF_ENOMEM;
    errs_merge(errs, &j.errs);
    return INTREF_OK;
}
