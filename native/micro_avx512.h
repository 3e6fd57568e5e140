/* One AVX-512 VNNI micro-kernel, included by gemm_avx512.c once per register-block shape (MR rows by
 * NV vectors of 16 output channels; MR * NV = 20 to 24 accumulators: vpdpbusd needs about 8 independent
 * chains in flight at 2 per cycle, and the rest of the 32 registers hold weights and the broadcast).
 * No include guard on purpose. */
#define MICRO_NAME_(a, b) micro_avx512_##a##x##b
#define MICRO_NAME(a, b) MICRO_NAME_(a, b)

static INTREF_TARGET_AVX512 void MICRO_NAME(MR, NV)(const void *const *rows, const int64_t *tapoff, int64_t ntaps,
                                                    int64_t koff, int64_t nk, const void *w, int64_t wtap,
                                                    const int32_t *init, int32_t *tile) {
    __m512i acc[MR][NV];
    int i, v;
    int64_t t, k;
#pragma GCC unroll 8
    for (v = 0; v < NV; v++) {
        __m512i z = init ? _mm512_loadu_si512((const void *)(init + 16 * v)) : _mm512_setzero_si512();
#pragma GCC unroll 32
        for (i = 0; i < MR; i++)
            acc[i][v] = z;
    }
    for (t = 0; t < ntaps; t++) {
        const uint8_t *xr[MR];
        const int8_t *wt = (const int8_t *)w + t * wtap;
#pragma GCC unroll 32
        for (i = 0; i < MR; i++)
            xr[i] = (const uint8_t *)rows[i] + tapoff[t] + koff;
        for (k = 0; k < nk; k += 4) {
            __m512i wv[NV];
#pragma GCC unroll 8
            for (v = 0; v < NV; v++)
                wv[v] = _mm512_load_si512((const void *)(wt + k * NV * 16 + 64 * v));
#pragma GCC unroll 32
            for (i = 0; i < MR; i++) {
                int32_t xv;
                __m512i b;
                memcpy(&xv, xr[i] + k, 4);
                b = _mm512_set1_epi32(xv);
#pragma GCC unroll 8
                for (v = 0; v < NV; v++)
                    acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], b, wv[v]);
            }
        }
    }
#pragma GCC unroll 32
    for (i = 0; i < MR; i++)
#pragma GCC unroll 8
        for (v = 0; v < NV; v++)
            _mm512_storeu_si512((void *)(tile + (i * NV + v) * 16), acc[i][v]);
}

#undef MICRO_NAME
#undef MICRO_NAME_
