// ReLU on these paths is max(x, 0) with NaN giving 0 (the vector max's rule), everywhere.
// The microkernel and driver of argus_conv.h, written once over a vector type and included by
// conv.c once per instruction set. Before including, define:
//   CONV_NAME(x)   the name of x for this instruction set (e.g. x##_avx2)
//   CONV_VL        lanes per vector (4, 8 or 16)
//   CONV_MR        output pixels per tile
//   CONV_TARGET    the function attribute selecting the instruction set (may be empty)
// Each tile accumulates MR × 2 vectors; every (pixel, filter) sum runs over the taps in (u, v)
// order and the channels in order, the same order whatever the instruction set or thread split.

#define CONV_NR (2 * CONV_VL)

typedef float CONV_NAME(vf) __attribute__((vector_size(CONV_VL * 4), aligned(4)));

CONV_TARGET
static inline void CONV_NAME(tile)(int64_t taps, int64_t channels, const float *const *ptrs, const float *w,
                                   const float *bias, float *out, int64_t ldo, int64_t pixels, int64_t lanes,
                                   const float *residual, int relu) {
    typedef CONV_NAME(vf) vf;
    const vf b0 = *(const vf *)bias, b1 = *(const vf *)(bias + CONV_VL);
    vf acc0[CONV_MR], acc1[CONV_MR];
#pragma clang loop unroll(full)
    for (int i = 0; i < CONV_MR; i++) { acc0[i] = b0; acc1[i] = b1; }
    for (int64_t t = 0; t < taps; t++) {
        const float *a[CONV_MR];
#pragma clang loop unroll(full)
        for (int i = 0; i < CONV_MR; i++) a[i] = ptrs[t * CONV_MR + i];
#pragma clang loop unroll_count(4)
        for (int64_t k = 0; k < channels; k++) {
            const vf w0 = *(const vf *)w, w1 = *(const vf *)(w + CONV_VL);
            w += CONV_NR;
#pragma clang loop unroll(full)
            for (int i = 0; i < CONV_MR; i++) {
                const float x = a[i][k];
                acc0[i] += x * w0;
                acc1[i] += x * w1;
            }
        }
    }
    const vf zero = {0};
    // Loops over the tile's pixels are unrolled with a test, so that the accumulators stay in registers.
    if (lanes == CONV_NR) {
#pragma clang loop unroll(full)
        for (int i = 0; i < CONV_MR; i++) {
            if (i >= pixels) break;
            vf r0 = acc0[i], r1 = acc1[i];
            if (residual) {
                r0 += *(const vf *)(residual + i * ldo);
                r1 += *(const vf *)(residual + i * ldo + CONV_VL);
            }
            if (relu) {
                r0 = __builtin_elementwise_max(r0, zero);
                r1 = __builtin_elementwise_max(r1, zero);
            }
            *(vf *)(out + i * ldo) = r0;
            *(vf *)(out + i * ldo + CONV_VL) = r1;
        }
    } else {
#pragma clang loop unroll(full)
        for (int i = 0; i < CONV_MR; i++) {
            if (i >= pixels) break;
            float v[CONV_NR];
            *(vf *)v = acc0[i];
            *(vf *)(v + CONV_VL) = acc1[i];
            for (int64_t l = 0; l < lanes; l++) {
                float r = v[l];
                if (residual) r += residual[i * ldo + l];
                if (relu) r = r > 0 ? r : 0;
                out[i * ldo + l] = r;
            }
        }
    }
}

