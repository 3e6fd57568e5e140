/* Declarations shared by the C sources (not part of the Python interface). */
#ifndef INTREF_INTERNAL_H
#define INTREF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "intref_native.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define INTREF_X86 1
/* Per-function targets: the files are compiled for baseline x86-64, these functions for exactly the features
 * cpu.c checks before it offers the ISA. */
#define INTREF_TARGET_AVX2 __attribute__((target("avx2")))
#define INTREF_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2")))
#else
#define INTREF_X86 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define INTREF_INLINE static inline __attribute__((always_inline))
#else
#define INTREF_INLINE static inline
#endif

#define INTREF_NSLOTS 7

/* A dot product of this many int8 terms, each at most 255 * 128 in magnitude (an activation minus its zero
 * point, or an activation + 128, times a weight), cannot overflow int32: 65536 * 32640 < 2^31. */
#define INTREF_KSAFE 65536

/* Linear layers of at most this many rows take the unpacked one-pass path of gemv.c. */
#define GEMV_MAX_ROWS 4

/* The first offending element of each check, kept per thread and merged (minimum index wins). */
typedef struct {
    int64_t index[INTREF_NSLOTS]; /* -1: no failure */
    int64_t value[INTREF_NSLOTS];
} intref_errs;

void errs_init(intref_errs *e);
void errs_merge(intref_errs *into, const intref_errs *from);
/* Writes the status of the merged errors; returns its code. */
int errs_status(const intref_errs *e, intref_status *status);

static inline void err_note(intref_errs *e, int slot, int64_t index, int64_t value) {
    if (e->index[slot] < 0 || index < e->index[slot]) {
        e->index[slot] = index;
        e->value[slot] = value;
    }
}

/* How one call turns exact sums into outputs: the accumulator policy, the rescale and the stores. The
 * per-channel arrays below the line are precomputed for the SIMD epilogues (padded to a multiple of 16). */
typedef struct {
    int32_t policy, bits, held64; /* held64: the held accumulator is int64 (bits > 32) */
    int32_t scheme, out_bytes;
    int64_t channels;
    const int64_t *mult, *shift;
    int64_t zp, lo, hi;
    int64_t acc_lo, acc_hi; /* range of the accumulator */
    /* y = clamp(r, lo32, hi32) + zp32 equals clamp(r + zp, lo, hi) for every int32 r */
    int32_t lo32, hi32, zp32;
    int32_t vec; /* the SIMD rescale handles this scheme (tflite_double, single) */
    int32_t any_left, any_sat, any_right;
    int32_t *m32;          /* multiplier */
    int32_t *left, *right; /* tflite_double: left shift, right shift */
    int32_t *rmask, *rthr; /* tflite_double: (1 << right) - 1 and its half, for RoundingDivideByPOT */
    /* per 16 channels, the 8 even channels then the 8 odd ones (64-bit lanes):
     * single: n64 = 31 - shift, rnd64 = 2^(30 - shift);
     * tflite_double without left shift: n64 = 31 + r, rnd64 = 2^30 + 2^(r+30), fix64 = 2^31 (0 when r = 0) */
    int64_t *n64, *rnd64, *fix64;
    int32_t sat8; /* int8 output over [-128, 127] and |held| + |zp| < 2^31: narrowing with saturation clamps */
    int32_t fast; /* tflite_double without left shift or INT32_MIN multiplier: the fused SIMD epilogue */
    int32_t single_safe; /* single with every shift <= 0: each rescaled int32 value fits int32, no check */
    void *mem;
} epi_plan;


/* Builds the plan (rq may be NULL or have scheme NONE: the output is the accumulator). Returns INTREF_OK,
 * INTREF_EINVAL for illegal parameters or INTREF_ENOMEM. */
int plan_init(epi_plan *p, const intref_acc *acc, const intref_requant *rq, int64_t channels);
void plan_free(epi_plan *p);
/* Declares that every held value lies in [-bound, bound] (enables the saturating int8 store). */
void plan_set_bound(epi_plan *p, int64_t bound);

/* Exact sums -> held accumulator, output; errors noted with slot offset 0 (ACC, RESCALE, RESULT).
 * exact[i] belongs to flat index flat0 + i, channel c0 + i (channels wrap at p->channels). */
void epi_row_generic(const epi_plan *p, const int64_t *exact, int64_t n, int64_t flat0, int64_t c0, void *acc_out,
                     void *y_out, intref_errs *e);

