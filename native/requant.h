/* Exact scalar arithmetic of intref/spec: accumulator policy and the six rescale schemes.
 *
 * Every SIMD path falls back to these functions for the elements it does not handle itself (and to find
 * the first offending element), so they are the C statement of the spec. Right shifts of negative values
 * are arithmetic (as with every compiler intref supports); no signed overflow or negative left shift occurs
 * for parameters inside the scheme limits (checked by plan_init).
 */
#ifndef INTREF_REQUANT_H
#define INTREF_REQUANT_H

#include <stdint.h>

#include "internal.h"

#define I32_MIN (-2147483647 - 1)
#define I32_MAX 2147483647
#define I64_MAX INT64_MAX
#define I64_MIN INT64_MIN

/* Holds the exact sum in a `bits`-wide accumulator. Returns 1 when the policy is `error` and it does not
 * fit (held is then the exact value). */
INTREF_INLINE int acc_hold(int policy, int bits, int64_t exact, int64_t *held) {
    int64_t lo, hi;
    if (bits >= 64) {
        *held = exact;
        return 0;
    }
    hi = (int64_t)((UINT64_C(1) << (bits - 1)) - 1);
    lo = -hi - 1;
    if (exact >= lo && exact <= hi) {
        *held = exact;
        return 0;
    }
    if (policy == INTREF_POLICY_WRAP) {
        /* two's complement modulo 2^bits: keep the low bits, sign-extend from bit bits-1 */
        *held = (int64_t)((uint64_t)exact << (64 - bits)) >> (64 - bits);
        return 0;
    }
    if (policy == INTREF_POLICY_SATURATE) {
        *held = exact < lo ? lo : hi;
        return 0;
    }
    *held = exact;
    return 1;
}

/* floor(v / 2^n) + (rounding) for the modes the schemes use; n in [0, 62], |v| < 2^63 - 2^n. */
INTREF_INLINE int64_t div_pow2_half_up(int64_t v, int n) {
    if (n == 0) return v;
    return (v + ((int64_t)1 << (n - 1))) >> n;
}

INTREF_INLINE int64_t div_pow2_half_away(int64_t v, int n) {
    int64_t q, rem, half;
    if (n == 0) return v;
    q = v >> n;
    rem = v - (int64_t)((uint64_t)q << n);
    half = (int64_t)1 << (n - 1);
    return q + ((rem > half || (rem == half && v >= 0)) ? 1 : 0);
}

/* 128-bit unsigned helpers for the dyadic and onnx schemes (exact products of a 64-bit value). */
typedef struct {
    uint64_t hi, lo;
} u128;

INTREF_INLINE u128 u128_mul64x32(uint64_t a, uint64_t m) {
    /* m < 2^32 */
    uint64_t p0 = (a & 0xFFFFFFFFu) * m, p1 = (a >> 32) * m;
    u128 r;
    r.lo = p0 + (p1 << 32);
    r.hi = (p1 >> 32) + (r.lo < p0 ? 1u : 0u);
    return r;
}

INTREF_INLINE u128 u128_shr(u128 v, int n) {
    u128 r;
    if (n == 0) return v;
    if (n >= 128) {
        r.hi = r.lo = 0;
    } else if (n >= 64) {
        r.lo = v.hi >> (n - 64);
        r.hi = 0;
    } else {
        r.lo = (v.lo >> n) | (v.hi << (64 - n));
        r.hi = v.hi >> n;
    }
    return r;
}

INTREF_INLINE u128 u128_low_bits(u128 v, int n) {
    /* v mod 2^n, n in [1, 127] */
    if (n >= 64) {
        if (n < 128) v.hi &= (n == 64) ? 0 : ((UINT64_C(1) << (n - 64)) - 1);
        return v;
    }
    v.hi = 0;
    v.lo &= (UINT64_C(1) << n) - 1;
    return v;
}

INTREF_INLINE int u128_cmp(u128 a, u128 b) {
    if (a.hi != b.hi) return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo) return a.lo < b.lo ? -1 : 1;
    return 0;
}