/// Fills the pointer table of the chunk's tiles: [tile][tap][pixel in tile], in one of three forms
/// (`argus_conv_form`): a pointer per tap (u, v) to C channels; a pointer per kernel row u to its
/// kw·C contiguous values (no horizontal padding: every row lies inside the image); or, for layers
/// with few channels and horizontal padding, each pixel's K inputs gathered into a row of `columns`.
CONV_TARGET
static void CONV_NAME(table)(const argus_conv_shape *s, const float *input, int64_t p0, int64_t count,
                             const float **ptrs, float *columns) {
    const int form = argus_conv_form(s);
    const int64_t taps = (int64_t)s->kh * s->kw, c = s->in_c, k = taps * c;
    const int64_t ow = s->out_w, oh = s->out_h;
    const int64_t padded = (count + CONV_MR - 1) / CONV_MR * CONV_MR;
    const int64_t tableTaps = argus_conv_table_taps(s);
    // Offsets of the taps from a pixel's window origin, for windows wholly inside the image.
    int64_t offsets[ARGUS_CONV_MAX_TAPS];
    const int fast = form == ARGUS_CONV_FORM_TAPS && taps <= ARGUS_CONV_MAX_TAPS;
    if (fast) {
        for (int64_t u = 0; u < s->kh; u++)
            for (int64_t v = 0; v < s->kw; v++) offsets[u * s->kw + v] = (u * s->in_w + v) * c;
    }
    // The first pixel's position, then stepped along (no division per pixel).
    int64_t n = p0 / (oh * ow), oy = (p0 % (oh * ow)) / ow, ox = p0 % ow;
    for (int64_t q = 0; q < padded; q++) {
        const float **row = ptrs + (q / CONV_MR) * tableTaps * CONV_MR + q % CONV_MR;
        if (q >= count) {
            for (int64_t t = 0; t < tableTaps; t++) row[t * CONV_MR] = argus_conv_zeros;
            continue;
        }
        if (q > 0 && ++ox == ow) {
            ox = 0;
            if (++oy == oh) { oy = 0; n++; }
        }
        const float *image = input + n * (int64_t)s->in_h * s->in_w * c;
        const int64_t y0 = oy * s->stride_y - s->pad_y, x0 = ox * s->stride_x - s->pad_x;
        if (form == ARGUS_CONV_FORM_ROWS) {
            for (int64_t u = 0; u < s->kh; u++) {
                const int64_t iy = y0 + u;
                row[u * CONV_MR] = iy >= 0 && iy < s->in_h ? image + (iy * s->in_w + x0) * c : argus_conv_zeros;
            }
            continue;
        }
        if (fast && y0 >= 0 && x0 >= 0 && y0 + s->kh <= s->in_h && x0 + s->kw <= s->in_w) {
            const float *origin = image + (y0 * s->in_w + x0) * c;
            for (int64_t t = 0; t < taps; t++) row[t * CONV_MR] = origin + offsets[t];
            continue;
        }
        float *col = form == ARGUS_CONV_FORM_GATHER ? columns + q * k : NULL;
        for (int64_t u = 0; u < s->kh; u++) {
            const int64_t iy = y0 + u;
            for (int64_t v = 0; v < s->kw; v++) {
                const int64_t ix = x0 + v;
                const int inside = iy >= 0 && iy < s->in_h && ix >= 0 && ix < s->in_w;
                const float *src = inside ? image + (iy * s->in_w + ix) * c : argus_conv_zeros;
                if (col) {
                    for (int64_t j = 0; j < c; j++) col[j] = src[j];
                    col += c;
                } else {
                    row[(u * s->kw + v) * CONV_MR] = src;
                }
            }
        }
        if (col) row[0] = columns + q * k;
    }
}

