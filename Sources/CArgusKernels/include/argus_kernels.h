// Small hand-written kernels where a BLAS call is not the fastest way (measured in Benchmarks/).
#ifndef ARGUS_KERNELS_H
#define ARGUS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// scores[i] = Σ_j rows[i*d + j] · query[j] for i in [0, count): a matrix–vector product that
/// streams `rows` once. Picks an AVX-512 or AVX2/FMA path at run time when the CPU has one,
/// otherwise a portable loop. Single-threaded: callers split the rows across threads.
void argus_inner_products(const float *rows, size_t count, size_t d, const float *query, float *scores);

/// The portable reference of the same, for tests.
void argus_inner_products_reference(const float *rows, size_t count, size_t d, const float *query, float *scores);

/// IEEE binary16 copies, rounded to nearest even (the error bound search relies on).
void argus_f32_to_f16(const float *source, uint16_t *destination, size_t count);

/// scores[i] = Σ_j half(rows[i*d + j]) · query[j], accumulated in Float32 (AVX-512 / F16C when present).
void argus_inner_products_f16(const uint16_t *rows, size_t count, size_t d, const float *query, float *scores);
void argus_inner_products_f16_reference(const uint16_t *rows, size_t count, size_t d, const float *query, float *scores);

#ifdef __cplusplus
}
#endif

/// Returns memory the allocator holds but nobody uses to the system (glibc's malloc_trim(0)).
int argus_release_free_memory(void);

/// Fixes the size from which glibc's malloc maps a block of its own (handed back to the system
/// when freed) instead of carving it from an arena; setting it also stops glibc raising it to the
/// largest block freed so far. Returns 1 on success.
int argus_fix_mmap_threshold(size_t bytes);

#endif
