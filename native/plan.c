/* Checks an op's accumulator and requantisation parameters and precomputes what the epilogues need. */
#include <string.h>

#include "requant.h"
#include "nn.h"

/* Legal parameters of each scheme (intref/spec/rescale.py SCHEMES). */
static const struct {
    int64_t mlo, mhi, slo, shi;
    int value_bits;
} LIMITS[6] = {
    {I32_MIN, I32_MAX, -31, 30, 32},         /* tflite_double */
    {0, I32_MAX, -31, 30, 32},               /* single */
    {0, I32_MAX, 2, 62, 32},                 /* tosa_double */
    {0, (1 << 15) - 1, 2, 62, 48},           /* tosa_scale16 */
    {0, I32_MAX, 0, 62, 64},                 /* dyadic */
    {0, (INT64_C(1) << 24) - 1, 0, 200, 64}, /* onnx */
};

int rescale_params_ok(int32_t scheme, int64_t m, int64_t s) {
    if (scheme < 0 || scheme > 5) return 0;
    return m >= LIMITS[scheme].mlo && m <= LIMITS[scheme].mhi && s >= LIMITS[scheme].slo && s <= LIMITS[scheme].shi;
}

static int fits_bytes(int64_t v, int bytes) {
    int64_t hi = (int64_t)((UINT64_C(1) << (8 * bytes - 1)) - 1);
    return v >= -hi - 1 && v <= hi;
}

static int64_t pad16(int64_t n) {
    return (n + 15) / 16 * 16;
}

int plan_init(epi_plan *p, const intref_acc *acc, const intref_requant *rq, int64_t channels) {
    int64_t c, npad, i;
    memset(p, 0, sizeof(*p));
    if (!acc || acc->policy < 0 || acc->policy > 2 || acc->bits < 16 || acc->bits > 64) return INTREF_EINVAL;
    if (channels < 1) return INTREF_EINVAL;
    p->policy = acc->policy;
    p->bits = acc->bits;
    p->held64 = acc->bits > 32;
    p->channels = channels;
    p->acc_hi = acc->bits >= 64 ? INT64_MAX : (int64_t)((UINT64_C(1) << (acc->bits - 1)) - 1);
    p->acc_lo = -p->acc_hi - 1;
    p->scheme = INTREF_SCHEME_NONE;
    if (!rq || rq->scheme == INTREF_SCHEME_NONE) return INTREF_OK;

    if (rq->scheme < 0 || rq->scheme > 5) return INTREF_EINVAL;
    if (rq->out_bytes != 1 && rq->out_bytes != 2 && rq->out_bytes != 4) return INTREF_EINVAL;
    if (rq->channels != channels || !rq->multiplier || !rq->shift) return INTREF_EINVAL;
    if (!fits_bytes(rq->zero_point, 4) || rq->lo > rq->hi) return INTREF_EINVAL;
    if (!fits_bytes(rq->lo, rq->out_bytes) || !fits_bytes(rq->hi, rq->out_bytes)) return INTREF_EINVAL;
    if (acc->bits > LIMITS[rq->scheme].value_bits) return INTREF_EINVAL;
    {
        /* the ranges of the parameters, then one comparison each */
        const int64_t *mult = rq->multiplier, *shift = rq->shift;
        int64_t mmin = mult[0], mmax = mult[0], smin = shift[0], smax = shift[0];
        for (c = 1; c < channels; c++) {
            mmin = mult[c] < mmin ? mult[c] : mmin;
            mmax = mult[c] > mmax ? mult[c] : mmax;
            smin = shift[c] < smin ? shift[c] : smin;
            smax = shift[c] > smax ? shift[c] : smax;
        }
        if (mmin < LIMITS[rq->scheme].mlo || mmax > LIMITS[rq->scheme].mhi) return INTREF_EINVAL;
        if (smin < LIMITS[rq->scheme].slo || smax > LIMITS[rq->scheme].shi) return INTREF_EINVAL;
        /* |x * M| <= 2^31 (2^31 - 1) and n = 31 - shift >= 31: (x * M + 2^(n-1)) >> n stays inside int32 */
        p->single_safe = rq->scheme == INTREF_SCHEME_SINGLE && smax <= 0;
    }
    p->scheme = rq->scheme;
    p->out_bytes = rq->out_bytes;
    p->mult = rq->multiplier;
    p->shift = rq->shift;
    p->zp = rq->zero_point;
    p->lo = rq->lo;
    p->hi = rq->hi;

    /* clamp(r + zp, lo, hi) == clamp(r, lo - zp, hi - zp) + zp; when a bound leaves int32 every int32 r
     * clamps to the same value, which is then written as a constant bound plus an adjusted zero point. */
    if (p->lo - p->zp > I32_MAX) {
        p->lo32 = p->hi32 = I32_MAX;
        p->zp32 = (int32_t)(p->lo - I32_MAX);
    } else if (p->hi - p->zp < I32_MIN) {
        p->lo32 = p->hi32 = I32_MIN;
        p->zp32 = (int32_t)(p->hi - I32_MIN);
    } else {
        int64_t lo = p->lo - p->zp, hi = p->hi - p->zp;
        p->lo32 = (int32_t)(lo < I32_MIN ? I32_MIN : lo);
        p->hi32 = (int32_t)(hi > I32_MAX ? I32_MAX : hi);
        p->zp32 = (int32_t)p->zp;
    }

    p->vec = acc->bits <= 32 && (p->scheme == INTREF_SCHEME_TFLITE_DOUBLE || p->scheme == INTREF_SCHEME_SINGLE);
    if (!p->vec) return INTREF_OK;
    npad = pad16(channels);
    {
        /* tflite_double needs all eight tables; single only m32, n64 and rnd64 (the others stay NULL: nothing
         * reads them for single, and a read would fault rather than see stale values) */
        const int tfl = p->scheme == INTREF_SCHEME_TFLITE_DOUBLE;
        const size_t bytes32 = (size_t)npad * sizeof(int32_t), bytes64 = (size_t)npad * sizeof(int64_t);
        const size_t total = tfl ? 5 * bytes32 + 3 * bytes64 : bytes32 + 2 * bytes64;
        unsigned char *mem = (unsigned char *)mem_alloc(total);
        if (!mem) return INTREF_ENOMEM;
        p->mem = mem;
        p->m32 = (int32_t *)mem;
        p->n64 = (int64_t *)(mem + bytes32);
        p->rnd64 = (int64_t *)(mem + bytes32 + bytes64);
        if (tfl) {
            p->fix64 = (int64_t *)(mem + bytes32 + 2 * bytes64);
            p->left = (int32_t *)(mem + bytes32 + 3 * bytes64);
            p->right = p->left + npad;
            p->rmask = p->right + npad;
            p->rthr = p->rmask + npad;
        }
    }
    {
        /* local pointers: the stores cannot alias the plan's fields, so nothing is reloaded per channel */
        int32_t *m32 = p->m32, *left = p->left, *right = p->right, *rmask = p->rmask, *rthr = p->rthr;
        int64_t *n64 = p->n64, *rnd64 = p->rnd64, *fix64 = p->fix64;
        const int64_t *mult = p->mult, *shift = p->shift;
        int any_left = 0, any_right = 0, any_sat = 0;
        for (i = 0; i < npad; i++) {
            const int64_t m = i < channels ? mult[i] : 0, s = i < channels ? shift[i] : 0;
            const int64_t lane = i & 15, slot = (i & ~(int64_t)15) + (lane & 1) * 8 + (lane >> 1);
            m32[i] = (int32_t)m;
            if (p->scheme == INTREF_SCHEME_TFLITE_DOUBLE) {
                const int32_t r = s < 0 ? (int32_t)-s : 0;
                left[i] = s > 0 ? (int32_t)s : 0;
                right[i] = r;
                rmask[i] = (int32_t)((UINT64_C(1) << r) - 1);
                rthr[i] = rmask[i] >> 1;
                any_left |= s > 0;
                any_right |= r != 0;
                any_sat |= m == I32_MIN;
                /* both roundings as one: floor((x*M + 2^30 + 2^(r+30) - [x*M + 2^30 < 0] * 2^31) / 2^(31+r)) */
                n64[slot] = 31 + r;
                rnd64[slot] = ((int64_t)1 << 30) + (r ? (int64_t)1 << (r + 30) : 0);
                fix64[slot] = r ? (int64_t)1 << 31 : 0;
            } else {
                n64[slot] = 31 - s;
                rnd64[slot] = (int64_t)1 << (30 - s);
            }
        }
        p->any_left = any_left;
        p->any_right = any_right;
        p->any_sat = any_sat;
    }
    p->fast = p->scheme == INTREF_SCHEME_TFLITE_DOUBLE && !p->any_left && !p->any_sat;
    return INTREF_OK;
}

