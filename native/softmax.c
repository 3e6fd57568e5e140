/* Integer softmax (intref/ops/softmax.py): the driver, the rescale plan and the scalar row.
 *
 * Per row: the maximum over attended logits, d = max(x - max, floor), r = rescale(d), u = -r,
 * e = EXP2_Q15[u & 255] >> min(u >> 8, 31), S = sum(e), then p = round_half_up(e * out_max * inv / 2^(k+15))
 * with k the bit length of S and inv = floor(2^(k+15) / S). Rows are independent: threads take chunks of rows.
 *
 * The clamp at floor (spec.rescale.most_negative_input) keeps every rescale legal, and d <= 0 makes the six
 * schemes one formula (sm_plan): with P = (d << left) * m,
 *   tflite_double  both roundings fused: left = max(s, 0), r = max(-s, 0), n = 31 + r, and since the high
 *                  product is <= 0, RoundingDivideByPOT rounds its ties down: rnd = 2^30 + (2^(r-1) - 1) * 2^31
 *   single         n = 31 - s, rnd = 2^(n-1)
 *   tosa_double    n = s, rnd = 2^(s-1) - (s > 31 ? 2^30 : 0)  (d = 0 gives 0 with either offset)
 *   tosa_scale16   n = s, rnd = 2^(s-1)
 *   dyadic, onnx   n = e, ties to even; onnx e > 62: always 0 (|P| < 2^55)
 * r = (P + rnd) >> n. The SIMD rows compute u = -r from A = -P = w * m >= 0 (w = -d << left), so that every
 * term is non-negative: u = -floor((rnd - A) / 2^n) = (A + uc) >> n with uc = 2^n - 1 - rnd (0 <= uc < 2^n),
 * and for the symmetric ties to even u = round_half_even(A / 2^n): uc = 2^(n-1), then an odd quotient of an
 * exact tie steps down. The scalar row does not use any of this: it calls the spec's rescale_one, so that the
 * tests compare the SIMD rows against the spec's own statement.
 */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn.h"
#include "requant.h"

#define SM_MAX_N (INT64_C(1) << 31) /* keeps the row sum below 2^47 and k + 15 <= 62 */

/* spec.rescale.most_negative_input for a legal scalar (multiplier >= 0, shift). */
static int64_t sm_floor(int32_t scheme, int64_t m, int64_t s) {
    int64_t f = I32_MIN;
    if (scheme == INTREF_SCHEME_TFLITE_DOUBLE) {
        f = -(INT64_C(1) << (31 - (s > 0 ? s : 0))); /* x << shift must stay in int32 */
    } else if ((scheme == INTREF_SCHEME_SINGLE || scheme == INTREF_SCHEME_TOSA_SCALE16) && m > 0) {
        /* (x*m + 2^(n-1)) >> n >= INT32_MIN  <=>  x >= -floor((2^(31+n) + 2^(n-1)) / m); for n >= 31 the
         * bound is below INT32_MIN (m < 2^31), and below that it fits int64 */
        int64_t n = scheme == INTREF_SCHEME_SINGLE ? 31 - s : s;
        if (n <= 30) f = -(((INT64_C(1) << (31 + n)) + (INT64_C(1) << (n - 1))) / m);
    } else if (scheme == INTREF_SCHEME_TOSA_DOUBLE) {
        f = s - 1 >= 31 ? I32_MIN : -(INT64_C(1) << (s - 1)); /* TOSA's value range */
    }
    return f < I32_MIN ? I32_MIN : f;
}

