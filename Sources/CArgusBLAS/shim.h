// OpenBLAS's CBLAS interface plus its thread controls. Debian installs the header
// under the variant's own include directory, which pkg-config `openblas` names.
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

// A DYNAMIC_ARCH OpenBLAS (Debian's) picks its kernels once, when it loads, from CPUID or
// OPENBLAS_CORETYPE. These two (exported by such builds, absent from others: weak) let the
// process pick again before its first BLAS call.
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

/// Switches OpenBLAS to the named kernel set (as OPENBLAS_CORETYPE would at load).
/// Returns 0 when this OpenBLAS cannot switch. Call before any BLAS work starts.
static inline int argus_blas_force_core(const char *name) {
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit) return 0;
    if (setenv("OPENBLAS_CORETYPE", name, 1) != 0) return 0;
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    return 1;
}

/// The OpenBLAS kernel set this CPU's instructions allow ("SkylakeX" with AVX-512 F/BW/DQ/VL,
/// "Haswell" with AVX2 and FMA), or NULL: for CPUs newer than the OpenBLAS build knows.
static inline const char *argus_blas_core_for_cpu(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}
