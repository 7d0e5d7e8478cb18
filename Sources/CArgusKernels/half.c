// Half-precision (IEEE binary16) copies of templates and the scan over them.
#include "argus_kernels.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

// Round-to-nearest-even float -> binary16, handling subnormals, infinities and NaN.
static uint16_t argus_f32_to_f16_scalar(float value) {
    uint32_t x;
    memcpy(&x, &value, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mag = x & 0x7FFFFFFFu;
    if (mag >= 0x7F800000u) return (uint16_t)(sign | 0x7C00u | (mag > 0x7F800000u ? 0x200u : 0));  // inf / nan
    if (mag >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);  // rounds past the largest half
    if (mag < 0x38800000u) {  // below the smallest normal half: subnormal or zero
        float f;
        memcpy(&f, &mag, 4);
        // Scale so the subnormal grid (2^-24) becomes integers, then round to nearest even.
        float scaled = f * 16777216.0f;
        return (uint16_t)(sign | (uint32_t)nearbyintf(scaled));
    }
    uint32_t exponent = ((mag >> 23) - 112) << 10;
    uint32_t mantissa = mag & 0x7FFFFFu;
    uint32_t half = exponent | (mantissa >> 13);
    uint32_t rest = mantissa & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1))) half++;
    return (uint16_t)(sign | half);
}

static float argus_f16_to_f32_scalar(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu;
    float f;
    if (exponent == 0) {
        f = (float)mantissa * (1.0f / 16777216.0f);
        uint32_t bits;
        memcpy(&bits, &f, 4);
        bits |= sign;
        memcpy(&f, &bits, 4);
        return f;
    }
    uint32_t bits = exponent == 31 ? (sign | 0x7F800000u | (mantissa << 13)) : (sign | ((exponent + 112) << 23) | (mantissa << 13));
    memcpy(&f, &bits, 4);
    return f;
}

// F16C converts eight values per instruction with the same round-to-nearest-even.
__attribute__((target("avx,f16c")))
static void argus_f32_to_f16_f16c(const float *source, uint16_t *destination, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(source + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)(destination + i), h);
    }
    for (; i < count; i++) destination[i] = argus_f32_to_f16_scalar(source[i]);
}

static int argus_has_f16c = 0;  // set by the constructor below, before main

void argus_f32_to_f16(const float *source, uint16_t *destination, size_t count) {
    if (argus_has_f16c) {
        argus_f32_to_f16_f16c(source, destination, count);
        return;
    }
    for (size_t i = 0; i < count; i++) destination[i] = argus_f32_to_f16_scalar(source[i]);
}

void argus_inner_products_f16_reference(const uint16_t *rows, size_t count, size_t d, const float *query, float *scores) {
    for (size_t i = 0; i < count; i++) {
        float sum = 0;
        for (size_t j = 0; j < d; j++) sum += argus_f16_to_f32_scalar(rows[i * d + j]) * query[j];
        scores[i] = sum;
    }
}

__attribute__((target("avx512f")))
static void argus_inner_products_f16_avx512(const uint16_t *rows, size_t count, size_t d, const float *query, float *scores) {
    size_t dv = d & ~(size_t)15;
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        const uint16_t *r0 = rows + i * d, *r1 = r0 + d, *r2 = r1 + d, *r3 = r2 + d;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        for (size_t j = 0; j < dv; j += 16) {
            __m512 q = _mm512_loadu_ps(query + j);
            a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r0 + j))), q, a0);
            a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r1 + j))), q, a1);
            a2 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r2 + j))), q, a2);
            a3 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r3 + j))), q, a3);
        }
        float out[4] = { _mm512_reduce_add_ps(a0), _mm512_reduce_add_ps(a1), _mm512_reduce_add_ps(a2), _mm512_reduce_add_ps(a3) };
        for (size_t j = dv; j < d; j++) {
            out[0] += argus_f16_to_f32_scalar(r0[j]) * query[j];
            out[1] += argus_f16_to_f32_scalar(r1[j]) * query[j];
            out[2] += argus_f16_to_f32_scalar(r2[j]) * query[j];
            out[3] += argus_f16_to_f32_scalar(r3[j]) * query[j];
        }
        for (int k = 0; k < 4; k++) scores[i + k] = out[k];
    }
    argus_inner_products_f16_reference(rows + i * d, count - i, d, query, scores + i);
}

__attribute__((target("avx2,fma,f16c")))
static void argus_inner_products_f16_avx2(const uint16_t *rows, size_t count, size_t d, const float *query, float *scores) {
    size_t dv = d & ~(size_t)7;
    for (size_t i = 0; i < count; i++) {
        const uint16_t *r = rows + i * d;
        __m256 a = _mm256_setzero_ps();
        for (size_t j = 0; j < dv; j += 8)
            a = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r + j))), _mm256_loadu_ps(query + j), a);
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        float sum = _mm_cvtss_f32(s);
        for (size_t j = dv; j < d; j++) sum += argus_f16_to_f32_scalar(r[j]) * query[j];
        scores[i] = sum;
    }
}

typedef void (*argus_f16_fn)(const uint16_t *, size_t, size_t, const float *, float *);
static argus_f16_fn argus_f16_impl = argus_inner_products_f16_reference;

__attribute__((constructor))
static void argus_f16_select(void) {
    __builtin_cpu_init();
    argus_has_f16c = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
    if (__builtin_cpu_supports("avx512f")) argus_f16_impl = argus_inner_products_f16_avx512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        argus_f16_impl = argus_inner_products_f16_avx2;
}

void argus_inner_products_f16(const uint16_t *rows, size_t count, size_t d, const float *query, float *scores) {
    argus_f16_impl(rows, count, d, query, scores);
}
