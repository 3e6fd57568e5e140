/* Integer LayerNorm (intref/ops/layernorm.py): the driver and the exact scalar row.
 *
 * Per row, with xc = x - x_zp:  s = sum(xc), d_c = C * xc_c - s (= C * x_c - sum(x): the zero point cancels),
 * v = floor(sum(d^2) / C) + eps, D = max(isqrt(v), 1), inv = floor(2^32 / D),
 * n_c = (d_c * inv + 2^(31-F)) >> (32 - F), exact_c = n_c * gamma_c + beta_c; then the accumulator policy and the
 * requantisation, through the epilogue code every op shares. The validation of the Python side (and here) keeps
 * |d| * 2^32 and C * max(d)^2 + eps below 2^63, so all of it is exact in int64.
 *
 * SIMD rows (layernorm_avx2.c, layernorm_avx512.c) compute the same values when |n| < 2^31, which holds for every
 * row when C <= 2^(58 - 2F): |d_c|^2 <= sum(d^2) < C (v + 1) <= C (D + 1)^2 <= 4 C D^2, so
 * |n| <= |d| inv / 2^(32-F) + 1 < 2 sqrt(C) 2^F + 1 <= 2^30 + 1. They hand back rows they do not cover (D <= 2,
 * where inv does not fit a signed 32-bit multiplier, or accumulators outside the held range).
 */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn.h"
#include "requant.h"

#define LN_RECIPROCAL_BITS 32

typedef void (*epi_tile_fn)(const epi_plan *p, int mode, const int32_t *tile, int ld, int nrows, int64_t row0,
                            int64_t c0, int nch, const int32_t *corr, void *acc_out, void *y_out, intref_errs *e);

static int64_t ln_x(const ln_job *j, int64_t i) {
    return j->xb == 1 ? ((const int8_t *)j->x)[i] : ((const int16_t *)j->x)[i];
}

void ln_row_exact(const ln_job *j, int64_t r, int64_t *ex) {
    const int64_t c = j->c, base = r * c;
    const int sh = LN_RECIPROCAL_BITS - j->frac; /* >= 8 */
    int64_t i, s = 0, sq = 0, v, d, inv;
    for (i = 0; i < c; i++)
        s += ln_x(j, base + i) - j->zp;
    for (i = 0; i < c; i++) {
        d = c * (ln_x(j, base + i) - j->zp) - s;
        sq += d * d;
    }
    v = sq / c + j->eps;
    d = isqrt64(v);
    inv = (INT64_C(1) << LN_RECIPROCAL_BITS) / (d > 1 ? d : 1);
    for (i = 0; i < c; i++) {
        int64_t n;
        d = c * (ln_x(j, base + i) - j->zp) - s;
        n = (d * inv + (INT64_C(1) << (sh - 1))) >> sh;
        ex[i] = n * j->g32[i] + j->b32[i];
    }
}

static ln_block_fn ln_block_for(int32_t isa) {
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) return ln_block_avx512;
    if (isa == INTREF_ISA_AVX2) return ln_block_avx2;
#endif
    (void)isa;
    return NULL;
}

static epi_tile_fn ln_epi_for(int32_t isa) {
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) return epi_tile_avx512;
    if (isa == INTREF_ISA_AVX2) return epi_tile_avx2;
#endif
    (void)isa;
    return epi_tile_scalar;
}

typedef struct {
    const ln_job *j;
    const epi_plan *p;
    ln_block_fn block;
    epi_tile_fn epi;
    const int32_t *zeros;
    void *acc_out, *y_out;
} ln_run;

/* Per-thread scratch of ln_rows. */
typedef struct {
    unsigned char *mem;
    int32_t *tile, *dbuf;
    int64_t *ex;
} ln_scratch;

static int ln_scratch_init(ln_scratch *s, int64_t cpad) {
    s->mem = (unsigned char *)mem_alloc((size_t)cpad * (2 * LN_BLOCK * 4 + 8));
    if (!s->mem) return 0;
    s->tile = (int32_t *)s->mem;
    s->dbuf = (int32_t *)(s->mem + LN_BLOCK * cpad * 4);
    s->ex = (int64_t *)(s->mem + 2 * LN_BLOCK * cpad * 4);
    return 1;
}

static void ln_rows(const ln_run *run, int64_t r0, int64_t r1, const ln_scratch *s, intref_errs *e) {
    const int64_t c = run->j->c, cpad = run->j->cpad;
    int64_t r;
    uint8_t ok[LN_BLOCK];
    for (r = r0; r < r1; r += LN_BLOCK) {
        const int nr = (int)(r1 - r < LN_BLOCK ? r1 - r : LN_BLOCK);
        int i, all = 1;
        if (run->block)
            run->block(run->j, r, nr, s->tile, s->dbuf, ok);
        else
            memset(ok, 0, sizeof(ok));
        for (i = 0; i < nr; i++)
            all &= ok[i];
        if (all) { /* one epilogue call for the block */
            run->epi(run->p, EPI_HELD, s->tile, (int)cpad, nr, r, 0, (int)c, run->zeros, run->acc_out, run->y_out, e);
            continue;
        }
        for (i = 0; i < nr; i++) {
            if (ok[i]) {
                run->epi(run->p, EPI_HELD, s->tile + i * cpad, (int)cpad, 1, r + i, 0, (int)c, run->zeros, run->acc_out,
                         run->y_out, e);
            } else {
                ln_row_exact(run->j, r + i, s->ex);
                epi_row_generic(run->p, s->ex, c, (r + i) * c, 0, run->acc_out, run->y_out, e);
            }
        }
    }
}

