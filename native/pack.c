/* Activation preparation and weight packing shared by the dense kernels.
 *
 * Prepared activations: one row per padded time step (padding rows hold the zero point), c4 elements
 * (the channel count rounded up to the kernel's reduction granularity). u8 rows hold x + 128 for vpdpbusd;
 * int16 rows hold x - x_zp for vpmaddwd and the scalar path, so that padding becomes 0.
 * Packed weights: [tap][c4 / g][pw][g], zero outside the real channels, so the kernel reads g consecutive
 * reduction elements of pw consecutive output channels per step.
 */
#include <string.h>

#include "internal.h"
#include "prep.h"

const int8_t *weight_row(const int8_t *w8, const uint8_t *w4, int64_t row_len, int64_t o, int8_t *scratch) {
    int64_t nb = (row_len + 1) / 2, i;
    const uint8_t *b;
    if (w8) return w8 + o * row_len;
    b = w4 + o * nb;
    for (i = 0; i < row_len / 2; i++) {
        uint8_t v = b[i];
        scratch[2 * i] = (int8_t)(((v & 0x0F) ^ 8) - 8); /* low nibble first, sign-extended */
        scratch[2 * i + 1] = (int8_t)(((v >> 4) ^ 8) - 8);
    }
    if (row_len & 1) scratch[row_len - 1] = (int8_t)(((b[nb - 1] & 0x0F) ^ 8) - 8);
    return scratch;
}

void prep_u8(const int8_t *x, int64_t t, int64_t c, int64_t c4, int64_t row_begin, int64_t row_end, int64_t pad_left,
             int32_t x_zp, void *out) {
    prep_u8_body(x, t, c, c4, row_begin, row_end, pad_left, x_zp, out);
}

void prep_s16(const int8_t *x, int64_t t, int64_t c, int64_t c4, int64_t row_begin, int64_t row_end, int64_t pad_left,
              int32_t x_zp, void *out) {
    prep_s16_body(x, t, c, c4, row_begin, row_end, pad_left, x_zp, out);
}

INTREF_INLINE void pack_impl(const int8_t *w8, const uint8_t *w4, int64_t c_in, int64_t ksize, int64_t o0, int64_t no,
                             int pw, int64_t c4, void *panel, int64_t *rowsum, int8_t *scratch, const int g,
                             const int esize) {
    int64_t row_len = c_in * ksize, o, i, j;
    int64_t groups = c4 / g;
    memset(panel, 0, (size_t)(ksize * c4 * pw * esize));
    for (o = 0; o < pw; o++)
        rowsum[o] = 0;
    for (o = 0; o < no; o++) {
        const int8_t *row = weight_row(w8, w4, row_len, o0 + o, scratch);
        int64_t sum = 0;
        for (i = 0; i < row_len; i++)
            sum += row[i];
        rowsum[o] = sum;
        for (j = 0; j < ksize; j++) {
            int64_t tapbase = j * groups * pw;
            if (ksize == 1 && esize == 1) {
                /* the common case (linear, pointwise): whole groups of g bytes */
                int8_t *dst = (int8_t *)panel + o * g;
                int64_t full = c_in / g;
                for (i = 0; i < full; i++)
                    memcpy(dst + i * pw * g, row + i * g, (size_t)g);
                for (i = full * g; i < c_in; i++)
                    dst[(i / g) * pw * g + i % g] = row[i];
                continue;
            }
            for (i = 0; i < c_in; i++) {
                int64_t at = ((tapbase + (i / g) * pw) + o) * g + i % g;
                int8_t v = row[i * ksize + j];
                if (esize == 1)
                    ((int8_t *)panel)[at] = v;
                else
                    ((int16_t *)panel)[at] = v;
            }
        }
    }
}

void pack_s8_g4(const int8_t *w8, const uint8_t *w4, int64_t c_in, int64_t ksize, int64_t o0, int64_t no, int pw,
                int64_t c4, void *panel, int64_t *rowsum, int8_t *scratch) {
    pack_impl(w8, w4, c_in, ksize, o0, no, pw, c4, panel, rowsum, scratch, 4, 1);
}

void pack_s16_g2(const int8_t *w8, const uint8_t *w4, int64_t c_in, int64_t ksize, int64_t o0, int64_t no, int pw,
                 int64_t c4, void *panel, int64_t *rowsum, int8_t *scratch) {
    pack_impl(w8, w4, c_in, ksize, o0, no, pw, c4, panel, rowsum, scratch, 2, 2);
}

void pack_s16_g1(const int8_t *w8, const uint8_t *w4, int64_t c_in, int64_t ksize, int64_t o0, int64_t no, int pw,
                 int64_t c4, void *panel, int64_t *rowsum, int8_t *scratch) {
    pack_impl(w8, w4, c_in, ksize, o0, no, pw, c4, panel, rowsum, scratch, 1, 2);
}
