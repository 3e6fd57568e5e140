/* Dense conv1d and linear: one driver for every ISA.
 *
 * The conv is a GEMM whose reduction runs over taps then input channels (any order gives the same exact
 * integer sum): output row t reads the prepared activation rows t*stride + j*dilation for taps j, so no
 * im2col copy is needed. Weights are packed per panel of output channels (int4 unpacked there, once per
 * panel), the panel stays in cache while the register-blocked micro-kernel sweeps the rows assigned to
 * the thread, and each finished tile goes straight through the requantisation epilogue.
 *
 * Threads own disjoint outputs (panels or row ranges), and every output is computed by exactly one
 * thread in a fixed order, so results do not depend on the thread count.
 *
 * Epilogue modes per panel: EPI_HELD when no sum can leave the accumulator (the tile starts from the
 * corrected bias and is the held value), EPI_CORR when the bias correction fits int32 (policy applied in
 * SIMD), otherwise exact int64 sums (chunks of at most INTREF_KSAFE terms) through the scalar epilogue.
 */
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "requant.h"

typedef struct {
    const dense_kernels *k;
    const epi_plan *p;
    const int8_t *x, *w8;
    const uint8_t *w4;
    const int32_t *bias;
    int64_t t, c_in, c_out, ksize, stride, dilation, pad_left, t_out;
    int32_t x_zp;
    int64_t c4, ktot, xrows;
    int shape, mr, pw;
    int64_t npanels, mblocks;
    int split_panels, nthreads;
    void *xprep;
    int64_t *tapoff;
    void *acc_out, *y_out;
    intref_errs errs;
    int oom;
} dense_job;

static int64_t round_up(int64_t v, int64_t g) {
    return (v + g - 1) / g * g;
}

/* Picks the register-block shape and the split over threads with the least work on the busiest thread,
 * counted in padded output channels times rows. Narrow panels cost more per channel (more activation
 * broadcasts per product; the 24-row kernel keeps more row pointers), and splitting rows makes every thread
 * pack every panel, hence the small penalties. Ties go to the kernel's preferred shape and to panels. */
static void choose_shape(dense_job *j, int nthreads) {
    static const double narrow_penalty[4] = {1.0, 1.0, 1.1, 1.4};
    int s, best = 0, best_panels = 1;
    double best_cost = -1;
    for (s = 0; s < j->k->nshapes; s++) {
        int64_t np = (j->c_out + j->k->pw[s] - 1) / j->k->pw[s];
        int64_t mb = (j->t_out + j->k->mr[s] - 1) / j->k->mr[s];
        double by_panels = (double)((np + nthreads - 1) / nthreads) * j->k->pw[s] * mb * j->k->mr[s];
        double by_rows = (double)np * j->k->pw[s] * ((mb + nthreads - 1) / nthreads) * j->k->mr[s] * 1.03;
        double cost = (by_panels <= by_rows ? by_panels : by_rows) * narrow_penalty[s];
        if (best_cost < 0 || cost < best_cost) {
            best_cost = cost;
            best = s;
            best_panels = by_panels <= by_rows || nthreads == 1;
        }
    }
    j->shape = best;
    j->mr = j->k->mr[best];
    j->pw = j->k->pw[best];
    j->npanels = (j->c_out + j->pw - 1) / j->pw;
    j->mblocks = (j->t_out + j->mr - 1) / j->mr;
    j->split_panels = best_panels;
}

static void prep_rows(dense_job *j, int tid, int n) {
    int64_t per = (j->xrows + n - 1) / n, r0 = per * tid, r1 = r0 + per;
    if (r1 > j->xrows) r1 = j->xrows;
    if (r0 < r1) j->k->prep(j->x, j->t, j->c_in, j->c4, r0, r1, j->pad_left, j->x_zp, j->xprep);
}

