/* The int8 peak of this machine, measured: a register-only loop of independent dot products (24 chains,
 * more than the unit's latency times its throughput), so the bench can report a fraction of it. Many short
 * runs, best kept: the machine may be shared, and a run that is interrupted only lowers the estimate. */
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal.h"

#if INTREF_X86
#include <immintrin.h>

#define CHAINS 24

/* Written in assembly so that the compiler cannot spill or reorder: 24 accumulators zmm0..zmm23, sources
 * zmm24..zmm27 (u8) and zmm31 (s8). */
// clang-format off
#define DP(acc, src) "vpdpbusd %%zmm" #src ", %%zmm31, %%zmm" #acc "\n\t"
static INTREF_TARGET_AVX512 int64_t loop_vnni(int64_t iters) {
    int64_t n = iters;
    __asm__ volatile(
        "vpternlogd $0xff, %%zmm31, %%zmm31, %%zmm31\n\t"
        "vpxord %%zmm24, %%zmm24, %%zmm24\n\t"
        "vpxord %%zmm25, %%zmm25, %%zmm25\n\t"
        "vpxord %%zmm26, %%zmm26, %%zmm26\n\t"
        "vpxord %%zmm27, %%zmm27, %%zmm27\n\t"
        "1:\n\t" DP(0, 24) DP(1, 25) DP(2, 26) DP(3, 27) DP(4, 24) DP(5, 25) DP(6, 26) DP(7, 27) DP(8, 24) DP(9, 25)
            DP(10, 26) DP(11, 27) DP(12, 24) DP(13, 25) DP(14, 26) DP(15, 27) DP(16, 24) DP(17, 25) DP(18, 26)
                DP(19, 27) DP(20, 24) DP(21, 25) DP(22, 26) DP(23, 27) "dec %0\n\t"
                                                                       "jnz 1b\n\t"
        : "+r"(n)
        :
        : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
          "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
          "xmm24", "xmm25", "xmm26", "xmm27", "xmm31");
    return n;
}
#undef DP
// clang-format on

// clang-format off
/* vpmaddwd + vpaddd on 12 accumulators ymm0..ymm11; sources ymm14, ymm15; ymm12/ymm13 hold products. */
#define MA(acc, tmp) "vpmaddwd %%ymm14, %%ymm15, %%ymm" #tmp "\n\t vpaddd %%ymm" #tmp ", %%ymm" #acc ", %%ymm" #acc "\n\t"
static INTREF_TARGET_AVX2 int64_t loop_avx2(int64_t iters) {
    int64_t n = iters;
    __asm__ volatile(
        "vpcmpeqd %%ymm14, %%ymm14, %%ymm14\n\t"
        "vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
        "1:\n\t" MA(0, 12) MA(1, 13) MA(2, 12) MA(3, 13) MA(4, 12) MA(5, 13) MA(6, 12) MA(7, 13) MA(8, 12) MA(9, 13)
            MA(10, 12) MA(11, 13) "dec %0\n\t"
                                  "jnz 1b\n\t"
        : "+r"(n)
        :
        : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
          "xmm12", "xmm13", "xmm14", "xmm15");
    return n;
}
#undef MA
// clang-format on
#endif

static double now(void) {
#ifdef _OPENMP
    return omp_get_wtime();
#else
    return (double)clock() / CLOCKS_PER_SEC;
#endif
}

static volatile int64_t sink;

double intref_peak_macs(int32_t isa, int32_t threads, double seconds) {
#if INTREF_X86
    int nt = clamp_threads(threads, 256);
    int64_t iters = 20000, macs_per_iter;
    double best = 0;
    if (!isa_supported(isa) || isa == INTREF_ISA_SCALAR) return -1.0;
    macs_per_iter = isa == INTREF_ISA_AVX512VNNI ? CHAINS * 64 : 12 * 16;
    {
        double end = now() + (seconds > 0 ? seconds : 0.2);
        do {
            double t0 = now(), dt;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
            {
                int64_t r = isa == INTREF_ISA_AVX512VNNI ? loop_vnni(iters) : loop_avx2(iters);
#ifdef _OPENMP
#pragma omp atomic
#endif
                sink += r;
            }
            dt = now() - t0;
            if (dt > 0 && (double)iters * macs_per_iter * nt / dt > best)
                best = (double)iters * macs_per_iter * nt / dt;
        } while (now() < end);
    }
    return best;
#else
    (void)isa;
    (void)threads;
    (void)seconds;
    return -1.0;
#endif
}