/* The rescale is monotonic in d (m >= 0), so the d with u <= SM_U_MAX form a range [cut, 0]: bisection. */
static int64_t sm_cut(const sm_plan *p) {
    int64_t lo = p->floor, hi = 0, r = 0;
    if (rescale_one(p->scheme, lo, p->m, p->s, &r) == 0 && r >= -SM_U_MAX) return lo;
    while (hi - lo > 1) { /* r(lo) < -SM_U_MAX <= r(hi) */
        int64_t mid = lo + (hi - lo) / 2;
        if (rescale_one(p->scheme, mid, p->m, p->s, &r) == 0 && r >= -SM_U_MAX)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

static int sm_plan_init(sm_plan *p, int32_t scheme, int64_t m, int64_t s) {
    int64_t rnd = 0;
    int i;
    memset(p, 0, sizeof(*p));
    if (!rescale_params_ok(scheme, m, s) || m < 0) return INTREF_EINVAL;
    p->scheme = scheme;
    p->m = m;
    p->s = s;
    p->floor = sm_floor(scheme, m, s);
    p->vm = m;
    switch (scheme) {
    case INTREF_SCHEME_TFLITE_DOUBLE: {
        int32_t r = s < 0 ? (int32_t)-s : 0;
        p->left = s > 0 ? (int32_t)s : 0;
        p->n = 31 + r;
        rnd = (INT64_C(1) << 30) + (r ? ((INT64_C(1) << (r - 1)) - 1) * (INT64_C(1) << 31) : 0);
        break;
    }
    case INTREF_SCHEME_SINGLE:
        p->n = (int32_t)(31 - s);
        rnd = INT64_C(1) << (p->n - 1);
        break;
    case INTREF_SCHEME_TOSA_DOUBLE:
        p->n = (int32_t)s;
        rnd = (INT64_C(1) << (s - 1)) - (s > 31 ? INT64_C(1) << 30 : 0);
        break;
    case INTREF_SCHEME_TOSA_SCALE16:
        p->n = (int32_t)s;
        rnd = INT64_C(1) << (s - 1);
        break;
    default: /* dyadic, onnx */
        if (s > 62) {
            p->vm = 0; /* |d * m| < 2^55 <= 2^(e-1): every result rounds to 0 */
        } else if (s > 0) {
            p->n = (int32_t)s;
            p->half_even = 1;
        }
        break;
    }
    p->uc = p->half_even ? INT64_C(1) << (p->n - 1) : p->n > 0 ? (INT64_C(1) << p->n) - 1 - rnd : 0;
    p->cut = sm_cut(p);
    for (i = 0; i < 256; i++)
        p->tab16[i] = (uint16_t)intref_exp2_table[i];
    return INTREF_OK;
}

int64_t intref_softmax_floor(int32_t scheme, int64_t multiplier, int64_t shift) {
    if (!rescale_params_ok(scheme, multiplier, shift) || multiplier < 0) return INT64_MIN;
    return sm_floor(scheme, multiplier, shift);
}

static int64_t sm_load(const void *x, int32_t xb, int64_t i) {
    if (xb == 1) return ((const int8_t *)x)[i];
    if (xb == 2) return ((const int16_t *)x)[i];
    return ((const int32_t *)x)[i];
}

static void sm_store(void *y, int32_t bytes, int64_t i, int32_t v) {
    if (bytes == 1)
        ((int8_t *)y)[i] = (int8_t)v;
    else if (bytes == 2)
        ((int16_t *)y)[i] = (int16_t)v;
    else
        ((int32_t *)y)[i] = v;
}

void sm_row_scalar(const sm_job *j, int64_t row, int32_t *scratch, intref_errs *e) {
    const sm_plan *p = j->p;
    const int64_t n = j->n, base = row * n;
    const void *x = (const char *)j->x + base * j->xb;
    const uint8_t *keep = j->keep ? j->keep + j->keep_index[row] * n : NULL;
    int64_t i, top = INT64_MIN, total = 0;
    int failed = 0;
    sm_out o;
    for (i = 0; i < n; i++) {
        int64_t v = sm_load(x, j->xb, i);
        if ((!keep || keep[i]) && v > top) top = v;
    }
    if (top == INT64_MIN) { /* nothing attends: every e is 0 and the row is out_zp */
        for (i = 0; i < n && j->y; i++)
            sm_store(j->y, j->out_bytes, base + i, j->out_zp);
        return;
    }
    for (i = 0; i < n; i++) {
        int64_t d = 0, r = 0, u;
        int bad;
        if (!keep || keep[i]) {
            d = sm_load(x, j->xb, i) - top;
            if (d < p->floor) d = p->floor;
        }
        /* masked elements rescale d = 0, which never fails, and get e = 0 */
        bad = rescale_one(p->scheme, d, p->m, p->s, &r);
        if (bad) {
            err_note(e, bad, base + i, d);
            failed = 1;
            continue;
        }
        u = r < 0 ? -r : 0;
        scratch[i] = (keep && !keep[i]) ? 0 : intref_exp2_table[u & 255] >> (u >> 8 < 31 ? u >> 8 : 31);
        total += scratch[i];
    }
    if (failed || !j->y) return; /* no y: the exponentials were asked for (intref_softmax_exps) */
    o = sm_out_for(total, j->out_max);
    for (i = 0; i < n; i++)
        sm_store(j->y, j->out_bytes, base + i,
                 (int32_t)((((int64_t)scratch[i] * o.scale + o.half) >> o.shift) + j->out_zp));
}

static sm_row_fn sm_row_for(int32_t isa) {
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) return sm_row_avx512;
    if (isa == INTREF_ISA_AVX2) return sm_row_avx2;
#endif
    (void)isa;
    return sm_row_scalar;
}

/* Rows [r0, r1) with a scratch row of the thread's own. */
static void sm_rows(const sm_job *j, sm_row_fn fn, int64_t r0, int64_t r1, int32_t *scratch, intref_errs *e) {
    int64_t r;
    for (r = r0; r < r1; r++)
        fn(j, r, scratch, e);
}

int intref_softmax(int32_t isa, int32_t threads, const void *x, int32_t x_bytes, int64_t rows, int64_t n,
                   const uint8_t *keep, int64_t keep_rows, const int64_t *keep_index, int32_t scheme,
                   int64_t multiplier, int64_t shift, int32_t out_max, int32_t out_zp, int32_t out_bytes, void *y,
                   intref_status *status) {
    const int64_t BIG = INT64_C(1) << 40;
    sm_plan plan;
    sm_job j;
    sm_row_fn fn;
    intref_errs errs;
    int64_t r, top;
    int nt, oom = 0;
    if (!status) return INTREF_EINVAL;
    status->code = INTREF_EINVAL;
    if (!isa_supported(isa)) return status->code = INTREF_EISA;
    if ((x_bytes != 1 && x_bytes != 2 && x_bytes != 4) || rows < 0 || n < 1 || n > SM_MAX_N || rows > BIG ||
        !prod_le(rows, n, BIG))
        return INTREF_EINVAL;
    top = (out_bytes == 1) ? 127 : (out_bytes == 2) ? 32767 : (out_bytes == 4) ? I32_MAX : -1;
    if (top < 0 || out_max < 1 || out_max > 65535 || out_zp < -top - 1 || (int64_t)out_zp + out_max > top)
        return INTREF_EINVAL;
    if (keep && (keep_rows < 1 || keep_rows > BIG || !prod_le(keep_rows, n, BIG) || !keep_index)) return INTREF_EINVAL;
    if (sm_plan_init(&plan, scheme, multiplier, shift) != INTREF_OK) return INTREF_EINVAL;
    if (rows == 0) return status->code = INTREF_OK;
    if (!x || !y) return INTREF_EINVAL;
    if (keep)
        for (r = 0; r < rows; r++)
            if (keep_index[r] < 0 || keep_index[r] >= keep_rows) return INTREF_EINVAL;
    j.p = &plan;
    j.x = x;
    j.xb = x_bytes;
    j.n = n;
    j.keep = keep;
    j.keep_index = keep_index;
    j.out_max = out_max;
    j.out_zp = out_zp;
    j.out_bytes = out_bytes;
    j.y = y;
    fn = sm_row_for(isa);
    errs_init(&errs);
    nt = clamp_threads(threads, rows * n / 32768 + 1);
    if (nt > rows) nt = (int)rows;
    if (nt <= 1) {
        int32_t *scratch = (int32_t *)mem_alloc((size_t)(n + 32) * sizeof(int32_t));
        if (!scratch) return status->code = INTREF_ENOMEM;
        sm_rows(&j, fn, 0, rows, scratch, &errs);
        mem_free(scratch);
    } else {
#ifdef _OPENMP
        /* Chunks of rows go to whichever thread is free (a thread that the machine's load delays then costs less);
         * every row is computed alone, so the result does not depend on which thread computes it. */
        const int64_t chunk = n >= 16384 ? 1 : 16384 / n, nchunks = (rows + chunk - 1) / chunk;
#pragma omp parallel num_threads(nt)
        {
            intref_errs mine;
            int32_t *scratch = (int32_t *)mem_alloc((size_t)(n + 32) * sizeof(int32_t));
            int64_t k;
            errs_init(&mine);
#pragma omp for schedule(dynamic, 1)
            for (k = 0; k < nchunks; k++)
                if (scratch)
                    sm_rows(&j, fn, k * chunk, (k + 1) * chunk < rows ? (k + 1) * chunk : rows, scratch, &mine);
            mem_free(scratch);
#pragma omp critical(intref_sm_errs)
            {
                errs_merge(&errs, &mine);
                if (!scratch) oom = 1;
            }
        }
#else
        int32_t *scratch = (int32_t *)mem_alloc((size_t)(n + 32) * sizeof(int32_t));
        if (!scratch) return status->code = INTREF_ENOMEM;
        sm_rows(&j, fn, 0, rows, scratch, &errs);
        mem_free(scratch);
#endif
    }
    if (oom) return status->code = INTREF_ENOMEM;
    return errs_status(&errs, status);
}

int intref_softmax_exps(int32_t isa, const int32_t *x, int64_t n, int32_t scheme, int64_t multiplier, int64_t shift,
                        int32_t *e) {
    sm_plan plan;
    sm_job j;
    intref_errs errs;
    intref_status status;
    int32_t *scratch;
    int64_t i;
    if (!isa_supported(isa)) return INTREF_EISA;
    if (!x || !e || n < 1 || n > SM_MAX_N || sm_plan_init(&plan, scheme, multiplier, shift) != INTREF_OK)
        return INTREF_EINVAL;
    scratch = (int32_t *)mem_alloc((size_t)(n + 32) * sizeof(int32_t));
    if (!scratch) return INTREF_ENOMEM;
    memset(scratch, 0, (size_t)(n + 32) * sizeof(int32_t));
    memset(&j, 0, sizeof(j));
    j.p = &plan;
    j.x = x;
    j.xb = 4;
    j.n = n;
    j.out_max = 1;
    errs_init(&errs);
    sm_row_for(isa)(&j, 0, scratch, &errs);
    for (i = 0; i < n; i++)
        e[i] = scratch[i];
    mem_free(scratch);
    return errs_status(&errs, &status);
}