/* The same for held values already in the accumulator (no policy applied): rescale and store only. */
void epi_row_held_generic(const epi_plan *p, const int64_t *held, int64_t n, int64_t flat0, int64_t c0, void *y_out,
                          intref_errs *e, int slot_rescale);

/* Aligned scratch memory (64 bytes). */
void *mem_alloc(size_t bytes);
void mem_free(void *p);

/* Checked size arithmetic: 0 on overflow (the callers treat it as invalid). */
int64_t size_mul(int64_t a, int64_t b);
/* a * b <= limit for non-negative a, b, without overflow. */
static inline int prod_le(int64_t a, int64_t b, int64_t limit) {
    return a >= 0 && b >= 0 && (a == 0 || b <= limit / a);
}

int isa_supported(int32_t isa);
int clamp_threads(int32_t threads, int64_t work);

/* ------------------------------------------------------------------------------------------- dense */

/* A finished tile of held values whose epilogue is still to run (fast epilogue only). */
typedef struct pending_tile {
    const epi_plan *p;
    const int32_t *tile; /* [rows][ld] */
    int ld, nrows, nch;
    int64_t row0, c0;
    void *y;
} pending_tile;

/* The kernels of one ISA for the dense (GEMM-shaped) ops. Activations are prepared as rows of `xelem`
 * bytes per element: u8 (x ^ 0x80) for VNNI, int16 (x - x_zp) otherwise; weights as panels of pw channels. */
typedef struct dense_kernels {
    int kgran;   /* reduction granularity (elements per lane group): 4, 2 or 1 */
    int xelem;   /* bytes per prepared activation */
    int wx128;   /* the prepared activation is x + 128 (VNNI): the bias needs -(zp + 128) * rowsum(w) */
    int nshapes; /* register-block shapes offered, best first */
    int mr[4];   /* rows per block */
    int pw[4];   /* channels per panel */
    /* Prepares row r (t_out rows of c4 elements; rows outside [0, t) hold the zero point). */
    void (*prep)(const int8_t *x, int64_t t, int64_t c, int64_t c4, int64_t row_begin, int64_t row_end,
                 int64_t pad_left, int32_t x_zp, void *out);
    /* Packs channels [o0, o0 + no) of w into a panel of pw channels: ksize taps of c4 elements each,
     * laid out [tap][c4 / kgran][pw][kgran]. rowsum[i] receives the sum of channel o0 + i's weights;
     * scratch holds 16 * c_in * ksize bytes. */
    void (*pack)(const int8_t *w8, const uint8_t *w4, int64_t c_in, int64_t ksize, int64_t o0, int64_t no, int pw,
                 int64_t c4, void *panel, int64_t *rowsum, int8_t *scratch);
    /* tile[mr][pw] = init (or 0) + sum over taps [0, ntaps) and elements [koff, koff + nk) */
    void (*micro[4])(const void *const *rows, const int64_t *tapoff, int64_t ntaps, int64_t koff, int64_t nk,
                     const void *w, int64_t wtap, const int32_t *init, int32_t *tile);
    /* Optional, for register-block shape 0 with the fast epilogue (plan.fast, held values, no accumulator
     * output): the micro-kernel that also finishes the previous tile's epilogue between its products. */
    void (*pipe)(const void *const *rows, const int64_t *tapoff, int64_t ntaps, int64_t nk, const void *w, int64_t wtap,
                 const int32_t *init, int32_t *tile, const struct pending_tile *pending);
    /* Held values from a tile (mode: see dense.c), rescaled and stored. */
    void (*epi_tile)(const epi_plan *p, int mode, const int32_t *tile, int ld, int nrows, int64_t row0, int64_t c0,
                     int nch, const int32_t *corr, void *acc_out, void *y_out, intref_errs *e);
} dense_kernels;

extern const dense_kernels dense_scalar;

/* Portable preparation and packing (pack.c), used by the kernel tables. */
void prep_u8(const int8_t *x, int64_t t, int64_t c, int64_t c4, int64_t row_begin, int64_t row_end, int64_t pad_left,
             int32_t x_zp, void *out);
void prep_s16(const int8_t *x, int64_t t, int64_t c, int64_t c4, int64_t row_begin, int64_t row_end, int64_t pad_left,
              int32_t x_zp, void *out);
