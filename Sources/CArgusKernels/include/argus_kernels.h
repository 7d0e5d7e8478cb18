// Small hand-written kernels where a BLAS call is not the fastest way (measured in Benchmarks/).
#ifndef ARGUS_KERNELS_H
#define ARGUS_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// scores[i] = Σ_j rows[i*d + j] · query[j] for i in [0, count): a matrix–vector product that
/// streams `rows` once. Picks an AVX-512 or AVX2/FMA path at run time when the CPU has one,
/// otherwise a portable loop. Single-threaded: callers split the rows across threads.
void argus_inner_products(const float *rows, size_t count, size_t d, const float *query, float *scores);

/// The portable reference of the same, for tests.
void argus_inner_products_reference(const float *rows, size_t count, size_t d, const float *query, float *scores);

#ifdef __cplusplus
}
#endif

#endif