CONV_TARGET
static void CONV_NAME(run)(const argus_conv_shape *s, const float *packed, const float *input, int64_t images,
                           float *output, const float *residual, int64_t chunk, int64_t begin, int64_t end,
                           void *scratch) {
    const int64_t taps = (int64_t)s->kh * s->kw, c = s->in_c, k = taps * c, f = s->filters;
    const int64_t tiles = (f + CONV_NR - 1) / CONV_NR;
    const int64_t pixels = images * s->out_h * s->out_w;
    const int64_t tableTaps = argus_conv_table_taps(s), tableChannels = k / tableTaps;
    const int64_t padded = (chunk + CONV_MR - 1) / CONV_MR * CONV_MR;
    const float **ptrs = (const float **)scratch;
    float *columns = argus_conv_form(s) == ARGUS_CONV_FORM_GATHER ? (float *)((char *)scratch + argus_conv_table_bytes(padded, tableTaps)) : NULL;
    const float *bias = packed, *weights = packed + tiles * CONV_NR;
    int64_t current = -1;
    for (int64_t item = begin; item < end; item++) {
        const int64_t ch = item / tiles, tile = item % tiles;
        const int64_t p0 = ch * chunk, count = pixels - p0 < chunk ? pixels - p0 : chunk;
        if (ch != current) {
            CONV_NAME(table)(s, input, p0, count, ptrs, columns);
            current = ch;
        }
        const int64_t lanes = f - tile * CONV_NR < CONV_NR ? f - tile * CONV_NR : CONV_NR;
        const float *w = weights + tile * k * CONV_NR;
        for (int64_t q = 0; q < count; q += CONV_MR) {
            const int64_t n = count - q < CONV_MR ? count - q : CONV_MR;
            const int64_t offset = (p0 + q) * f + tile * CONV_NR;
            CONV_NAME(tile)(tableTaps, tableChannels, ptrs + (q / CONV_MR) * tableTaps * CONV_MR, w, bias + tile * CONV_NR,
                            output + offset, f, n, lanes, residual ? residual + offset : NULL, s->relu);
        }
    }
}