/* round_half_even(z * m / 2^e) exactly, saturated to int64: 0 <= m < 2^31, 0 <= e <= 200. */
INTREF_INLINE int64_t mul_shift_half_even(int64_t z, int64_t m, int e) {
    int neg = z < 0;
    uint64_t mag = neg ? (uint64_t)0 - (uint64_t)z : (uint64_t)z;
    u128 prod = u128_mul64x32(mag, (uint64_t)m), q, rem, half;
    int cmp;
    if (e == 0) {
        q = prod;
    } else if (e > 127) {
        q.hi = q.lo = 0; /* prod < 2^95 is below half of 2^e */
    } else {
        q = u128_shr(prod, e);
        rem = u128_low_bits(prod, e);
        half.hi = half.lo = 0;
        if (e - 1 >= 64)
            half.hi = UINT64_C(1) << (e - 1 - 64);
        else
            half.lo = UINT64_C(1) << (e - 1);
        cmp = u128_cmp(rem, half);
        if (cmp > 0 || (cmp == 0 && (q.lo & 1))) {
            q.lo += 1;
            if (q.lo == 0) q.hi += 1;
        }
    }
    /* the magnitude back to a signed value, saturating */
    if (q.hi != 0) return neg ? I64_MIN : I64_MAX;
    if (!neg) return q.lo > (uint64_t)I64_MAX ? I64_MAX : (int64_t)q.lo;
    if (q.lo >= (UINT64_C(1) << 63)) return I64_MIN;
    return -(int64_t)q.lo;
}

/* rescale(v) under `scheme`. Returns 0, or INTREF_SLOT_RESCALE / INTREF_SLOT_RESULT naming the failed check.
 * v fits the scheme's value width (the accumulator width is checked against it). */
INTREF_INLINE int rescale_one(int scheme, int64_t v, int64_t m, int64_t s, int64_t *out) {
    switch (scheme) {
    case INTREF_SCHEME_TFLITE_DOUBLE: {
        int64_t shifted = v * ((int64_t)1 << (s > 0 ? s : 0)), high;
        if (shifted < I32_MIN || shifted > I32_MAX) return INTREF_SLOT_RESCALE;
        /* SaturatingRoundingDoublingHighMul: round(x*M / 2^31) ties up; only INT32_MIN^2 saturates */
        if (shifted == I32_MIN && m == I32_MIN)
            high = I32_MAX;
        else
            high = div_pow2_half_up(shifted * m, 31);
        *out = div_pow2_half_away(high, s < 0 ? (int)-s : 0); /* RoundingDivideByPOT */
        return 0;
    }
    case INTREF_SCHEME_SINGLE: {
        int64_t r = div_pow2_half_up(v * m, (int)(31 - s));
        if (r < I32_MIN || r > I32_MAX) return INTREF_SLOT_RESCALE;
        *out = r;
        return 0;
    }
    case INTREF_SCHEME_TOSA_DOUBLE: {
        int64_t half = (int64_t)1 << (s - 1), offset, r;
        if (v < -half || v >= half) return INTREF_SLOT_RESCALE;
        offset = half + (s > 31 ? (v >= 0 ? ((int64_t)1 << 30) : -((int64_t)1 << 30)) : 0);
        r = (v * m + offset) >> s;
        if (r < I32_MIN || r > I32_MAX) return INTREF_SLOT_RESULT;
        *out = r;
        return 0;
    }
    case INTREF_SCHEME_TOSA_SCALE16: {
        int64_t r = div_pow2_half_up(v * m, (int)s);
        if (r < I32_MIN || r > I32_MAX) return INTREF_SLOT_RESCALE;
        *out = r;
        return 0;
    }
    default: /* dyadic, onnx */
        *out = mul_shift_half_even(v, m, (int)s);
        return 0;
    }
}

/* clamp(r + zp, lo, hi), exactly: clamp r to [lo - zp, hi - zp] first (no int64 overflow). */
INTREF_INLINE int64_t clamp_zp(const epi_plan *p, int64_t r) {
    if (r < p->lo - p->zp) return p->lo;
    if (r > p->hi - p->zp) return p->hi;
    return r + p->zp;
}

INTREF_INLINE void store_out(void *out, int bytes, int64_t i, int64_t v) {
    if (bytes == 1)
        ((int8_t *)out)[i] = (int8_t)v;
    else if (bytes == 2)
        ((int16_t *)out)[i] = (int16_t)v;
    else if (bytes == 4)
        ((int32_t *)out)[i] = (int32_t)v;
    else
        ((int64_t *)out)[i] = v;
}

/* One element from its exact sum: hold, store the accumulator, rescale, store the output. */
INTREF_INLINE void epi_one(const epi_plan *p, int64_t exact, int64_t flat, int64_t c, void *acc_out, void *y_out,
                           intref_errs *e) {
    int64_t held, r;
    int bad;
    if (acc_hold(p->policy, p->bits, exact, &held)) {
        err_note(e, INTREF_SLOT_ACC, flat, exact);
        return;
    }
    if (acc_out) store_out(acc_out, p->held64 ? 8 : 4, flat, held);
    if (p->scheme < 0 || !y_out) return;
    bad = rescale_one(p->scheme, held, p->mult[c], p->shift[c], &r);
    if (bad) {
        err_note(e, bad, flat, held);
        return;
    }
    store_out(y_out, p->out_bytes, flat, clamp_zp(p, r));
}

#endif
