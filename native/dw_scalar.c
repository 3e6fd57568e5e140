/* Portable depthwise kernel: rows outer and channels inner, so the input is read contiguously and the
 * compiler can vectorise the channel loop. Sums are int32 while they cannot overflow (at most INTREF_KSAFE
 * taps), int64 beyond. */
#include "requant.h"

void dw_scalar(DW_ARGS) {
    int64_t nc = c1 - c0, k = a->ksize, r, j, i;
    const int wide = k > INTREF_KSAFE;
    int64_t *sum = (int64_t *)mem_alloc((size_t)nc * sizeof(int64_t));
    int32_t *sum32 = (int32_t *)mem_alloc((size_t)nc * sizeof(int32_t));
    int32_t *wt = (int32_t *)mem_alloc((size_t)(nc * k) * sizeof(int32_t));
    if (!sum || !sum32 || !wt) {
        mem_free(sum);
        mem_free(sum32);
        mem_free(wt);
        *oom = 1;
        return;
    }
    for (i = 0; i < nc; i++)
        for (j = 0; j < k; j++)
            wt[j * nc + i] = weight_at(a->w8, a->w4, k, c0 + i, j);
    for (r = r0; r < r1; r++) {
        for (i = 0; i < nc; i++) {
            sum[i] = 0;
            sum32[i] = 0;
        }
        for (j = 0; j < k; j++) {
            int64_t src = r * a->stride + j * a->dilation - a->pad_left;
            const int8_t *xr;
            const int32_t *wj = wt + j * nc;
            const int32_t zp = a->x_zp;
            if (src < 0 || src >= a->t) continue; /* padding holds x_zp: contributes nothing */
            xr = a->x + src * a->c + c0;
            if (wide)
                for (i = 0; i < nc; i++)
                    sum[i] += (int64_t)(xr[i] - zp) * wj[i];
            else
                for (i = 0; i < nc; i++)
                    sum32[i] += (xr[i] - zp) * wj[i];
        }
        for (i = 0; i < nc; i++)
            sum[i] += (int64_t)sum32[i] + a->bias[c0 + i];
        epi_row_generic(p, sum, nc, r * a->c + c0, c0, acc_out, y_out, e);
    }
    mem_free(sum);
    mem_free(sum32);
    mem_free(wt);
}