/// Winograd F(2×2, 3×3) for stride-1 "same" layers of 3×3 or 5×5 whose channels fill whole
/// vectors: each 2×2 block of output pixels (a "tile") is computed from 4×4 input patches with 16
/// products per channel pair instead of 36. A 5×5 kernel is zero-padded to 6×6 and split into four
/// 3×3 sub-kernels, each with its own patch; the sub-kernels' patches are stacked along the
/// channels, so one product of K = 4·C does them all (64 products per tile instead of 100).
/// Tiles are processed in blocks that stay in the L2 cache: the block's patches are transformed
/// (V = Bᵀ d B, 16 values per channel), then for each of the 16 positions the microkernel multiplies
/// the block's V rows by that position's transformed weights (U = G g Gᵀ, packed at load) into M,
/// and the output transform (Y = Aᵀ M A) adds bias, residual and ReLU while storing the 2×2 pixels.
CONV_TARGET
static void CONV_NAME(wino)(const argus_conv_shape *s, const float *packed, const float *input, int64_t images,
                            float *output, const float *residual, int64_t tileBegin, int64_t tileEnd, void *scratch) {
    typedef CONV_NAME(vf) vf;
    const int64_t c = s->in_c, f = s->filters, ih = s->in_h, iw = s->in_w, oh = s->out_h, ow = s->out_w;
    const int64_t ftiles = (f + CONV_NR - 1) / CONV_NR, fp = ftiles * CONV_NR;
    const int64_t tx = (ow + 1) / 2, ty = (oh + 1) / 2;
    const int64_t side = argus_wino_side(s), kc = side * side * c;  // sub-kernels per side; stacked channels
    const int64_t block = argus_wino_block(s, CONV_MR, CONV_NR);
    const float *bias = packed, *weights = packed + fp;
    float *v = (float *)scratch;                       // [16][block][kc]
    float *m = v + 16 * block * kc;                    // [16][block][fp]
    const float **ptrs = (const float **)(m + 16 * block * fp);  // [block/MR][1][MR]
    const vf zero = {0};
    for (int64_t t0 = tileBegin; t0 < tileEnd; t0 += block) {
        const int64_t nt = tileEnd - t0 < block ? tileEnd - t0 : block;
        // Input transform, a vector of channels of one sub-kernel's patch at a time.
        for (int64_t q = 0; q < nt; q++) {
          const int64_t t = t0 + q, n = t / (tx * ty), r = t % (tx * ty);
          const float *image = input + n * ih * iw * c;
          for (int64_t sub = 0; sub < side * side; sub++) {
            const int64_t y0 = (r / tx) * 2 - s->pad_y + 3 * (sub / side), x0 = (r % tx) * 2 - s->pad_x + 3 * (sub % side);
            for (int64_t ch = 0; ch < c; ch += CONV_VL) {
                vf d[4][4];
#pragma clang loop unroll(full)
                for (int i = 0; i < 4; i++) {
#pragma clang loop unroll(full)
                    for (int j = 0; j < 4; j++) {
                        const int64_t y = y0 + i, x = x0 + j;
                        d[i][j] = y >= 0 && y < ih && x >= 0 && x < iw ? *(const vf *)(image + (y * iw + x) * c + ch) : zero;
                    }
                }
                vf b[4][4];  // Bᵀ d
#pragma clang loop unroll(full)
                for (int j = 0; j < 4; j++) {
                    b[0][j] = d[0][j] - d[2][j];
                    b[1][j] = d[1][j] + d[2][j];
                    b[2][j] = d[2][j] - d[1][j];
                    b[3][j] = d[1][j] - d[3][j];
                }
#pragma clang loop unroll(full)
                for (int i = 0; i < 4; i++) {  // (Bᵀ d) B
                    float *row = v + ((int64_t)(i * 4) * block + q) * kc + sub * c + ch;
                    *(vf *)(row) = b[i][0] - b[i][2];
                    *(vf *)(row + block * kc) = b[i][1] + b[i][2];
                    *(vf *)(row + 2 * block * kc) = b[i][2] - b[i][1];
                    *(vf *)(row + 3 * block * kc) = b[i][1] - b[i][3];
                }
            }
          }
        }
        // The 16 products: M[ξ] (nt × fp) = V[ξ] (nt × c) · U[ξ] (c × fp).
        for (int64_t xi = 0; xi < 16; xi++) {
            for (int64_t q = 0; q < (nt + CONV_MR - 1) / CONV_MR * CONV_MR; q++)
                ptrs[q] = q < nt ? v + (xi * block + q) * kc : argus_conv_zeros;
            for (int64_t ft = 0; ft < ftiles; ft++) {
                const float *w = weights + (xi * ftiles + ft) * kc * CONV_NR;
                for (int64_t q = 0; q < nt; q += CONV_MR) {
                    const int64_t np = nt - q < CONV_MR ? nt - q : CONV_MR;
                    CONV_NAME(tile)(1, kc, ptrs + q, w, argus_conv_zeros, m + (xi * block + q) * fp + ft * CONV_NR, fp, np,
                                    CONV_NR, NULL, 0);
                }
            }
        }
        // Output transform, bias, residual, ReLU; pixels past the output's edge are dropped.
        for (int64_t q = 0; q < nt; q++) {
            const int64_t t = t0 + q, n = t / (tx * ty), r = t % (tx * ty), oy0 = (r / tx) * 2, ox0 = (r % tx) * 2;
            for (int64_t j0 = 0; j0 < fp; j0 += CONV_VL) {
                vf mm[16];
#pragma clang loop unroll(full)
                for (int k = 0; k < 16; k++) mm[k] = *(const vf *)(m + ((int64_t)k * block + q) * fp + j0);
                vf a[2][4];  // Aᵀ M
#pragma clang loop unroll(full)
                for (int j = 0; j < 4; j++) {
                    a[0][j] = mm[j] + mm[4 + j] + mm[8 + j];
                    a[1][j] = mm[4 + j] - mm[8 + j] - mm[12 + j];
                }
                const vf bv = *(const vf *)(bias + j0);
                vf y[2][2];
#pragma clang loop unroll(full)
                for (int i = 0; i < 2; i++) {
                    y[i][0] = a[i][0] + a[i][1] + a[i][2] + bv;
                    y[i][1] = a[i][1] - a[i][2] - a[i][3] + bv;
                }
                const int64_t lanes = f - j0 < CONV_VL ? f - j0 : CONV_VL;
                if (lanes <= 0) break;
#pragma clang loop unroll(full)
                for (int i = 0; i < 2; i++) {
#pragma clang loop unroll(full)
                    for (int jj = 0; jj < 2; jj++) {
                        const int64_t oy = oy0 + i, ox = ox0 + jj;
                        if (oy >= oh || ox >= ow) continue;
                        const int64_t at = ((n * oh + oy) * ow + ox) * f + j0;
                        vf out = y[i][jj];
                        if (lanes == CONV_VL) {
                            if (residual) out += *(const vf *)(residual + at);
                            if (s->relu) out = __builtin_elementwise_max(out, zero);
                            *(vf *)(output + at) = out;
                        } else {
                            float tmp[CONV_VL];
                            *(vf *)tmp = out;
                            for (int64_t l = 0; l < lanes; l++) {
                                float value = tmp[l] + (residual ? residual[at + l] : 0);
                                output[at + l] = s->relu ? (value > 0 ? value : 0) : value;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Single-filter, stride-1 layers (the detector's 9×9 score layer) vectorise over output pixels
/// instead of filters: the input is first laid out as zero-padded planes, one per channel
/// (`planes`), then each output row accumulates, per channel and tap, a weight times a run of the
/// plane's row (`single`).
CONV_TARGET
static void CONV_NAME(planes)(const argus_conv_shape *s, const float *input, int64_t rowBegin, int64_t rowEnd, float *planes) {
    const int64_t c = s->in_c, hp = s->in_h + 2 * (int64_t)s->pad_y, wp = argus_conv_plane_width(s);
    for (int64_t row = rowBegin; row < rowEnd; row++) {  // rows of the padded planes, all images
        const int64_t n = row / hp, y = row % hp - s->pad_y;
        float *dst = planes + (n * c * hp + row % hp) * wp;
        if (y < 0 || y >= s->in_h) {
            for (int64_t ch = 0; ch < c; ch++) memset(dst + ch * hp * wp, 0, (size_t)wp * sizeof(float));
            continue;
        }
        const float *src = input + ((n * s->in_h + y) * (int64_t)s->in_w) * c;
        for (int64_t ch = 0; ch < c; ch++) {
            float *d = dst + ch * hp * wp;
            memset(d, 0, (size_t)s->pad_x * sizeof(float));
            for (int64_t x = 0; x < s->in_w; x++) d[s->pad_x + x] = src[x * c + ch];
            memset(d + s->pad_x + s->in_w, 0, (size_t)(wp - s->pad_x - s->in_w) * sizeof(float));
        }
    }
}

CONV_TARGET
static void CONV_NAME(single)(const argus_conv_shape *s, const float *weights, float bias, const float *planes,
                              float *output, int64_t rowBegin, int64_t rowEnd) {
    typedef CONV_NAME(vf) vf;
    enum { B = 4 };  // vectors of output pixels per block
    const int64_t c = s->in_c, hp = s->in_h + 2 * (int64_t)s->pad_y, wp = argus_conv_plane_width(s);
    const int64_t kh = s->kh, kw = s->kw, ow = s->out_w;
    const vf zero = {0};
    for (int64_t row = rowBegin; row < rowEnd; row++) {  // output rows, all images
        const int64_t n = row / s->out_h, oy = row % s->out_h;
        float *out = output + row * ow;
        for (int64_t x = 0; x < ow; x += B * CONV_VL) {
            vf acc[B];
#pragma clang loop unroll(full)
            for (int j = 0; j < B; j++) acc[j] = zero + bias;
            const float *w = weights;
            for (int64_t ch = 0; ch < c; ch++) {
                const float *plane = planes + (n * c + ch) * hp * wp + oy * wp + x;
                for (int64_t u = 0; u < kh; u++) {
                    const float *src = plane + u * wp;
                    for (int64_t v = 0; v < kw; v++) {
                        const float wv = *w++;
#pragma clang loop unroll(full)
                        for (int j = 0; j < B; j++) acc[j] += wv * *(const vf *)(src + v + j * CONV_VL);
                    }
                }
            }
            float v[B * CONV_VL];
#pragma clang loop unroll(full)
            for (int j = 0; j < B; j++) {
                vf r = acc[j];
                if (s->relu) r = __builtin_elementwise_max(r, zero);
                *(vf *)(v + j * CONV_VL) = r;
            }
            const int64_t count = ow - x < B * CONV_VL ? ow - x : B * CONV_VL;
            memcpy(out + x, v, (size_t)count * sizeof(float));
        }
    }
}

#undef CONV_NR
