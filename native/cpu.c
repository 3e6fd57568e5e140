/* Which ISAs this CPU runs, and the version/build identity of the module. */
#include "internal.h"

int intref_abi_version(void) {
    return 3;
}

const char *intref_build_kind(void) {
#ifdef INTREF_SANITIZED
    return "sanitized";
#else
    return "release";
#endif
}

uint32_t intref_cpu_isas(void) {
    uint32_t isas = 1u << INTREF_ISA_SCALAR;
#if INTREF_X86
    /* __builtin_cpu_supports also checks that the OS saves the wide registers (XCR0). */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) isas |= 1u << INTREF_ISA_AVX2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
        isas |= 1u << INTREF_ISA_AVX512VNNI;
#endif
    return isas;
}

int isa_supported(int32_t isa) {
    if (isa < 0 || isa > INTREF_ISA_AVX512VNNI) return 0;
    return (intref_cpu_isas() >> isa) & 1u;
}
