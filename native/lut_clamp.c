/* Table lookup and clamp. Plain loops, compiled once per ISA with per-function targets so that the
 * compiler vectorises each for the chosen ISA (clamp fully; the lookup is a byte/word gather). */
#include "internal.h"

#define DEFINE_LOOPS(SUFFIX, TARGET)                                                                                   \
    static TARGET void lut8_##SUFFIX(const int8_t *x, int64_t n, const void *table, int32_t tb, void *y) {             \
        int64_t i;                                                                                                     \
        if (tb == 1)                                                                                                   \
            for (i = 0; i < n; i++)                                                                                    \
                ((int8_t *)y)[i] = ((const int8_t *)table)[(uint8_t)(x[i] ^ 0x80)];                                    \
        else                                                                                                           \
            for (i = 0; i < n; i++)                                                                                    \
                ((int16_t *)y)[i] = ((const int16_t *)table)[(uint8_t)(x[i] ^ 0x80)];                                  \
    }                                                                                                                  \
    static TARGET void lut16_##SUFFIX(const int16_t *x, int64_t n, const void *table, int32_t tb, void *y) {           \
        int64_t i;                                                                                                     \
        if (tb == 1)                                                                                                   \
            for (i = 0; i < n; i++)                                                                                    \
                ((int8_t *)y)[i] = ((const int8_t *)table)[(uint16_t)(x[i] ^ 0x8000)];                                 \
        else                                                                                                           \
            for (i = 0; i < n; i++)                                                                                    \
                ((int16_t *)y)[i] = ((const int16_t *)table)[(uint16_t)(x[i] ^ 0x8000)];                               \
    }                                                                                                                  \
    static TARGET void clamp_##SUFFIX(const void *x, int32_t xb, int64_t n, int64_t lo, int64_t hi, void *y) {         \
        int64_t i;                                                                                                     \
        if (xb == 1) {                                                                                                 \
            const int8_t *s = (const int8_t *)x;                                                                       \
            int8_t l = (int8_t)lo, h = (int8_t)hi, *d = (int8_t *)y;                                                   \
            for (i = 0; i < n; i++)                                                                                    \
                d[i] = s[i] < l ? l : (s[i] > h ? h : s[i]);                                                           \
        } else if (xb == 2) {                                                                                          \
            const int16_t *s = (const int16_t *)x;                                                                     \
            int16_t l = (int16_t)lo, h = (int16_t)hi, *d = (int16_t *)y;                                               \
            for (i = 0; i < n; i++)                                                                                    \
                d[i] = s[i] < l ? l : (s[i] > h ? h : s[i]);                                                           \
        } else {                                                                                                       \
            const int32_t *s = (const int32_t *)x;                                                                     \
            int32_t l = (int32_t)lo, h = (int32_t)hi, *d = (int32_t *)y;                                               \
            for (i = 0; i < n; i++)                                                                                    \
                d[i] = s[i] < l ? l : (s[i] > h ? h : s[i]);                                                           \
        }                                                                                                              \
    }

#define NO_TARGET
DEFINE_LOOPS(scalar, NO_TARGET)
#if INTREF_X86
DEFINE_LOOPS(avx2, INTREF_TARGET_AVX2)
DEFINE_LOOPS(avx512, INTREF_TARGET_AVX512)
#endif

int intref_lut(int32_t isa, int32_t threads, const void *x, int32_t x_bytes, int64_t n, const void *table,
               int32_t table_bytes, void *y) {
    (void)threads;
    if (!isa_supported(isa)) return INTREF_EISA;
    if ((x_bytes != 1 && x_bytes != 2) || (table_bytes != 1 && table_bytes != 2) || n < 0 || !table)
        return INTREF_EINVAL;
    if (n > 0 && (!x || !y)) return INTREF_EINVAL;
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) {
        if (x_bytes == 1)
            lut8_avx512((const int8_t *)x, n, table, table_bytes, y);
        else
            lut16_avx512((const int16_t *)x, n, table, table_bytes, y);
        return INTREF_OK;
    }
    if (isa == INTREF_ISA_AVX2) {
        if (x_bytes == 1)
            lut8_avx2((const int8_t *)x, n, table, table_bytes, y);
        else
            lut16_avx2((const int16_t *)x, n, table, table_bytes, y);
        return INTREF_OK;
    }
#endif
    if (x_bytes == 1)
        lut8_scalar((const int8_t *)x, n, table, table_bytes, y);
    else
        lut16_scalar((const int16_t *)x, n, table, table_bytes, y);
    return INTREF_OK;
}

int intref_clamp(int32_t isa, int32_t threads, const void *x, int32_t x_bytes, int64_t n, int64_t lo, int64_t hi,
                 void *y) {
    int64_t top;
    (void)threads;
    if (!isa_supported(isa)) return INTREF_EISA;
    if ((x_bytes != 1 && x_bytes != 2 && x_bytes != 4) || n < 0 || lo > hi) return INTREF_EINVAL;
    top = (int64_t)((UINT64_C(1) << (8 * x_bytes - 1)) - 1);
    if (lo < -top - 1 || hi > top) return INTREF_EINVAL;
    if (n > 0 && (!x || !y)) return INTREF_EINVAL;
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) {
        clamp_avx512(x, x_bytes, n, lo, hi, y);
        return INTREF_OK;
    }
    if (isa == INTREF_ISA_AVX2) {
        clamp_avx2(x, x_bytes, n, lo, hi, y);
        return INTREF_OK;
    }
#endif
    clamp_scalar(x, x_bytes, n, lo, hi, y);
    return INTREF_OK;
}
