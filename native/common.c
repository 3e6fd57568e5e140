/* Small shared services: error slots, scratch memory, checked sizes, thread counts. */
#include <stdlib.h>
#include <string.h>

#include "nn.h"

void errs_init(intref_errs *e) {
    int i;
    for (i = 0; i < INTREF_NSLOTS; i++) {
        e->index[i] = -1;
        e->value[i] = 0;
    }
}

void errs_merge(intref_errs *into, const intref_errs *from) {
    int i;
    for (i = 0; i < INTREF_NSLOTS; i++)
        if (from->index[i] >= 0) err_note(into, i, from->index[i], from->value[i]);
}

int errs_status(const intref_errs *e, intref_status *status) {
    int i;
    for (i = 0; i < INTREF_NSLOTS; i++) {
        if (e->index[i] >= 0) {
            status->code = INTREF_ARITH;
            status->slot = i;
            status->index = e->index[i];
            status->value = e->value[i];
            return INTREF_ARITH;
        }
    }
    status->code = INTREF_OK;
    return INTREF_OK;
}

/* malloc keeps no alignment promise beyond 16 bytes; store the original pointer just below the block. */
void *mem_alloc(size_t bytes) {
    unsigned char *raw, *aligned;
    if (bytes > SIZE_MAX - 128) return NULL;
    raw = (unsigned char *)malloc(bytes + 128);
    if (!raw) return NULL;
    aligned = raw + 64 - ((uintptr_t)raw & 63);
    if (aligned - raw < (ptrdiff_t)sizeof(void *)) aligned += 64;
    memcpy(aligned - sizeof(void *), &raw, sizeof(void *));
    return aligned;
}

void mem_free(void *p) {
    void *raw;
    if (!p) return;
    memcpy(&raw, (unsigned char *)p - sizeof(void *), sizeof(void *));
    free(raw);
}

int64_t size_mul(int64_t a, int64_t b) {
    if (a < 0 || b < 0) return 0;
    if (a == 0 || b == 0) return 0;
    if (a > INT64_MAX / 4 / b) return 0;
    return a * b;
}

/* At most one thread per core-sized piece of work; never more than requested or 256. */
int clamp_threads(int32_t threads, int64_t work) {
    int64_t t = threads < 1 ? 1 : threads;
    if (t > 256) t = 256;
    if (work < t) t = work < 1 ? 1 : work;
    return (int)t;
}

void split_rows(int64_t rows, int t, int n, int64_t *r0, int64_t *r1) {
    /* equal shares in row order: thread t's rows depend only on (rows, n) */
    *r0 = rows * t / n;
    *r1 = rows * (t + 1) / n;
}
