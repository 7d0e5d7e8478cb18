#include "argus_conv.h"

#include <string.h>

// Zeros a padded position (or a tile's missing pixel) reads: as many as the longest run a
// microkernel reads from one pointer (C channels, or K gathered values).
#define ARGUS_CONV_ZEROS 8192
// Kernels up to this many taps get the table's fast path for windows inside the image.
#define ARGUS_CONV_MAX_TAPS 64
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

// A plane row: the padded input row plus room for the last block of 4 vectors of 16 lanes to
// read past its end (zeros).
static inline int64_t argus_conv_plane_width(const argus_conv_shape *s) {
    return ((int64_t)s->in_w + 2 * s->pad_x + 64 + 15) / 16 * 16;
}

static inline int32_t argus_conv_lanes(argus_conv_isa isa) {
    switch (isa) {
    case ARGUS_CONV_AVX2: return 8;
    case ARGUS_CONV_AVX512:
    case ARGUS_CONV_WIDE16_AVX2: return 16;
    default: return 4;
    }
}

// Winograd's transformed weights take 16/9 (3×3) or 64/25 (5×5) the room of the kernel's, and are
// kept beside its direct packing (small outputs run direct): layers above 128 input channels
// (three quarters of the ResNet's weights, an eighth of its time) stay direct only, which keeps a
// loaded model small.
#define ARGUS_WINO_MAX_CHANNELS 128

int argus_conv_winograd(const argus_conv_shape *s, argus_conv_isa isa) {
    if (s->in_c > ARGUS_WINO_MAX_CHANNELS) return 0;
    const int same3 = s->kh == 3 && s->kw == 3 && s->pad_y == 1 && s->pad_x == 1;
    const int same5 = s->kh == 5 && s->kw == 5 && s->pad_y == 2 && s->pad_x == 2;
    return s->winograd && (same3 || same5) && s->stride_y == 1 && s->stride_x == 1 &&
           s->in_c % argus_conv_lanes(isa) == 0 && 4 * s->in_c <= ARGUS_CONV_ZEROS && s->filters > 1;
}

// 3×3 sub-kernels per side of the kernel: 1 for 3×3, 2 for 5×5 (padded to 6×6).
static inline int64_t argus_wino_side(const argus_conv_shape *s) { return (s->kh + 2) / 3; }

// Tiles per Winograd block: the block's V (16 · K floats a tile) and M (16 · F) within ~192 KB.
static inline int64_t argus_wino_block(const argus_conv_shape *s, int64_t mr, int64_t nr) {
    const int64_t fp = (s->filters + nr - 1) / nr * nr, kc = argus_wino_side(s) * argus_wino_side(s) * s->in_c;
    int64_t block = (192 * 1024) / (64 * (kc + fp));
    if (block > 256) block = 256;
    block = block / mr * mr;
    return block < mr ? mr : block;
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
    if (s->in_c <= 0 || s->filters <= 0 || s->kh <= 0 || s->kw <= 0 || s->stride_y <= 0 || s->stride_x <= 0 ||
        s->pad_y < 0 || s->pad_x < 0) return 0;
    // The longest run one pointer covers must fit in the zeros a padded position reads.
    return k / argus_conv_table_taps(s) <= ARGUS_CONV_ZEROS;
}

size_t argus_conv_packed_count(const argus_conv_shape *s, argus_conv_isa isa) {
    const size_t nr = (size_t)argus_conv_tile_filters(isa);
    const size_t tiles = ((size_t)s->filters + nr - 1) / nr;
    if (argus_conv_winograd(s, isa)) {
        const size_t side = (size_t)argus_wino_side(s);
        return tiles * nr + 16 * tiles * side * side * (size_t)s->in_c * nr;
    }
    const size_t k = (size_t)s->kh * s->kw * s->in_c;
    return tiles * nr + tiles * k * nr;
}

