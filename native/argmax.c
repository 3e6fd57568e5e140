/* Argmax with per-class offsets (intref/ops/argmax.py): per row, the largest x + offset, then the lowest index
 * holding it. The sums are int32 when every possible x + offset fits (the usual case: SIMD rows below), else
 * int64 (plain loops compiled once per ISA with per-function targets, so that the compiler vectorises the max
 * reduction for that ISA). */
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn.h"

#define DEFINE_ROWS(NAME, XT, ST, TARGET)                                                                              \
    static TARGET void NAME(const XT *x, int64_t r0, int64_t r1, int64_t n, const int32_t *off, int32_t *out) {        \
        int64_t r, i;                                                                                                  \
        for (r = r0; r < r1; r++) {                                                                                    \
            const XT *xr = x + r * n;                                                                                  \
            ST best = (ST)xr[0] + (ST)off[0];                                                                          \
            for (i = 1; i < n; i++) {                                                                                  \
                const ST v = (ST)xr[i] + (ST)off[i];                                                                   \
                best = v > best ? v : best;                                                                            \
            }                                                                                                          \
            for (i = 0; (ST)xr[i] + (ST)off[i] != best; i++) /* ties go to the lowest index */                         \
                ;                                                                                                      \
            out[r] = (int32_t)i;                                                                                       \
        }                                                                                                              \
    }

#define DEFINE_ISA(SUFFIX, TARGET)                                                                                     \
    DEFINE_ROWS(rows8_32_##SUFFIX, int8_t, int32_t, TARGET)                                                            \
    DEFINE_ROWS(rows16_32_##SUFFIX, int16_t, int32_t, TARGET)                                                          \
    DEFINE_ROWS(rows32_32_##SUFFIX, int32_t, int32_t, TARGET)                                                          \
    DEFINE_ROWS(rows8_64_##SUFFIX, int8_t, int64_t, TARGET)                                                            \
    DEFINE_ROWS(rows16_64_##SUFFIX, int16_t, int64_t, TARGET)                                                          \
    DEFINE_ROWS(rows32_64_##SUFFIX, int32_t, int64_t, TARGET)                                                          \
    static TARGET void rows_##SUFFIX(const void *x, int32_t xb, int wide, int64_t r0, int64_t r1, int64_t n,           \
                                     const int32_t *off, int32_t *out) {                                               \
        if (xb == 1)                                                                                                   \
            (wide ? rows8_64_##SUFFIX : rows8_32_##SUFFIX)((const int8_t *)x, r0, r1, n, off, out);                    \
        else if (xb == 2)                                                                                              \
            (wide ? rows16_64_##SUFFIX : rows16_32_##SUFFIX)((const int16_t *)x, r0, r1, n, off, out);                 \
        else                                                                                                           \
            (wide ? rows32_64_##SUFFIX : rows32_32_##SUFFIX)((const int32_t *)x, r0, r1, n, off, out);                 \
    }

#define NO_TARGET
DEFINE_ISA(scalar, NO_TARGET)
#if INTREF_X86
DEFINE_ISA(avx2, INTREF_TARGET_AVX2)
DEFINE_ISA(avx512, INTREF_TARGET_AVX512)
#endif

#if INTREF_X86
#include <immintrin.h>

/* 16 sums x + offset from element i as int32 lanes (lanes outside km: INT32_MIN, never above the maximum). */
INTREF_INLINE INTREF_TARGET_AVX512 __m512i sums16(const void *x, int xb, const int32_t *off, int64_t i, __mmask16 km) {
    __m512i v;
    if (km == 0xFFFF) { /* plain loads where possible: masked ones are slower */
        if (xb == 1)
            v = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)((const int8_t *)x + i)));
        else if (xb == 2)
            v = _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)((const int16_t *)x + i)));
        else
            v = _mm512_loadu_si512((const void *)((const int32_t *)x + i));
        return _mm512_add_epi32(v, _mm512_loadu_si512((const void *)(off + i)));
    }
    if (xb == 1)
        v = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(km, (const int8_t *)x + i));
    else if (xb == 2)
        v = _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(km, (const int16_t *)x + i));
    else
        v = _mm512_maskz_loadu_epi32(km, (const int32_t *)x + i);
    return _mm512_mask_add_epi32(_mm512_set1_epi32(INT32_MIN), km, v, _mm512_maskz_loadu_epi32(km, off + i));
}

