/* intref native core: the C interface seen by Python (through cffi).
 *
 * cffi reads this header minus its preprocessor lines, so it holds only plain declarations.
 * Every function validates its arguments and returns INTREF_OK, INTREF_ARITH (an arithmetic error the
 * spec defines: see intref_status) or a negative code; it never reads or writes outside the buffers the
 * sizes describe. Layouts are those of intref/ops (C order, contiguous). Sizes are element counts.
 */
#ifndef INTREF_NATIVE_H
#define INTREF_NATIVE_H

#include <stdint.h>

enum intref_isa { INTREF_ISA_SCALAR = 0, INTREF_ISA_AVX2 = 1, INTREF_ISA_AVX512VNNI = 2 };

enum intref_scheme {
    INTREF_SCHEME_NONE = -1,
    INTREF_SCHEME_TFLITE_DOUBLE = 0,
    INTREF_SCHEME_SINGLE = 1,
    INTREF_SCHEME_TOSA_DOUBLE = 2,
    INTREF_SCHEME_TOSA_SCALE16 = 3,
    INTREF_SCHEME_DYADIC = 4,
    INTREF_SCHEME_ONNX = 5
};

enum intref_policy { INTREF_POLICY_ERROR = 0, INTREF_POLICY_WRAP = 1, INTREF_POLICY_SATURATE = 2 };

enum intref_code { INTREF_OK = 0, INTREF_ARITH = 1, INTREF_EINVAL = -1, INTREF_ENOMEM = -2, INTREF_EISA = -3 };

/* Slots of intref_status.slot, numbered in the order the reference checks them (the lowest failing slot
 * is reported). add checks its two input rescales first; the other ops use ACC, RESCALE and RESULT. */
enum intref_slot {
    INTREF_SLOT_A_RESCALE = 0,
    INTREF_SLOT_A_RESULT = 1,
    INTREF_SLOT_B_RESCALE = 2,
    INTREF_SLOT_B_RESULT = 3,
    INTREF_SLOT_ACC = 4,
    INTREF_SLOT_RESCALE = 5, /* the scheme's first check (left shift, result, TOSA value range) */
    INTREF_SLOT_RESULT = 6   /* tosa_double's result check, which runs after its value check */
};

/* Output quantisation: y = clamp(zero_point + rescale(acc, multiplier[c], shift[c]), lo, hi). */
typedef struct {
    int32_t scheme;    /* INTREF_SCHEME_*; NONE: the accumulator is the output */
    int32_t out_bytes; /* 1, 2 or 4: the narrowest signed type holding [lo, hi] */
    int64_t channels;  /* entries in multiplier and shift: the output's last axis */
    const int64_t *multiplier;
    const int64_t *shift;
    int64_t zero_point;
    int64_t lo;
    int64_t hi;
} intref_requant;

typedef struct {
    int32_t policy; /* INTREF_POLICY_* */
    int32_t bits;   /* 16..64; the held accumulator is int32 up to 32 bits, int64 above */
} intref_acc;

typedef struct {
    int32_t code;  /* INTREF_OK, INTREF_ARITH or a negative code */
    int32_t slot;  /* INTREF_SLOT_* of the first failing check (INTREF_ARITH only) */
    int64_t index; /* flat index (C order) of the first offending element */
    int64_t value; /* the value the reference reports for it */
} intref_status;

int intref_abi_version(void);
/* Bit i set: ISA i (enum intref_isa) runs on this CPU (and was compiled in). */
uint32_t intref_cpu_isas(void);
/* "sanitized" when built with INTREF_SANITIZE=1, else "release". */
const char *intref_build_kind(void);