void argus_conv_pack(const argus_conv_shape *s, argus_conv_isa isa, const float *kf, const float *bias, float *packed) {
    const int64_t nr = argus_conv_tile_filters(isa), f = s->filters;
    const int64_t tiles = (f + nr - 1) / nr, k = (int64_t)s->kh * s->kw * s->in_c;
    memset(packed, 0, argus_conv_packed_count(s, isa) * sizeof(float));
    for (int64_t j = 0; j < f; j++) packed[j] = bias[j];
    float *w = packed + tiles * nr;
    if (argus_conv_winograd(s, isa)) {
        // U = G g Gᵀ per (filter, sub-kernel, channel), in double, as [ξ][filter tile][sub·C + c][nr].
        const int64_t c = s->in_c, side = argus_wino_side(s), kc = side * side * c;
        static const double g4[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
        for (int64_t j = 0; j < f; j++) {
            for (int64_t sc = 0; sc < kc; sc++) {
                const int64_t sub = sc / c, ch = sc % c, u0 = 3 * (sub / side), v0 = 3 * (sub % side);
                double g[3][3], t[4][3];
                for (int u = 0; u < 3; u++)
                    for (int v = 0; v < 3; v++) {
                        const int64_t ku = u0 + u, kv = v0 + v;
                        g[u][v] = ku < s->kh && kv < s->kw ? kf[((ku * s->kw + kv) * c + ch) * f + j] : 0;
                    }
                for (int i = 0; i < 4; i++)
                    for (int v = 0; v < 3; v++) t[i][v] = g4[i][0] * g[0][v] + g4[i][1] * g[1][v] + g4[i][2] * g[2][v];
                for (int i = 0; i < 4; i++) {
                    for (int k = 0; k < 4; k++) {
                        const double u = t[i][0] * g4[k][0] + t[i][1] * g4[k][1] + t[i][2] * g4[k][2];
                        const int64_t xi = i * 4 + k, tile = j / nr, lane = j % nr;
                        w[((xi * tiles + tile) * kc + sc) * nr + lane] = (float)u;
                    }
                }
            }
        }
        return;
    }
    for (int64_t tile = 0; tile < tiles; tile++) {
        for (int64_t row = 0; row < k; row++) {
            for (int64_t l = 0; l < nr && tile * nr + l < f; l++) w[(tile * k + row) * nr + l] = kf[row * f + tile * nr + l];
        }
    }
}

// A chunk's inputs (≈ pixels · C · stride², or its gathered rows) are sized to stay in the L2
// cache while each filter tile's weights stream over them. With several threads the pixels are
// cut into equal chunks, enough for every thread to get about four items and for the items to
// divide evenly among the threads (each thread takes one contiguous range of items).
int64_t argus_conv_chunk(const argus_conv_shape *s, argus_conv_isa isa, int64_t images, int64_t workers) {
    const int64_t mr = argus_conv_tile_pixels(isa);
    if (argus_conv_winograd(s, isa)) {
        // Chunks of 2×2 tiles: one block each, or fewer so that every thread gets work.
        const int64_t tiles = images * ((s->out_h + 1) / 2) * ((s->out_w + 1) / 2);
        const int64_t block = argus_wino_block(s, mr, argus_conv_tile_filters(isa));
        int64_t chunks = (tiles + block - 1) / block;
        if (workers > 1 && chunks % workers != 0) chunks = (chunks / workers + 1) * workers;
        if (chunks > tiles) chunks = tiles;
        if (chunks < 1) chunks = 1;
        return (tiles + chunks - 1) / chunks;
    }
    const int64_t k = (int64_t)s->kh * s->kw * s->in_c;
    const int64_t perPixel = argus_conv_form(s) == ARGUS_CONV_FORM_GATHER ? k * 4 : (int64_t)s->in_c * 4 * s->stride_y * s->stride_x;
    int64_t most = (128 * 1024) / (perPixel > 0 ? perPixel : 1);
    if (most > 2048) most = 2048;
    most = most / mr * mr;
    if (most < 4 * mr) most = 4 * mr;
    const int64_t pixels = images * s->out_h * s->out_w;
    const int64_t tiles = (s->filters + argus_conv_tile_filters(isa) - 1) / argus_conv_tile_filters(isa);
    const int64_t tilesOfPixels = (pixels + mr - 1) / mr;
    int64_t chunks = (pixels + most - 1) / most;
    if (workers > 1) {
        while (chunks * tiles < 4 * workers && chunks < tilesOfPixels) chunks++;
        while ((chunks * tiles) % workers != 0 && chunks < tilesOfPixels) chunks++;
    }
    if (chunks < 1) chunks = 1;
    const int64_t chunk = ((pixels + chunks - 1) / chunks + mr - 1) / mr * mr;
    return chunk > 0 ? chunk : mr;
}

int64_t argus_conv_items(const argus_conv_shape *s, argus_conv_isa isa, int64_t images, int64_t chunk) {
    if (argus_conv_winograd(s, isa)) {
        const int64_t tiles = images * ((s->out_h + 1) / 2) * ((s->out_w + 1) / 2);
        return (tiles + chunk - 1) / chunk;
    }
    const int64_t nr = argus_conv_tile_filters(isa), tiles = (s->filters + nr - 1) / nr;
    const int64_t pixels = images * s->out_h * s->out_w;
    return (pixels + chunk - 1) / chunk * tiles;
}

size_t argus_conv_scratch_bytes(const argus_conv_shape *s, argus_conv_isa isa, int64_t chunk) {
    const int64_t mr = argus_conv_tile_pixels(isa);
    if (argus_conv_winograd(s, isa)) {
        const int64_t nr = argus_conv_tile_filters(isa), fp = (s->filters + nr - 1) / nr * nr;
        const int64_t block = argus_wino_block(s, mr, nr), padded = (block + mr - 1) / mr * mr;
        const int64_t kc = argus_wino_side(s) * argus_wino_side(s) * s->in_c;
        return (size_t)(16 * block * (kc + fp)) * sizeof(float) + (size_t)padded * sizeof(float *) + 64;
    }
    const int64_t padded = (chunk + mr - 1) / mr * mr, k = (int64_t)s->kh * s->kw * s->in_c;
    const size_t table = argus_conv_table_bytes(padded, argus_conv_table_taps(s));
    return argus_conv_form(s) == ARGUS_CONV_FORM_GATHER ? table + (size_t)(padded * k) * sizeof(float) : table;
}

void argus_conv_run(const argus_conv_shape *s, argus_conv_isa isa, const float *packed, const float *input,
                    int64_t images, float *output, const float *residual, int64_t chunk,
                    int64_t item_begin, int64_t item_end, void *scratch) {
    if (argus_conv_winograd(s, isa)) {
        const int64_t tiles = images * ((s->out_h + 1) / 2) * ((s->out_w + 1) / 2);
        const int64_t begin = item_begin * chunk, end = item_end * chunk < tiles ? item_end * chunk : tiles;
        switch (isa) {
#if defined(__x86_64__)
        case ARGUS_CONV_AVX2: wino_avx2(s, packed, input, images, output, residual, begin, end, scratch); return;
        case ARGUS_CONV_WIDE16_AVX2: wino_wide16(s, packed, input, images, output, residual, begin, end, scratch); return;
        case ARGUS_CONV_AVX512: wino_avx512(s, packed, input, images, output, residual, begin, end, scratch); return;
#endif
        default: wino_portable(s, packed, input, images, output, residual, begin, end, scratch); return;
        }
    }
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

typedef struct {
    const argus_conv_shape *shape;
    argus_conv_isa isa;
    const float *packed, *input, *residual;
    float *output;
    int64_t images, chunk, items;
    char *scratch;
    size_t stride;
} argus_conv_job;

static void argus_conv_part(void *context, int64_t part, int64_t parts) {
    const argus_conv_job *job = context;
    const int64_t begin = job->items * part / parts, end = job->items * (part + 1) / parts;
    argus_conv_run(job->shape, job->isa, job->packed, job->input, job->images, job->output, job->residual, job->chunk,
                   begin, end, job->scratch + (size_t)part * job->stride);
}

void argus_conv_run_pool(argus_pool *pool, const argus_conv_shape *s, argus_conv_isa isa, const float *packed,
                         const float *input, int64_t images, float *output, const float *residual, int64_t chunk,
                         int64_t parts, void *scratch, size_t scratch_stride) {
    argus_conv_job job = {s, isa, packed, input, residual, output, images, chunk, argus_conv_items(s, isa, images, chunk),
                          scratch, scratch_stride};
    argus_pool_run(pool, argus_conv_part, &job, parts);
}

int argus_conv_single_supported(const argus_conv_shape *s) {
    return s->filters == 1 && s->stride_x == 1 && s->stride_y == 1 && s->in_c > 0 && s->kh > 0 && s->kw > 0 &&
           s->pad_x >= 0 && s->pad_y >= 0 &&
           s->out_w == s->in_w + 2 * s->pad_x - s->kw + 1 && s->out_h == s->in_h + 2 * s->pad_y - s->kh + 1;
}

size_t argus_conv_single_planes_count(const argus_conv_shape *s, int64_t images) {
    return (size_t)images * (size_t)s->in_c * (size_t)(s->in_h + 2 * s->pad_y) * (size_t)argus_conv_plane_width(s);
}

void argus_conv_single_pack(const argus_conv_shape *s, const float *kf, float *weights) {
    const int64_t c = s->in_c, taps = (int64_t)s->kh * s->kw;
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t t = 0; t < taps; t++) weights[ch * taps + t] = kf[t * c + ch];
}

typedef struct {
    const argus_conv_shape *shape;
    argus_conv_isa isa;
    const float *weights, *input;
    float bias;
    float *planes, *output;
    int64_t rows;
    int phase;
} argus_conv_single_job;

static void argus_conv_single_part(void *context, int64_t part, int64_t parts) {
    const argus_conv_single_job *job = context;
    const int64_t begin = job->rows * part / parts, end = job->rows * (part + 1) / parts;
    const argus_conv_shape *s = job->shape;
    switch (job->isa) {
#if defined(__x86_64__)
    case ARGUS_CONV_AVX2:
        if (job->phase == 0) planes_avx2(s, job->input, begin, end, job->planes);
        else single_avx2(s, job->weights, job->bias, job->planes, job->output, begin, end);
        return;
    case ARGUS_CONV_WIDE16_AVX2:
        if (job->phase == 0) planes_wide16(s, job->input, begin, end, job->planes);
        else single_wide16(s, job->weights, job->bias, job->planes, job->output, begin, end);
        return;
    case ARGUS_CONV_AVX512:
        if (job->phase == 0) planes_avx512(s, job->input, begin, end, job->planes);
        else single_avx512(s, job->weights, job->bias, job->planes, job->output, begin, end);
        return;
#endif
    default:
        if (job->phase == 0) planes_portable(s, job->input, begin, end, job->planes);
        else single_portable(s, job->weights, job->bias, job->planes, job->output, begin, end);
    }
}

void argus_conv_single_run(argus_pool *pool, const argus_conv_shape *s, argus_conv_isa isa, const float *weights, float bias,
                           const float *input, int64_t images, float *output, float *planes, int64_t parts) {
    argus_conv_single_job job = {s, isa, weights, input, bias, planes, output,
                                 images * (s->in_h + 2 * (int64_t)s->pad_y), 0};
    argus_pool_run(pool, argus_conv_single_part, &job, parts);
    job.phase = 1;
    job.rows = images * s->out_h;
    argus_pool_run(pool, argus_conv_single_part, &job, parts);
}

void argus_conv_unpack(const argus_conv_shape *s, argus_conv_isa isa, const float *packed, float *kf, float *bias) {
    const int64_t nr = argus_conv_tile_filters(isa), f = s->filters;
    const int64_t tiles = (f + nr - 1) / nr, k = (int64_t)s->kh * s->kw * s->in_c;
    for (int64_t j = 0; j < f; j++) bias[j] = packed[j];
    const float *w = packed + tiles * nr;
    for (int64_t row = 0; row < k; row++)
        for (int64_t j = 0; j < f; j++) kf[row * f + j] = w[((j / nr) * k + row) * nr + j % nr];
}

void argus_conv_single_unpack(const argus_conv_shape *s, const float *weights, float *kf) {
    const int64_t c = s->in_c, taps = (int64_t)s->kh * s->kw;
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t t = 0; t < taps; t++) kf[t * c + ch] = weights[ch * taps + t];
}
