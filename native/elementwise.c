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

/* Element loops compiled once per ISA (per-function targets) so that the compiler vectorises each. Values are
 * built in uint32 so that the shifts are defined; the callers guarantee the results fit int32. */
#define DEFINE_LOOPS(SUFFIX, TARGET)                                                                                   \
    /* out[i] = (x[base + i] - zp) << shift (x int8 or int16) */                                                       \
    static TARGET void centred_##SUFFIX(const void *x, int32_t bytes, int64_t base, int64_t n, int32_t zp, int shift,  \
                                        int32_t *restrict out) {                                                       \
        int64_t i;                                                                                                     \
        if (bytes == 1) {                                                                                              \
            const int8_t *restrict s = (const int8_t *)x + base;                                                       \
            for (i = 0; i < n; i++)                                                                                    \
                out[i] = (int32_t)((uint32_t)(s[i] - zp) << shift);                                                    \
        } else {                                                                                                       \
            const int16_t *restrict s = (const int16_t *)x + base;                                                     \
            for (i = 0; i < n; i++)                                                                                    \
                out[i] = (int32_t)((uint32_t)(s[i] - zp) << shift);                                                    \
        }                                                                                                              \
    }                                                                                                                  \
    /* out = a + b in int32; 0 when a sum leaves int32 or [lo, hi] */                                                   \
    static TARGET int sum_fits_##SUFFIX(const int32_t *restrict a, const int32_t *restrict b, int64_t n, int32_t lo,   \
                                        int32_t hi, int32_t *restrict out) {                                           \
        int64_t i;                                                                                                     \
        uint32_t bad = 0;                                                                                              \
        for (i = 0; i < n; i++) {                                                                                      \
            int32_t s = (int32_t)((uint32_t)a[i] + (uint32_t)b[i]);                                                    \
            bad |= ((uint32_t)((a[i] ^ s) & (b[i] ^ s)) >> 31) | (uint32_t)(s < lo) | (uint32_t)(s > hi);              \
            out[i] = s;                                                                                                \
        }                                                                                                              \
        return bad == 0;                                                                                               \
    }                                                                                                                  \
    /* out = a * b (the caller knows that every product fits int32); 0 when one leaves [lo, hi] */                     \
    static TARGET int prod_fits_##SUFFIX(const int32_t *restrict a, const int32_t *restrict b, int64_t n, int32_t lo,  \
                                         int32_t hi, int32_t *restrict out) {                                          \
        int64_t i;                                                                                                     \
        uint32_t bad = 0;                                                                                              \
        for (i = 0; i < n; i++) {                                                                                      \
            int32_t s = a[i] * b[i];                                                                                   \
            bad |= (uint32_t)(s < lo) | (uint32_t)(s > hi);                                                            \
            out[i] = s;                                                                                                \
        }                                                                                                              \
        return bad == 0;                                                                                               \
    }                                                                                                                  \
    /* sum[i] += column sums of x [t][c] (int8 or int16): int32 partial sums over at most 65535 rows, exact */         \
    static TARGET void colsum_##SUFFIX(const void *x, int32_t bytes, int64_t t, int64_t c, int32_t *restrict part,     \
                                       int64_t *restrict sum) {                                                        \
        int64_t r0, r, i;                                                                                              \
        for (r0 = 0; r0 < t; r0 += 65535) {                                                                            \
            const int64_t r1 = t - r0 < 65535 ? t : r0 + 65535;                                                        \
            for (i = 0; i < c; i++)                                                                                    \
                part[i] = 0;                                                                                           \
            for (r = r0; r < r1; r++) {                                                                                \
                if (bytes == 1) {                                                                                      \
                    const int8_t *restrict s = (const int8_t *)x + r * c;                                              \
                    for (i = 0; i < c; i++)                                                                            \
                        part[i] += s[i];                                                                               \
                } else {                                                                                               \
                    const int16_t *restrict s = (const int16_t *)x + r * c;                                            \
                    for (i = 0; i < c; i++)                                                                            \
                        part[i] += s[i];                                                                               \
                }                                                                                                      \
            }                                                                                                          \
            for (i = 0; i < c; i++)                                                                                    \
                sum[i] += part[i];                                                                                     \
        }                                                                                                              \
    }

#define NO_TARGET
DEFINE_LOOPS(base, NO_TARGET)
#if INTREF_X86
DEFINE_LOOPS(avx2, INTREF_TARGET_AVX2)
DEFINE_LOOPS(avx512, INTREF_TARGET_AVX512)
#endif

