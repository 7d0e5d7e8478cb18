#include "argus_conv.h"

#include <string.h>

// Zeros a padded position (or a tile's missing pixel) reads: as many as the longest run a
// microkernel reads from one pointer (C channels, or K gathered values).
#define ARGUS_CONV_ZEROS 8192
static const float argus_conv_zeros[ARGUS_CONV_ZEROS] __attribute__((aligned(64))) = {0};

// How the microkernel reaches a pixel's inputs (see `table` in conv_tile.h).
enum { ARGUS_CONV_FORM_TAPS, ARGUS_CONV_FORM_ROWS, ARGUS_CONV_FORM_GATHER };

static inline int argus_conv_form(const argus_conv_shape *s) {
    if (s->pad_x == 0) return ARGUS_CONV_FORM_ROWS;
    // With few channels a pointer per tap would feed the kernel 3 floats at a time.
    return s->in_c < 8 ? ARGUS_CONV_FORM_GATHER : ARGUS_CONV_FORM_TAPS;
}

static inline int64_t argus_conv_table_taps(const argus_conv_shape *s) {
    switch (argus_conv_form(s)) {
    case ARGUS_CONV_FORM_ROWS: return s->kh;
    case ARGUS_CONV_FORM_GATHER: return 1;
    default: return (int64_t)s->kh * s->kw;
    }
}

static inline size_t argus_conv_table_bytes(int64_t padded, int64_t taps) {
    return ((size_t)(padded * taps) * sizeof(float *) + 63) / 64 * 64;
}

#define CONV_NAME(x) x##_portable
#define CONV_VL 4
#define CONV_MR 6
#define CONV_TARGET
#include "conv_tile.h"
#undef CONV_NAME
#undef CONV_VL
#undef CONV_MR
#undef CONV_TARGET

#if defined(__x86_64__)
#define CONV_NAME(x) x##_avx2
#define CONV_VL 8
#define CONV_MR 6
#define CONV_TARGET __attribute__((target("avx2,fma")))
#include "conv_tile.h"
#undef CONV_NAME
#undef CONV_VL
#undef CONV_MR
#undef CONV_TARGET

#define CONV_NAME(x) x##_wide16
#define CONV_VL 16
#define CONV_MR 8
#define CONV_TARGET __attribute__((target("avx2,fma")))
#include "conv_tile.h"
#undef CONV_NAME
#undef CONV_VL
#undef CONV_MR
#undef CONV_TARGET

#define CONV_NAME(x) x##_avx512
#define CONV_VL 16
#define CONV_MR 8
#define CONV_TARGET __attribute__((target("avx512f,fma")))
#include "conv_tile.h"
#undef CONV_NAME
#undef CONV_VL
#undef CONV_MR
#undef CONV_TARGET
#endif

int argus_conv_isa_supported(argus_conv_isa isa) {
    switch (isa) {
    case ARGUS_CONV_PORTABLE: return 1;
#if defined(__x86_64__)
    case ARGUS_CONV_AVX2:
    case ARGUS_CONV_WIDE16_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case ARGUS_CONV_AVX512: return __builtin_cpu_supports("avx512f");
#endif
    default: return 0;
    }
}

argus_conv_isa argus_conv_best_isa(void) {
    if (argus_conv_isa_supported(ARGUS_CONV_AVX512)) return ARGUS_CONV_AVX512;
    if (argus_conv_isa_supported(ARGUS_CONV_AVX2)) return ARGUS_CONV_AVX2;
    return ARGUS_CONV_PORTABLE;
}

int32_t argus_conv_tile_filters(argus_conv_isa isa) {
    switch (isa) {
    case ARGUS_CONV_AVX2: return 16;
    case ARGUS_CONV_AVX512:
    case ARGUS_CONV_WIDE16_AVX2: return 32;
    default: return 8;
    }
}

int32_t argus_conv_tile_pixels(argus_conv_isa isa) {
    switch (isa) {
    case ARGUS_CONV_AVX512:
    case ARGUS_CONV_WIDE16_AVX2: return 8;
    default: return 6;
    }
}

int argus_conv_supported(const argus_conv_shape *s) {
    const int64_t k = (int64_t)s->kh * s->kw * s->in_c;
    if (s->in_c <= 0 || s->filters <= 0 || s->kh <= 0 || s->kw <= 0 || s->stride_y <= 0 || s->stride_x <= 0) return 0;
    // The longest run one pointer covers must fit in the zeros a padded position reads.
    return k / argus_conv_table_taps(s) <= ARGUS_CONV_ZEROS;
}

