/* float32 -> integer quantisation (intref/ops/quantize.py): q = x / scale in IEEE float64 (a float32 converts to
 * float64 exactly and the division is correctly rounded, so every path gives NumPy's quotient), rounded half to
 * even, clamped to [lo - zp, hi - zp] (inf included), plus zp. Those bounds and the sum are integers below 2^33
 * in magnitude, exact in float64. This file is compiled without fused multiply-adds (-ffp-contract=off) and
 * nothing here may be reassociated: the scalar rounding relies on IEEE addition. */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn.h"

#if INTREF_X86
#include <immintrin.h>
#endif

typedef struct {
    const float *x;
    double scale, qlo, qhi, zp;
    int32_t out_bytes;
    void *y;
} qz_job;

/* round half to even: for |q| < 2^52 the addition of 2^52 (whose ulp is 1) rounds |q| under the default rounding
 * mode, and half to even is symmetric, so the sign goes back on afterwards; larger magnitudes are integers already.
 * Branch-free but for that rare case, so that the loop vectorises. */
#if defined(__GNUC__) || defined(__clang__)
#define QZ_FABS __builtin_fabs
#define QZ_COPYSIGN __builtin_copysign
#else
static double QZ_FABS(double v) {
    return v < 0 ? -v : v;
}
static double QZ_COPYSIGN(double v, double s) {
    return s < 0 || (s == 0 && 1 / s < 0) ? -v : v;
}
#endif

static double round_half_even(double q) {
    const double big = 4503599627370496.0; /* 2^52 */
    const double a = QZ_FABS(q);
    return a < big ? QZ_COPYSIGN((a + big) - big, q) : q;
}

/* Returns 1 if an input is not finite (its output is then defined, and the caller reports it). */
#define QZ_LOOP(T)                                                                                                     \
    for (i = i0; i < i1; i++) {                                                                                        \
        const double xv = (double)j->x[i], q = round_half_even(xv / j->scale);                                         \
        bad |= !(xv - xv == 0); /* NaN or infinity */                                                                  \
        ((T *)j->y)[i] = (T)((q >= j->qlo ? (q <= j->qhi ? q : j->qhi) : j->qlo) + j->zp);                             \
    }

static int qz_scalar(const qz_job *j, int64_t i0, int64_t i1) {
    int64_t i;
    int bad = 0;
    /* the clamp sends a NaN quotient to qlo, so the conversion is always defined */
    if (j->out_bytes == 1) {
        QZ_LOOP(int8_t)
    } else if (j->out_bytes == 2) {
        QZ_LOOP(int16_t)
    } else {
        QZ_LOOP(int32_t)
    }
    return bad;
}

#if INTREF_X86
/* 8 values at a time: cvtps2pd, divpd, vrndscalepd (to nearest even), clamp, + zp, cvtpd2dq. */
static INTREF_TARGET_AVX512 int qz_avx512(const qz_job *j, int64_t i0, int64_t i1) {
    const __m512d sc = _mm512_set1_pd(j->scale), lo = _mm512_set1_pd(j->qlo), hi = _mm512_set1_pd(j->qhi);
    const __m512d zp = _mm512_set1_pd(j->zp);
    const __m256 fmax = _mm256_set1_ps(3.40282346638528859812e+38F);
    __mmask8 finite = 0xFF;
    int64_t i;
    for (i = i0; i < i1; i += 8) {
        const __mmask8 km = i1 - i >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (i1 - i)) - 1u);
        const __m256 xf = _mm256_maskz_loadu_ps(km, j->x + i);
        const __m512d q =
            _mm512_roundscale_pd(_mm512_div_pd(_mm512_cvtps_pd(xf), sc), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m256i v = _mm512_cvtpd_epi32(_mm512_add_pd(_mm512_min_pd(_mm512_max_pd(q, lo), hi), zp));
        /* |x| <= FLT_MAX is false for NaN and infinities (ordered comparison) */
        finite &= _mm256_cmp_ps_mask(_mm256_andnot_ps(_mm256_set1_ps(-0.0F), xf), fmax, _CMP_LE_OQ) | (__mmask8)~km;
        if (j->out_bytes == 1)
            _mm_mask_storeu_epi8((int8_t *)j->y + i, (__mmask16)km, _mm256_cvtepi32_epi8(v));
        else if (j->out_bytes == 2)
            _mm_mask_storeu_epi16((int16_t *)j->y + i, km, _mm256_cvtepi32_epi16(v));
        else
            _mm256_mask_storeu_epi32((int32_t *)j->y + i, km, v);
    }
    return finite != 0xFF;
}

