/* An int16 tensor as two int8 halves (intref/ops/split.py): with v = x - x_zp,
 * hi = clamp(((v + 2^(shift-1)) >> shift) + hi_zp), lo = clamp(v - ((hi - hi_zp) << shift)), both to int8.
 * Plain loops compiled once per ISA (per-function targets) so that the compiler vectorises each; the values
 * stay within int32 (|v| < 2^17, |hi - hi_zp| < 2^8, shift <= 14). Rows of a large tensor are split between
 * threads; every element has one owner, so the bytes do not depend on the thread count. */
#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal.h"

#define DEFINE_SPLIT(SUFFIX, TARGET)                                                                                   \
    static TARGET void split16_##SUFFIX(const int16_t *x, int64_t n, int32_t zp, int32_t shift, int32_t hzp,         \
                                        int8_t *hi, int8_t *lo) {                                                      \
        const int32_t half = 1 << (shift - 1);                                                                         \
        int64_t i;                                                                                                     \
        for (i = 0; i < n; i++) {                                                                                      \
            int32_t v = (int32_t)x[i] - zp, h = ((v + half) >> shift) + hzp, l;                                        \
            h = h < -128 ? -128 : (h > 127 ? 127 : h);                                                                 \
            l = v - (int32_t)((uint32_t)(h - hzp) << shift);                                                           \
            hi[i] = (int8_t)h;                                                                                         \
            lo[i] = (int8_t)(l < -128 ? -128 : (l > 127 ? 127 : l));                                                   \
        }                                                                                                              \
    }

#define NO_TARGET
DEFINE_SPLIT(scalar, NO_TARGET)
#if INTREF_X86
DEFINE_SPLIT(avx2, INTREF_TARGET_AVX2)
DEFINE_SPLIT(avx512, INTREF_TARGET_AVX512)
#endif

static void split_part(int32_t isa, const int16_t *x, int64_t n, int32_t zp, int32_t shift, int32_t hzp, int8_t *hi,
                       int8_t *lo) {
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) {
        split16_avx512(x, n, zp, shift, hzp, hi, lo);
        return;
    }
    if (isa == INTREF_ISA_AVX2) {
        split16_avx2(x, n, zp, shift, hzp, hi, lo);
        return;
    }
#endif
    (void)isa;
    split16_scalar(x, n, zp, shift, hzp, hi, lo);
}

int intref_split16(int32_t isa, int32_t threads, const int16_t *x, int64_t n, int32_t x_zp, int32_t shift,
                   int32_t hi_zp, int8_t *hi, int8_t *lo) {
    int nt;
    if (!isa_supported(isa)) return INTREF_EISA;
    if (n < 0 || shift < 1 || shift > 14 || x_zp < -32768 || x_zp > 32767 || hi_zp < -128 || hi_zp > 127)
        return INTREF_EINVAL;
    if (n > 0 && (!x || !hi || !lo)) return INTREF_EINVAL;
    /* a second thread pays for about a million elements (one pass, memory bound) */
    nt = clamp_threads(threads, n / (1 << 20) + 1);
    if (nt <= 1) {
        split_part(isa, x, n, x_zp, shift, hi_zp, hi, lo);
        return INTREF_OK;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
    {
        int64_t per = (n + omp_get_num_threads() - 1) / omp_get_num_threads(), i0 = per * omp_get_thread_num();
        int64_t i1 = i0 + per > n ? n : i0 + per;
        if (i0 < i1) split_part(isa, x + i0, i1 - i0, x_zp, shift, hi_zp, hi + i0, lo + i0);
    }
#else
    split_part(isa, x, n, x_zp, shift, hi_zp, hi, lo);
#endif
    return INTREF_OK;
}