typedef struct {
    void (*centred)(const void *x, int32_t bytes, int64_t base, int64_t n, int32_t zp, int shift, int32_t *out);
    int (*sum_fits)(const int32_t *a, const int32_t *b, int64_t n, int32_t lo, int32_t hi, int32_t *out);
    int (*prod_fits)(const int32_t *a, const int32_t *b, int64_t n, int32_t lo, int32_t hi, int32_t *out);
    void (*colsum)(const void *x, int32_t bytes, int64_t t, int64_t c, int32_t *part, int64_t *sum);
} elem_loops;

static elem_loops loops_for(int32_t isa) {
    elem_loops l = {centred_base, sum_fits_base, prod_fits_base, colsum_base};
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) {
        l.centred = centred_avx512;
        l.sum_fits = sum_fits_avx512;
        l.prod_fits = prod_fits_avx512;
        l.colsum = colsum_avx512;
    } else if (isa == INTREF_ISA_AVX2) {
        l.centred = centred_avx2;
        l.sum_fits = sum_fits_avx2;
        l.prod_fits = prod_fits_avx2;
        l.colsum = colsum_avx2;
    }
#endif
    (void)isa;
    return l;
}

#define COLS 4096 /* columns per tile: multiple of 16, so per-channel SIMD parameters stay aligned */

typedef struct {
    const void *x;
    int32_t x_bytes, x_zp, mode;
    int64_t rows, channels;
    const epi_plan *p;
    epi_tile_fn epi;
    void (*centred)(const void *x, int32_t bytes, int64_t base, int64_t n, int32_t zp, int shift, int32_t *out);
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
                j->centred(j->x, j->x_bytes, base, n, j->x_zp, 0, tile);
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
    j.centred = loops_for(isa).centred;
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
    /* the SIMD path (bin_fast_rows) */
    const epi_plan *pa, *pb; /* add: the input rescales, int32 out */
    epi_tile_fn epi;
    elem_loops loops;
    const int32_t *zeros; /* channels zeros: the tile epilogues' per-channel correction */
} bin_job;

#define BIN_BLOCK 4096 /* elements per block of whole rows in the SIMD path (a multiple of 16) */

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


static int errs_any(const intref_errs *e) {
    int k;
    for (k = 0; k < INTREF_NSLOTS; k++)
        if (e->index[k] >= 0) return 1;
    return 0;
}

/* Rows [r0, r1) in blocks of whole rows: the inputs centred (add: shifted and rescaled by the input plans' tile
 * epilogues into int32), combined in int32 with a check of the accumulator's range, then the output tile
 * epilogue. A block whose input rescale fails or whose sum or product leaves that range goes to the exact
 * element code, which finds and names the first offending element, so errors are the same as there. */
static void bin_fast_rows(const bin_job *j, int64_t r0, int64_t r1, intref_errs *e, int *oom) {
    const int64_t ch = j->channels, per = BIN_BLOCK / ch;
    const int32_t lo = (int32_t)j->p->acc_lo, hi = (int32_t)j->p->acc_hi;
    const int shift = j->is_add ? j->left_shift : 0;
    int32_t *mem = (int32_t *)mem_alloc((size_t)4 * BIN_BLOCK * sizeof(int32_t)), *ta, *tb, *ra, *rb;
    int64_t r;
    if (!mem) {
        *oom = 1;
        return;
    }
    ta = mem;
    tb = mem + BIN_BLOCK;
    ra = mem + 2 * BIN_BLOCK;
    rb = mem + 3 * BIN_BLOCK;
    for (r = r0; r < r1; r += per) {
        const int64_t nr = r1 - r < per ? r1 - r : per, n = nr * ch;
        const int32_t *tile = ra;
        int ok;
        j->loops.centred(j->a, j->a_bytes, r * ch, n, j->a_zp, shift, ta);
        j->loops.centred(j->b, j->b_bytes, r * ch, n, j->b_zp, shift, tb);
        if (j->is_add) {
            intref_errs in;
            errs_init(&in);
            j->epi(j->pa, EPI_HELD, ta, (int)ch, (int)nr, 0, 0, (int)ch, j->zeros, NULL, ra, &in);
            j->epi(j->pb, EPI_HELD, tb, (int)ch, (int)nr, 0, 0, (int)ch, j->zeros, NULL, rb, &in);
            ok = !errs_any(&in) && j->loops.sum_fits(ra, rb, n, lo, hi, ta);
            tile = ta;
        } else {
            ok = j->loops.prod_fits(ta, tb, n, lo, hi, ra);
        }
        if (ok)
            j->epi(j->p, EPI_HELD, tile, (int)ch, (int)nr, r, 0, (int)ch, j->zeros, j->acc_out, j->y_out, e);
        else
            binary_rows(j, r, r + nr, e);
    }
    mem_free(mem);
}