/* Dense conv1d (groups = 1), time-major: x [t, c_in] int8, w [c_out, c_in, ksize] as int8 (w8) or as
 * packed int4 rows of c_in * ksize values (w4, row stride (c_in * ksize + 1) / 2); exactly one of w8, w4.
 * bias [c_out] int32 (required). Output [t_out, c_out] with t_out from stride, dilation and padding.
 * acc_out (int32 or int64 by acc->bits) and y_out (rq->out_bytes) may each be NULL. linear is the case
 * ksize = 1, stride = 1, dilation = 1, no padding, t = rows. */
int intref_conv1d_dense(int32_t isa, int32_t threads, const int8_t *x, int64_t t, int64_t c_in, const int8_t *w8,
                        const uint8_t *w4, int64_t c_out, int64_t ksize, int64_t stride, int64_t dilation,
                        int64_t pad_left, int64_t pad_right, const int32_t *bias, int32_t x_zp, const intref_acc *acc,
                        const intref_requant *rq, void *acc_out, void *y_out, intref_status *status);

/* Depthwise conv1d: x [t, c], w [c, 1, ksize] (w8 or packed int4 rows of ksize values), bias [c]. */
int intref_conv1d_depthwise(int32_t isa, int32_t threads, const int8_t *x, int64_t t, int64_t c, const int8_t *w8,
                            const uint8_t *w4, int64_t ksize, int64_t stride, int64_t dilation, int64_t pad_left,
                            int64_t pad_right, const int32_t *bias, int32_t x_zp, const intref_acc *acc,
                            const intref_requant *rq, void *acc_out, void *y_out, intref_status *status);

/* y = requant(acc(x - x_zp)); x [rows, channels] of x_bytes 1, 2 or 4. */
int intref_requantize(int32_t isa, int32_t threads, const void *x, int32_t x_bytes, int64_t rows, int64_t channels,
                      int32_t x_zp, const intref_acc *acc, const intref_requant *rq, void *acc_out, void *y_out,
                      intref_status *status);

/* TFLite ADD: a and b [rows, channels] (already broadcast), each int8 or int16; the input rescales use
 * rq->scheme with per-channel (a_mult, a_shift), (b_mult, b_shift) of length channels. */
int intref_add(int32_t isa, int32_t threads, const void *a, int32_t a_bytes, const void *b, int32_t b_bytes,
               int64_t rows, int64_t channels, int32_t a_zp, int32_t b_zp, int32_t left_shift, const int64_t *a_mult,
               const int64_t *a_shift, const int64_t *b_mult, const int64_t *b_shift, const intref_acc *acc,
               const intref_requant *rq, void *acc_out, void *y_out, intref_status *status);

/* y = requant(acc((a - a_zp) * (b - b_zp))); a and b [rows, channels] (already broadcast), int8 or int16. */
int intref_mul(int32_t isa, int32_t threads, const void *a, int32_t a_bytes, const void *b, int32_t b_bytes,
               int64_t rows, int64_t channels, int32_t a_zp, int32_t b_zp, const intref_acc *acc,
               const intref_requant *rq, void *acc_out, void *y_out, intref_status *status);

/* y = table[x - min]: x int8 (table of 256) or int16 (65536); table entries of table_bytes 1 or 2. */
int intref_lut(int32_t isa, int32_t threads, const void *x, int32_t x_bytes, int64_t n, const void *table,
               int32_t table_bytes, void *y);

/* y = min(max(x, lo), hi) in x's own type (x_bytes 1, 2 or 4). */
int intref_clamp(int32_t isa, int32_t threads, const void *x, int32_t x_bytes, int64_t n, int64_t lo, int64_t hi,
                 void *y);

/* y[c] = requant(acc(sum_t (x[t, c] - x_zp))); x [t, c] int8 or int16; rq already divided by t. */
int intref_mean_over_time(int32_t isa, int32_t threads, const void *x, int32_t x_bytes, int64_t t, int64_t c,
                          int32_t x_zp, const intref_acc *acc, const intref_requant *rq, void *acc_out, void *y_out,
                          intref_status *status);

