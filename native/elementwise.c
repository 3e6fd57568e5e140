/* Elementwise ops: requantize (through the SIMD tile epilogues), add and mul (exact scalar element code),
 * mean over time. Work is split over threads by rows; every element has one owner. */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "requant.h"

typedef void (*epi_tile_fn)(const epi_plan *p, int mode, const int32_t *tile, int ld, int nrows, int64_t row0,
                            int64_t c0, int nch, const int32_t *corr, void *acc_out, void *y_out, intref_errs *e);

static epi_tile_fn epi_for(int32_t isa) {
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) return epi_tile_avx512;
    if (isa == INTREF_ISA_AVX2) return epi_tile_avx2;
#endif
    (void)isa;
    return epi_tile_scalar;
}

static int bytes_ok(int32_t b) {
    return b == 1 || b == 2 || b == 4;
}

static int64_t load_elem(const void *x, int32_t bytes, int64_t i) {
    if (bytes == 1) return ((const int8_t *)x)[i];
    if (bytes == 2) return ((const int16_t *)x)[i];
    return ((const int32_t *)x)[i];
}

static int64_t bytes_max(int32_t bytes) {
    return (int64_t)((UINT64_C(1) << (8 * bytes - 1)) - 1);
}

static int zp_ok(int64_t zp, int32_t bytes) {
    return zp >= -bytes_max(bytes) - 1 && zp <= bytes_max(bytes);
}

/* Row range of thread tid out of n. */
static void split(int64_t rows, int tid, int n, int64_t *r0, int64_t *r1) {
    int64_t per = (rows + n - 1) / n;
    *r0 = per * tid;
    *r1 = *r0 + per < rows ? *r0 + per : rows;
    if (*r0 > rows) *r0 = rows;
}

#define COLS 4096 /* columns per tile: multiple of 16, so per-channel SIMD parameters stay aligned */

typedef struct {
    const void *x;
    int32_t x_bytes, x_zp, mode;
    int64_t rows, channels;
    const epi_plan *p;
    epi_tile_fn epi;
    const int32_t *corr;
    void *acc_out, *y_out;
} rq_job;

static void requantize_rows(const rq_job *j, int64_t r0, int64_t r1, intref_errs *e, int *oom) {
    int64_t r, c0, i, cols = j->channels < COLS ? j->channels : COLS;
    int32_t *tile = j->x_bytes == 4 && j->mode == EPI_CORR ? NULL : (int32_t *)mem_alloc((size_t)cols * 4);
    int64_t *exact = NULL;
    if (j->mode < 0) {
        exact = (int64_t *)mem_alloc((size_t)cols * 8);
        if (!exact) *oom = 1;
    } else if (!tile && !(j->x_bytes == 4 && j->mode == EPI_CORR)) {
        *oom = 1;
    }
    if (*oom) {
        mem_free(tile);
        mem_free(exact);
        return;
    }
    for (r = r0; r < r1; r++) {
        for (c0 = 0; c0 < j->channels; c0 += COLS) {
            int64_t n = j->channels - c0 < COLS ? j->channels - c0 : COLS, base = r * j->channels + c0;
            if (j->mode < 0) {
                for (i = 0; i < n; i++)
                    exact[i] = load_elem(j->x, j->x_bytes, base + i) - j->x_zp;
                epi_row_generic(j->p, exact, n, base, c0, j->acc_out, j->y_out, e);
            } else if (!tile) {
                j->epi(j->p, EPI_CORR, (const int32_t *)j->x + base, (int)n, 1, r, c0, (int)n, j->corr + c0, j->acc_out,
                       j->y_out, e);
            } else {
                if (j->x_bytes == 1)
                    for (i = 0; i < n; i++)
                        tile[i] = ((const int8_t *)j->x)[base + i] - j->x_zp;
                else
                    for (i = 0; i < n; i++)
                        tile[i] = ((const int16_t *)j->x)[base + i] - j->x_zp;
                j->epi(j->p, j->mode, tile, (int)n, 1, r, c0, (int)n, j->corr + c0, j->acc_out, j->y_out, e);
            }
        }
    }
    mem_free(tile);
    mem_free(exact);
}