size_t argus_conv_packed_count(const argus_conv_shape *s, argus_conv_isa isa) {
    const size_t nr = (size_t)argus_conv_tile_filters(isa);
    const size_t tiles = ((size_t)s->filters + nr - 1) / nr;
    const size_t k = (size_t)s->kh * s->kw * s->in_c;
    return tiles * nr + tiles * k * nr;
}

void argus_conv_pack(const argus_conv_shape *s, argus_conv_isa isa, const float *kf, const float *bias, float *packed) {
    const int64_t nr = argus_conv_tile_filters(isa), f = s->filters;
    const int64_t tiles = (f + nr - 1) / nr, k = (int64_t)s->kh * s->kw * s->in_c;
    memset(packed, 0, argus_conv_packed_count(s, isa) * sizeof(float));
    for (int64_t j = 0; j < f; j++) packed[j] = bias[j];
    float *w = packed + tiles * nr;
    for (int64_t tile = 0; tile < tiles; tile++) {
        for (int64_t row = 0; row < k; row++) {
            for (int64_t l = 0; l < nr && tile * nr + l < f; l++) w[(tile * k + row) * nr + l] = kf[row * f + tile * nr + l];
        }
    }
}

// A chunk's inputs (≈ pixels · C · stride², or its gathered rows) are sized to stay in the L2
// cache while each filter tile's weights stream over them; with several threads, chunks are
// made small enough for every thread to get about four items.
int64_t argus_conv_chunk(const argus_conv_shape *s, argus_conv_isa isa, int64_t images, int64_t workers) {
    const int64_t mr = argus_conv_tile_pixels(isa);
    const int64_t k = (int64_t)s->kh * s->kw * s->in_c;
    const int64_t perPixel = argus_conv_form(s) == ARGUS_CONV_FORM_GATHER ? k * 4 : (int64_t)s->in_c * 4 * s->stride_y * s->stride_x;
    int64_t chunk = (128 * 1024) / (perPixel > 0 ? perPixel : 1);
    if (chunk > 2048) chunk = 2048;
    chunk = chunk / mr * mr;
    if (chunk < 4 * mr) chunk = 4 * mr;
    const int64_t pixels = images * s->out_h * s->out_w;
    if (workers > 1) {
        const int64_t nr = argus_conv_tile_filters(isa), tiles = (s->filters + nr - 1) / nr;
        while (chunk > mr && ((pixels + chunk - 1) / chunk) * tiles < 4 * workers) chunk = (chunk / 2 + mr - 1) / mr * mr;
    }
    const int64_t all = (pixels + mr - 1) / mr * mr;
    return chunk < all ? chunk : (all > 0 ? all : mr);
}

int64_t argus_conv_items(const argus_conv_shape *s, argus_conv_isa isa, int64_t images, int64_t chunk) {
    const int64_t nr = argus_conv_tile_filters(isa), tiles = (s->filters + nr - 1) / nr;
    const int64_t pixels = images * s->out_h * s->out_w;
    return (pixels + chunk - 1) / chunk * tiles;
}

size_t argus_conv_scratch_bytes(const argus_conv_shape *s, argus_conv_isa isa, int64_t chunk) {
    const int64_t mr = argus_conv_tile_pixels(isa);
    const int64_t padded = (chunk + mr - 1) / mr * mr, k = (int64_t)s->kh * s->kw * s->in_c;
    const size_t table = argus_conv_table_bytes(padded, argus_conv_table_taps(s));
    return argus_conv_form(s) == ARGUS_CONV_FORM_GATHER ? table + (size_t)(padded * k) * sizeof(float) : table;
}

void argus_conv_run(const argus_conv_shape *s, argus_conv_isa isa, const float *packed, const float *input,
                    int64_t images, float *output, const float *residual, int64_t chunk,
                    int64_t item_begin, int64_t item_end, void *scratch) {
    switch (isa) {
#if defined(__x86_64__)
    case ARGUS_CONV_AVX2:
        run_avx2(s, packed, input, images, output, residual, chunk, item_begin, item_end, scratch);
        return;
    case ARGUS_CONV_WIDE16_AVX2:
        run_wide16(s, packed, input, images, output, residual, chunk, item_begin, item_end, scratch);
        return;
    case ARGUS_CONV_AVX512:
        run_avx512(s, packed, input, images, output, residual, chunk, item_begin, item_end, scratch);
        return;
#endif
    default:
        run_portable(s, packed, input, images, output, residual, chunk, item_begin, item_end, scratch);
    }
}
