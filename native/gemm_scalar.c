/* Portable dense kernels: int16 activations (x - x_zp) times int16 weights, int32 sums, scalar epilogue.
 * The compiler may vectorise these loops for the baseline ISA; they are also the reference the SIMD
 * kernels are tested against. */
#include "requant.h"

#define SMR 4
#define SPW 4

static void micro_scalar(const void *const *rows, const int64_t *tapoff, int64_t ntaps, int64_t koff, int64_t nk,
                         const void *w, int64_t wtap, const int32_t *init, int32_t *tile) {
    int32_t acc[SMR][SPW];
    int64_t t, k;
    int i, o;
    for (i = 0; i < SMR; i++)
        for (o = 0; o < SPW; o++)
            acc[i][o] = init ? init[o] : 0;
    for (t = 0; t < ntaps; t++) {
        const int16_t *wt = (const int16_t *)((const char *)w + t * wtap);
        const int16_t *x0 = (const int16_t *)rows[0] + tapoff[t] + koff;
        const int16_t *x1 = (const int16_t *)rows[1] + tapoff[t] + koff;
        const int16_t *x2 = (const int16_t *)rows[2] + tapoff[t] + koff;
        const int16_t *x3 = (const int16_t *)rows[3] + tapoff[t] + koff;
        for (k = 0; k < nk; k++) {
            const int16_t *wk = wt + k * SPW;
            for (o = 0; o < SPW; o++) {
                int32_t wv = wk[o];
                acc[0][o] += x0[k] * wv;
                acc[1][o] += x1[k] * wv;
                acc[2][o] += x2[k] * wv;
                acc[3][o] += x3[k] * wv;
            }
        }
    }
    for (i = 0; i < SMR; i++)
        for (o = 0; o < SPW; o++)
            tile[i * SPW + o] = acc[i][o];
}

void epi_tile_scalar(const epi_plan *p, int mode, const int32_t *tile, int ld, int nrows, int64_t row0, int64_t c0,
                     int nch, const int32_t *corr, void *acc_out, void *y_out, intref_errs *e) {
    int i, o;
    for (i = 0; i < nrows; i++) {
        int64_t flat = (row0 + i) * p->channels + c0;
        for (o = 0; o < nch; o++) {
            int64_t exact = (int64_t)tile[i * ld + o] + (mode == EPI_CORR ? corr[o] : 0);
            epi_one(p, exact, flat + o, c0 + o, acc_out, y_out, e);
        }
    }
}

const dense_kernels dense_scalar = {
    1, 2, 0, 1, {SMR, 0, 0, 0}, {SPW, 0, 0, 0}, prep_s16, pack_s16_g1, {micro_scalar, 0, 0, 0}, NULL, epi_tile_scalar,
};