/* Rows [r0, r1) on the chosen path. */
static void bin_rows(const bin_job *j, int64_t r0, int64_t r1, intref_errs *e, int *oom) {
    if (j->epi)
        bin_fast_rows(j, r0, r1, e, oom);
    else
        binary_rows(j, r0, r1, e);
}

/* Magnitude bound of x - zp over an input type. */
static int64_t centred_max(int32_t bytes, int32_t zp) {
    return bytes_max(bytes) + 1 + (zp < 0 ? -(int64_t)zp : zp);
}

static int binary(int32_t isa, int32_t threads, bin_job *j, const intref_acc *acc, const intref_requant *rq,
                  intref_status *status) {
    epi_plan plan, pa, pb;
    intref_errs errs;
    int32_t *zeros = NULL;
    int64_t total;
    int nt, rc, oom = 0, have_in = 0;
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
        /* the input rescales: same scheme, their own per-channel parameters, int32 inputs and outputs */
        intref_requant in = *rq;
        intref_acc a32 = {INTREF_POLICY_ERROR, 32};
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
            in.multiplier = j->bm;
            in.shift = j->bs;
            rc = plan_init(&pb, &a32, &in, j->channels);
            if (rc == INTREF_OK)
                have_in = 1;
            else
                plan_free(&pa);
        }
        if (rc != INTREF_OK) {
            plan_free(&plan);
            return status->code = rc;
        }
    }
    j->p = &plan;
    /* The SIMD path: int32 accumulators, rows blocked whole, products that fit int32. The scalar ISA keeps the
     * element code, the C statement of the spec the other paths are tested against. */
    if (isa != INTREF_ISA_SCALAR && !plan.held64 && j->channels <= BIN_BLOCK && total > 0 &&
        (j->is_add || centred_max(j->a_bytes, j->a_zp) * centred_max(j->b_bytes, j->b_zp) <= I32_MAX)) {
        zeros = (int32_t *)mem_alloc((size_t)j->channels * sizeof(int32_t));
        if (zeros) {
            memset(zeros, 0, (size_t)j->channels * sizeof(int32_t));
            j->zeros = zeros;
            j->epi = epi_for(isa);
            j->loops = loops_for(isa);
            j->pa = have_in ? &pa : NULL;
            j->pb = have_in ? &pb : NULL;
        }
    }
    errs_init(&errs);
    nt = clamp_threads(threads, total / 65536 + 1);
    if (nt > j->rows) nt = (int)(j->rows > 0 ? j->rows : 1);
    if (nt == 1) {
        bin_rows(j, 0, j->rows, &errs, &oom);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        {
            int64_t r0, r1;
            intref_errs mine;
            int my_oom = 0;
            errs_init(&mine);
            split(j->rows, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
            bin_rows(j, r0, r1, &mine, &my_oom);
#pragma omp critical(intref_bin_errs)
            {
                errs_merge(&errs, &mine);
                if (my_oom) oom = 1;
            }
        }
#else
        bin_rows(j, 0, j->rows, &errs, &oom);
#endif
    }
    mem_free(zeros);
    if (have_in) {
        plan_free(&pa);
        plan_free(&pb);
    }
    plan_free(&plan);
    if (oom) return status->code = INTREF_ENOMEM;
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
    int64_t *sum, i;
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
    sum = (int64_t *)mem_alloc((size_t)c * 12);
    if (!sum) {
        plan_free(&plan);
        return status->code = INTREF_ENOMEM;
    }
    for (i = 0; i < c; i++)
        sum[i] = 0;
    /* exact integer sums: the order does not matter */
    loops_for(isa).colsum(x, x_bytes, t, c, (int32_t *)(sum + c), sum);
    for (i = 0; i < c; i++)
        sum[i] -= t * (int64_t)x_zp;
    errs_init(&errs);
    epi_row_generic(&plan, sum, c, 0, 0, acc_out, y_out, &errs);
    mem_free(sum);
    plan_free(&plan);
    return errs_status(&errs, status);
}