int intref_layernorm(int32_t isa, int32_t threads, const void *x, int32_t x_bytes, int64_t rows, int64_t channels,
                     const void *gamma, int32_t gamma_bytes, const int32_t *beta, int32_t x_zp, int64_t eps,
                     int32_t frac_bits, const intref_acc *acc, const intref_requant *rq, void *acc_out, void *y_out,
                     intref_status *status) {
    const int64_t BIG = INT64_C(1) << 40;
    ln_job j;
    ln_run run;
    epi_plan plan;
    intref_errs errs;
    int64_t widest, cpad, i;
    int32_t *params;
    int nt, rc, oom = 0;
    if (!status) return INTREF_EINVAL;
    status->code = INTREF_EINVAL;
    if (!isa_supported(isa)) return status->code = INTREF_EISA;
    if ((x_bytes != 1 && x_bytes != 2) || (gamma_bytes != 1 && gamma_bytes != 2) || rows < 0 || rows > BIG ||
        channels < 1 || channels > INT32_MAX - 16 || !prod_le(rows, channels, BIG))
        return INTREF_EINVAL;
    if (x_zp < (x_bytes == 1 ? -128 : -32768) || x_zp > (x_bytes == 1 ? 127 : 32767)) return INTREF_EINVAL;
    if (eps < 0 || frac_bits < 0 || frac_bits > 24 || !gamma) return INTREF_EINVAL;
    /* |d| <= C * (max - min): |d| * 2^32 and C * |d|^2 + eps must stay below 2^63 (as the Python check) */
    widest = channels * (x_bytes == 1 ? 255 : 65535);
    if (widest >= INT64_C(1) << 31 || !prod_le(channels, widest * widest, INT64_MAX - eps)) return INTREF_EINVAL;
    if (!rq || rq->scheme == INTREF_SCHEME_NONE) return INTREF_EINVAL;
    if (rows > 0 && (!x || !y_out)) return INTREF_EINVAL;
    rc = plan_init(&plan, acc, rq, channels);
    if (rc != INTREF_OK) return status->code = rc;
    if (rows == 0) {
        plan_free(&plan);
        return status->code = INTREF_OK;
    }
    /* gamma and beta as int32 vectors padded to 16, and a zero correction for the epilogue */
    cpad = (channels + 15) / 16 * 16;
    params = (int32_t *)mem_alloc((size_t)cpad * 3 * sizeof(int32_t));
    if (!params) {
        plan_free(&plan);
        return status->code = INTREF_ENOMEM;
    }
    memset(params, 0, (size_t)cpad * 3 * sizeof(int32_t));
    for (i = 0; i < channels; i++) {
        params[i] = gamma_bytes == 1 ? ((const int8_t *)gamma)[i] : ((const int16_t *)gamma)[i];
        params[cpad + i] = beta ? beta[i] : 0;
    }
    memset(&j, 0, sizeof(j));
    j.x = x;
    j.xb = x_bytes;
    j.rows = rows;
    j.c = channels;
    j.zp = x_zp;
    j.frac = frac_bits;
    j.eps = eps;
    j.g32 = params;
    j.b32 = params + cpad;
    j.vec_ok = 58 - 2 * frac_bits >= 40 || channels <= (INT64_C(1) << (58 - 2 * frac_bits));
    j.held32 = !plan.held64;
    j.acc_lo = plan.acc_lo;
    j.acc_hi = plan.acc_hi;
    j.cpad = cpad;
    run.j = &j;
    run.p = &plan;
    run.block = j.vec_ok && j.held32 ? ln_block_for(isa) : NULL;
    run.epi = ln_epi_for(isa);
    run.zeros = params + 2 * cpad;
    run.acc_out = acc_out;
    run.y_out = y_out;
    errs_init(&errs);
    nt = clamp_threads(threads, rows * channels / 16384 + 1);
    if (nt > rows) nt = (int)rows;
    if (nt <= 1) {
        ln_scratch s;
        if (ln_scratch_init(&s, cpad)) {
            ln_rows(&run, 0, rows, &s, &errs);
            mem_free(s.mem);
        } else {
            oom = 1;
        }
    } else {
#ifdef _OPENMP
        /* Blocks of rows go to whichever thread is free (see softmax.c); each row is computed alone. */
        const int64_t nblocks = (rows + LN_BLOCK - 1) / LN_BLOCK;
#pragma omp parallel num_threads(nt)
        {
            intref_errs mine;
            ln_scratch s;
            const int have = ln_scratch_init(&s, cpad);
            int64_t k;
            errs_init(&mine);
#pragma omp for schedule(dynamic, 2)
            for (k = 0; k < nblocks; k++)
                if (have) ln_rows(&run, k * LN_BLOCK, (k + 1) * LN_BLOCK < rows ? (k + 1) * LN_BLOCK : rows, &s, &mine);
            if (have) mem_free(s.mem);
#pragma omp critical(intref_ln_errs)
            {
                errs_merge(&errs, &mine);
                if (!have) oom = 1;
            }
        }
#else
        ln_scratch s;
        if (ln_scratch_init(&s, cpad)) {
            ln_rows(&run, 0, rows, &s, &errs);
            mem_free(s.mem);
        } else {
            oom = 1;
        }
#endif
    }
    mem_free(params);
    plan_free(&plan);
    if (oom) return status->code = INTREF_ENOMEM;
    return errs_status(&errs, status);
}
