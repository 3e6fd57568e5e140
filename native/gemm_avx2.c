/* AVX2 dense kernels (no VNNI): int16 activations and weights through vpmaddwd, int32 sums. */
#include <string.h>

#include "internal.h"
#include "prep.h"

#if INTREF_X86
#include <immintrin.h>

#define MR 6
#define NV 2
#include "micro_avx2.h"
#undef MR
#undef NV
#define MR 12
#define NV 1
#include "micro_avx2.h"
#undef MR
#undef NV

static INTREF_TARGET_AVX2 void prep_avx2(const int8_t *x, int64_t t, int64_t c, int64_t c4, int64_t row_begin,
                                         int64_t row_end, int64_t pad_left, int32_t x_zp, void *out) {
    prep_s16_body(x, t, c, c4, row_begin, row_end, pad_left, x_zp, out);
}

const dense_kernels dense_avx2 = {
    2,
    2,
    0,
    2,
    {6, 12, 0, 0},
    {16, 8, 0, 0},
    prep_avx2,
    pack_s16_g2,
    {micro_avx2_6x2, micro_avx2_12x1, 0, 0},
    NULL,
    epi_tile_avx2,
};

#endif