void plan_set_bound(epi_plan *p, int64_t bound) {
    int64_t zp = p->zp < 0 ? -p->zp : p->zp;
    p->sat8 =
        p->scheme >= 0 && p->out_bytes == 1 && p->lo == -128 && p->hi == 127 && bound >= 0 && bound <= I32_MAX - zp;
}

void plan_free(epi_plan *p) {
    mem_free(p->mem);
    p->mem = NULL;
}

void epi_row_generic(const epi_plan *p, const int64_t *exact, int64_t n, int64_t flat0, int64_t c0, void *acc_out,
                     void *y_out, intref_errs *e) {
    int64_t i, c = c0 % p->channels;
    for (i = 0; i < n; i++) {
        epi_one(p, exact[i], flat0 + i, c, acc_out, y_out, e);
        if (++c == p->channels) c = 0;
    }
}

void epi_row_held_generic(const epi_plan *p, const int64_t *held, int64_t n, int64_t flat0, int64_t c0, void *y_out,
                          intref_errs *e, int slot_rescale) {
    int64_t i, c = c0 % p->channels, r;
    for (i = 0; i < n; i++) {
        int bad = rescale_one(p->scheme, held[i], p->mult[c], p->shift[c], &r);
        if (bad)
            err_note(e, slot_rescale + bad - INTREF_SLOT_RESCALE, flat0 + i, held[i]);
        else
            store_out(y_out, p->out_bytes, flat0 + i, clamp_zp(p, r));
        if (++c == p->channels) c = 0;
    }
}