/* 4 values at a time; the partial last vector goes through the scalar code. */
static INTREF_TARGET_AVX2 int qz_avx2(const qz_job *j, int64_t i0, int64_t i1) {
    const __m256d sc = _mm256_set1_pd(j->scale), lo = _mm256_set1_pd(j->qlo), hi = _mm256_set1_pd(j->qhi);
    const __m256d zp = _mm256_set1_pd(j->zp);
    const __m128 fmax = _mm_set1_ps(3.40282346638528859812e+38F), sign = _mm_set1_ps(-0.0F);
    __m128 finite = _mm_castsi128_ps(_mm_set1_epi32(-1));
    int64_t i;
    for (i = i0; i + 4 <= i1; i += 4) {
        const __m128 xf = _mm_loadu_ps(j->x + i);
        const __m256d q =
            _mm256_round_pd(_mm256_div_pd(_mm256_cvtps_pd(xf), sc), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m128i v = _mm256_cvtpd_epi32(_mm256_add_pd(_mm256_min_pd(_mm256_max_pd(q, lo), hi), zp));
        finite = _mm_and_ps(finite, _mm_cmp_ps(_mm_andnot_ps(sign, xf), fmax, _CMP_LE_OQ));
        if (j->out_bytes == 4) {
            _mm_storeu_si128((__m128i *)((int32_t *)j->y + i), v);
        } else if (j->out_bytes == 2) {
            const __m128i w = _mm_packs_epi32(v, v); /* in range: nothing saturates */
            memcpy((int16_t *)j->y + i, &w, 8);
        } else {
            const __m128i w = _mm_packs_epi16(_mm_packs_epi32(v, v), v);
            memcpy((int8_t *)j->y + i, &w, 4);
        }
    }
    return (_mm_movemask_ps(finite) != 0xF) | qz_scalar(j, i, i1);
}
#endif

typedef int (*qz_fn)(const qz_job *j, int64_t i0, int64_t i1);

int intref_quantize(int32_t isa, int32_t threads, const float *x, int64_t n, double scale, int64_t zero_point,
                    int64_t lo, int64_t hi, int32_t out_bytes, void *y) {
    const int64_t BIG = INT64_C(1) << 40;
    qz_job j;
    qz_fn fn = qz_scalar;
    int64_t top;
    int nt, bad = 0;
    if (!isa_supported(isa)) return INTREF_EISA;
    top = out_bytes == 1 ? 127 : out_bytes == 2 ? 32767 : out_bytes == 4 ? INT32_MAX : -1;
    if (top < 0 || n < 0 || n > BIG || lo > hi || lo < -top - 1 || hi > top || zero_point < lo || zero_point > hi)
        return INTREF_EINVAL;
    if (!(scale > 0 && scale <= 1.79769313486231570815e+308)) return INTREF_EINVAL; /* positive, finite */
    if (n == 0) return INTREF_OK;
    if (!x || !y) return INTREF_EINVAL;
    j.x = x;
    j.scale = scale;
    j.qlo = (double)(lo - zero_point);
    j.qhi = (double)(hi - zero_point);
    j.zp = (double)zero_point;
    j.out_bytes = out_bytes;
    j.y = y;
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) fn = qz_avx512;
    if (isa == INTREF_ISA_AVX2) fn = qz_avx2;
#endif
    nt = clamp_threads(threads, n / 65536 + 1);
    if (nt <= 1) {
        bad = fn(&j, 0, n);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) reduction(| : bad)
        {
            int64_t i0, i1;
            split_rows(n, omp_get_thread_num(), omp_get_num_threads(), &i0, &i1);
            if (i0 < i1) bad |= fn(&j, i0, i1);
        }
#else
        bad = fn(&j, 0, n);
#endif
    }
    return bad ? INTREF_EINVAL : INTREF_OK;
}