void pack_s8_g4(const int8_t *w8, const uint8_t *w4, int64_t c_in, int64_t ksize, int64_t o0, int64_t no, int pw,
                int64_t c4, void *panel, int64_t *rowsum, int8_t *scratch);
void pack_s16_g2(const int8_t *w8, const uint8_t *w4, int64_t c_in, int64_t ksize, int64_t o0, int64_t no, int pw,
                 int64_t c4, void *panel, int64_t *rowsum, int8_t *scratch);
void pack_s16_g1(const int8_t *w8, const uint8_t *w4, int64_t c_in, int64_t ksize, int64_t o0, int64_t no, int pw,
                 int64_t c4, void *panel, int64_t *rowsum, int8_t *scratch);
/* Row o of a row-packed weight tensor as int8 (unpacking int4 into scratch). */
const int8_t *weight_row(const int8_t *w8, const uint8_t *w4, int64_t row_len, int64_t o, int8_t *scratch);
#if INTREF_X86
extern const dense_kernels dense_avx2;
extern const dense_kernels dense_avx512;
#endif

/* gemv.c: rows [m, k] times int8 weights [n, k] (w) or packed int4 ones (w4, rows of (k + 1) / 2 bytes; the
 * other pointer NULL), m <= GEMV_MAX_ROWS, k <= INTREF_KSAFE, through the plan, finished by the ISA's tile
 * epilogue `epi`. */
typedef void (*gemv_epi)(const epi_plan *p, int mode, const int32_t *tile, int ld, int nrows, int64_t row0,
                         int64_t c0, int nch, const int32_t *corr, void *acc_out, void *y_out, intref_errs *e);
int gemv_run(int32_t isa, int nthreads, const int8_t *x, int64_t m, int64_t k, const int8_t *w, const uint8_t *w4,
             int64_t n, const int32_t *bias, int32_t x_zp, const epi_plan *p, gemv_epi epi, void *acc_out,
             void *y_out, intref_errs *errs);

/* Epilogue modes for a tile of int32 sums */
enum {
    EPI_HELD = 0, /* the tile holds the accumulator itself (no overflow possible) */
    EPI_CORR = 1  /* held = policy(tile + corr), corr int32 per channel */
};

#if INTREF_X86
void epi_tile_avx2(const epi_plan *p, int mode, const int32_t *tile, int ld, int nrows, int64_t row0, int64_t c0,
                   int nch, const int32_t *corr, void *acc_out, void *y_out, intref_errs *e);
void epi_tile_avx512(const epi_plan *p, int mode, const int32_t *tile, int ld, int nrows, int64_t row0, int64_t c0,
                     int nch, const int32_t *corr, void *acc_out, void *y_out, intref_errs *e);
#endif
void epi_tile_scalar(const epi_plan *p, int mode, const int32_t *tile, int ld, int nrows, int64_t row0, int64_t c0,
                     int nch, const int32_t *corr, void *acc_out, void *y_out, intref_errs *e);

/* --------------------------------------------------------------------------------------- depthwise */

typedef struct {
    const int8_t *x;
    int64_t t, c, ksize, stride, dilation, pad_left, t_out;
    int32_t x_zp;
    const int8_t *w8;
    const uint8_t *w4;
    const int32_t *bias;
} dw_args;

/* Computes output channels [c0, c1) of output rows [r0, r1). Sets *oom when scratch memory fails. */
#define DW_ARGS                                                                                                        \
    const dw_args *a, const epi_plan *p, int64_t c0, int64_t c1, int64_t r0, int64_t r1, void *acc_out, void *y_out,   \
        intref_errs *e, int *oom
typedef void (*dw_fn)(DW_ARGS);
void dw_scalar(DW_ARGS);
#if INTREF_X86
void dw_avx2(DW_ARGS);
void dw_avx512(DW_ARGS);
#endif

/* Weight w[o][i] of a row-packed tensor (int8 or int4 nibbles). */
static inline int32_t weight_at(const int8_t *w8, const uint8_t *w4, int64_t row_len, int64_t o, int64_t i) {
    if (w8) return w8[o * row_len + i];
    {
        uint8_t b = w4[o * ((row_len + 1) / 2) + i / 2];
        int32_t nib = (i & 1) ? (b >> 4) : (b & 0x0F);
        return (nib ^ 8) - 8; /* sign-extend the nibble */
    }
}

#endif
