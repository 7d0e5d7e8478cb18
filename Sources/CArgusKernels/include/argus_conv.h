// Direct convolution over NHWC activations (channels contiguous per pixel), with weights packed
// once at model load. One microkernel computes a tile of MR output pixels × NR output channels
// (NR = two vectors) as an implicit GEMM: for every kernel tap it reads MR input pixels through
// a table of pointers (a padded position points at zeros), broadcasts each input channel and
// multiplies it into NR packed weights. Bias, ReLU and a residual add are applied in the store.
//
// Layout, stated once:
//   activations   NHWC, float32; a pixel's C channels are contiguous (for C a multiple of 8 or 16,
//                 this is the channel-blocked layout with one block per pixel row of channels)
//   kf (input)    K×F row-major, K in (u, v, c) order: the layout `Convolution.weights` keeps
//   packed        [tiles·NR bias] then, per tile of NR filters, [K][NR], zero-padded past F
#ifndef ARGUS_CONV_H
#define ARGUS_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "argus_pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction sets the kernels come in.
typedef enum {
    ARGUS_CONV_PORTABLE = 0,   ///< 4-lane vectors, no FMA: any x86-64 (SSE2) or other CPU
    ARGUS_CONV_AVX2 = 1,       ///< 8 lanes, AVX2 + FMA
    ARGUS_CONV_AVX512 = 2,     ///< 16 lanes, AVX-512F
    ARGUS_CONV_WIDE16_AVX2 = 3 ///< the AVX-512 kernel's tiling (16 lanes, 8 pixels) compiled for AVX2: tests the
                               ///< 16-lane code on machines without AVX-512
} argus_conv_isa;

typedef struct {
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, filters;
    int32_t kh, kw, stride_y, stride_x, pad_y, pad_x;
    int32_t relu;
    /// 1 to let 3×3 stride-1 padding-1 layers run as Winograd F(2×2, 3×3) where the channels fill
    /// whole vectors (`argus_conv_winograd`); packing and running must agree on it.
    int32_t winograd;
} argus_conv_shape;

/// 1 if this CPU runs `isa`.
int argus_conv_isa_supported(argus_conv_isa isa);
/// The fastest instruction set this CPU runs.
argus_conv_isa argus_conv_best_isa(void);
/// Output channels per tile (NR) and pixels per tile (MR) of an instruction set's microkernel.
int32_t argus_conv_tile_filters(argus_conv_isa isa);
int32_t argus_conv_tile_pixels(argus_conv_isa isa);

/// 1 if this layer runs as Winograd F(2×2, 3×3) on `isa` (then chunks and items count 2×2 tiles).
int argus_conv_winograd(const argus_conv_shape *s, argus_conv_isa isa);
/// 1 if the direct kernel handles this layer (channels and K within its zero buffer).
int argus_conv_supported(const argus_conv_shape *s);
/// Floats of the packed weights and biases.
size_t argus_conv_packed_count(const argus_conv_shape *s, argus_conv_isa isa);
/// Packs K×F weights `kf` and `bias` (F floats) into `packed` (`argus_conv_packed_count` floats).
void argus_conv_pack(const argus_conv_shape *s, argus_conv_isa isa, const float *kf, const float *bias, float *packed);

/// The inverse of argus_conv_pack (direct layout): K×F weights and F biases.
void argus_conv_unpack(const argus_conv_shape *s, argus_conv_isa isa, const float *packed, float *kf, float *bias);

/// Output pixels per work item for `images` images run by `workers` threads.
int64_t argus_conv_chunk(const argus_conv_shape *s, argus_conv_isa isa, int64_t images, int64_t workers);
/// Work items: pixel chunks × filter tiles. Items are independent; split them across threads.
int64_t argus_conv_items(const argus_conv_shape *s, argus_conv_isa isa, int64_t images, int64_t chunk);
/// Scratch bytes one thread needs for `argus_conv_run` with this chunk.
size_t argus_conv_scratch_bytes(const argus_conv_shape *s, argus_conv_isa isa, int64_t chunk);

/// Computes work items [item_begin, item_end) of the convolution of `images` NHWC images.
/// `residual` (optional) has the output's shape and is added before the ReLU.
/// `scratch` is `argus_conv_scratch_bytes` bytes, 64-byte aligned, private to the calling thread.
void argus_conv_run(const argus_conv_shape *s, argus_conv_isa isa, const float *packed, const float *input,
                    int64_t images, float *output, const float *residual, int64_t chunk,
                    int64_t item_begin, int64_t item_end, void *scratch);

/// All items, split into `parts` equal ranges run on `pool` (part i uses scratch + i·scratch_stride).
void argus_conv_run_pool(argus_pool *pool, const argus_conv_shape *s, argus_conv_isa isa, const float *packed,
                         const float *input, int64_t images, float *output, const float *residual, int64_t chunk,
                         int64_t parts, void *scratch, size_t scratch_stride);

/// Single-filter, stride-1 layers (`argus_conv_single_supported`): weights `kf` (K×1, (u, v, c)) are
/// repacked to (c, u, v) order in `weights` (K floats); `planes` holds `argus_conv_single_planes_count`
/// floats of scratch. Runs in `parts` parts on `pool` (NULL: on the caller alone).
int argus_conv_single_supported(const argus_conv_shape *s);
size_t argus_conv_single_planes_count(const argus_conv_shape *s, int64_t images);
void argus_conv_single_pack(const argus_conv_shape *s, const float *kf, float *weights);
void argus_conv_single_unpack(const argus_conv_shape *s, const float *weights, float *kf);
void argus_conv_single_run(argus_pool *pool, const argus_conv_shape *s, argus_conv_isa isa, const float *weights, float bias,
                           const float *input, int64_t images, float *output, float *planes, int64_t parts);

/// Rounds to bfloat16 (nearest, ties to even), kept as float32 with the low 16 bits zero.
/// `destination` may be `source`.
void argus_round_bf16(const float *source, float *destination, size_t count);

#ifdef __cplusplus
}
#endif

#endif