/* Exact sums of a tile when chunks are needed: int64 accumulation of int32-safe pieces. */
static void tile_exact(const dense_job *j, const void *const *rows, const void *panel, int32_t *tile32,
                       int64_t *tile64) {
    const dense_kernels *k = j->k;
    int64_t welem = k->xelem, wtap = j->c4 * j->pw * welem, n = (int64_t)j->mr * j->pw, i;
    int64_t taps_per = j->c4 > 0 ? INTREF_KSAFE / j->c4 : j->ksize;
    memset(tile64, 0, (size_t)n * sizeof(int64_t));
    if (taps_per >= 1) {
        int64_t t0;
        for (t0 = 0; t0 < j->ksize; t0 += taps_per) {
            int64_t nt = j->ksize - t0 < taps_per ? j->ksize - t0 : taps_per;
            k->micro[j->shape](rows, j->tapoff + t0, nt, 0, j->c4, (const char *)panel + t0 * wtap, wtap, NULL, tile32);
            for (i = 0; i < n; i++)
                tile64[i] += tile32[i];
        }
    } else {
        int64_t t0, k0;
        for (t0 = 0; t0 < j->ksize; t0++) {
            for (k0 = 0; k0 < j->c4; k0 += INTREF_KSAFE) {
                int64_t nk = j->c4 - k0 < INTREF_KSAFE ? j->c4 - k0 : INTREF_KSAFE;
                const char *w = (const char *)panel + t0 * wtap + k0 * j->pw * welem;
                k->micro[j->shape](rows, j->tapoff + t0, 1, k0, nk, w, wtap, NULL, tile32);
                for (i = 0; i < n; i++)
                    tile64[i] += tile32[i];
            }
        }
    }
}

static void work(dense_job *j, int tid, int n) {
    const dense_kernels *k = j->k;
    const epi_plan *p = j->p;
    int64_t p0, p1, b0, b1, pi, bi, i, o;
    int64_t welem = k->xelem, wtap = j->c4 * j->pw * welem;
    int pw = j->pw, mr = j->mr;
    size_t panel_bytes = (size_t)(j->ksize * wtap);
    unsigned char *mem;
    void *panel;
    int64_t *rowsum, *corr64, *tile64, *exact;
    int32_t *corr32, *tile32, *tile32b;
    int8_t *scratch;
    const void *rows[32];
    intref_errs errs;
    errs_init(&errs);

    if (j->split_panels) {
        int64_t per = (j->npanels + n - 1) / n;
        p0 = per * tid;
        p1 = p0 + per > j->npanels ? j->npanels : p0 + per;
        b0 = 0;
        b1 = j->mblocks;
    } else {
        int64_t per = (j->mblocks + n - 1) / n;
        p0 = 0;
        p1 = j->npanels;
        b0 = per * tid;
        b1 = b0 + per > j->mblocks ? j->mblocks : b0 + per;
    }
    if (p0 >= p1 || b0 >= b1) return;

    panel = mem_alloc(panel_bytes + 64);
    scratch = (int8_t *)mem_alloc((size_t)(16 * j->c_in * j->ksize) + 64);
    mem = (unsigned char *)mem_alloc((size_t)pw * (3 * 8 + 4) + (size_t)mr * pw * (4 + 4 + 8));
    if (!mem || !panel || !scratch) {
        mem_free(mem);
        mem_free(panel);
        mem_free(scratch);
#ifdef _OPENMP
#pragma omp atomic write
#endif
        j->oom = 1;
        return;
    }
    tile64 = (int64_t *)mem;
    exact = tile64 + (size_t)mr * pw;
    rowsum = exact + pw;
    corr64 = rowsum + pw;
    tile32 = (int32_t *)(corr64 + pw);
    corr32 = tile32 + (size_t)mr * pw;
    tile32b = corr32 + pw;

    for (pi = p0; pi < p1; pi++) {
        int64_t o0 = pi * pw, no = j->c_out - o0 < pw ? j->c_out - o0 : pw;
        int mode = EPI_HELD, exact_mode = 0;
        int64_t maxcorr = 0, bound;
        k->pack(j->w8, j->w4, j->c_in, j->ksize, o0, no, pw, j->c4, panel, rowsum, scratch);
        for (o = 0; o < pw; o++) {
            int64_t c = o < no ? j->bias[o0 + o] : 0;
            if (o < no && k->wx128) c -= ((int64_t)j->x_zp + 128) * rowsum[o];
            corr64[o] = c;
            corr32[o] = (int32_t)c;
            if (c < I32_MIN || c > I32_MAX) exact_mode = 1;
            if ((c < 0 ? -c : c) > maxcorr) maxcorr = c < 0 ? -c : c;
        }
        bound = j->c_in * j->ksize * 32640 + maxcorr; /* |sum| <= K * 255 * 128 + |corr| */
        if (p->held64 || j->ktot > INTREF_KSAFE || exact_mode)
            exact_mode = 1;
        else if (bound > p->acc_hi)
            mode = EPI_CORR;

        if (!exact_mode && mode == EPI_HELD && k->pipe && j->shape == 0 && p->fast && !j->acc_out &&
            j->c4 <= INTREF_KSAFE) {
            /* the fused path: tile b's products overlap tile b-1's epilogue */
            pending_tile pend;
            int cur = 0, have = 0;
            for (bi = b0; bi < b1; bi++) {
                int64_t t0 = bi * mr;
                int32_t *tile = cur ? tile32b : tile32;
                for (i = 0; i < mr; i++) {
                    int64_t row = (t0 + i < j->t_out ? t0 + i : 0) * j->stride;
                    rows[i] = (const char *)j->xprep + row * j->c4 * welem;
                }
                k->pipe(rows, j->tapoff, j->ksize, j->c4, panel, wtap, corr32, tile, have ? &pend : NULL);
                pend.p = p;
                pend.tile = tile;
                pend.ld = pw;
                pend.nrows = (int)(j->t_out - t0 < mr ? j->t_out - t0 : mr);
                pend.nch = (int)no;
                pend.row0 = t0;
                pend.c0 = o0;
                pend.y = j->y_out;
                have = 1;
                cur ^= 1;
            }
            if (have)
                k->epi_tile(p, EPI_HELD, pend.tile, pw, pend.nrows, pend.row0, o0, (int)no, corr32, NULL, j->y_out,
                            &errs);
            continue;
        }
        for (bi = b0; bi < b1; bi++) {
            int64_t t0 = bi * mr;
            int nrows = (int)(j->t_out - t0 < mr ? j->t_out - t0 : mr);
            for (i = 0; i < mr; i++) {
                int64_t row = (t0 + i < j->t_out ? t0 + i : 0) * j->stride;
                rows[i] = (const char *)j->xprep + row * j->c4 * welem;
            }
            if (!exact_mode) {
                k->micro[j->shape](rows, j->tapoff, j->ksize, 0, j->c4, panel, wtap, mode == EPI_HELD ? corr32 : NULL,
                                   tile32);
                k->epi_tile(p, mode, tile32, pw, nrows, t0, o0, (int)no, corr32, j->acc_out, j->y_out, &errs);
            } else {
                tile_exact(j, rows, panel, tile32, tile64);
                for (i = 0; i < nrows; i++) {
                    for (o = 0; o < no; o++)
                        exact[o] = tile64[i * pw + o] + corr64[o];
                    epi_row_generic(p, exact, no, (t0 + i) * j->c_out + o0, o0, j->acc_out, j->y_out, &errs);
                }
            }
        }
    }
    mem_free(mem);
    mem_free(panel);
    mem_free(scratch);
#ifdef _OPENMP
#pragma omp critical(intref_dense_errs)
#endif
    errs_merge(&j->errs, &errs);
}

