/* intref golden vectors: node 12 'head' (linear) of model 'intref-demo' */
#ifndef N012_HEAD_H
#define N012_HEAD_H

#include <stdint.h>

/* x: input: int8 [16], C order */
#define N012_HEAD_X_LEN 16
static const int8_t n012_head_x[16] = {
    -28, -128, 29, 46, 33, -18, 8, -93, 62, 14, -46, -74, -113, -48, -42, -36,
};

/* multiplier: param: int32 [4], C order */
#define N012_HEAD_MULTIPLIER_LEN 4
static const int32_t n012_head_multiplier[4] = {
    1685814395, 1890236268, 1189030164, 1322868478,
};

/* shift: param: int32 [4], C order */
#define N012_HEAD_SHIFT_LEN 4
static const int32_t n012_head_shift[4] = {
    35, 35, 35, 35,
};

/* w: param (int4, unpacked): int4 [4, 16], C order */
#define N012_HEAD_W_LEN 64
static const int8_t n012_head_w[64] = {
    -5, -3, 3, 4, 2, 7, -6, -6, -2, -3, -1, 2, -5, -7, -4, 0,
    2, -4, -6, -6, 6, 3, 1, 4, 7, 2, -6, -8, -1, -7, -3, 2,
    7, 6, -2, 6, -3, 2, 2, 5, -5, -4, -1, 3, 4, 0, -2, 2,
    -5, -7, -8, -6, -5, 1, -3, -5, 1, 7, -5, 4, -1, -2, -5, 0,
};

/* w.packed: param (int4, packed: low nibble first, rows byte-aligned): uint8 [4, 8], C order */
#define N012_HEAD_W_PACKED_LEN 32
static const uint8_t n012_head_w_packed[32] = {
    219, 67, 114, 170, 222, 47, 155, 12, 194, 170, 54, 65, 39, 138, 159, 45,
    103, 110, 45, 82, 203, 63, 4, 46, 155, 168, 27, 189, 113, 75, 239, 11,
};

/* acc: accumulator before rescale: int32 [4], C order */
#define N012_HEAD_ACC_LEN 4
static const int32_t n012_head_acc[4] = {
    2046, 1619, -2312, 1299,
};

/* y: output: int8 [4], C order */
#define N012_HEAD_Y_LEN 4
static const int8_t n012_head_y[4] = {
    100, 89, -80, 50,
};

/* per-channel scale of w: float64 [4], C order */
#define N012_HEAD_W_SCALE_LEN 4
static const double n012_head_w_scale[4] = {
    0.0886298617601226, 0.09937711981794249, 0.06251197010611392, 0.0695483741900511,
};

typedef struct {
    int32_t index;
    const char * name;
    const char * op;
    const char * scheme;
    int32_t out_zero_point;
    int32_t out_lo;
    int32_t out_hi;
    const char * acc_policy;
    int32_t acc_bits;
    int32_t x_zp;
    int32_t w_zero_point;
    double x_scale;
    int32_t x_zero_point;
    double y_scale;
    int32_t y_zero_point;
    const int8_t *x;
    const int32_t *multiplier;
    const int32_t *shift;
    const int8_t *w;
    const uint8_t *w_packed;
    const int32_t *acc;
    const int8_t *y;
    const double *w_scale;
} n012_head_params_t;

static const n012_head_params_t n012_head_params = {
    .index = 12,
    .name = "head",
    .op = "linear",
    .scheme = "tosa_double",
    .out_zero_point = 0,
    .out_lo = -128,
    .out_hi = 127,
    .acc_policy = "error",
    .acc_bits = 32,
    .x_zp = 0,
    .w_zero_point = 0,
    .x_scale = 0.05568856491627374,
    .x_zero_point = 0,
    .y_scale = 0.1005972685240091,
    .y_zero_point = 0,
    .x = n012_head_x,
    .multiplier = n012_head_multiplier,
    .shift = n012_head_shift,
    .w = n012_head_w,
    .w_packed = n012_head_w_packed,
    .acc = n012_head_acc,
    .y = n012_head_y,
    .w_scale = n012_head_w_scale,
};

#endif /* N012_HEAD_H */
