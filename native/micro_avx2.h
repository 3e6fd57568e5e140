/* One AVX2 micro-kernel, included by gemm_avx2.c once per register-block shape (MR rows by NV vectors of
 * 8 output channels). vpmaddwd on int16 (x - x_zp) and int16 weights: products and pair sums are exact
 * (|x - x_zp| <= 255, |w| <= 128); vpmaddubsw would saturate them, so it is not used. No include guard. */
#define MICRO_NAME_(a, b) micro_avx2_##a##x##b
#define MICRO_NAME(a, b) MICRO_NAME_(a, b)

static INTREF_TARGET_AVX2 void MICRO_NAME(MR, NV)(const void *const *rows, const int64_t *tapoff, int64_t ntaps,
                                                  int64_t koff, int64_t nk, const void *w, int64_t wtap,
                                                  const int32_t *init, int32_t *tile) {
    __m256i acc[MR][NV];
    int i, v;
    int64_t t, k;
#pragma GCC unroll 8
    for (v = 0; v < NV; v++) {
        __m256i z = init ? _mm256_loadu_si256((const __m256i *)(init + 8 * v)) : _mm256_setzero_si256();
#pragma GCC unroll 32
        for (i = 0; i < MR; i++)
            acc[i][v] = z;
    }
    for (t = 0; t < ntaps; t++) {
        const int16_t *xr[MR];
        const int16_t *wt = (const int16_t *)((const char *)w + t * wtap);
#pragma GCC unroll 32
        for (i = 0; i < MR; i++)
            xr[i] = (const int16_t *)rows[i] + tapoff[t] + koff;
        for (k = 0; k < nk; k += 2) {
            __m256i wv[NV];
#pragma GCC unroll 8
            for (v = 0; v < NV; v++)
                wv[v] = _mm256_load_si256((const __m256i *)(wt + k * NV * 8 + 16 * v));
#pragma GCC unroll 32
            for (i = 0; i < MR; i++) {
                int32_t xv;
                __m256i b;
                memcpy(&xv, xr[i] + k, 4);
                b = _mm256_set1_epi32(xv);
#pragma GCC unroll 8
                for (v = 0; v < NV; v++)
                    acc[i][v] = _mm256_add_epi32(acc[i][v], _mm256_madd_epi16(b, wv[v]));
            }
        }
    }
#pragma GCC unroll 32
    for (i = 0; i < MR; i++)
#pragma GCC unroll 8
        for (v = 0; v < NV; v++)
            _mm256_storeu_si256((__m256i *)(tile + (i * NV + v) * 8), acc[i][v]);
}

#undef MICRO_NAME
#undef MICRO_NAME_