int intref_requantize(int32_t isa, int32_t threads, const void *x, int32_t x_bytes, int64_t rows, int64_t channels,
                      int32_t x_zp, const intref_acc *acc, const intref_requant *rq, void *acc_out, void *y_out,
                      intref_status *status) {
    rq_job j;
    epi_plan plan;
    intref_errs errs;
    int32_t *corr = NULL;
    int64_t total, bound, c;
    int nt, rc, oom = 0;
    if (!status) return INTREF_EINVAL;
    status->code = INTREF_EINVAL;
    if (!isa_supported(isa)) return status->code = INTREF_EISA;
    if (!bytes_ok(x_bytes) || !zp_ok(x_zp, x_bytes) || rows < 0 || channels < 1) return INTREF_EINVAL;
    total = size_mul(rows, channels);
    if (rows > 0 && total == 0) return INTREF_EINVAL;
    if (total > 0 && (!x || !y_out)) return INTREF_EINVAL;
    if (!rq || rq->scheme == INTREF_SCHEME_NONE) return INTREF_EINVAL;
    rc = plan_init(&plan, acc, rq, channels);
    if (rc != INTREF_OK) return status->code = rc;
    if (total == 0) {
        plan_free(&plan);
        return status->code = INTREF_OK;
    }
    memset(&j, 0, sizeof(j));
    j.x = x;
    j.x_bytes = x_bytes;
    j.x_zp = x_zp;
    j.rows = rows;
    j.channels = channels;
    j.p = &plan;
    j.epi = epi_for(isa);
    j.acc_out = acc_out;
    j.y_out = y_out;
    /* x - x_zp is exact in int32 for int8/int16 inputs; an int32 input adds -x_zp through the policy */
    bound = bytes_max(x_bytes) + 1 + (x_zp < 0 ? -(int64_t)x_zp : x_zp);
    if (x_bytes < 4) plan_set_bound(&plan, bound);
    if (plan.held64)
        j.mode = -1;
    else if (x_bytes < 4)
        j.mode = bound <= plan.acc_hi ? EPI_HELD : -1;
    else
        j.mode = x_zp != I32_MIN ? EPI_CORR : -1;
    if (j.mode == EPI_CORR || j.mode == EPI_HELD) {
        corr = (int32_t *)mem_alloc((size_t)channels * 4);
        if (!corr) {
            plan_free(&plan);
            return status->code = INTREF_ENOMEM;
        }
        for (c = 0; c < channels; c++)
            corr[c] = j.mode == EPI_CORR ? -x_zp : 0;
        j.corr = corr;
    }
    errs_init(&errs);
    nt = clamp_threads(threads, total / 65536 + 1);
    if (nt > rows) nt = (int)(rows > 0 ? rows : 1);
    if (nt == 1) {
        requantize_rows(&j, 0, rows, &errs, &oom);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        {
            int64_t r0, r1;
            intref_errs mine;
            int my_oom = 0;
            errs_init(&mine);
            split(rows, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
            requantize_rows(&j, r0, r1, &mine, &my_oom);
#pragma omp critical(intref_rq_errs)
            {
                errs_merge(&errs, &mine);
                if (my_oom) oom = 1;
            }
        }
#else
        requantize_rows(&j, 0, rows, &errs, &oom);
#endif
    }
    mem_free(corr);
    plan_free(&plan);
    if (oom) return status->code = INTREF_ENOMEM;
    return errs_status(&errs, status);
}

/* ------------------------------------------------------------------------------------------- add, mul */

typedef struct {
    const void *a, *b;
    int32_t a_bytes, b_bytes, a_zp, b_zp, left_shift, is_add;
    int64_t rows, channels;
    const int64_t *am, *as, *bm, *bs;
    const epi_plan *p;
    void *acc_out, *y_out;
} bin_job;

static void binary_rows(const bin_job *j, int64_t r0, int64_t r1, intref_errs *e) {
    const epi_plan *p = j->p;
    int64_t r, c;
    for (r = r0; r < r1; r++) {
        for (c = 0; c < j->channels; c++) {
            int64_t i = r * j->channels + c, exact;
            int64_t xa = load_elem(j->a, j->a_bytes, i) - j->a_zp, xb = load_elem(j->b, j->b_bytes, i) - j->b_zp;
            if (j->is_add) {
                int64_t ra = 0, rb = 0;
                int bad;
                xa *= (int64_t)1 << j->left_shift; /* fits int32: checked by the caller */
                xb *= (int64_t)1 << j->left_shift;
                bad = rescale_one(p->scheme, xa, j->am[c], j->as[c], &ra);
                if (bad) err_note(e, INTREF_SLOT_A_RESCALE + bad - INTREF_SLOT_RESCALE, i, xa);
                bad = rescale_one(p->scheme, xb, j->bm[c], j->bs[c], &rb);
                if (bad) err_note(e, INTREF_SLOT_B_RESCALE + bad - INTREF_SLOT_RESCALE, i, xb);
                exact = (int64_t)((uint64_t)ra + (uint64_t)rb);
            } else {
                exact = xa * xb;
            }
            epi_one(p, exact, i, c, j->acc_out, j->y_out, e);
        }
    }
}

static int binary(int32_t isa, int32_t threads, bin_job *j, const intref_acc *acc, const intref_requant *rq,
                  intref_status *status) {
    epi_plan plan;
    intref_errs errs;
    int64_t total;
    int nt, rc;
    if (!status) return INTREF_EINVAL;
    status->code = INTREF_EINVAL;
    if (!isa_supported(isa)) return status->code = INTREF_EISA;
    if ((j->a_bytes != 1 && j->a_bytes != 2) || (j->b_bytes != 1 && j->b_bytes != 2)) return INTREF_EINVAL;
    if (!zp_ok(j->a_zp, j->a_bytes) || !zp_ok(j->b_zp, j->b_bytes) || j->rows < 0 || j->channels < 1)
        return INTREF_EINVAL;
    total = size_mul(j->rows, j->channels);
    if (j->rows > 0 && total == 0) return INTREF_EINVAL;
    if (total > 0 && (!j->a || !j->b || !j->y_out)) return INTREF_EINVAL;
    if (!rq || rq->scheme == INTREF_SCHEME_NONE) return INTREF_EINVAL;
    rc = plan_init(&plan, acc, rq, j->channels);
    if (rc != INTREF_OK) return status->code = rc;
    if (j->is_add) {
        /* the input rescales: same scheme, their own per-channel parameters, int32 inputs */
        intref_requant in = *rq;
        intref_acc a32 = {INTREF_POLICY_ERROR, 32};
        epi_plan pa, pb;
        int64_t wa = (j->a_zp > 0 ? bytes_max(j->a_bytes) + 1 + j->a_zp : bytes_max(j->a_bytes) - j->a_zp);
        int64_t wb = (j->b_zp > 0 ? bytes_max(j->b_bytes) + 1 + j->b_zp : bytes_max(j->b_bytes) - j->b_zp);
        if (j->left_shift < 0 || j->left_shift > 30 || (wa << j->left_shift) > I32_MAX ||
            (wb << j->left_shift) > I32_MAX || !j->am || !j->as || !j->bm || !j->bs) {
            plan_free(&plan);
            return INTREF_EINVAL;
        }
        in.multiplier = j->am;
        in.shift = j->as;
        in.out_bytes = 4;
        in.lo = I32_MIN;
        in.hi = I32_MAX;
        in.zero_point = 0;
        rc = plan_init(&pa, &a32, &in, j->channels);
        if (rc == INTREF_OK) {
            plan_free(&pa);
            in.multiplier = j->bm;
            in.shift = j->bs;
            rc = plan_init(&pb, &a32, &in, j->channels);
            if (rc == INTREF_OK) plan_free(&pb);
        }
        if (rc != INTREF_OK) {
            plan_free(&plan);
            return status->code = rc;
        }
    }
    j->p = &plan;
    errs_init(&errs);
    nt = clamp_threads(threads, total / 65536 + 1);
    if (nt > j->rows) nt = (int)(j->rows > 0 ? j->rows : 1);
    if (nt == 1) {
        binary_rows(j, 0, j->rows, &errs);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        {
            int64_t r0, r1;
            intref_errs mine;
            errs_init(&mine);
            split(j->rows, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
            binary_rows(j, r0, r1, &mine);
#pragma omp critical(intref_bin_errs)
            errs_merge(&errs, &mine);
        }
#else
        binary_rows(j, 0, j->rows, &errs);
#endif
    }
    plan_free(&plan);
    return errs_status(&errs, status);
}

int intref_add(int32_t isa, int32_t threads, const void *a, int32_t a_bytes, const void *b, int32_t b_bytes,
               int64_t rows, int64_t channels, int32_t a_zp, int32_t b_zp, int32_t left_shift, const int64_t *a_mult,
               const int64_t *a_shift, const int64_t *b_mult, const int64_t *b_shift, const intref_acc *acc,
               const intref_requant *rq, void *acc_out, void *y_out, intref_status *status) {
    bin_job j;
    memset(&j, 0, sizeof(j));
    j.a = a;
    j.b = b;
    j.a_bytes = a_bytes;
    j.b_bytes = b_bytes;
    j.a_zp = a_zp;
    j.b_zp = b_zp;
    j.left_shift = left_shift;
    j.is_add = 1;
    j.rows = rows;
    j.channels = channels;
    j.am = a_mult;
    j.as = a_shift;
    j.bm = b_mult;
    j.bs = b_shift;
    j.acc_out = acc_out;
    j.y_out = y_out;
    return binary(isa, threads, &j, acc, rq, status);
}

int intref_mul(int32_t isa, int32_t threads, const void *a, int32_t a_bytes, const void *b, int32_t b_bytes,
               int64_t rows, int64_t channels, int32_t a_zp, int32_t b_zp, const intref_acc *acc,
               const intref_requant *rq, void *acc_out, void *y_out, intref_status *status) {
    bin_job j;
    memset(&j, 0, sizeof(j));
    j.a = a;
    j.b = b;
    j.a_bytes = a_bytes;
    j.b_bytes = b_bytes;
    j.a_zp = a_zp;
    j.b_zp = b_zp;
    j.rows = rows;
    j.channels = channels;
    j.acc_out = acc_out;
    j.y_out = y_out;
    return binary(isa, threads, &j, acc, rq, status);
}

/* ------------------------------------------------------------------------------------------------ mean */

int intref_mean_over_time(int32_t isa, int32_t threads, const void *x, int32_t x_bytes, int64_t t, int64_t c,
                          int32_t x_zp, const intref_acc *acc, const intref_requant *rq, void *acc_out, void *y_out,
                          intref_status *status) {
    epi_plan plan;
    intref_errs errs;
    int64_t *sum, r, i;
    int rc;
    (void)threads;
    if (!status) return INTREF_EINVAL;
    status->code = INTREF_EINVAL;
    if (!isa_supported(isa)) return status->code = INTREF_EISA;
    if ((x_bytes != 1 && x_bytes != 2) || !zp_ok(x_zp, x_bytes) || t < 1 || c < 1 || size_mul(t, c) == 0)
        return INTREF_EINVAL;
    if (!x) return INTREF_EINVAL;
    if (rq && rq->scheme != INTREF_SCHEME_NONE && !y_out) return INTREF_EINVAL;
    rc = plan_init(&plan, acc, rq, c);
    if (rc != INTREF_OK) return status->code = rc;
    if (plan.scheme < 0) y_out = NULL;
    sum = (int64_t *)mem_alloc((size_t)c * 8);
    if (!sum) {
        plan_free(&plan);
        return status->code = INTREF_ENOMEM;
    }
    for (i = 0; i < c; i++)
        sum[i] = 0;
    /* int64 sums in time order; the loops vectorise for the baseline ISA */
    if (x_bytes == 1) {
        for (r = 0; r < t; r++)
            for (i = 0; i < c; i++)
                sum[i] += ((const int8_t *)x)[r * c + i];
    } else {
        for (r = 0; r < t; r++)
            for (i = 0; i < c; i++)
                sum[i] += ((const int16_t *)x)[r * c + i];
    }
    for (i = 0; i < c; i++)
        sum[i] -= t * (int64_t)x_zp;
    errs_init(&errs);
    epi_row_generic(&plan, sum, c, 0, 0, acc_out, y_out, &errs);
    mem_free(sum);
    plan_free(&plan);
    return errs_status(&errs, status);
}
