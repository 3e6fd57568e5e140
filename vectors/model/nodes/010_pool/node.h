/* intref golden vectors: node 10 'pool' (mean_over_time) of model 'intref-demo' */
#ifndef N010_POOL_H
#define N010_POOL_H

#include <stdint.h>

/* x: input: int16 [6, 16], C order */
#define N010_POOL_X_LEN 96
static const int16_t n010_pool_x[96] = {
    -2576, -4119, -679, 2123, -812, -7732, 6176, -5875, 1113, 1036, -5880, -4238, -5475, 7143, 3808, -1779,
    -875, -16890, 10191, 4284, 2756, -1069, 3371, -5715, 5244, -803, -7784, -8167, -5257, -13859, -232, -2457,
    -5722, -5285, 4816, -6517, 5096, 6252, -9159, -10368, 734, 5423, 2154, -6553, -13721, -8840, -12205, -1298,
    11628, -5308, -2751, 4901, 1372, -9181, 1447, -5064, 9567, -6644, 780, -10461, -11080, 8457, -8124, -7553,
    -10913, -12692, -5134, 23037, 2708, -3797, -3515, -7814, 6065, 2395, -11961, 647, -6685, -7299, -2821, -4581,
    -4945, -19253, 7271, -5858, 4386, 6747, 5711, -9449, 6881, 5281, 880, -6553, -11425, -8309, -226, 326,
};

/* multiplier: param: int32 [], C order */
#define N010_POOL_MULTIPLIER_LEN 1
static const int32_t n010_pool_multiplier[1] = {
    1732311874,
};

/* shift: param: int32 [], C order */
#define N010_POOL_SHIFT_LEN 1
static const int32_t n010_pool_shift[1] = {
    -6,
};

/* multiplier_t: param derived at run time: int32 [], C order */
#define N010_POOL_MULTIPLIER_T_LEN 1
static const int32_t n010_pool_multiplier_t[1] = {
    1154874583,
};

/* shift_t: param derived at run time: int32 [], C order */
#define N010_POOL_SHIFT_T_LEN 1
static const int32_t n010_pool_shift_t[1] = {
    -8,
};

/* acc: accumulator before rescale: int32 [16], C order */
#define N010_POOL_ACC_LEN 16
static const int32_t n010_pool_acc[16] = {
    -13403, -63547, 13714, 21970, 15506, -8780, 4031, -44285, 29604, 6688, -21811, -35325, -53643, -22707, -19800, -17342,
};

/* y: output: int8 [16], C order */
#define N010_POOL_Y_LEN 16
static const int8_t n010_pool_y[16] = {
    -28, -128, 29, 46, 33, -18, 8, -93, 62, 14, -46, -74, -113, -48, -42, -36,
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
    double x_scale;
    int32_t x_zero_point;
    double y_scale;
    int32_t y_zero_point;
    const int16_t *x;
    const int32_t *multiplier;
    const int32_t *shift;
    const int32_t *multiplier_t;
    const int32_t *shift_t;
    const int32_t *acc;
    const int8_t *y;
} n010_pool_params_t;

static const n010_pool_params_t n010_pool_params = {
    .index = 10,
    .name = "pool",
    .op = "mean_over_time",
    .scheme = "tflite_double",
    .out_zero_point = 0,
    .out_lo = -128,
    .out_hi = 127,
    .acc_policy = "error",
    .acc_bits = 32,
    .x_zp = 0,
    .x_scale = 0.0007019113565618238,
    .x_zero_point = 0,
    .y_scale = 0.05568856491627374,
    .y_zero_point = 0,
    .x = n010_pool_x,
    .multiplier = n010_pool_multiplier,
    .shift = n010_pool_shift,
    .multiplier_t = n010_pool_multiplier_t,
    .shift_t = n010_pool_shift_t,
    .acc = n010_pool_acc,
    .y = n010_pool_y,
};

#endif /* N010_POOL_H */
