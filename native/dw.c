/* Depthwise conv1d driver: argument checks, the choice of kernel, and the split of outputs over threads
 * (16-channel blocks, or row ranges when there are too few blocks); each output has one owner. */
#ifdef _OPENMP
#include <omp.h>
#endif

#include "requant.h"

static dw_fn dw_for(int32_t isa, int64_t ksize) {
    /* int32 sums are exact up to INTREF_KSAFE taps; longer kernels take the int64 scalar path */
    if (ksize > INTREF_KSAFE) return dw_scalar;
#if INTREF_X86
    if (isa == INTREF_ISA_AVX512VNNI) return dw_avx512;
    if (isa == INTREF_ISA_AVX2) return dw_avx2;
#endif
    (void)isa;
    return dw_scalar;
}

int intref_conv1d_depthwise(int32_t isa, int32_t threads, const int8_t *x, int64_t t, int64_t c, const int8_t *w8,
                            const uint8_t *w4, int64_t ksize, int64_t stride, int64_t dilation, int64_t pad_left,
                            int64_t pad_right, const int32_t *bias, int32_t x_zp, const intref_acc *acc,
                            const intref_requant *rq, void *acc_out, void *y_out, intref_status *status) {
    const int64_t BIG = INT64_C(1) << 40;
    dw_args a;
    epi_plan plan;
    dw_fn fn;
    intref_errs errs;
    int64_t span, units, nt;
    int split_rows, oom = 0, rc;
    if (!status) return INTREF_EINVAL;
    status->code = INTREF_EINVAL;
    if (!isa_supported(isa)) return status->code = INTREF_EISA;
    if (t < 0 || c < 0 || ksize < 1 || stride < 1 || dilation < 1 || pad_left < 0 || pad_right < 0)
        return INTREF_EINVAL;
    if (t > BIG || c > BIG || ksize > BIG || stride > BIG || dilation > BIG || pad_left > BIG || pad_right > BIG ||
        x_zp < -128 || x_zp > 127 || !prod_le(t, c, BIG) || !prod_le(c, ksize, BIG) ||
        !prod_le(dilation, ksize - 1, BIG))
        return INTREF_EINVAL;
    span = t + pad_left + pad_right - dilation * (ksize - 1) - 1;
    a.t_out = span >= 0 ? span / stride + 1 : 0;
    if (!prod_le(a.t_out, c, BIG)) return INTREF_EINVAL;
    if (c > 0 && (!bias || (!w8) == (!w4))) return INTREF_EINVAL;
    if (t * c > 0 && !x) return INTREF_EINVAL;
    if (rq && rq->scheme != INTREF_SCHEME_NONE && a.t_out * c > 0 && !y_out) return INTREF_EINVAL;
    if (a.t_out == 0 || c == 0) {
        if (!acc || acc->policy < 0 || acc->policy > 2 || acc->bits < 16 || acc->bits > 64) return INTREF_EINVAL;
        return status->code = INTREF_OK;
    }
    rc = plan_init(&plan, acc, rq, c);
    if (rc != INTREF_OK) return status->code = rc;
    if (plan.scheme < 0) y_out = NULL;
    {
        int64_t i, maxbias = 0;
        for (i = 0; i < c; i++)
            maxbias = bias[i] < 0 ? (-(int64_t)bias[i] > maxbias ? -(int64_t)bias[i] : maxbias)
                                  : (bias[i] > maxbias ? bias[i] : maxbias);
        plan_set_bound(&plan, ksize * 32640 * 2 + maxbias + ((int64_t)(x_zp < 0 ? -x_zp : x_zp) + 128) * 128 * ksize);
    }
    a.x = x;
    a.t = t;
    a.c = c;
    a.ksize = ksize;
    a.stride = stride;
    a.dilation = dilation;
    a.pad_left = pad_left;
    a.x_zp = x_zp;
    a.w8 = w8;
    a.w4 = w4;
    a.bias = bias;
    fn = dw_for(isa, ksize);
    errs_init(&errs);
    units = (c + 15) / 16;
    nt = clamp_threads(threads, a.t_out * c * ksize / 8192 + 1);
    split_rows = !(units % nt == 0 || units >= 4 * nt) && a.t_out >= 4 * nt;
    if (nt == 1) {
        fn(&a, &plan, 0, c, 0, a.t_out, acc_out, y_out, &errs, &oom);
    } else {
#ifdef _OPENMP
#pragma omp parallel num_threads((int)nt)
        {
            int tid = omp_get_thread_num(), n = omp_get_num_threads();
            int64_t c0 = 0, c1 = c, r0 = 0, r1 = a.t_out;
            intref_errs mine;
            int my_oom = 0;
            errs_init(&mine);
            if (split_rows) {
                int64_t per = (a.t_out + n - 1) / n;
                r0 = per * tid;
                r1 = r0 + per < a.t_out ? r0 + per : a.t_out;
            } else {
                int64_t per = (units + n - 1) / n;
                c0 = per * tid * 16;
                c1 = (per * (tid + 1)) * 16 < c ? per * (tid + 1) * 16 : c;
            }
            if (c0 < c1 && r0 < r1) fn(&a, &plan, c0, c1, r0, r1, acc_out, y_out, &mine, &my_oom);
#pragma omp critical(intref_dw_errs)
            {
                errs_merge(&errs, &mine);
                if (my_oom) oom = 1;
            }
        }
#else
        fn(&a, &plan, 0, c, 0, a.t_out, acc_out, y_out, &errs, &oom);
#endif
    }
    plan_free(&plan);
    if (oom) return status->code = INTREF_ENOMEM;
    return errs_status(&errs, status);
}
