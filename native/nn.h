/* Declarations shared by the transformer ops (layernorm, softmax) and their per-ISA row kernels. */
#ifndef INTREF_NN_H
#define INTREF_NN_H

#include "internal.h"

/* EXP2_Q15[r] = round(2^15 * 2^(-r/256)), r = 0..255 (intref/spec/fixedpoint.py); in [16428, 32768]. */
extern const int32_t intref_exp2_table[256];

/* floor(sqrt(v)) for 0 <= v < 2^63, exactly. */
int64_t isqrt64(int64_t v);

/* Whether (multiplier, shift) are legal for the scheme (intref/spec/rescale.py SCHEMES). */
int rescale_params_ok(int32_t scheme, int64_t m, int64_t s);

/* Thread t of n gets rows [*r0, *r1). */
void split_rows(int64_t rows, int t, int n, int64_t *r0, int64_t *r1);

/* ----------------------------------------------------------------------------------------------- softmax */

/* The input rescale of a softmax. For d in [floor, 0] (d = x - max(x), clamped) every scheme is the one formula
 * u = -r = (w * vm + uc) >> n with w = -d << left >= 0 (64-bit, all terms non-negative), with ties to even when
 * half_even; see softmax.c. */
typedef struct {
    int32_t scheme;
    int64_t m, s, floor;
    int32_t left, n, half_even;
    int64_t vm, uc;
    int64_t cut;         /* the most negative d whose u = -r is at most SM_U_MAX; every d below it has e = 0 */
    uint16_t tab16[256]; /* EXP2_Q15 as 16-bit words, for the SIMD lookups */
} sm_plan;

/* Every u >= 4096 has e = EXP2_Q15[u & 255] >> (u >> 8) = 0 (the entries are at most 2^15), as u = 4095 does. */
#define SM_U_MAX 4095

typedef struct {
    const sm_plan *p;
    const void *x;
    int32_t xb;
    int64_t n;
    const uint8_t *keep; /* NULL: every element attends */
    const int64_t *keep_index;
    int32_t out_max, out_zp, out_bytes;
    void *y;
} sm_job;

/* Softmax of one row into y; scratch holds n + 32 int32. Rescale errors (only the scalar path checks: the clamp makes
 * them impossible) are noted with the row's flat indices. */
typedef void (*sm_row_fn)(const sm_job *j, int64_t row, int32_t *scratch, intref_errs *e);
void sm_row_scalar(const sm_job *j, int64_t row, int32_t *scratch, intref_errs *e);
#if INTREF_X86
void sm_row_avx2(const sm_job *j, int64_t row, int32_t *scratch, intref_errs *e);
void sm_row_avx512(const sm_job *j, int64_t row, int32_t *scratch, intref_errs *e);
#endif

/* The output stage shared by every path: k = bit length of the row sum, then the fixed-point scale. */
typedef struct {
    int32_t shift;  /* k + 15 */
    uint32_t scale; /* out_max * floor(2^shift / total) < 2^32 */
    int64_t half;   /* 2^(shift - 1) */
} sm_out;

static inline sm_out sm_out_for(int64_t total, int32_t out_max) {
    sm_out o;
    int k = 0;
#if defined(__GNUC__) || defined(__clang__)
    k = 64 - __builtin_clzll((unsigned long long)total); /* total >= 2^15 */
#else
    while (k < 63 && (total >> k) != 0)
        k++;
#endif
    o.shift = k + 15;
    o.scale = (uint32_t)((int64_t)out_max * ((INT64_C(1) << o.shift) / total));
    o.half = INT64_C(1) << (o.shift - 1);
    return o;
}

/* --------------------------------------------------------------------------------------------- layernorm */

typedef struct {
    const void *x;
    int32_t xb;
    int64_t rows, c;
    int32_t zp, frac;
    int64_t eps;
    const int32_t *g32, *b32; /* gamma and beta as int32, padded with zeros to a multiple of 16 */
    int32_t vec_ok;           /* |n| < 2^31 for every row (c <= 2^(58 - 2F)): the SIMD rows apply */
    int32_t held32;           /* the held accumulator is int32: the SIMD rows may hand over int32 tiles */
    int64_t acc_lo, acc_hi;
    int64_t cpad; /* c rounded up to 16: the row stride of tiles */
} ln_job;

/* The exact accumulators n * gamma + beta of row r (see layernorm.c), as int64. */
void ln_row_exact(const ln_job *j, int64_t r, int64_t *ex);

/* SIMD rows, LN_BLOCK at a time (independent rows give the core work to overlap with each row's divisions and
 * square root): rows [r0, r0 + nr) into tile rows of ld = cpad int32 (cpad: c rounded up to 16). ok[i] = 1 when
 * row r0 + i was written there and all its exact accumulators lie in [acc_lo, acc_hi] (they are then the held
 * values); 0 when the row is left to ln_row_exact. dbuf holds LN_BLOCK * cpad int32. */
#define LN_BLOCK 8
typedef void (*ln_block_fn)(const ln_job *j, int64_t r0, int nr, int32_t *tile, int32_t *dbuf, uint8_t *ok);
#if INTREF_X86
void ln_block_avx2(const ln_job *j, int64_t r0, int nr, int32_t *tile, int32_t *dbuf, uint8_t *ok);
void ln_block_avx512(const ln_job *j, int64_t r0, int nr, int32_t *tile, int32_t *dbuf, uint8_t *ok);
#endif

#endif