INTREF_INLINE INTREF_TARGET_AVX512 void rows32_avx512_body(const void *x, int64_t r0, int64_t r1, int64_t n,
                                                           const int32_t *off, int32_t *out, const int xb) {
    int64_t r, i;
    for (r = r0; r < r1; r++) {
        const void *xr = (const char *)x + r * n * xb;
        __m512i best = _mm512_set1_epi32(INT32_MIN), target;
        for (i = 0; i < n; i += 16)
            best = _mm512_max_epi32(best,
                                    sums16(xr, xb, off, i, n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1u)));
        target = _mm512_set1_epi32(_mm512_reduce_max_epi32(best));
        for (i = 0;; i += 16) { /* the maximum is there: the search ends inside the row */
            const __mmask16 km = n - i >= 16 ? 0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
            const __mmask16 hit = _mm512_mask_cmpeq_epi32_mask(km, sums16(xr, xb, off, i, km), target);
            if (hit) {
                out[r] = (int32_t)(i + __builtin_ctz(hit));
                break;
            }
        }
    }
}

static INTREF_TARGET_AVX512 void rows32_avx512(const void *x, int32_t xb, int64_t r0, int64_t r1, int64_t n,
                                               const int32_t *off, int32_t *out) {
    if (xb == 1)
        rows32_avx512_body(x, r0, r1, n, off, out, 1);
    else if (xb == 2)
        rows32_avx512_body(x, r0, r1, n, off, out, 2);
    else
        rows32_avx512_body(x, r0, r1, n, off, out, 4);
}
#endif

typedef void (*am_rows_fn)(const void *x, int32_t xb, int wide, int64_t r0, int64_t r1, int64_t n, const int32_t *off,
                           int32_t *out);

#if INTREF_X86
static void avx512_narrow(const void *x, int32_t xb, int wide, int64_t r0, int64_t r1, int64_t n, const int32_t *off,
                          int32_t *out) {
    (void)wide;
    rows32_avx512(x, xb, r0, r1, n, off, out);
}
#endif

int intref_argmax(int32_t isa, int32_t threads, const void *x, int32_t x_bytes, int64_t rows, int64_t n,
                  const int32_t *offset, int32_t *out) {
    const int64_t BIG = INT64_C(1) << 40;
    am_rows_fn fn = rows_scalar;
    int32_t *zeros = NULL;
    const int32_t *off = offset;
    int64_t i, omin = 0, omax = 0, xmax;
    int wide, nt;
    if (!isa_supported(isa)) return INTREF_EISA;
    if ((x_bytes != 1 && x_bytes != 2 && x_bytes != 4) || rows < 0 || rows > BIG || n < 1 || n > INT32_MAX ||
        !prod_le(rows, n, BIG))
        return INTREF_EINVAL;
    if (rows == 0) return INTREF_OK;
    if (!x || !out) return INTREF_EINVAL;
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) fn = rows_avx512;
    if (isa == INTREF_ISA_AVX2) fn = rows_avx2;
#endif
    if (!off) {
        zeros = (int32_t *)mem_alloc((size_t)n * sizeof(int32_t));
        if (!zeros) return INTREF_ENOMEM;
        for (i = 0; i < n; i++)
            zeros[i] = 0;
        off = zeros;
    }
    for (i = 0; i < n; i++) {
        omin = off[i] < omin ? off[i] : omin;
        omax = off[i] > omax ? off[i] : omax;
    }
    xmax = (int64_t)((UINT64_C(1) << (8 * x_bytes - 1)) - 1);
    wide = omin - xmax - 1 < INT32_MIN || omax + xmax > INT32_MAX;
    nt = clamp_threads(threads, rows * n / 65536 + 1);
    if (nt > rows) nt = (int)rows;
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI && !wide) fn = avx512_narrow;
#endif
    if (nt <= 1) {
        fn(x, x_bytes, wide, 0, rows, n, off, out);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        {
            int64_t r0, r1;
            split_rows(rows, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
            if (r0 < r1) fn(x, x_bytes, wide, r0, r1, n, off, out);
        }
#else
        fn(x, x_bytes, wide, 0, rows, n, off, out);
#endif
    }
    mem_free(zeros);
    return INTREF_OK;
}