static const dense_kernels *kernels_for(int32_t isa) {
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) return &dense_avx512;
    if (isa == INTREF_ISA_AVX2) return &dense_avx2;
#endif
    (void)isa;
    return &dense_scalar;
}

int intref_conv1d_dense(int32_t isa, int32_t threads, const int8_t *x, int64_t t, int64_t c_in, const int8_t *w8,
                        const uint8_t *w4, int64_t c_out, int64_t ksize, int64_t stride, int64_t dilation,
                        int64_t pad_left, int64_t pad_right, const int32_t *bias, int32_t x_zp, const intref_acc *acc,
                        const intref_requant *rq, void *acc_out, void *y_out, intref_status *status) {
    const int64_t BIG = INT64_C(1) << 40;
    dense_job j;
    epi_plan plan;
    int64_t span;
    int nt, rc;
    if (!status) return INTREF_EINVAL;
    status->code = INTREF_EINVAL;
    if (!isa_supported(isa)) return status->code = INTREF_EISA;
    if (t < 0 || c_in < 0 || c_out < 0 || ksize < 1 || stride < 1 || dilation < 1 || pad_left < 0 || pad_right < 0)
        return INTREF_EINVAL;
    if (t > BIG || c_in > BIG || c_out > BIG || ksize > BIG || stride > BIG || dilation > BIG || pad_left > BIG ||
        pad_right > BIG || x_zp < -128 || x_zp > 127)
        return INTREF_EINVAL;
    if (!prod_le(t, c_in, BIG) || !prod_le(c_in, ksize, BIG) || !prod_le(c_out, c_in * ksize, BIG) ||
        !prod_le(dilation, ksize - 1, BIG))
        return INTREF_EINVAL;
    span = t + pad_left + pad_right - dilation * (ksize - 1) - 1;
    memset(&j, 0, sizeof(j));
    j.t_out = span >= 0 ? span / stride + 1 : 0;
    if (!prod_le(j.t_out, c_out, BIG)) return INTREF_EINVAL;
    if ((t * c_in > 0 && !x) || (c_out > 0 && !bias)) return INTREF_EINVAL;
    if (c_out * c_in > 0 && (!w8) == (!w4)) return INTREF_EINVAL;
    if (rq && rq->scheme != INTREF_SCHEME_NONE && j.t_out * c_out > 0 && !y_out) return INTREF_EINVAL;
    if (j.t_out == 0 || c_out == 0) {
        if (!acc || acc->policy < 0 || acc->policy > 2 || acc->bits < 16 || acc->bits > 64) return INTREF_EINVAL;
        return status->code = INTREF_OK;
    }
    rc = plan_init(&plan, acc, rq, c_out);
    if (rc != INTREF_OK) return status->code = rc;
    if (plan.scheme < 0) y_out = NULL;
    {
        /* |held| in EPI_HELD mode: K * 255 * 128 plus the bias and its correction */
        int64_t o, maxbias = 0;
        for (o = 0; o < c_out; o++)
            maxbias = bias[o] < 0 ? (-(int64_t)bias[o] > maxbias ? -(int64_t)bias[o] : maxbias)
                                  : (bias[o] > maxbias ? bias[o] : maxbias);
        plan_set_bound(&plan, c_in * ksize * 32640 * 2 + maxbias +
                                  ((int64_t)(x_zp < 0 ? -x_zp : x_zp) + 128) * 128 * c_in * ksize);
    }

    if ((w8 || w4) && ksize == 1 && stride == 1 && pad_left == 0 && pad_right == 0 && t <= GEMV_MAX_ROWS &&
        c_in <= INTREF_KSAFE) {
        intref_errs e;
        errs_init(&e);
        /* a second thread pays from about 2^20 products on (a team costs more than a small product) */
        rc = gemv_run(isa, clamp_threads(threads, (t * c_in * c_out >> 20) + 1), x, t, c_in, w8, w4, c_out, bias, x_zp,
                      &plan, kernels_for(isa)->epi_tile, acc_out, y_out, &e);
        plan_free(&plan);
        if (rc != INTREF_OK) return status->code = rc;
        return errs_status(&e, status);
    }
    j.k = kernels_for(isa);
    j.p = &plan;
    j.x = x;
    j.w8 = c_in > 0 ? w8 : NULL;
    j.w4 = c_in > 0 ? w4 : NULL;
    j.bias = bias;
    j.t = t;
    j.c_in = c_in;
    j.c_out = c_out;
    j.ksize = ksize;
    j.stride = stride;
    j.dilation = dilation;
    j.pad_left = pad_left;
    j.x_zp = x_zp;
    j.c4 = round_up(c_in, j.k->kgran);
    j.ktot = j.c4 * ksize;
    j.xrows = t + pad_left + pad_right;
    j.acc_out = acc_out;
    j.y_out = y_out;
    errs_init(&j.errs);
    nt = clamp_threads(threads, (j.t_out * c_out) / 4096 + 1);
    choose_shape(&j, nt);
    j.nthreads = nt;
    j.xprep = mem_alloc((size_t)(j.xrows * j.c4 * j.k->xelem) + 64);
    j.tapoff = (int64_t *)mem_alloc((size_t)ksize * sizeof(int64_t));
    if (!j.xprep || !j.tapoff) {
        mem_free(j.xprep);
        mem_free(j.tapoff);
        plan_free(&plan);
        return status->code = INTREF_ENOMEM;
    }
    {
        int64_t tap;
        for (tap = 0; tap < ksize; tap++)
            j.tapoff[tap] = tap * dilation * j.c4;
    }
    if (nt == 1) {
        prep_rows(&j, 0, 1);
        work(&j, 0, 1);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        {
            /* work() splits by the team's actual size, so a smaller team still covers every output */
            int tid = omp_get_thread_num(), n = omp_get_num_threads();
            prep_rows(&j, tid, n);
#pragma omp barrier
            work(&j, tid, n);
        }
#else
        prep_rows(&j, 0, 1);
        work(&j, 0, 1);
#endif
    }
    mem_free(j.xprep);
    mem_free(j.tapoff);
    plan_free(&plan);
    if (j.oom) return status->code = INTREF_ENOMEM;
    return errs_status(&j.errs, status);
}