/* Integer LayerNorm (intref/ops/layernorm.py) of x [rows, channels] (x_bytes 1 or 2) with gamma [channels]
 * (gamma_bytes 1 or 2) and beta [channels] int32 (NULL: zeros); 0 <= frac_bits <= 24, eps >= 0. rq is required
 * (per-channel parameters of length channels); acc_out (int32 or int64 by acc->bits) may be NULL. */
int intref_layernorm(int32_t isa, int32_t threads, const void *x, int32_t x_bytes, int64_t rows, int64_t channels,
                     const void *gamma, int32_t gamma_bytes, const int32_t *beta, int32_t x_zp, int64_t eps,
                     int32_t frac_bits, const intref_acc *acc, const intref_requant *rq, void *acc_out, void *y_out,
                     intref_status *status);

/* Integer softmax (intref/ops/softmax.py) of rows [rows, n] (x_bytes 1, 2 or 4). keep: NULL (every element
 * attends) or keep_rows rows of n flags (nonzero: attend), row r using keep row keep_index[r]. The input rescale is
 * (scheme, multiplier >= 0, shift), scalars; y [rows, n] (out_bytes each) = p + out_zp, 1 <= out_max <= 65535. */
int intref_softmax(int32_t isa, int32_t threads, const void *x, int32_t x_bytes, int64_t rows, int64_t n,
                   const uint8_t *keep, int64_t keep_rows, const int64_t *keep_index, int32_t scheme,
                   int64_t multiplier, int64_t shift, int32_t out_max, int32_t out_zp, int32_t out_bytes, void *y,
                   intref_status *status);

/* out[r] = the lowest index of the largest x[r, i] + offset[i] (exact); x_bytes 1, 2 or 4; offset NULL: zeros. */
int intref_argmax(int32_t isa, int32_t threads, const void *x, int32_t x_bytes, int64_t rows, int64_t n,
                  const int32_t *offset, int32_t *out);

/* y = clamp(round_half_even(x / scale), lo - zero_point, hi - zero_point) + zero_point for n finite float32 x,
 * the quotient in float64 (IEEE, as NumPy). y has out_bytes (1, 2 or 4) per element. INTREF_EINVAL for a
 * non-finite input (the outputs are then unspecified). */
int intref_quantize(int32_t isa, int32_t threads, const float *x, int64_t n, double scale, int64_t zero_point,
                    int64_t lo, int64_t hi, int32_t out_bytes, void *y);

/* hi = clamp(round_half_up((x - x_zp) / 2^shift) + hi_zp), lo = clamp(x - x_zp - 2^shift (hi - hi_zp)), both int8
 * (intref/ops/split.py); 1 <= shift <= 14, x_zp in int16, hi_zp in int8. */
int intref_split16(int32_t isa, int32_t threads, const int16_t *x, int64_t n, int32_t x_zp, int32_t shift,
                   int32_t hi_zp, int8_t *hi, int8_t *lo);

/* The fixed-point pieces of these ops, for tests: the Q15 table of 2^(-r/256) (256 entries), the exact floor
 * square root (-1 for v < 0), and softmax's clamp of x - max(x) (INT64_MIN for illegal parameters). */
void intref_exp2_q15(int32_t *table);
int64_t intref_isqrt(int64_t v);
int64_t intref_softmax_floor(int32_t scheme, int64_t multiplier, int64_t shift);
/* For tests: the exponentials e (before the output scale) of one row of n int32 logits, every element attending,
 * as the ISA's softmax computes them. */
int intref_softmax_exps(int32_t isa, const int32_t *x, int64_t n, int32_t scheme, int64_t multiplier, int64_t shift,
                        int32_t *e);

/* Achieved multiply-accumulates per second of a register-only loop of the ISA's widest int8 dot product
 * (vpdpbusd zmm for avx512vnni, vpmaddwd ymm for avx2), on `threads` threads for about `seconds`.
 * Negative when the ISA does not run here. */
double intref_peak_macs(int32_t isa, int32_t threads, double seconds);

#endif
