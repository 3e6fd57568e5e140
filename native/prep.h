/* Activation preparation loops (see pack.c), inlined into each ISA's wrapper so that the compiler
 * vectorises them for that ISA. */
#ifndef INTREF_PREP_H
#define INTREF_PREP_H

#include <string.h>

#include "internal.h"

INTREF_INLINE void prep_u8_body(const int8_t *x, int64_t t, int64_t c, int64_t c4, int64_t row_begin, int64_t row_end,
                                int64_t pad_left, int32_t x_zp, void *out) {
    int64_t r, i;
    for (r = row_begin; r < row_end; r++) {
        uint8_t *o = (uint8_t *)out + r * c4;
        int64_t src = r - pad_left;
        if (src >= 0 && src < t) {
            const int8_t *xr = x + src * c;
            for (i = 0; i < c; i++)
                o[i] = (uint8_t)((uint8_t)xr[i] ^ 0x80u);
        } else {
            memset(o, (int)(((uint32_t)x_zp & 0xFFu) ^ 0x80u), (size_t)c);
        }
        for (i = c; i < c4; i++)
            o[i] = 0x80u; /* weights there are 0 */
    }
}

INTREF_INLINE void prep_s16_body(const int8_t *x, int64_t t, int64_t c, int64_t c4, int64_t row_begin, int64_t row_end,
                                 int64_t pad_left, int32_t x_zp, void *out) {
    int64_t r, i;
    for (r = row_begin; r < row_end; r++) {
        int16_t *o = (int16_t *)out + r * c4;
        int64_t src = r - pad_left;
        if (src >= 0 && src < t) {
            const int8_t *xr = x + src * c;
            for (i = 0; i < c; i++)
                o[i] = (int16_t)(xr[i] - x_zp);
            for (i = c; i < c4; i++)
                o[i] = 0;
        } else {
            memset(o, 0, (size_t)c4 * sizeof(int16_t));
        }
    }
}

#endif
